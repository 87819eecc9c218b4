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

func TestCompareDoesNotCryWolfOnFewPairs(t *testing.T) {
	// Two cases, both pass → fail: McNemar's p is 0.5; nothing is significant.
	c := Compare(run("A", []bool{true, true}), run("B", []bool{false, false}), 0.05)
	if c.Regressed || !c.ScoresBinary {
		t.Errorf("2 pass→fail: regressed=%v binary=%v (McNemar p %v)", c.Regressed, c.ScoresBinary, c.McNemarP)
	}
	// 4 of 20 pass → fail: McNemar p = 0.125, not significant.
	a, b := make([]bool, 20), make([]bool, 20)
	for i := range a {
		a[i], b[i] = true, i >= 4
	}
	if c := Compare(run("A", a), run("B", b), 0.05); c.Regressed {
		t.Errorf("4 of 20 pass→fail flagged as a regression (McNemar p %v)", c.McNemarP)
	}
}

func TestCompareGradedScores(t *testing.T) {
	graded := func(id string, scores []float64) *report.Report {
		r := &report.Report{Run: report.Run{ID: id}}
		for i, s := range scores {
			r.Results = append(r.Results, report.Result{Test: report.TestRef{Index: i, Vars: map[string]any{"n": i}},
				Prompt: "p", Provider: "m", Passed: true, Score: s})
		}
		return r
	}
	a, b := make([]float64, 30), make([]float64, 30)
	for i := range a {
		a[i], b[i] = 0.9, 0.7 // every case lost 0.2, still passing
	}
	c := Compare(graded("A", a), graded("B", b), 0.05)
	if c.ScoresBinary || !c.Regressed || c.PassToFail != 0 {
		t.Errorf("scores down 0.2 on 30 cases: binary=%v regressed=%v p=%v", c.ScoresBinary, c.Regressed, c.ScoreP)
	}
	// The same drop on three cases cannot be told from chance: 2 of 8 sign patterns.
	c = Compare(graded("A", a[:3]), graded("B", b[:3]), 0.05)
	if c.Regressed || c.ScoreP != 0.25 {
		t.Errorf("3 cases: regressed=%v p=%v, want not significant with p 0.25", c.Regressed, c.ScoreP)
	}
}
