package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"**FAIL: 2 of 3 gates failed**",
		"| 6 | 3 | 2 | 1 | 50.0% | [18.8%, 81.2%] |",
		"| `pass_rate` | 50.0% | [18.8%, 81.2%] | lower bound 20.0% | ≥ 90.0% at 95% confidence | ❌ fail |",
		"| `latency_p95_ms` | 1642 ms | – | – | ≤ 2000 ms | ✅ pass |",
		"| `cost_per_case` | $0.0001 | [$0.00005, $0.00015] | 6 |",
		"| v1 | gpt-4o-mini | 4 | 3 | 1 | 0 | 75.0% | [30.1%, 95.4%] |",
		"## Flaky tests (1)",
		"| refund policy | v1 | gpt-4o-mini | 1 of 2 | 50.0% |",
		"## Failed cases (3)",
		"timeout after 30s",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	// Raw HTML in Markdown is rendered by many viewers; the planted tags must be escaped.
	if m := regexp.MustCompile(`(^|[^\\])<(script|img)`).FindString(md); m != "" {
		t.Errorf("Markdown contains raw HTML %q", m)
	}
	if !strings.Contains(md, `\<img src=x onerror=alert(1)\>`) {
		t.Error("Markdown lacks the escaped img output")
	}
	if strings.Contains(md, "\x1b") {
		t.Error("Markdown contains an escape character")
	}
	// Every row of a table has as many cells as its header, whatever the model wrote.
	var header int
	for i, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			header = 0
			continue
		}
		cells := countCells(line)
		if header == 0 {
			header = cells
		} else if cells != header {
			t.Errorf("line %d has %d cells, its table has %d: %s", i+1, cells, header, line)
		}
	}
}

// countCells counts the cells of a GFM table row: pipes not escaped with a backslash, minus
// the outer ones.
func countCells(row string) int {
	pipes := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++ // the next character is escaped
		case '|':
			pipes++
		}
	}
	return pipes - 1
}

func TestMDCell(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"a | b", 0, `a \| b`},
		{"line one\nline two", 0, "line one<br>line two"},
		{"crlf\r\nend", 0, "crlf<br>end"},
		{"<script>alert(1)</script>", 0, `\<script\>alert(1)\</script\>`},
		{"![pixel](http://t.example/p.png)", 0, `\!\[pixel\](http://t.example/p.png)`},
		{`back\|slash`, 0, `back\\\|slash`}, // the backslash cannot un-escape the pipe
		{"**bold** `code`", 0, "\\*\\*bold\\*\\* \\`code\\`"},
		{"\x1b[2Jclear", 0, `\[2Jclear`},
		{"abcdef", 3, "abc…"},
		{"  padded  ", 0, "padded"},
	} {
		if got := mdCell(tc.in, tc.limit); got != tc.want {
			t.Errorf("mdCell(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}
