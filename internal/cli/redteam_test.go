package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/fakellm"
)

// The red team's exit codes: 1 when the run tested nothing, 2 for bad input, and bad input
// is found before any attack is sent.
func TestRedteamExitCodes(t *testing.T) {
	fake, err := fakellm.Start(fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const head = "system_prompt: You are a support assistant.\nstrategies: [direct]\ncategories: [{id: LLM07}]\n"
	live := write("live.yaml", head+"target: {type: openai, model: m, base_url: \""+fake.URL+"\", max_retries: 0}\n")
	dead := write("dead.yaml", head+"target: {type: openai, model: m, base_url: \"http://127.0.0.1:1/v1\", max_retries: 0}\n")
	bad := write("bad.yaml", head+"target: {type: openai, model: m}\nattempts: 0\n")
	notDir := write("notadir", "a file")
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		want  string
		calls int
	}{
		{"held everywhere", []string{"redteam", "-c", live, "--no-store"}, ExitOK, "PASS: every category", 2},
		{"dead target", []string{"redteam", "-c", dead, "--no-store"}, ExitFailed, "INCOMPLETE: errors left LLM07 untested", 0},
		{"bad config", []string{"redteam", "-c", bad, "--no-store"}, ExitUsage, "attempts is 0", 0},
		{"unwritable output", []string{"redteam", "-c", live, "--no-store", "-o", filepath.Join(notDir, "r.md")}, ExitUsage, "cannot write there", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := fake.Count()
			var out bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out, args: tc.args,
				getenv: func(k string) string {
					if k == "OPENAI_API_KEY" {
						return "k"
					}
					return ""
				}}
			if code := run(context.Background(), e); code != tc.code || !strings.Contains(out.String(), tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out.String())
			}
			if got := fake.Count() - before; got != tc.calls {
				t.Errorf("%d calls reached the target, want %d", got, tc.calls)
			}
		})
	}
}
