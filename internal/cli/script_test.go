package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/plumbhq/plumb/internal/fakellm"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"plumb": func() { os.Exit(Main(os.Args[1:])) },
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each script gets a fake
// OpenAI/Anthropic-compatible server at $FAKE_URL (rules from fake-rules.json in the
// script's files, if any; answering after the duration in fake-latency, if any) and a
// fresh store in its work directory.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// sleep DURATION lets a background command get going.
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: sleep DURATION")
				}
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
			"hold": holdApproval, // approvals_test.go
		},
		Setup: func(env *testscript.Env) error {
			var rules []fakellm.Rule
			if b, err := os.ReadFile(filepath.Join(env.WorkDir, "fake-rules.json")); err == nil {
				if err := json.Unmarshal(b, &rules); err != nil {
					return err
				}
			}
			var latency time.Duration
			if b, err := os.ReadFile(filepath.Join(env.WorkDir, "fake-latency")); err == nil {
				if latency, err = time.ParseDuration(strings.TrimSpace(string(b))); err != nil {
					return err
				}
			}
			srv, err := fakellm.Start(fakellm.Options{Rules: rules, Latency: latency})
			if err != nil {
				return err
			}
			env.Defer(srv.Close)
			env.Setenv("FAKE_URL", srv.URL)
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("NO_COLOR", "1")
			for _, k := range []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "PLUMB_DB"} {
				env.Setenv(k, "")
			}
			return nil
		},
	})
}
