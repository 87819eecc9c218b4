package report

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
)

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v", err)
	}
	wantHeader := []string{
		"run_id", "test", "description", "segment", "prompt", "provider", "repeat", "passed",
		"score", "latency_ms", "prompt_tokens", "completion_tokens", "cost", "error", "output",
		"failed_assertions", "var_n", "var_question",
	}
	if !slices.Equal(rows[0], wantHeader) {
		t.Fatalf("header = %v\nwant     %v", rows[0], wantHeader)
	}
	if len(rows) != 7 {
		t.Fatalf("%d rows, want a header and 6 results", len(rows))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, tc := range []struct {
		row    int
		column string
		want   string
	}{
		{1, "run_id", "run-123"},
		{1, "passed", "true"},
		{1, "latency_ms", "420"},
		{1, "cost", "0.0001"},
		{1, "var_question", "Can I get a refund?"},
		{1, "var_n", ""}, // this test has no n
		{2, "passed", "false"},
		{2, "repeat", "1"},
		{2, "output", scriptOutput}, // CSV is data: kept as is, quoted only where CSV needs it
		{2, "failed_assertions", `contains: output does not contain "refund"`},
		{3, "description", "pipes | and\nnewlines"},
		{3, "output", "a | b\nc"},
		{3, "var_n", "3"},                // non-string vars as JSON
		{4, "output", "'" + formulaCell}, // a spreadsheet must not run it
		{5, "error", "provider gpt-4o-mini: timeout after 30s"},
		{5, "prompt", "v2"},
	} {
		if got := rows[tc.row][col[tc.column]]; got != tc.want {
			t.Errorf("row %d %s = %q, want %q", tc.row, tc.column, got, tc.want)
		}
	}
}

func TestSafeCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"+SUM(A1)", "'+SUM(A1)"},
		{"-2", "'-2"},
		{"@cmd", "'@cmd"},
		{"\tx", "'\tx"},
		{"plain text", "plain text"},
		{"a=b", "a=b"},
		{"", ""},
	} {
		if got := safeCell(tc.in); got != tc.want {
			t.Errorf("safeCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
