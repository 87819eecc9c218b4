package eval

import (
	"encoding/json"
	"fmt"
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

func TestComparePairsDuplicatesInOrder(t *testing.T) {
	// Two tests with the same description and vars in both runs, and a third copy in b:
	// the k-th copy in a pairs with the k-th in b, and the third is b's alone.
	dup := func(id string, passed ...bool) *report.Report {
		r := &report.Report{Run: report.Run{ID: id}}
		for i, p := range passed {
			r.Results = append(r.Results, report.Result{Test: report.TestRef{Index: i, Description: "same", Vars: map[string]any{"q": "x"}},
				Prompt: "p", Provider: "m", Passed: p, Score: b2f(p), Output: fmt.Sprintf("%s%d", id, i)})
		}
		return r
	}
	c := Compare(dup("A", true, false), dup("B", false, true, true), 0.05)
	if c.Matched != 2 || c.OnlyA != 0 || c.OnlyB != 1 || c.PassToFail != 1 || c.FailToPass != 1 {
		t.Fatalf("matched %d, only a %d, only b %d, pass→fail %d, fail→pass %d; want 2, 0, 1, 1, 1",
			c.Matched, c.OnlyA, c.OnlyB, c.PassToFail, c.FailToPass)
	}
	if c.Regressions[0].OutputA != "A0" || c.Regressions[0].OutputB != "B0" || c.Improvements[0].OutputA != "A1" || c.Improvements[0].OutputB != "B1" {
		t.Errorf("pairs %+v and %+v, want A0 with B0 and A1 with B1", c.Regressions[0], c.Improvements[0])
	}
}

func TestCompareTotalsAlwaysInJSON(t *testing.T) {
	c := Compare(run("A", []bool{true, true}), run("B", []bool{true, false}), 0.05)
	var m map[string]any
	b, _ := json.Marshal(c)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["regressions_total"] != 1.0 || m["improvements_total"] != 0.0 {
		t.Errorf("regressions_total %v, improvements_total %v; want 1 and 0 (present when zero)", m["regressions_total"], m["improvements_total"])
	}
}

func TestPairByKeyWithinCrowdedBuckets(t *testing.T) {
	// Keys that share their top 16 bits fall in one bucket of the counting sort: 5 of them
	// (sorted by insertion) and 40 (sorted by slices.SortStableFunc), each key several times.
	for _, distinct := range []int{5, 40} {
		var sa, sb []report.PairSample
		for i := range 3 * distinct {
			k := uint64(0xabcd)<<48 | uint64(distinct-i%distinct)*7919 // descending, repeated
			sa = append(sa, report.PairSample{Key: k, Test: i})
			if i%3 != 0 {
				sb = append(sb, report.PairSample{Key: k, Test: i})
			}
		}
		sb = append(sb, report.PairSample{Key: 1, Test: -1}) // in b only
		partner := pairByKey(sa, sb, func(s *report.PairSample) uint64 { return s.Key })
		// The k-th sample of b with a key pairs with the k-th of a with that key.
		seen := map[uint64]int{}
		for i, s := range sb {
			var want int32 = -1
			if s.Test >= 0 {
				nth := seen[s.Key]
				seen[s.Key]++
				for j, x := range sa {
					if x.Key == s.Key {
						if nth == 0 {
							want = int32(j)
							break
						}
						nth--
					}
				}
			}
			if partner[i] != want {
				t.Errorf("%d keys: sample %d of b (key %x) paired with %d of a, want %d", distinct, i, s.Key, partner[i], want)
			}
		}
	}
}
