package eval

import (
	"cmp"
	"slices"
	"sort"
	"strconv"

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

	// Regressions (pass → fail) and Improvements (fail → pass) list the changed pairs by
	// test. Compare lists all of them; CompareStored the first of each (a page), and the
	// totals count all (they equal PassToFail and FailToPass).
	Regressions       []CaseChange `json:"regressions"`
	RegressionsTotal  int          `json:"regressions_total"`
	Improvements      []CaseChange `json:"improvements"`
	ImprovementsTotal int          `json:"improvements_total"`

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
// alone. When several samples of a run share a key (two tests with the same description
// and vars), the k-th of them in a pairs with the k-th in b. Every regression and
// improvement is listed; CompareStored lists a page of them.
func Compare(a, b *report.Report, alpha float64) *Comparison {
	c, regs, imps := comparePaired(a, b, report.PairSamples(a.Results), report.PairSamples(b.Results), alpha)
	for _, p := range regs {
		ra, rb := &a.Results[p.a], &b.Results[p.b]
		c.Regressions = append(c.Regressions, change(ra, rb, rb))
	}
	for _, p := range imps {
		ra, rb := &a.Results[p.a], &b.Results[p.b]
		c.Improvements = append(c.Improvements, change(ra, rb, ra))
	}
	return c
}

// pairRef is a changed pair: the positions of its samples in runs a and b.
type pairRef struct{ a, b int }

// comparePaired is the comparison itself, on what the store keeps of each run as much as
// on a report: a and b supply the header and summary (their Results are not read), sa and
// sb one sample per result in report order. It fills everything but the Regressions and
// Improvements lists, and returns those pairs, in the order they are listed.
func comparePaired(a, b *report.Report, sa, sb []report.PairSample, alpha float64) (c *Comparison, regs, imps []pairRef) {
	c = &Comparison{A: side(a, len(sa)), B: side(b, len(sb)), Alpha: alpha}
	key := func(s *report.PairSample) uint64 { return s.Key }
	if !(singleCombo(a) && singleCombo(b)) {
		key = func(s *report.PairSample) uint64 { return s.LabelKey }
	}
	partner := pairByKey(sa, sb, key)
	n := min(len(sa), len(sb))
	scoresA, scoresB := make([]float64, 0, n), make([]float64, 0, n)
	for i := range sb {
		sbi := &sb[i]
		j := int(partner[i])
		if j < 0 {
			c.OnlyB++
			continue
		}
		saj := &sa[j]
		c.Matched++
		scoresA = append(scoresA, saj.Score)
		scoresB = append(scoresB, sbi.Score)
		switch {
		case saj.Passed && !sbi.Passed:
			c.PassToFail++
			regs = append(regs, pairRef{j, i})
		case !saj.Passed && sbi.Passed:
			c.FailToPass++
			imps = append(imps, pairRef{j, i})
		}
	}
	c.OnlyA = len(sa) - c.Matched
	c.RegressionsTotal, c.ImprovementsTotal = len(regs), len(imps)
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
	byTest := func(refs []pairRef) func(i, j int) bool {
		return func(i, j int) bool { return sb[refs[i].b].Test < sb[refs[j].b].Test }
	}
	sort.SliceStable(regs, byTest(regs))
	sort.SliceStable(imps, byTest(imps))

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
	return c, regs, imps
}

// pairByKey pairs the samples of two runs by key, the k-th sample of a with a key with the
// k-th sample of b with that key, in report order: partner[i] is the sample of a paired
// with sample i of b, or -1. Both runs are sorted by key and merged: a hash table of the
// keys (a Go map, or open addressing) spent 10-14 ms of a 100,000-sample comparison waiting
// on memory at each lookup, and the sort takes about half of that.
func pairByKey(sa, sb []report.PairSample, key func(*report.PairSample) uint64) []int32 {
	ka, kb := sortedKeys(sa, key), sortedKeys(sb, key)
	partner := make([]int32, len(sb))
	for i := range partner {
		partner[i] = -1
	}
	for i, j := 0, 0; i < len(ka) && j < len(kb); {
		switch {
		case ka[i].key < kb[j].key:
			i++
		case ka[i].key > kb[j].key:
			j++
		default:
			partner[kb[j].pos] = ka[i].pos
			i++
			j++
		}
	}
	return partner
}

// keyPos is a sample's key and position in its run.
type keyPos struct {
	key uint64
	pos int32
}

// sortedKeys is the samples' keys and positions ordered by key, and by position among equal
// keys: a counting sort on the keys' top 16 bits (the keys are SHA-256 bits, so each of the
// 65,536 buckets holds a sample or two), then a sort of each bucket, a stable one so that
// keys ground to share their top bits cost n log n, not n².
func sortedKeys(samples []report.PairSample, key func(*report.PairSample) uint64) []keyPos {
	const shift = 48
	keys := make([]uint64, len(samples))
	for i := range samples {
		keys[i] = key(&samples[i])
	}
	start := make([]int32, 1<<(64-shift)+1)
	for _, k := range keys {
		start[k>>shift+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	out := make([]keyPos, len(samples))
	next := start[:len(start)-1]
	for i, k := range keys {
		out[next[k>>shift]] = keyPos{k, int32(i)}
		next[k>>shift]++
	}
	// next[b] is now the end of bucket b, and the start of bucket b+1.
	from := 0
	for _, end := range next {
		bucket := out[from:end]
		from = int(end)
		switch {
		case len(bucket) <= 1:
		case len(bucket) <= 16:
			for i := 1; i < len(bucket); i++ {
				for j := i; j > 0 && bucket[j].key < bucket[j-1].key; j-- {
					bucket[j], bucket[j-1] = bucket[j-1], bucket[j]
				}
			}
		default:
			slices.SortStableFunc(bucket, func(x, y keyPos) int { return cmp.Compare(x.key, y.key) })
		}
	}
	return out
}

// binary reports whether a score is a plain pass (1) or fail (0).
func binary(x float64) bool { return x == 0 || x == 1 }

// side is a run's headline numbers; samples is how many results it has.
func side(r *report.Report, samples int) RunSide {
	s := RunSide{ID: r.Run.ID, Suite: r.Run.Suite, PassRate: r.Summary.PassRate, Samples: samples}
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

// TestIdentity names a test by what it asks (its description and vars) rather than by its
// position, so that it is found again in an edited suite. It is report.TestIdentity, which
// the pairing keys of a comparison are made of.
func TestIdentity(description string, vars map[string]any) string {
	return report.TestIdentity(description, vars)
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

// itoa is strconv.Itoa, short for the runner tests.
func itoa(n int) string { return strconv.Itoa(n) }
