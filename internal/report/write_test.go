package report

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	want := []string{".json", ".jsonl", ".csv", ".xml", ".md", ".html"}
	if got := Formats(); !slices.Equal(got, want) {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	r := sampleReport()
	for _, tc := range []struct {
		name   string
		prefix string // how the file must start
	}{
		{"run.json", "{\n  \"run\": {"},
		{"run.jsonl", `{"run_id":"run-123",`},
		{"run.csv", "run_id,test,description,"},
		{"junit.xml", "<?xml"},
		{"REPORT.MD", "# Plumb eval: support bot"}, // extensions are case-insensitive
		{"run.html", "<!DOCTYPE html>"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := Write(path, r); err != nil {
			t.Errorf("Write(%s): %v", tc.name, err)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), tc.prefix) {
			t.Errorf("%s starts with %q, want %q", tc.name, firstLine(string(data)), tc.prefix)
		}
		if info, _ := os.Stat(path); info.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", tc.name, info.Mode().Perm())
		}
	}
	// Writing is atomic: no temporary file survives.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if len(entries) != 6 {
		t.Errorf("directory holds %d files, want 6", len(entries))
	}
}

func TestWriteReplacesExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	if err := os.WriteFile(path, []byte("old contents that are longer than nothing"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, sampleReport()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "old contents") {
		t.Error("the old file's contents survived")
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(t.TempDir(), "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		r          *Report
		want       []string // substrings of the error
	}{
		{"unknown extension", filepath.Join(dir, "run.txt"), sampleReport(),
			[]string{`".txt"`, ".json .jsonl .csv .xml .md .html"}},
		{"no extension", filepath.Join(dir, "run"), sampleReport(), []string{`""`, ".html"}},
		{"parent is a file", filepath.Join(blocker, "run.json"), sampleReport(), []string{"not a directory"}},
		{"nil report", filepath.Join(dir, "nil.json"), nil, []string{"no report"}},
	} {
		err := Write(tc.path, tc.r)
		if err == nil {
			t.Errorf("%s: Write succeeded, want an error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files behind", len(entries))
	}
}

func TestWriteCreatesTheFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "ci", "run.json")
	if err := Write(path, sampleReport()); err != nil {
		t.Fatalf("Write into a new folder: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}

func TestWritersRejectNilReport(t *testing.T) {
	var sb strings.Builder
	for _, w := range writers() {
		if err := w.write(&sb, nil); err == nil {
			t.Errorf("%s writer accepted a nil report", w.ext)
		}
	}
	WriteSummary(&sb, nil, true) // must not panic
	if sb.Len() != 0 {
		t.Errorf("writers wrote %q for a nil report", sb.String())
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
