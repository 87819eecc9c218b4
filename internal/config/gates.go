package config

import (
	"fmt"
	"slices"
	"strings"
)

// builtinMetrics are the metrics every run computes, usable in gates besides the `metric:`
// names of the suite's assertions.
var builtinMetrics = []string{
	"pass_rate", "accuracy", "hallucination_rate", "refusal_rate", "pass_at_k", "pass_hat_k",
	"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "cost_total", "cost_per_case",
	"tokens_total", "judge_cost_total",
}

// rateMetrics are fractions between 0 and 1 with a Wilson interval. pass_at_k and pass_hat_k
// are rates over prompt × provider × test groups: the share where at least one repeat passed,
// and where every repeat passed.
var rateMetrics = map[string]bool{
	"pass_rate": true, "accuracy": true, "hallucination_rate": true, "refusal_rate": true,
	"pass_at_k": true, "pass_hat_k": true,
}

// noIntervalMetrics have no confidence interval (quantiles and totals), so a gate on them
// cannot take `confidence`.
var noIntervalMetrics = map[string]bool{
	"latency_p50_ms": true, "latency_p95_ms": true, "latency_p99_ms": true, "cost_total": true, "tokens_total": true,
	"judge_cost_total": true,
}

var gateKeys = []string{"metric", "min", "max", "confidence"}

// gateList reads `gates`: a list of {metric, min | max, confidence}. Exactly one of min and
// max; confidence, in (0, 1), decides on the confidence bound instead of the observed value
// and applies to rates and mean scores only. Metric names are checked against the suite's
// assertions later, in validate.
func (l *loader) gateList(v *node) []Gate {
	items, ok := l.list(v, "gates")
	if !ok {
		return nil
	}
	var out []Gate
	for _, it := range items {
		if it.kind != mapKind {
			l.fail(it.pos, "write e.g. `- metric: pass_rate` with `min: 0.9` below it", "a gate must be a map, not %s", it.kind)
			continue
		}
		g := Gate{Pos: it.pos}
		for i, k := range it.keys {
			val := it.vals[i]
			switch k.text {
			case "metric":
				g.Metric, _ = l.str(val, "metric")
			case "min", "max":
				if f, ok := l.num(val, k.text); ok {
					if k.text == "min" {
						g.Min = &f
					} else {
						g.Max = &f
					}
				}
			case "confidence":
				if f, ok := l.num(val, "confidence"); ok {
					if f <= 0 || f >= 1 {
						l.fail(val.pos, "write e.g. 0.95 for 95% confidence", "confidence must be between 0 and 1 (exclusive)")
						continue
					}
					g.Confidence = f
				}
			default:
				l.unknownKey(k, "gate key", gateKeys)
			}
		}
		switch {
		case it.get("metric") == nil:
			l.fail(it.pos, "add e.g. `metric: pass_rate`", "the gate has no metric")
		case g.Min != nil && g.Max != nil:
			l.fail(it.pos, "write two gates to bound a metric on both sides", "the gate has both min and max; give exactly one")
		case g.Min == nil && g.Max == nil && it.get("min") == nil && it.get("max") == nil:
			l.fail(it.pos, "add `min:` (the metric must be at least) or `max:` (at most)", "the gate has neither min nor max")
		}
		out = append(out, g)
	}
	return out
}

// checkGates checks gate metrics against the built-ins and the assertions' metric names.
// named is nil when the tests could not all be read (a name may live in the unread part).
func (l *loader) checkGates(gates []Gate, named map[string]bool) {
	for _, g := range gates {
		if g.Metric == "" {
			continue
		}
		builtin := slices.Contains(builtinMetrics, g.Metric)
		if !builtin && !named[g.Metric] {
			if named == nil {
				continue
			}
			cands := append([]string(nil), builtinMetrics...)
			for n := range named {
				cands = append(cands, n)
			}
			slices.Sort(cands[len(builtinMetrics):])
			hint := "gate on a built-in metric (" + strings.Join(builtinMetrics, ", ") + ") or on a `metric:` name given to an assertion"
			if s := Suggest(g.Metric, cands); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			l.fail(g.Pos, hint, "unknown metric %q", g.Metric)
			continue
		}
		if g.Confidence > 0 && noIntervalMetrics[g.Metric] {
			l.fail(g.Pos, "remove `confidence`: it applies to rates and mean scores", "%s has no confidence interval", g.Metric)
		}
		// Rates and named metrics (mean scores) lie in [0, 1]: a bound outside can never
		// decide anything, and a bound above 1 is usually a percentage.
		switch {
		case rateMetrics[g.Metric]:
			l.checkUnitBounds(g, "%s is a fraction between 0 and 1", "rates")
		case !builtin:
			l.checkUnitBounds(g, "%s is a mean score between 0 and 1", "mean scores")
		}
	}
}

// checkUnitBounds reports a gate bound outside [0, 1]; msg holds the metric's name.
func (l *loader) checkUnitBounds(g Gate, msg, what string) {
	for _, b := range []*float64{g.Min, g.Max} {
		switch {
		case b == nil:
		case *b > 1:
			l.fail(g.Pos, fmt.Sprintf("write %g for %g%%", *b/100, *b), msg, g.Metric)
		case *b < 0:
			l.fail(g.Pos, what+" are never negative: write a bound between 0 and 1", msg, g.Metric)
		}
	}
}
