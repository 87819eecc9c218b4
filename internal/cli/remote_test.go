package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// TestEvalServer runs `plumb eval --server` and `plumb runs --server` against a real API
// server on a loopback port, with its own SQLite store apart from the CLI's local one.
func TestEvalServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "server.db"), store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(server.New(server.Config{Store: st,
		Password: auth.Params{Time: 1, Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}}).Handler())
	defer ts.Close()
	key := func(slug string, role store.Role) string {
		p, err := st.CreateProject(ctx, store.Project{Slug: slug, Name: slug})
		if err != nil {
			t.Fatal(err)
		}
		secret, shown := auth.NewAPIKey()
		if _, err := st.CreateAPIKey(ctx, store.APIKey{ProjectID: p.ID, Name: "ci", Role: role, Prefix: shown,
			KeyHash: store.HashToken(secret)}); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	editor := key("alpha", store.RoleEditor)
	viewer := key("beta", store.RoleViewer)

	suite := func(name, want string) string {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte("description: "+name+`
prompts: ["Say {{w}}"]
providers: [echo]
tests:
  - vars: {w: yes}
    assert: [{type: contains, value: "`+want+`"}]
`), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	passing, failing := suite("remote suite", "yes"), suite("remote failing", "zzz")
	localDB := "sqlite:" + filepath.Join(dir, "local.db")

	plumb := func(apiKey string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, args: args,
			getenv: func(k string) string {
				switch k {
				case "PLUMB_DB":
					return localDB
				case "PLUMB_API_KEY":
					return apiKey
				}
				return ""
			}}
		return run(ctx, e), out.String(), errb.String()
	}
	evalArgs := func(cfg string, more ...string) []string {
		return append([]string{"eval", "-c", cfg, "--no-cache", "--no-progress"}, more...)
	}
	serverRuns := func() int {
		runs, err := st.ListRuns(ctx, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(runs)
	}

	// A passing run is stored locally, uploaded, and exits 0.
	code, out, errOut := plumb(editor, evalArgs(passing, "--server", ts.URL)...)
	if code != 0 || !strings.Contains(out, "Uploaded run ") || !strings.Contains(out, ts.URL+"/api/v1/projects/alpha/runs/") {
		t.Fatalf("eval --server: exit %d\n%s%s", code, out, errOut)
	}
	// A failing run is uploaded too, and its verdict decides the exit code.
	if code, out, errOut := plumb(editor, evalArgs(failing, "--server", ts.URL, "--project", "alpha")...); code != 1 || !strings.Contains(out, "Uploaded run ") {
		t.Fatalf("failing eval --server: exit %d, want 1 and an upload\n%s%s", code, out, errOut)
	}
	if n := serverRuns(); n != 2 {
		t.Fatalf("the server has %d runs, want 2", n)
	}

	// runs --server lists the project's runs like the local list.
	code, out, errOut = plumb(editor, "runs", "--server", ts.URL)
	if code != 0 || !strings.Contains(out, "remote suite") || !strings.Contains(out, "remote failing") || !strings.Contains(out, "PASS RATE") {
		t.Fatalf("runs --server: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = plumb(editor, "runs", "--server", ts.URL, "--json", "--limit", "1")
	var listed []store.RunInfo
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || listed[0].Suite != "remote failing" {
		t.Fatalf("runs --server --json --limit 1: exit %d, want the newest run only\n%s%s", code, out, errOut)
	}
	code, out, errOut = plumb(editor, "runs", "--server", ts.URL, "--suite", "remote suite", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || listed[0].Suite != "remote suite" {
		t.Fatalf("runs --server --suite: exit %d\n%s%s", code, out, errOut)
	}

	// prompt:// and dataset:// references read the server project's registry, which the
	// local store does not have.
	alpha, err := st.GetProject(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PushPrompt(ctx, alpha.ID, "greet", store.PromptContent{Template: "Say hello to {{name}}"}, "ana", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ForceMovePromptLabel(ctx, alpha.ID, "greet", "production", 1, "ana", "test"); err != nil {
		t.Fatal(err)
	}
	ds, err := st.CreateDataset(ctx, alpha.ID, "people", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddItems(ctx, ds.ID, []dataset.Item{{Vars: map[string]any{"name": "Ada"}, Expected: "contains: Ada"}}, "", false); err != nil {
		t.Fatal(err)
	}
	registryCfg := filepath.Join(dir, "registry.yaml")
	if err := os.WriteFile(registryCfg, []byte("prompts: [prompt://greet@production]\nproviders: [echo]\ntests: dataset://people@1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = plumb(editor, evalArgs(registryCfg, "--server", ts.URL)...)
	if code != 0 || !strings.Contains(out, "from prompt://greet@production = prompt://greet@1 · dataset://people@1 (1 item)") {
		t.Fatalf("eval --server of registry references: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := plumb(editor, evalArgs(registryCfg)...); code != ExitUsage || !strings.Contains(errOut, `no prompt "greet"`) {
		t.Fatalf("the local store has no such prompt: exit %d\n%s%s", code, out, errOut)
	}

	bad := []struct {
		name    string
		key     string
		args    []string
		want    string // in stderr
		summary bool   // the run happened: its summary is printed
	}{
		{"no key", "", evalArgs(passing, "--server", ts.URL), "$PLUMB_API_KEY", false},
		{"bad URL", editor, evalArgs(passing, "--server", "localhost:1"), "--server", false},
		{"project without server", editor, evalArgs(passing, "--project", "alpha"), "--project needs --server", false},
		{"wrong key", "plk_" + strings.Repeat("x", 32), evalArgs(passing, "--server", ts.URL), "unauthorized", false},
		{"other project", editor, evalArgs(passing, "--server", ts.URL, "--project", "beta"), "not_found", true},
		{"viewer key", viewer, evalArgs(passing, "--server", ts.URL), "forbidden", true},
		{"runs without key", "", []string{"runs", "--server", ts.URL}, "$PLUMB_API_KEY", false},
		{"runs of other project", editor, []string{"runs", "--server", ts.URL, "--project", "beta"}, "not_found", false},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := plumb(tt.key, tt.args...)
			if code != ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, want 2 with %q in stderr\n%s%s", code, tt.want, out, errOut)
			}
			if got := strings.Contains(out, "remote suite"); got != tt.summary {
				t.Fatalf("summary printed = %v, want %v\n%s", got, tt.summary, out)
			}
			if tt.summary && !strings.Contains(errOut, "the run is stored as ") {
				t.Fatalf("an upload failure should say the run is stored locally:\n%s", errOut)
			}
			for _, k := range []string{editor, viewer} {
				if strings.Contains(out+errOut, k) {
					t.Fatalf("the output shows the API key:\n%s%s", out, errOut)
				}
			}
		})
	}
	if n := serverRuns(); n != 3 {
		t.Fatalf("the server has %d runs after the failed uploads, want 3", n)
	}
}
