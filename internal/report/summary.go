package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// maxListed is how many flaky tests and failed cases the terminal summary lists; the files
// written with -o hold all of them.
const maxListed = 10

// ANSI styles for the terminal summary.
const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
)

// WriteSummary writes the terminal summary of r: the run id and status, a table per prompt ×
// provider (pass rate with its 95% interval, mean score, p95 latency, cost), the three
// questions a PM must answer (accuracy, hallucination rate, refusal rate; "n/a" when the run
// did not measure one), latency percentiles, cost, the gates with their verdicts, flaky
// tests, the first failed cases with their first failing reason, and a final verdict line.
// Model output is cut to one line with control characters removed, so it cannot move the
// cursor or recolour the terminal. ANSI colours are used only when color is true.
func WriteSummary(w io.Writer, r *Report, color bool) {
	if r == nil {
		return
	}
	st := style{color: color}
	var b bytes.Buffer
	s := &r.Summary

	head := "Run " + oneLine(r.Run.ID, 80) + " · " + oneLine(r.Run.Status, 20)
	if r.Run.Suite != "" {
		head += " · " + oneLine(r.Run.Suite, 80)
	}
	if d := duration(r); d != "" {
		head += " · " + d
	}
	fmt.Fprintln(&b, st.bold(head))
	if v := Versions(r); len(v) > 0 {
		fmt.Fprintln(&b, "from "+oneLine(strings.Join(v, " · "), 400))
	}
	fmt.Fprintf(&b, "%d %s: %d passed, %d failed, %d %s · pass rate %s [%s, %s]\n",
		s.Cases, plural(s.Cases, "case", "cases"), s.Passed, s.Failed, s.Errors, plural(s.Errors, "error", "errors"),
		fmtPct(s.PassRate), fmtPct(s.PassRateCI[0]), fmtPct(s.PassRateCI[1]))
	if s.AssertionErrors > 0 {
		fmt.Fprintf(&b, "%d %s could not be evaluated (a judge failed or gave no usable verdict): those samples failed\n",
			s.AssertionErrors, plural(s.AssertionErrors, "assertion", "assertions"))
	}
	b.WriteString("\n")

	if groups := groupRows(r.Results); len(groups) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PROMPT\tPROVIDER\tCASES\tPASS RATE (95% CI)\tMEAN SCORE\tP95 LATENCY\tCOST")
		for _, g := range groups {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s %s\t%s\t%s\t%s\n", oneLine(g.Prompt, 40), oneLine(g.Provider, 40),
				g.Cases, g.PassRate, g.CI, g.MeanScore, g.P95Latency, g.Cost)
		}
		tw.Flush()
		b.WriteString("\n")
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, q := range []struct{ label, metric string }{
		{"Accuracy", "accuracy"},
		{"Hallucination rate", "hallucination_rate"},
		{"Refusal rate", "refusal_rate"},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", q.label, metricLine(r, q.metric))
	}
	fmt.Fprintf(tw, "Latency\tp50 %s · p95 %s · p99 %s\n",
		metricValue(r, "latency_p50_ms"), metricValue(r, "latency_p95_ms"), metricValue(r, "latency_p99_ms"))
	if _, ok := s.Metrics["pass_at_k"]; ok {
		fmt.Fprintf(tw, "Repeats\tpass@k %s · pass^k %s · %d flaky\n",
			metricLine(r, "pass_at_k"), metricValue(r, "pass_hat_k"), len(s.Flaky))
	}
	cost := fmt.Sprintf("%s total · %s per case", metricValue(r, "cost_total"), metricValue(r, "cost_per_case"))
	if m, ok := s.Metrics["judge_cost_total"]; ok && m.Value > 0 {
		cost += fmt.Sprintf(" · judge %s", metricValue(r, "judge_cost_total"))
	}
	fmt.Fprintf(tw, "Cost\t%s\n", cost)
	for _, name := range metricNames(s.Metrics) {
		if s.Metrics[name].Kind == "mean" && name != "cost_per_case" {
			fmt.Fprintf(tw, "%s\t%s\n", oneLine(name, 40), metricLine(r, name))
		}
	}
	tw.Flush()

	if gates := gateRows(r); len(gates) > 0 {
		b.WriteString("\n" + st.bold("Gates") + "\n")
		for _, g := range gates {
			mark := st.paint(ansiGreen, "✓")
			if !g.Passed {
				mark = st.paint(ansiRed, "✗")
			}
			line := fmt.Sprintf("  %s %s %s: observed %s", mark, oneLine(g.Metric, 60), g.Condition, g.Observed)
			if g.Interval != "" {
				line += " " + g.Interval
			}
			if g.Bound != "" {
				line += ", " + g.Bound
			}
			if g.Observed == "not measured" {
				line += " (" + oneLine(g.Reason, 100) + ")"
			}
			b.WriteString(line + "\n")
		}
	}

	writeHumanSummary(&b, st, s.Human)

	if flaky := flakyRows(r); len(flaky) > 0 {
		fmt.Fprintf(&b, "\n%s\n", st.bold(fmt.Sprintf("Flaky tests (%d)", len(flaky))))
		for i, f := range flaky {
			if i == maxListed {
				fmt.Fprintf(&b, "  … and %d more\n", len(flaky)-maxListed)
				break
			}
			fmt.Fprintf(&b, "  %s · %s / %s: %d of %d passed\n",
				oneLine(f.Name, 60), oneLine(f.Prompt, 30), oneLine(f.Provider, 30), f.Passed, f.Samples)
		}
	}

	if failed := failedResults(r.Results); len(failed) > 0 {
		repeats := hasRepeats(r)
		fmt.Fprintf(&b, "\n%s\n", st.bold(fmt.Sprintf("Failed cases (%d)", len(failed))))
		for i, res := range failed {
			if i == maxListed {
				fmt.Fprintf(&b, "  … and %d more\n", len(failed)-maxListed)
				break
			}
			fmt.Fprintf(&b, "  %s %s · %s / %s: %s\n", st.paint(ansiRed, "✗"),
				oneLine(caseName(res, repeats), 60), oneLine(res.Prompt, 30), oneLine(res.Provider, 30),
				oneLine(firstReason(res), 120))
		}
	}

	pass, line := verdict(r)
	if pass {
		line = st.paint(ansiBold+ansiGreen, line)
	} else {
		line = st.paint(ansiBold+ansiRed, line)
	}
	fmt.Fprintf(&b, "\n%s\n", line)
	w.Write(b.Bytes()) // the terminal is the only consumer; there is nothing to do on failure
}

// metricValue is a metric's value in its unit, or "n/a" when the run did not measure it.
func metricValue(r *Report, name string) string {
	m, ok := r.Summary.Metrics[name]
	if !ok {
		return "n/a"
	}
	return fmtValue(name, kindOf(r, name), m.Value)
}

// metricLine is a metric's value with its interval and sample count, or "n/a".
func metricLine(r *Report, name string) string {
	m, ok := r.Summary.Metrics[name]
	if !ok {
		return "n/a"
	}
	kind := kindOf(r, name)
	parts := []string{fmtValue(name, kind, m.Value)}
	if ci := fmtInterval(name, kind, m.CI); ci != "" {
		parts = append(parts, ci)
	}
	if m.N > 0 {
		parts = append(parts, fmt.Sprintf("(n=%d)", m.N))
	}
	return strings.Join(parts, " ")
}

// style applies ANSI styles only when colour is on.
type style struct{ color bool }

func (s style) paint(code, text string) string {
	if !s.color {
		return text
	}
	return code + text + ansiReset
}

func (s style) bold(text string) string { return s.paint(ansiBold, text) }

// Versions lists the registry versions a run read: each registry prompt as
// "REF = prompt://NAME@VERSION" (or the pinned version alone when the suite pinned it) and
// each dataset as "dataset://NAME@VERSION (N items)".
func Versions(r *Report) []string {
	var out []string
	for _, p := range r.Run.Provenance.Prompts {
		switch {
		case p.Registry == "":
		case p.Label == p.Registry:
			out = append(out, p.Registry)
		default:
			out = append(out, p.Label+" = "+p.Registry)
		}
	}
	for _, d := range r.Run.Provenance.Datasets {
		out = append(out, fmt.Sprintf("%s (%d %s)", d.Pinned, d.Items, plural(d.Items, "item", "items")))
	}
	return out
}
