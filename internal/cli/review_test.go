package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

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
	code := run(context.Background(), &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" },
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
