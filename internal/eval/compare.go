package eval

import (
	"encoding/json"
	"sort"

	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/stats"
)

// Comparison is the paired comparison of two runs of the same tests.
type Comparison struct {
	A       RunSide `json:"a"`
	B       RunSide `json:"b"`
	Alpha   float64 `json:"alpha"`
	Matched int     `json:"matched"`   // samples present in both runs
	OnlyA   int     `json:"only_in_a"` // samples of A with no counterpart in B
	OnlyB   int     `json:"only_in_b"`

	// McNemar's exact test on the matched samples' pass/fail.
	PassToFail int     `json:"pass_to_fail"` // b: passed in A, failed in B
	FailToPass int     `json:"fail_to_pass"` // c: failed in A, passed in B
	McNemarP   float64 `json:"mcnemar_p"`

	// The matched samples' scores (B − A): the mean difference with its paired-bootstrap
	// interval, and the p-value of a paired sign-flip permutation test. When every score is
	// 0 or 1 the scores say no more than pass/fail, and ScoreP is not used (ScoresBinary).
	ScoreDiff    float64    `json:"score_diff"`
	ScoreDiffCI  [2]float64 `json:"score_diff_ci"`
	ScoreP       float64    `json:"score_p"`
	ScoresBinary bool       `json:"scores_binary"`

	Regressions  []CaseChange `json:"regressions"`
	Improvements []CaseChange `json:"improvements"`

	// Regressed is true when B is significantly worse than A at level Alpha.
	Regressed bool   `json:"regressed"`
	Verdict   string `json:"verdict"`
}

// RunSide is one run's headline numbers in a comparison.
type RunSide struct {
	ID          string  `json:"id"`
	Suite       string  `json:"suite,omitempty"`
	PassRate    float64 `json:"pass_rate"`
	CostPerCase float64 `json:"cost_per_case"`
	LatencyP95  float64 `json:"latency_p95_ms"`
	Samples     int     `json:"samples"`
}

// CaseChange is one sample whose verdict changed between the runs.
type CaseChange struct {
	Test        int     `json:"test"`
	Description string  `json:"description,omitempty"`
	Prompt      string  `json:"prompt"`
	Provider    string  `json:"provider"`
	Repeat      int     `json:"repeat"`
	ScoreA      float64 `json:"score_a"`
	ScoreB      float64 `json:"score_b"`
	OutputA     string  `json:"output_a"`
	OutputB     string  `json:"output_b"`
	Reason      string  `json:"reason,omitempty"` // why the failing side failed
}

// Compare pairs the samples of a and b and tests whether b differs from a: McNemar's exact
// test on pass/fail, and, when the scores are graded, a sign-flip permutation test on them.
// Samples pair by test (description and vars), repeat, prompt and provider; when each run
// has a single prompt × provider (a model or prompt change), they pair by test and repeat
// alone.
func Compare(a, b *report.Report, alpha float64) *Comparison {
	c := &Comparison{A: side(a), B: side(b), Alpha: alpha}
	withLabels := !(singleCombo(a) && singleCombo(b))
	index := make(map[string]int, len(a.Results))
	for i := range a.Results {
		index[pairKey(&a.Results[i], withLabels)] = i
	}
	var scoresA, scoresB []float64
	used := make([]bool, len(a.Results))
	for i := range b.Results {
		rb := &b.Results[i]
		j, ok := index[pairKey(rb, withLabels)]
		if !ok || used[j] {
			c.OnlyB++
			continue
		}
		used[j] = true
		ra := &a.Results[j]
		c.Matched++
		scoresA = append(scoresA, ra.Score)
		scoresB = append(scoresB, rb.Score)
		switch {
		case ra.Passed && !rb.Passed:
			c.PassToFail++
			c.Regressions = append(c.Regressions, change(ra, rb, rb))
		case !ra.Passed && rb.Passed:
			c.FailToPass++
			c.Improvements = append(c.Improvements, change(ra, rb, ra))
		}
	}
	c.OnlyA = len(a.Results) - c.Matched
	c.McNemarP = stats.McNemarExact(c.PassToFail, c.FailToPass)
	c.ScoresBinary, c.ScoreP = true, 1
	diffs := make([]float64, len(scoresA))
	for i := range scoresA {
		diffs[i] = scoresB[i] - scoresA[i]
		c.ScoresBinary = c.ScoresBinary && binary(scoresA[i]) && binary(scoresB[i])
	}
	if c.Matched > 0 {
		diff, ci, _ := stats.PairedBootstrap(scoresA, scoresB, 1-alpha, stats.DefaultResamples, stats.DefaultSeed)
		c.ScoreDiff, c.ScoreDiffCI = diff, [2]float64{ci.Lo, ci.Hi}
		if !c.ScoresBinary {
			c.ScoreP = stats.SignFlipTest(diffs, stats.DefaultResamples, stats.DefaultSeed)
		}
	}
	sort.SliceStable(c.Regressions, func(i, j int) bool { return c.Regressions[i].Test < c.Regressions[j].Test })
	sort.SliceStable(c.Improvements, func(i, j int) bool { return c.Improvements[i].Test < c.Improvements[j].Test })

	// Two tests look at the same pairs: with graded scores each gets half of alpha
	// (Bonferroni), so that the verdict's false-alarm rate stays at alpha.
	level := alpha
	if !c.ScoresBinary {
		level = alpha / 2
	}
	worsePassFail := c.PassToFail > c.FailToPass && c.McNemarP < level
	betterPassFail := c.FailToPass > c.PassToFail && c.McNemarP < level
	worseScores := !c.ScoresBinary && c.ScoreDiff < 0 && c.ScoreP < level
	betterScores := !c.ScoresBinary && c.ScoreDiff > 0 && c.ScoreP < level
	c.Regressed = worsePassFail || worseScores
	switch {
	case c.Matched == 0:
		c.Verdict = "no samples in common: the runs cannot be compared"
	case c.Regressed:
		c.Verdict = "significant regression"
	case betterPassFail || betterScores:
		c.Verdict = "significant improvement"
	default:
		c.Verdict = "no significant difference"
	}
	return c
}

// binary reports whether a score is a plain pass (1) or fail (0).
func binary(x float64) bool { return x == 0 || x == 1 }

func side(r *report.Report) RunSide {
	s := RunSide{ID: r.Run.ID, Suite: r.Run.Suite, PassRate: r.Summary.PassRate, Samples: len(r.Results)}
	if m, ok := r.Summary.Metrics[MetricCostPerCase]; ok {
		s.CostPerCase = m.Value
	}
	if m, ok := r.Summary.Metrics[MetricLatencyP95]; ok {
		s.LatencyP95 = m.Value
	}
	return s
}

func singleCombo(r *report.Report) bool {
	return len(r.Run.Provenance.Prompts) <= 1 && len(r.Run.Provenance.Providers) <= 1
}

// pairKey identifies a sample by what was asked, not by where it sits in the suite, so
// that inserting a test does not shift every pair.
func pairKey(r *report.Result, withLabels bool) string {
	k := TestIdentity(r.Test.Description, r.Test.Vars) + "\x1f" + itoa(r.Repeat)
	if withLabels {
		k += "\x1f" + r.Prompt + "\x1f" + r.Provider
	}
	return k
}

// TestIdentity names a test by what it asks (its description and vars) rather than by its
// position, so that it is found again in an edited suite.
func TestIdentity(description string, vars map[string]any) string {
	b, _ := json.Marshal(vars) // map keys marshal sorted: a canonical form
	return description + "\x1f" + string(b)
}

func change(a, b, failing *report.Result) CaseChange {
	cc := CaseChange{Test: b.Test.Index, Description: b.Test.Description, Prompt: b.Prompt,
		Provider: b.Provider, Repeat: b.Repeat, ScoreA: a.Score, ScoreB: b.Score,
		OutputA: a.Output, OutputB: b.Output}
	cc.Reason = FirstFailure(failing)
	return cc
}

// FirstFailure is the reason a sample failed: its error, or its first failed assertion.
func FirstFailure(r *report.Result) string {
	if r.Error != "" {
		return r.Error
	}
	for _, a := range r.Assertions {
		if !a.Passed {
			if a.Reason != "" {
				return a.Type + ": " + a.Reason
			}
			return a.Type + " failed"
		}
	}
	return ""
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
