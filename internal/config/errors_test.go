package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// load writes files into a fresh folder and loads the config among them (plumb.yaml, or
// promptfooconfig.yaml when present). It returns the suite, and the error text with the
// folder's path removed, as a user running Plumb inside that folder would read it.
func load(t *testing.T, files map[string]string, env map[string]string) (*Suite, string) {
	t.Helper()
	dir := t.TempDir()
	name := "plumb.yaml"
	for n, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(n, "promptfooconfig") {
			name = n
		}
	}
	s, err := Load(filepath.Join(dir, name), LoadOptions{Getenv: func(k string) string { return env[k] }})
	if err == nil {
		return s, ""
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Load error is %T, want config.Errors: %v", err, err)
	}
	for _, e := range es {
		if e.Pos.File == "" || e.Msg == "" || e.Hint == "" {
			t.Errorf("error without a file, a message or a hint: %q", e.Error())
		}
	}
	return s, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
}

var update = flag.Bool("update", false, "rewrite the want files of testdata/errors from the current output (review the diff!)")

// TestLoadErrors checks the exact text of every error a user sees for a bad config: position,
// message and hint, every problem at once, in file order. Each case is a txtar archive under
// testdata/errors: its comment says what it covers, its files are the suite, and its `want`
// file is the expected error text.
func TestLoadErrors(t *testing.T) {
	cases, err := filepath.Glob("testdata/errors/*.txtar")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases in testdata/errors: %v", err)
	}
	for _, path := range cases {
		ar, err := txtar.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(path), ".txtar")
		t.Run(name, func(t *testing.T) {
			files := map[string]string{}
			want := ""
			for _, f := range ar.Files {
				if f.Name == "want" {
					want = strings.TrimSuffix(string(f.Data), "\n")
					continue
				}
				files[f.Name] = string(f.Data)
			}
			_, got := load(t, files, nil)
			if *update {
				ar.Files = append(slices.DeleteFunc(ar.Files, func(f txtar.File) bool { return f.Name == "want" }),
					txtar.File{Name: "want", Data: []byte(got + "\n")})
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want == "" {
				t.Fatalf("%s has no want file", path)
			}
			if got != want {
				t.Errorf("%s\nerrors:\n%s\n\nwant:\n%s", strings.TrimSpace(string(ar.Comment)), got, want)
			}
		})
	}
}
