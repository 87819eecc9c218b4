package report

import (
	"math"
	"strings"
	"testing"
)

func TestVerdict(t *testing.T) {
	gate := func(passed bool) Gate { return Gate{Metric: "pass_rate", Passed: passed} }
	for _, tc := range []struct {
		name string
		s    Summary
		pass bool
		line string
	}{
		{"gates decide, even over failed cases", Summary{Cases: 10, Passed: 8, Failed: 2, Gates: []Gate{gate(true), gate(true)}},
			true, "PASS: all 2 gates passed"},
		{"one gate", Summary{Cases: 10, Passed: 10, Gates: []Gate{gate(true)}}, true, "PASS: the gate passed"},
		{"failed gate", Summary{Cases: 10, Passed: 10, Gates: []Gate{gate(true), gate(false), gate(false)}},
			false, "FAIL: 2 of 3 gates failed"},
		{"no gates, all passed", Summary{Cases: 4, Passed: 4}, true, "PASS: all 4 cases passed"},
		{"no gates, failures and an error", Summary{Cases: 4, Passed: 1, Failed: 2, Errors: 1},
			false, "FAIL: 3 of 4 cases failed (1 error)"},
		{"nothing ran", Summary{}, false, "FAIL: no cases ran"},
	} {
		pass, line := verdict(&Report{Summary: tc.s})
		if pass != tc.pass || line != tc.line {
			t.Errorf("%s: verdict = %v %q, want %v %q", tc.name, pass, line, tc.pass, tc.line)
		}
	}
}

func TestFmtValue(t *testing.T) {
	for _, tc := range []struct {
		metric, kind string
		v            float64
		want         string
	}{
		{"accuracy", "rate", 0.8766, "87.7%"},
		{"pass_rate", "rate", 1, "100.0%"},
		{"latency_p95_ms", "quantile", 1234.56, "1235 ms"},
		{"latency_p50_ms", "quantile", 3.14159, "3.1 ms"},
		{"cost_total", "total", 12.345, "$12.35"},
		{"cost_per_case", "mean", 0.000123456, "$0.000123"},
		{"cost_per_case", "mean", 0, "$0"},
		{"tokens_total", "total", 12345, "12345"},
		{"helpfulness", "mean", 0.83333, "0.8333"},
		{"helpfulness", "mean", 0.00001234, "0.00001234"}, // never 1.234e-05
		{"helpfulness", "mean", 0.5, "0.5"},
		{"helpfulness", "mean", math.NaN(), "n/a"},
		{"accuracy", "rate", math.Inf(1), "n/a"},
	} {
		if got := fmtValue(tc.metric, tc.kind, tc.v); got != tc.want {
			t.Errorf("fmtValue(%s, %s, %v) = %q, want %q", tc.metric, tc.kind, tc.v, got, tc.want)
		}
	}
}

func TestMetricNamesOrder(t *testing.T) {
	m := map[string]Metric{
		"zeta": {}, "alpha": {}, "cost_total": {}, "accuracy": {}, "latency_p95_ms": {}, "refusal_rate": {},
	}
	got := strings.Join(metricNames(m), " ")
	if want := "accuracy refusal_rate latency_p95_ms cost_total alpha zeta"; got != want {
		t.Errorf("metricNames = %s, want %s", got, want)
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"two\nlines", 100, "two lines"},
		{"\x1b[31mred\x1b[0m", 100, "[31mred[0m"},
		{"evil\u202Eexe.txt", 100, "evilexe.txt"}, // right-to-left override dropped
		{"abcdef", 4, "abcd…"},
		{"héllo wörld", 5, "héllo…"},
	} {
		if got := oneLine(tc.in, tc.limit); got != tc.want {
			t.Errorf("oneLine(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}

func TestGroupRows(t *testing.T) {
	rows := groupRows(sampleReport().Results)
	if len(rows) != 2 {
		t.Fatalf("%d groups, want 2", len(rows))
	}
	v2 := rows[1]
	// An errored call counts as a case but not towards latency.
	if v2.Prompt != "v2" || v2.Cases != 2 || v2.Errors != 1 || v2.Failed != 1 || v2.P95Latency != "1900 ms" || v2.PassRate != "0.0%" {
		t.Errorf("v2 group = %+v", v2)
	}
}
