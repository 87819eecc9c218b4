package eval

import (
	"math"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/report"
)

func ptr(f float64) *float64 { return &f }

// samples makes n results of which the first k pass.
func samples(k, n int) []report.Result {
	rs := make([]report.Result, n)
	for i := range rs {
		rs[i] = report.Result{Test: report.TestRef{Index: i}, Prompt: "p", Provider: "m", Passed: i < k,
			Score: b2f(i < k), LatencyMS: float64(100 + i), Cost: 0.001,
			Assertions: []report.Assertion{{Type: "contains", Passed: i < k, Score: b2f(i < k), Weight: 1}}}
	}
	return rs
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestConfidenceGateNeedsEnoughEvidence(t *testing.T) {
	gate := []config.Gate{{Metric: "pass_rate", Min: ptr(0.90), Confidence: 0.95}}
	for _, tc := range []struct {
		k, n int
		want bool
	}{
		{10, 10, false}, // 100% observed, but 10 samples cannot show ≥ 90% at 95%
		{40, 40, true},
		{45, 50, false}, // exactly 90% observed: the bound is below
		{96, 100, true},
	} {
		s := Summarize(samples(tc.k, tc.n), gate)
		g := s.Gates[0]
		if g.Passed != tc.want {
			t.Errorf("%d/%d: gate passed = %v, want %v (%s)", tc.k, tc.n, g.Passed, tc.want, g.Reason)
		}
		if g.Bound == nil || *g.Bound > g.Observed {
			t.Errorf("%d/%d: bound %v should be set and below the observed %v", tc.k, tc.n, g.Bound, g.Observed)
		}
	}
}

func TestGatesWithoutConfidenceUseTheObservedValue(t *testing.T) {
	rs := samples(9, 10)
	s := Summarize(rs, []config.Gate{
		{Metric: "pass_rate", Min: ptr(0.9)},
		{Metric: "latency_p95_ms", Max: ptr(100)},
		{Metric: "cost_total", Max: ptr(0.02)},
		{Metric: "no_such_metric", Min: ptr(0.5)},
	})
	want := []bool{true, false, true, false}
	for i, g := range s.Gates {
		if g.Passed != want[i] {
			t.Errorf("gate %s: passed = %v, want %v (%s)", g.Metric, g.Passed, want[i], g.Reason)
		}
	}
	if !strings.Contains(s.Gates[3].Reason, "no sample measured") {
		t.Errorf("missing metric reason = %q", s.Gates[3].Reason)
	}
	if got := s.Metrics["latency_p95_ms"].Value; math.Abs(got-108.55) > 1e-9 {
		t.Errorf("p95 latency = %v, want 108.55 (linear interpolation)", got)
	}
}

func TestSummaryAnswersThePMQuestions(t *testing.T) {
	rs := []report.Result{
		{Output: "Paris", Passed: true, Assertions: []report.Assertion{
			{Type: "icontains", Passed: true, Score: 1}, {Type: "context-faithfulness", Passed: true, Score: 1, Metric: "faith"}}},
		{Output: "Lyon", Passed: false, Assertions: []report.Assertion{
			{Type: "icontains", Passed: false}, {Type: "context-faithfulness", Passed: false, Score: 0.2, Metric: "faith"}}},
		{Output: "I can't help with that.", Refusal: true, Passed: true, Assertions: []report.Assertion{
			{Type: "is-refusal", Passed: true, Score: 1}}},
		{Error: "connection refused", Assertions: []report.Assertion{}},
	}
	s := Summarize(rs, nil)
	if s.Cases != 4 || s.Passed != 2 || s.Failed != 1 || s.Errors != 1 {
		t.Fatalf("counts = %d/%d/%d/%d, want 4 cases, 2 passed, 1 failed, 1 error", s.Cases, s.Passed, s.Failed, s.Errors)
	}
	check := func(name string, want float64, n int) {
		t.Helper()
		m, ok := s.Metrics[name]
		if !ok {
			t.Fatalf("metric %s missing", name)
		}
		if math.Abs(m.Value-want) > 1e-9 || m.N != n {
			t.Errorf("%s = %v over %d, want %v over %d", name, m.Value, m.N, want, n)
		}
	}
	check("accuracy", 1.0/3, 3)         // the refusal-only sample does not judge accuracy; the error counts as wrong
	check("hallucination_rate", 0.5, 2) // one of two faithfulness checks failed
	check("refusal_rate", 1.0/3, 3)     // errors are not answers
	check("faith", 0.6, 2)              // a named metric is the mean score
	if ci := s.Metrics["accuracy"].CI; ci == nil || ci[0] > 1.0/3 || ci[1] < 1.0/3 {
		t.Errorf("accuracy interval %v should contain the observed value", ci)
	}
}

func TestFlakyTestsAndPassAtK(t *testing.T) {
	var rs []report.Result
	for rep, pass := range []bool{true, false, true} {
		rs = append(rs, report.Result{Test: report.TestRef{Index: 0, Description: "flaky"}, Prompt: "p", Provider: "m", Repeat: rep, Passed: pass, Score: b2f(pass)})
	}
	for rep := range 3 {
		rs = append(rs, report.Result{Test: report.TestRef{Index: 1, Description: "steady"}, Prompt: "p", Provider: "m", Repeat: rep, Passed: true, Score: 1})
	}
	s := Summarize(rs, nil)
	if len(s.Flaky) != 1 || s.Flaky[0].Description != "flaky" {
		t.Fatalf("flaky = %+v, want the one test whose repeats disagree", s.Flaky)
	}
	f := s.Flaky[0]
	if !f.PassAtK || f.PassHatK || f.Samples != 3 || f.Passed != 2 {
		t.Errorf("flaky stats = %+v, want pass@k true, pass^k false, 2 of 3", f)
	}
	if len(s.Tests) != 2 || !s.Tests[1].PassHatK {
		t.Errorf("tests = %+v", s.Tests)
	}
	if at, hat := s.Metrics["pass_at_k"], s.Metrics["pass_hat_k"]; at.Value != 1 || hat.Value != 0.5 || at.N != 2 || at.Kind != "rate" {
		t.Errorf("pass@k = %+v, pass^k = %+v; want 100%% and 50%% over 2 tests", at, hat)
	}
}

func TestConfidenceGateOnAMeanScoreNeedsEvidenceToo(t *testing.T) {
	gate := []config.Gate{{Metric: "correct", Min: ptr(0.90), Confidence: 0.95}}
	named := func(n int, score float64) []report.Result {
		rs := samples(n, n)
		for i := range rs {
			rs[i].Assertions[0].Metric, rs[i].Assertions[0].Score = "correct", score
		}
		return rs
	}
	for _, tc := range []struct {
		n     int
		score float64
		want  bool
	}{
		{1, 1, false},  // one perfect score proves nothing
		{10, 1, false}, // like 10 of 10 passes for a rate
		{40, 1, true},
		{200, 0.95, true},
		{200, 0.91, false}, // above 0.9 observed, not shown with confidence
	} {
		s := Summarize(named(tc.n, tc.score), gate)
		if g := s.Gates[0]; g.Passed != tc.want {
			t.Errorf("%d scores of %v: passed = %v, want %v (%s)", tc.n, tc.score, g.Passed, tc.want, g.Reason)
		}
	}
}

func TestJudgeFailuresAreNotHallucinationsAndRefusalsFollowTheSuite(t *testing.T) {
	rs := []report.Result{
		// The judge failed: the sample fails, but it is not a hallucination nor inaccurate.
		{Output: "Paris", Assertions: []report.Assertion{{Type: "context-faithfulness", Error: true}}},
		{Output: "Paris", Passed: true, Assertions: []report.Assertion{{Type: "context-faithfulness", Passed: true, Score: 1}}},
		// A German refusal the heuristics miss but the suite's judged is-refusal confirms.
		{Output: "Das kann ich nicht tun.", Passed: true, Assertions: []report.Assertion{{Type: "is-refusal", Passed: true, Score: 1}}},
		// not-is-refusal that passed: an answer, not a refusal, whatever the heuristics say.
		{Output: "I can't stress enough how easy it is.", Refusal: true, Passed: true, Assertions: []report.Assertion{{Type: "not-is-refusal", Passed: true, Score: 1}}},
	}
	s := Summarize(rs, nil)
	if m := s.Metrics["hallucination_rate"]; m.N != 1 || m.Value != 0 {
		t.Errorf("hallucination_rate = %v over %d, want 0 over 1: a failed judge is no evidence", m.Value, m.N)
	}
	if m := s.Metrics["refusal_rate"]; m.N != 4 || m.Value != 0.25 {
		t.Errorf("refusal_rate = %v over %d, want 0.25 over 4 (the suite's own verdicts)", m.Value, m.N)
	}
	if s.AssertionErrors != 1 {
		t.Errorf("assertion errors = %d, want 1", s.AssertionErrors)
	}
}
