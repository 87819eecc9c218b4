package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// runReview is run with `plumb review` in the command tree, whether or not root.go has
// registered it yet.
func runReview(ctx context.Context, e *env) int {
	root := newRoot(e)
	if c, _, err := root.Find([]string{"review"}); err != nil || c == root {
		root.AddCommand(newReviewCmd(e))
	}
	root.SetArgs(e.args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.Error() != "" {
			printError(e.stderr, ee.err)
		}
		return ee.code
	}
	printError(e.stderr, err)
	return ExitUsage
}

// chdirMu serializes the review scripts' in-process runs, which change the process's working
// directory to the script's so that relative paths and file:line messages read as a user
// would see them.
var chdirMu sync.Mutex

// TestReviewScripts runs the scripts in testdata/review, where the command `review ARGS`
// is `plumb review ARGS` run in-process; `! review` expects exit code 2 (bad input).
func TestReviewScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/review",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"review": func(ts *testscript.TestScript, neg bool, args []string) {
				e := &env{stdin: strings.NewReader(""), stdout: ts.Stdout(), stderr: ts.Stderr(), getenv: ts.Getenv,
					args: append([]string{"review"}, args...)}
				chdirMu.Lock()
				defer chdirMu.Unlock()
				wd, err := os.Getwd()
				ts.Check(err)
				ts.Check(os.Chdir(ts.Getenv("WORK")))
				code := runReview(context.Background(), e)
				ts.Check(os.Chdir(wd))
				switch {
				case neg && code != ExitUsage:
					ts.Fatalf("exit code %d, want %d (bad input)", code, ExitUsage)
				case !neg && code != ExitOK:
					ts.Fatalf("exit code %d, want 0", code)
				}
			},
		},
	})
}

// TestReviewAgreementVectors runs the command on REFERENCE.md §10's Cohen vector written
// as a CSV file and checks the numbers a user reads.
func TestReviewAgreementVectors(t *testing.T) {
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("item,annotator,value\n")
	n := 0
	for i, row := range [][]int{{20, 20}, {10, 50}} {
		for j, c := range row {
			for range c {
				n++
				cats := []string{"yes", "no"}
				csv.WriteString(strings.Join([]string{strconv.Itoa(n), "ana", cats[i]}, ",") + "\n")
				csv.WriteString(strings.Join([]string{strconv.Itoa(n), "ben", cats[j]}, ",") + "\n")
			}
		}
	}
	path := filepath.Join(dir, "helpful.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := runReview(context.Background(), &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" },
		args: []string{"review", "agreement", path, "--field", "helpful", "--kind", "boolean"}})
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"200 labels, 100 items, 2 annotators", "70.0%", "0.3478 fair", "0.3407 fair"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
