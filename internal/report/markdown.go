package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// WriteMarkdown writes r as a Markdown report meant for a pull-request comment or a CI job
// summary: the verdict, the counts, the metrics with their intervals, the gates, the pass
// rate per prompt × provider, the flaky tests and the failed cases. Text that came from a
// model or a config is escaped so it can neither break a table nor inject HTML, links or
// images.
func WriteMarkdown(w io.Writer, r *Report) error {
	if r == nil {
		return errNilReport
	}
	var b bytes.Buffer
	title := "Plumb eval"
	if r.Run.Suite != "" {
		title += ": " + mdText(r.Run.Suite)
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	_, line := verdict(r)
	fmt.Fprintf(&b, "**%s**\n\n", line)
	fmt.Fprintf(&b, "Run `%s` · %s", mdCode(r.Run.ID), mdText(r.Run.Status))
	if t := timestamp(r.Run.StartedAt); t != "" {
		fmt.Fprintf(&b, " · started %s", t)
	}
	if d := duration(r); d != "" {
		fmt.Fprintf(&b, " · took %s", d)
	}
	b.WriteString("\n\n")

	s := &r.Summary
	b.WriteString("| cases | passed | failed | errors | pass rate | 95% CI |\n|---:|---:|---:|---:|---:|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %s | [%s, %s] |\n\n",
		s.Cases, s.Passed, s.Failed, s.Errors, fmtPct(s.PassRate), fmtPct(s.PassRateCI[0]), fmtPct(s.PassRateCI[1]))

	if rows := metricRows(r); len(rows) > 0 {
		b.WriteString("## Metrics\n\n| metric | value | 95% CI | n |\n|---|---:|---|---:|\n")
		for _, m := range rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %d |\n", mdCode(m.Name), m.Value, orDash(m.CI), m.N)
		}
		b.WriteString("\n")
	}

	if rows := gateRows(r); len(rows) > 0 {
		b.WriteString("## Gates\n\n| gate | observed | 95% CI | bound | threshold | verdict |\n|---|---:|---|---|---|---|\n")
		for _, g := range rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n",
				mdCode(g.Metric), g.Observed, orDash(g.Interval), orDash(g.Bound), g.Condition, passFail(g.Passed))
		}
		b.WriteString("\n")
	}

	writeHumanMarkdown(&b, s.Human)

	if rows := groupRows(r.Results); len(rows) > 0 {
		b.WriteString("## By prompt × provider\n\n" +
			"| prompt | provider | cases | passed | failed | errors | pass rate | 95% CI | mean score | p95 latency | cost |\n" +
			"|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n")
		for _, g := range rows {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %s | %s | %s | %s | %s |\n",
				mdCell(g.Prompt, 80), mdCell(g.Provider, 80), g.Cases, g.Passed, g.Failed, g.Errors,
				g.PassRate, g.CI, g.MeanScore, g.P95Latency, g.Cost)
		}
		b.WriteString("\n")
	}

	if rows := flakyRows(r); len(rows) > 0 {
		fmt.Fprintf(&b, "## Flaky tests (%d)\n\nRepeats of these tests disagree.\n\n", len(rows))
		b.WriteString("| test | prompt | provider | passed | pass rate |\n|---|---|---|---:|---:|\n")
		for _, f := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %d of %d | %s |\n",
				mdCell(f.Name, 120), mdCell(f.Prompt, 80), mdCell(f.Provider, 80), f.Passed, f.Samples, f.PassRate)
		}
		b.WriteString("\n")
	}

	if failed := failedResults(r.Results); len(failed) > 0 {
		repeats := hasRepeats(r)
		fmt.Fprintf(&b, "## Failed cases (%d)\n\n| case | prompt | provider | reason | output |\n|---|---|---|---|---|\n", len(failed))
		for _, res := range failed {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n",
				mdCell(caseName(res, repeats), 120), mdCell(res.Prompt, 80), mdCell(res.Provider, 80),
				mdCell(firstReason(res), 300), mdCell(res.Output, 200))
		}
		b.WriteString("\n")
	}

	p := &r.Run.Provenance
	fmt.Fprintf(&b, "<sub>config `%s`", mdCode(r.Run.ConfigHash))
	if p.PlumbVersion != "" {
		fmt.Fprintf(&b, " · plumb %s", mdText(p.PlumbVersion))
	}
	if p.GitCommit != "" {
		fmt.Fprintf(&b, " · commit `%s`", mdCode(p.GitCommit))
		if p.GitDirty {
			b.WriteString(" (dirty)")
		}
	}
	b.WriteString("</sub>\n")

	_, err := w.Write(b.Bytes())
	return err
}

func passFail(ok bool) string {
	if ok {
		return "✅ pass"
	}
	return "❌ fail"
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// mdCell makes untrusted text safe inside a Markdown table cell: characters that Markdown or
// HTML would interpret (the pipe that ends a cell, <, &, link and emphasis markers) are
// backslash-escaped, line breaks become <br>, other control characters are dropped, and text
// longer than limit runes (0: no limit) is cut with "…".
func mdCell(s string, limit int) string {
	var b strings.Builder
	n := 0
	for _, c := range strings.TrimSpace(s) {
		if limit > 0 && n == limit {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case c == '\n':
			b.WriteString("<br>")
		case c == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c):
			// dropped: \r, escapes, direction overrides
		case strings.ContainsRune("\\`*_[]<>|&~!", c):
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// mdText is mdCell for running text, on one line and without a length limit.
func mdText(s string) string {
	return mdCell(oneLine(s, 1<<20), 0)
}

// mdCode makes text safe inside a `code span` in a table: a backtick would end the span
// and a pipe, even inside a span, would end the cell.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", `\|`).Replace(oneLine(s, 200))
}
