package eval

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/stats"
)

// Built-in metric names, usable in gates.
const (
	MetricPassRate          = "pass_rate"
	MetricAccuracy          = "accuracy"
	MetricHallucinationRate = "hallucination_rate"
	MetricRefusalRate       = "refusal_rate"
	MetricLatencyP50        = "latency_p50_ms"
	MetricLatencyP95        = "latency_p95_ms"
	MetricLatencyP99        = "latency_p99_ms"
	MetricCostTotal         = "cost_total"
	MetricCostPerCase       = "cost_per_case"
	MetricTokensTotal       = "tokens_total"
	MetricJudgeCostTotal    = "judge_cost_total"
	// Over tests (prompt × provider × test) run more than once: the share where at least
	// one repeat passed (pass@k) and where every repeat passed (pass^k).
	MetricPassAtK  = "pass_at_k"
	MetricPassHatK = "pass_hat_k"
)

// ci95 is the confidence of every interval shown in reports; gates choose their own.
const ci95 = 0.95

// hallucinationTypes are the assertions whose failure means the answer is not supported by
// its source: the hallucination signal.
var hallucinationTypes = map[string]bool{"context-faithfulness": true, "factuality": true}

// nonAccuracyTypes are the assertions that do not judge whether the answer is right.
var nonAccuracyTypes = map[string]bool{
	"latency": true, "cost": true, "is-refusal": true, "context-faithfulness": true,
}

// Summarize computes the summary of a run's results and decides its gates.
func Summarize(results []report.Result, gates []config.Gate) report.Summary {
	s := report.Summary{Cases: len(results), Metrics: map[string]report.Metric{}}
	var (
		acc, hal, ref        counter
		latencies, costs     []float64
		costTotal, judgeCost float64
		tokens               int
		named                = map[string][]float64{}
	)
	for i := range results {
		r := &results[i]
		switch {
		case r.Error != "":
			s.Errors++
		case r.Passed:
			s.Passed++
		default:
			s.Failed++
		}
		costs = append(costs, r.Cost)
		costTotal += r.Cost
		tokens += r.Tokens.Total
		if r.Error == "" {
			latencies = append(latencies, r.LatencyMS)
		}
		// Per sample: is it accurate, does it hallucinate, does it refuse? An assertion that
		// could not be evaluated (a judge that failed) tells nothing either way, so it is left
		// out rather than counted as a wrong answer or a hallucination.
		var acc1, hal1, ref1 verdictOf
		for _, a := range r.Assertions {
			if a.Error {
				s.AssertionErrors++
				continue
			}
			base, negated := baseType(a.Type)
			if !nonAccuracyTypes[base] {
				acc1.add(a.Passed)
			}
			if hallucinationTypes[base] && !negated {
				hal1.add(!a.Passed)
			}
			if base == "is-refusal" {
				ref1.add(a.Passed != negated) // not-is-refusal passes on an answer that is no refusal
			}
			if a.Metric != "" {
				named[a.Metric] = append(named[a.Metric], a.Score)
			}
		}
		for _, a := range r.Assertions {
			judgeCost += a.Cost
		}
		switch {
		case r.Error != "":
			acc.add(false) // a sample that never got an answer cannot count as correct
		case acc1.seen:
			acc.add(acc1.all)
		}
		if hal1.seen {
			hal.add(hal1.any)
		}
		if r.Error == "" {
			// The suite's own refusal check decides when there is one (it may use a judge, or
			// read another language); the shipped heuristics otherwise.
			if ref1.seen {
				ref.add(ref1.any)
			} else {
				ref.add(r.Refusal)
			}
		}
	}
	s.PassRate = share(s.Passed, s.Cases)
	ci := stats.Wilson(s.Passed, s.Cases, ci95)
	s.PassRateCI = [2]float64{ci.Lo, ci.Hi}
	s.Metrics[MetricPassRate] = rateMetric(s.Passed, s.Cases)
	if acc.n > 0 {
		s.Metrics[MetricAccuracy] = rateMetric(acc.k, acc.n)
	}
	if hal.n > 0 {
		s.Metrics[MetricHallucinationRate] = rateMetric(hal.k, hal.n)
	}
	if ref.n > 0 {
		s.Metrics[MetricRefusalRate] = rateMetric(ref.k, ref.n)
	}
	if len(latencies) > 0 {
		for name, q := range map[string]float64{MetricLatencyP50: 0.50, MetricLatencyP95: 0.95, MetricLatencyP99: 0.99} {
			s.Metrics[name] = report.Metric{Value: stats.Quantile(latencies, q), N: len(latencies), Kind: "quantile"}
		}
	}
	if len(results) > 0 {
		s.Metrics[MetricCostTotal] = report.Metric{Value: costTotal, N: len(results), Kind: "total"}
		s.Metrics[MetricTokensTotal] = report.Metric{Value: float64(tokens), N: len(results), Kind: "total"}
		s.Metrics[MetricJudgeCostTotal] = report.Metric{Value: judgeCost, N: len(results), Kind: "total"}
	}
	if len(costs) > 0 {
		named[MetricCostPerCase] = costs
	}
	for name, scores := range named {
		s.Metrics[name] = meanMetric(scores, name != MetricCostPerCase)
	}
	s.Tests, s.Flaky = testStats(results)
	var atK, hatK counter
	for _, t := range s.Tests {
		if t.Samples > 1 {
			atK.add(t.PassAtK)
			hatK.add(t.PassHatK)
		}
	}
	if atK.n > 0 {
		s.Metrics[MetricPassAtK] = rateMetric(atK.k, atK.n)
		s.Metrics[MetricPassHatK] = rateMetric(hatK.k, hatK.n)
	}
	s.Gates = decideGates(s.Metrics, named, gates)
	return s
}

// Passed reports whether every gate passed and every sample passed.
func Passed(s *report.Summary) bool {
	for _, g := range s.Gates {
		if !g.Passed {
			return false
		}
	}
	return s.Failed == 0 && s.Errors == 0
}

// GatesPassed reports whether every gate passed; with gates configured, they alone decide.
func GatesPassed(s *report.Summary) bool {
	for _, g := range s.Gates {
		if !g.Passed {
			return false
		}
	}
	return true
}

// verdictOf folds a sample's assertions on one question.
type verdictOf struct{ seen, any, all bool }

func (v *verdictOf) add(hit bool) {
	if !v.seen {
		v.seen, v.all = true, true
	}
	v.any = v.any || hit
	v.all = v.all && hit
}

type counter struct{ k, n int }

func (c *counter) add(hit bool) {
	c.n++
	if hit {
		c.k++
	}
}

func share(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

func rateMetric(k, n int) report.Metric {
	ci := stats.Wilson(k, n, ci95)
	return report.Metric{Value: share(k, n), CI: &[2]float64{ci.Lo, ci.Hi}, N: n, Kind: "rate"}
}

// meanMetric summarises a mean. For scores, which lie in [0, 1], the interval is the union
// of the percentile bootstrap's and the Wilson interval around the mean: the bootstrap alone
// is too narrow on few samples (one sample gives a zero-width interval), and Wilson assumes
// the largest variance a [0, 1] score can have.
func meanMetric(xs []float64, scores bool) report.Metric {
	m := report.Metric{Value: stats.Mean(xs), N: len(xs), Kind: "mean"}
	if len(xs) > 1 {
		ci := stats.BootstrapMean(xs, ci95, stats.DefaultResamples, stats.DefaultSeed)
		if scores {
			w := stats.WilsonMean(m.Value, len(xs), ci95)
			ci = stats.Interval{Lo: min(ci.Lo, w.Lo), Hi: max(ci.Hi, w.Hi)}
		}
		m.CI = &[2]float64{ci.Lo, ci.Hi}
	}
	return m
}

// baseType splits "not-contains" into "contains" and true.
func baseType(t string) (string, bool) {
	if len(t) > 4 && t[:4] == "not-" {
		return t[4:], true
	}
	return t, false
}

// decideGates decides each gate on the observed value, or on a one-sided confidence bound
// when the gate asks for confidence: a Wilson bound for rates, a percentile-bootstrap bound
// for mean scores. A gate "min m with confidence c" passes only when the data shows, at
// confidence c, that the true value is at least m.
func decideGates(metrics map[string]report.Metric, samples map[string][]float64, gates []config.Gate) []report.Gate {
	out := make([]report.Gate, 0, len(gates))
	for _, g := range gates {
		rg := report.Gate{Metric: g.Metric, Confidence: g.Confidence}
		lower := g.Min != nil
		if lower {
			rg.Op, rg.Threshold = "min", *g.Min
		} else if g.Max != nil {
			rg.Op, rg.Threshold = "max", *g.Max
		}
		m, ok := metrics[g.Metric]
		if !ok || m.N == 0 {
			rg.Reason = fmt.Sprintf("no sample measured %s", g.Metric)
			out = append(out, rg)
			continue
		}
		rg.Observed, rg.CI = m.Value, m.CI
		decideOn := m.Value
		if g.Confidence > 0 {
			bound, ok := confidenceBound(m, samples[g.Metric], g.Metric != MetricCostPerCase, g.Confidence, lower)
			if ok {
				rg.Bound = &bound
				decideOn = bound
			}
		}
		if lower {
			rg.Passed = decideOn >= rg.Threshold
		} else {
			rg.Passed = decideOn <= rg.Threshold
		}
		rg.Reason = gateReason(rg, m)
		out = append(out, rg)
	}
	return out
}

// confidenceBound is the one-sided bound of m at confidence c: lower for a min gate,
// upper for a max gate.
func confidenceBound(m report.Metric, samples []float64, scores bool, c float64, lower bool) (float64, bool) {
	switch m.Kind {
	case "rate":
		k := int(math.Round(m.Value * float64(m.N)))
		if lower {
			return stats.WilsonLower(k, m.N, c), true
		}
		return stats.WilsonUpper(k, m.N, c), true
	case "mean":
		if len(samples) == 0 {
			return 0, false
		}
		b := stats.BootstrapMeanBound(samples, c, stats.DefaultResamples, stats.DefaultSeed, lower)
		if !scores {
			return b, true
		}
		// Scores: the more cautious of the bootstrap and the Wilson bound around the mean,
		// so that a handful of perfect scores cannot prove a high mean (see meanMetric).
		w := stats.WilsonMeanBound(m.Value, len(samples), c, lower)
		if lower {
			return min(b, w), true
		}
		return max(b, w), true
	}
	return 0, false
}

func gateReason(g report.Gate, m report.Metric) string {
	cmp := map[[2]bool]string{{true, true}: "≥", {true, false}: "<", {false, true}: "≤", {false, false}: ">"}[[2]bool{g.Op == "min", g.Passed}]
	verdict := "passed"
	if !g.Passed {
		verdict = "failed"
	}
	val := func(v float64) string { return report.FormatValue(g.Metric, m.Kind, v) }
	if g.Bound != nil {
		side := "lower"
		if g.Op == "max" {
			side = "upper"
		}
		return fmt.Sprintf("%s: the %s%% %s bound %s %s %s (observed %s over %d samples)",
			verdict, strconv.FormatFloat(g.Confidence*100, 'f', -1, 64), side, val(*g.Bound), cmp, val(g.Threshold),
			val(g.Observed), m.N)
	}
	return fmt.Sprintf("%s: observed %s %s %s", verdict, val(g.Observed), cmp, val(g.Threshold))
}

// testStats groups samples by prompt × provider × test and lists the flaky ones.
func testStats(results []report.Result) (all, flaky []report.TestStat) {
	idx := map[string]int{}
	scores := map[string]float64{}
	for i := range results {
		r := &results[i]
		key := r.Key()
		j, ok := idx[key]
		if !ok {
			j = len(all)
			idx[key] = j
			all = append(all, report.TestStat{
				Key: key, Test: r.Test.Index, Description: r.Test.Description,
				Prompt: r.Prompt, Provider: r.Provider, Segment: r.Test.Segment,
			})
		}
		t := &all[j]
		t.Samples++
		if r.Passed {
			t.Passed++
		}
		scores[key] += r.Score
	}
	for i := range all {
		t := &all[i]
		t.PassRate = share(t.Passed, t.Samples)
		t.PassAtK = t.Passed > 0
		t.PassHatK = t.Passed == t.Samples
		t.MeanScore = scores[t.Key] / float64(t.Samples)
		if t.Samples > 1 && t.Passed > 0 && t.Passed < t.Samples {
			flaky = append(flaky, *t)
		}
	}
	sort.SliceStable(flaky, func(i, j int) bool { return flaky[i].PassRate < flaky[j].PassRate })
	return all, flaky
}
