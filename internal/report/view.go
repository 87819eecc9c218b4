package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/stats"
)

// This file holds what the human-readable formats (terminal, Markdown, HTML, JUnit) share:
// the order metrics are shown in, how numbers are written, and the rows derived from results.

// metricNames returns the metric names of m with the built-in metrics first, in the order a
// reader asks about them, then the suite's named metrics sorted by name.
func metricNames(m map[string]Metric) []string {
	builtin := []string{
		"pass_rate", "accuracy", "hallucination_rate", "refusal_rate",
		"latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
		"cost_total", "cost_per_case", "tokens_total",
	}
	var names []string
	for _, name := range builtin {
		if _, ok := m[name]; ok {
			names = append(names, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(builtin, name) {
			names = append(names, name)
		}
	}
	return names
}

// kindOf returns the kind of a metric of r ("rate", "mean", ...), as the runner recorded it.
func kindOf(r *Report, metric string) string {
	if m, ok := r.Summary.Metrics[metric]; ok && m.Kind != "" {
		return m.Kind
	}
	switch {
	case metric == "pass_rate", metric == "accuracy", metric == "hallucination_rate", metric == "refusal_rate":
		return "rate" // also when no sample measured it, so a gate's threshold reads as a rate
	case r.Run.RedTeam != nil && strings.HasPrefix(metric, "asr/"):
		return "rate" // a red-team category's attack success rate, also when none was scored
	}
	return ""
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// FormatValue writes a metric's value the way every report shows it: rates (kind "rate") as
// percentages, latencies in milliseconds, costs in dollars, token counts as integers,
// anything else with four significant digits. A value that does not exist reads "n/a".
func FormatValue(metric, kind string, v float64) string { return fmtValue(metric, kind, v) }

func fmtValue(metric, kind string, v float64) string {
	switch {
	case !finite(v):
		return "n/a"
	case kind == "rate":
		return fmtPct(v)
	case strings.HasSuffix(metric, "_ms"):
		return fmtMS(v)
	case strings.HasPrefix(metric, "cost"), strings.HasSuffix(metric, "_cost_total"):
		return fmtCost(v)
	case metric == "tokens_total":
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return fmtSig(v, 4)
}

// fmtInterval writes an interval as [lo, hi] in the metric's unit, or "" when there is none.
func fmtInterval(metric, kind string, ci *[2]float64) string {
	if ci == nil {
		return ""
	}
	return "[" + fmtValue(metric, kind, ci[0]) + ", " + fmtValue(metric, kind, ci[1]) + "]"
}

func fmtPct(v float64) string {
	if !finite(v) {
		return "n/a"
	}
	return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
}

func fmtMS(v float64) string {
	if !finite(v) {
		return "n/a"
	}
	if math.Abs(v) >= 10 {
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	}
	return fmtSig(v, 2) + " ms"
}

// fmtCost writes dollars with cents for sums of a dollar or more, and with three significant
// digits below that, where per-call costs such as $0.000125 live.
func fmtCost(v float64) string {
	if !finite(v) {
		return "n/a"
	}
	if math.Abs(v) >= 1 {
		return "$" + strconv.FormatFloat(v, 'f', 2, 64)
	}
	return "$" + fmtSig(v, 3)
}

// fmtSig writes v with the given number of significant digits in positional notation (never
// 1e-05), without trailing zeros.
func fmtSig(v float64, digits int) string {
	if !finite(v) {
		return "n/a"
	}
	if v == 0 {
		return "0"
	}
	decimals := digits - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	decimals = min(max(decimals, 0), 12)
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// groupRow is the outcome of one prompt × provider.
type groupRow struct {
	Prompt, Provider              string
	Cases, Passed, Failed, Errors int
	PassRate, CI                  string // percentages; CI is the 95% Wilson interval
	MeanScore, P95Latency, Cost   string
}

// groupRows aggregates the results per prompt × provider, in order of first appearance.
func groupRows(results []Result) []groupRow {
	type acc struct {
		prompt, provider              string
		cases, passed, failed, errors int
		scores, latencies             []float64
		cost                          float64
	}
	var order []*acc
	byKey := map[[2]string]*acc{}
	for i := range results {
		res := &results[i]
		key := [2]string{res.Prompt, res.Provider}
		a := byKey[key]
		if a == nil {
			a = &acc{prompt: res.Prompt, provider: res.Provider}
			byKey[key] = a
			order = append(order, a)
		}
		a.cases++
		switch {
		case res.Error != "":
			a.errors++
		case res.Passed:
			a.passed++
		default:
			a.failed++
		}
		a.scores = append(a.scores, res.Score)
		if res.Error == "" {
			a.latencies = append(a.latencies, res.LatencyMS)
		}
		a.cost += res.Cost
	}
	rows := make([]groupRow, 0, len(order))
	for _, a := range order {
		ci := stats.Wilson(a.passed, a.cases, 0.95)
		rows = append(rows, groupRow{
			Prompt: a.prompt, Provider: a.provider,
			Cases: a.cases, Passed: a.passed, Failed: a.failed, Errors: a.errors,
			PassRate:   fmtPct(float64(a.passed) / float64(a.cases)),
			CI:         "[" + fmtPct(ci.Lo) + ", " + fmtPct(ci.Hi) + "]",
			MeanScore:  fmtSig(stats.Mean(a.scores), 3),
			P95Latency: fmtMS(stats.Quantile(a.latencies, 0.95)),
			Cost:       fmtCost(a.cost),
		})
	}
	return rows
}

// gateRow is one gate as the reports show it.
type gateRow struct {
	Metric    string
	Condition string // "≥ 90.0% at 95% confidence"
	Observed  string
	Interval  string // the observed value's 95% interval, if any
	Bound     string // "lower bound 91.2%", when the verdict used a confidence bound
	Passed    bool
	Reason    string
}

func gateRows(r *Report) []gateRow {
	rows := make([]gateRow, 0, len(r.Summary.Gates))
	for _, g := range r.Summary.Gates {
		kind := kindOf(r, g.Metric)
		cmp, side := "≥", "lower"
		if g.Op == "max" {
			cmp, side = "≤", "upper"
		}
		row := gateRow{
			Metric:    g.Metric,
			Condition: cmp + " " + fmtValue(g.Metric, kind, g.Threshold),
			Observed:  fmtValue(g.Metric, kind, g.Observed),
			Interval:  fmtInterval(g.Metric, kind, g.CI),
			Passed:    g.Passed,
			Reason:    g.Reason,
		}
		if _, measured := r.Summary.Metrics[g.Metric]; !measured {
			row.Observed, row.Interval = "not measured", ""
		}
		if g.Confidence > 0 {
			row.Condition += " at " + fmtSig(100*g.Confidence, 3) + "% confidence"
		}
		if g.Bound != nil {
			row.Bound = side + " bound " + fmtValue(g.Metric, kind, *g.Bound)
		}
		rows = append(rows, row)
	}
	return rows
}

// verdict is the run's overall outcome as the CLI decides the exit code: with gates, the
// gates alone decide; without, every sample must pass.
func verdict(r *Report) (pass bool, line string) {
	s := &r.Summary
	if r.Run.Status == StatusIncomplete && r.Run.RedTeam != nil {
		return false, redTeamIncomplete(r)
	}
	if r.Run.Status == StatusIncomplete {
		return false, fmt.Sprintf("INCOMPLETE: the run stopped after %d %s; no verdict (resume it with plumb eval --resume %s)",
			s.Cases, plural(s.Cases, "sample", "samples"), r.Run.ID)
	}
	if n := len(s.Gates); n > 0 {
		failed := 0
		for _, g := range s.Gates {
			if !g.Passed {
				failed++
			}
		}
		if failed > 0 {
			return false, fmt.Sprintf("FAIL: %d of %d %s failed", failed, n, plural(n, "gate", "gates"))
		}
		return true, fmt.Sprintf("PASS: %s passed", countAll(n, "gate", "gates"))
	}
	if s.Cases == 0 {
		return false, "FAIL: no cases ran"
	}
	if bad := s.Failed + s.Errors; bad > 0 {
		line := fmt.Sprintf("FAIL: %d of %d %s failed", bad, s.Cases, plural(s.Cases, "case", "cases"))
		if s.Errors > 0 {
			line += fmt.Sprintf(" (%d %s)", s.Errors, plural(s.Errors, "error", "errors"))
		}
		return false, line
	}
	return true, fmt.Sprintf("PASS: %s passed", countAll(s.Cases, "case", "cases"))
}

// redTeamIncomplete is the verdict of an interrupted red-team run, as plumb redteam gives
// it: FAIL when a category is already above its threshold, else INCOMPLETE. A red-team run
// cannot be resumed (plumb eval --resume refuses it): the advice is to run it again.
func redTeamIncomplete(r *Report) string {
	head := "INCOMPLETE:"
	for _, g := range r.Summary.Gates {
		if _, measured := r.Summary.Metrics[g.Metric]; measured && strings.HasPrefix(g.Metric, "asr/") && g.Observed > g.Threshold {
			head = "FAIL: a category's attack success rate is above its threshold;"
			break
		}
	}
	ran := fmt.Sprintf("after %d %s", r.Summary.Cases, plural(r.Summary.Cases, "attempt", "attempts"))
	if p := r.Run.RedTeam.Planned; p > 0 {
		ran = fmt.Sprintf("after %d of %d planned attempts", r.Summary.Cases, p)
	}
	cfg := r.Run.Provenance.ConfigPath
	if cfg == "" {
		cfg = "redteam.yaml"
	}
	return fmt.Sprintf("%s the red-team run was interrupted %s (it cannot be resumed: run it again with plumb redteam -c %s)", head, ran, cfg)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// countAll reads "the gate" for one and "all 3 gates" for several.
func countAll(n int, one, many string) string {
	if n == 1 {
		return "the " + one
	}
	return fmt.Sprintf("all %d %s", n, many)
}

// hasRepeats reports whether a run sampled tests more than once, so that a case's name must
// say which repeat it is.
func hasRepeats(r *Report) bool {
	if r.Run.Provenance.Repeat > 1 {
		return true
	}
	for i := range r.Results {
		if r.Results[i].Repeat > 0 {
			return true
		}
	}
	return false
}

// caseName names a result for people: its description, or "test N" without one, plus the
// repeat index when the run has repeats. Indexes are the stored ones, counted from 0, so they
// match the JSON and CSV reports.
func caseName(res *Result, repeats bool) string {
	name := res.Test.Description
	if name == "" {
		name = "test " + strconv.Itoa(res.Test.Index)
	}
	if repeats {
		name += " [repeat " + strconv.Itoa(res.Repeat) + "]"
	}
	return name
}

// testName names a test of a TestStat for people.
func testName(t *TestStat) string {
	if t.Description != "" {
		return t.Description
	}
	return "test " + strconv.Itoa(t.Test)
}

// status is "pass", "fail" or "error".
func status(res *Result) string {
	switch {
	case res.Error != "":
		return "error"
	case res.Passed:
		return "pass"
	}
	return "fail"
}

// firstReason explains why a result did not pass: its error, or its first failed assertion.
func firstReason(res *Result) string {
	if res.Error != "" {
		return "error: " + res.Error
	}
	for _, a := range res.Assertions {
		if !a.Passed {
			if a.Reason == "" {
				return a.Type + " failed"
			}
			return a.Type + ": " + a.Reason
		}
	}
	if res.Passed {
		return ""
	}
	return "score " + fmtSig(res.Score, 3) + " below the test's threshold"
}

// failedResults returns the results that did not pass, in report order.
func failedResults(results []Result) []*Result {
	var out []*Result
	for i := range results {
		if !results[i].Passed || results[i].Error != "" {
			out = append(out, &results[i])
		}
	}
	return out
}

// oneLine makes untrusted text safe and short enough for one line of a terminal or a table
// cell: line breaks and tabs become spaces, other control characters (such as the escape
// that starts an ANSI sequence) are dropped, and text longer than limit runes is cut with "…".
func oneLine(s string, limit int) string {
	var b strings.Builder
	n := 0
	for _, c := range s {
		switch {
		case c == '\n' || c == '\r' || c == '\t':
			c = ' '
		case unicode.IsControl(c) || c == utf8.RuneError || unicode.Is(unicode.Bidi_Control, c):
			continue
		}
		if n == limit {
			b.WriteString("…")
			break
		}
		b.WriteRune(c)
		n++
	}
	return strings.TrimSpace(b.String())
}

// metricRow is one metric as the reports show it.
type metricRow struct {
	Name, Value, CI string
	N               int
}

func metricRows(r *Report) []metricRow {
	var rows []metricRow
	for _, name := range metricNames(r.Summary.Metrics) {
		m := r.Summary.Metrics[name]
		kind := kindOf(r, name)
		rows = append(rows, metricRow{
			Name:  name,
			Value: fmtValue(name, kind, m.Value),
			CI:    fmtInterval(name, kind, m.CI),
			N:     m.N,
		})
	}
	return rows
}

// flakyRow is one test whose repeats disagree.
type flakyRow struct {
	Name, Prompt, Provider, Segment string
	Passed, Samples                 int
	PassRate                        string
}

func flakyRows(r *Report) []flakyRow {
	var rows []flakyRow
	for i := range r.Summary.Flaky {
		t := &r.Summary.Flaky[i]
		rows = append(rows, flakyRow{
			Name: testName(t), Prompt: t.Prompt, Provider: t.Provider, Segment: t.Segment,
			Passed: t.Passed, Samples: t.Samples, PassRate: fmtPct(t.PassRate),
		})
	}
	return rows
}

// duration is how long the run took, or "" when that is not known.
func duration(r *Report) string {
	if r.Run.StartedAt.IsZero() || r.Run.FinishedAt.IsZero() || r.Run.FinishedAt.Before(r.Run.StartedAt) {
		return ""
	}
	return r.Run.FinishedAt.Sub(r.Run.StartedAt).Round(100 * time.Millisecond).String()
}

// timestamp writes a point in time for people, or "" when it is not set.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04:05 MST")
}
