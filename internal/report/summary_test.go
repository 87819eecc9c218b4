package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestWriteSummary(t *testing.T) {
	var buf bytes.Buffer
	WriteSummary(&buf, sampleReport(), false)
	out := buf.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Run run-123 · complete · support bot · 12.3s$`),
		regexp.MustCompile(`6 cases: 3 passed, 2 failed, 1 error · pass rate 50.0% \[18.8%, 81.2%\]`),
		regexp.MustCompile(`(?m)^PROMPT\s+PROVIDER\s+CASES\s+PASS RATE \(95% CI\)\s+MEAN SCORE\s+P95 LATENCY\s+COST$`),
		regexp.MustCompile(`(?m)^v1\s+gpt-4o-mini\s+4\s+75.0% \[30.1%, 95.4%\]\s+0.875\s+582 ms\s+\$0.0004$`),
		regexp.MustCompile(`(?m)^Accuracy\s+50.0% \[18.8%, 81.2%\] \(n=6\)$`),
		regexp.MustCompile(`(?m)^Hallucination rate\s+n/a$`), // not measured by this run
		regexp.MustCompile(`(?m)^Refusal rate\s+0.0% \[0.0%, 43.5%\] \(n=5\)$`),
		regexp.MustCompile(`(?m)^Latency\s+p50 420 ms · p95 1642 ms · p99 1848 ms$`),
		regexp.MustCompile(`(?m)^Cost\s+\$0.0006 total · \$0.0001 per case$`),
		regexp.MustCompile(`(?m)^helpfulness\s+1 \(n=1\)$`),
		regexp.MustCompile(`(?m)^  ✗ pass_rate ≥ 90.0% at 95% confidence: observed 50.0% \[18.8%, 81.2%\], lower bound 20.0%$`),
		regexp.MustCompile(`(?m)^  ✓ latency_p95_ms ≤ 2000 ms: observed 1642 ms$`),
		regexp.MustCompile(`(?m)^  refund policy · v1 / gpt-4o-mini: 1 of 2 passed$`),
		regexp.MustCompile(`(?m)^Failed cases \(3\)$`),
		regexp.MustCompile(`(?m)^  ✗ refund policy \[repeat 1\] · v1 / gpt-4o-mini: contains: output does not contain "refund"$`),
		regexp.MustCompile(`(?m)^  ✗ refund policy \[repeat 0\] · v2 / gpt-4o-mini: error: provider gpt-4o-mini: timeout after 30s$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("summary does not match %s:\n%s", want, out)
		}
	}
	if last := lastLine(out); last != "FAIL: 2 of 3 gates failed" {
		t.Errorf("last line = %q", last)
	}
	// The planted "\x1b[2J" (clear screen) in an assertion reason must not reach the terminal.
	if strings.Contains(out, "\x1b") {
		t.Error("summary without colour contains an escape character")
	}

	buf.Reset()
	WriteSummary(&buf, sampleReport(), true)
	colored := buf.String()
	if !strings.Contains(colored, "\x1b[31m✗\x1b[0m") || !strings.Contains(colored, "\x1b[32m✓\x1b[0m") {
		t.Errorf("coloured summary lacks red ✗ / green ✓:\n%q", colored)
	}
	if strings.Contains(colored, "\x1b[2J") {
		t.Error("model-controlled escape sequence reached the terminal")
	}
}

func TestWriteSummaryListsAtMostTenFailures(t *testing.T) {
	r := sampleReport()
	r.Summary.Gates = nil
	base := r.Results[1]
	r.Results = nil
	for i := range 15 {
		res := base
		res.Test.Index, res.Test.Description = i, fmt.Sprintf("case %d", i)
		r.Results = append(r.Results, res)
	}
	r.Summary.Cases, r.Summary.Passed, r.Summary.Failed, r.Summary.Errors = 15, 0, 15, 0
	var buf bytes.Buffer
	WriteSummary(&buf, r, false)
	out := buf.String()
	if got := strings.Count(out, "  ✗ case "); got != 10 {
		t.Errorf("%d failed cases listed, want 10", got)
	}
	if !strings.Contains(out, "  … and 5 more\n") {
		t.Errorf("summary does not say how many more failed:\n%s", out)
	}
	if last := lastLine(out); last != "FAIL: 15 of 15 cases failed" {
		t.Errorf("last line = %q", last)
	}
}

func TestWriteSummaryPass(t *testing.T) {
	r := sampleReport()
	for i := range r.Summary.Gates {
		r.Summary.Gates[i].Passed = true
	}
	var buf bytes.Buffer
	WriteSummary(&buf, r, false)
	if last := lastLine(buf.String()); last != "PASS: all 3 gates passed" {
		t.Errorf("last line = %q", last)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
