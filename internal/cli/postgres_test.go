package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/store/storetest"
)

// TestEvalOnPostgres runs the commands a team runs in CI against a shared PostgreSQL store.
func TestEvalOnPostgres(t *testing.T) {
	dsn := storetest.FreshPostgres(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plumb.yaml")
	if err := os.WriteFile(cfg, []byte(`description: pg suite
prompts: ["Say {{w}}"]
providers: [echo]
tests:
  - vars: {w: yes}
    assert: [{type: contains, value: "yes"}]
  - vars: {w: no}
    assert: [{type: contains, value: "no"}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	plumb := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, args: args,
			getenv: func(k string) string {
				if k == "PLUMB_DB" {
					return dsn
				}
				return ""
			}}
		code := run(context.Background(), e)
		return code, out.String() + errb.String()
	}
	for range 2 {
		if code, out := plumb("eval", "-c", cfg, "--no-cache", "--no-progress"); code != 0 {
			t.Fatalf("eval exit %d:\n%s", code, out)
		}
	}
	code, out := plumb("runs")
	if code != 0 || strings.Count(out, "pg suite") != 2 {
		t.Fatalf("runs exit %d, want both runs listed:\n%s", code, out)
	}
	if code, out := plumb("compare", "latest~1", "latest"); code != 0 || !strings.Contains(out, "no significant difference") {
		t.Fatalf("compare exit %d:\n%s", code, out)
	}
	if code, out := plumb("show", "latest", "--json"); code != 0 || !strings.Contains(out, `"output": "Say yes"`) {
		t.Fatalf("show exit %d:\n%s", code, out)
	}
	if code, out := plumb("runs", "--db", "mysql://x"); code != 2 || !strings.Contains(out, "--db") {
		t.Fatalf("a bad --db should be bad input (exit 2), got %d:\n%s", code, out)
	}
}

func TestRedactArgs(t *testing.T) {
	got := redactArgs([]string{"eval", "--db", "postgres://u:s3cret@h:5432/db?sslmode=disable&password=PLANTED", "--db=postgres://u:s3cret@h/db", "-o", "x.json"})
	want := []string{"eval", "--db", "postgres://u@h:5432/db", "--db=postgres://u@h/db", "-o", "x.json"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("arg %d = %q, want %q", i, got[i], want[i])
		}
	}
}
