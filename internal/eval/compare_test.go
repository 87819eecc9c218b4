package eval

import (
	"math"
	"testing"

	"github.com/plumbhq/plumb/internal/report"
)

func run(id string, passed []bool) *report.Report {
	r := &report.Report{Run: report.Run{ID: id}}
	for i, p := range passed {
		r.Results = append(r.Results, report.Result{
			Test:   report.TestRef{Index: i, Description: "case", Vars: map[string]any{"n": i}},
			Prompt: "p", Provider: "m" + id, Passed: p, Score: b2f(p), Output: id,
		})
	}
	r.Summary = Summarize(r.Results, nil)
	return r
}

func TestCompareFindsASignificantRegression(t *testing.T) {
	// 20 cases: 9 go pass→fail, 1 goes fail→pass (REFERENCE.md: b=1, c=9 → p = 0.02148).
	a, b := make([]bool, 20), make([]bool, 20)
	for i := range 20 {
		a[i], b[i] = true, true
	}
	for i := range 9 {
		b[i] = false
	}
	a[19] = false
	c := Compare(run("A", a), run("B", b), 0.05)
	if c.Matched != 20 || c.PassToFail != 9 || c.FailToPass != 1 {
		t.Fatalf("matched %d, pass→fail %d, fail→pass %d; want 20, 9, 1", c.Matched, c.PassToFail, c.FailToPass)
	}
	if math.Abs(c.McNemarP-0.02148) > 5e-5 {
		t.Errorf("McNemar p = %.5f, want 0.02148", c.McNemarP)
	}
	if !c.Regressed || c.Verdict != "significant regression" {
		t.Errorf("verdict %q regressed=%v, want a significant regression", c.Verdict, c.Regressed)
	}
	if len(c.Regressions) != 9 || len(c.Improvements) != 1 {
		t.Errorf("listed %d regressions and %d improvements, want 9 and 1", len(c.Regressions), len(c.Improvements))
	}
	// The same change the other way round is an improvement, not a regression.
	back := Compare(run("B", b), run("A", a), 0.05)
	if back.Regressed || back.Verdict != "significant improvement" {
		t.Errorf("reverse verdict %q regressed=%v", back.Verdict, back.Regressed)
	}
}

func TestCompareSmallDifferenceIsNotSignificant(t *testing.T) {
	a := []bool{true, true, true, true, true, true, true, true, true, true}
	b := append([]bool(nil), a...)
	b[0], b[1] = false, false
	c := Compare(run("A", a), run("B", b), 0.05)
	if c.Regressed {
		t.Errorf("2 of 10 pass→fail should not be significant (p = %.3f)", c.McNemarP)
	}
	if c.Verdict != "no significant difference" {
		t.Errorf("verdict = %q", c.Verdict)
	}
}

func TestComparePairsByTestWhenModelsDiffer(t *testing.T) {
	// Different provider labels (a model change): single-combo runs still pair by test.
	c := Compare(run("A", []bool{true, false}), run("B", []bool{true, true}), 0.05)
	if c.Matched != 2 || c.FailToPass != 1 {
		t.Errorf("matched %d, fail→pass %d; want 2 and 1", c.Matched, c.FailToPass)
	}
}
