package shadowreport

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Formats the CLI writes.
var Formats = []string{"text", "json", "md"}

// Write writes the report in a format: text, json or md.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "md":
		_, err := io.WriteString(w, r.markdown())
		return err
	case "", "text":
		_, err := io.WriteString(w, r.text())
		return err
	}
	return fmt.Errorf("unknown format %q: use text, json or md", format)
}

func pctStr(x Rate) string {
	if x.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%% (%d/%d, 95%% CI %.1f–%.1f%%)", 100*x.Rate, x.K, x.N, 100*x.Low, 100*x.High)
}

func usd(f float64) string { return fmt.Sprintf("$%.6f", f) }

func (r *Report) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Shadow report: route %s since %s\n", r.Route, r.Since.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "pairs: %d (evaluated: %d)\n", r.N, r.Evaluated)
	fmt.Fprintf(&b, "agreement (exact, normalised): %s\n", pctStr(r.Agreement))
	fmt.Fprintf(&b, "%-8s %-40s %10s %10s %14s\n", "", "errors", "p50 ms", "p95 ms", "cost/call")
	for _, s := range []struct {
		name string
		s    Side
	}{{"live", r.Live}, {"shadow", r.Shadow}} {
		fmt.Fprintf(&b, "%-8s %-40s %10.1f %10.1f %14s\n", s.name, pctStr(s.s.Errors), s.s.P50MS, s.s.P95MS, usd(s.s.CostPerCall))
	}
	fmt.Fprintf(&b, "cost difference per call (shadow - live): %s\n", usd(r.CostDiffPerCall))
	if len(r.Assertions) > 0 {
		b.WriteString("assertions:\n")
		for _, a := range r.Assertions {
			fmt.Fprintf(&b, "  %s\n    live   %s\n    shadow %s\n    shadow-only passes %d, live-only passes %d, McNemar p = %.4g%s\n",
				a.Name, pctStr(a.Live), pctStr(a.Shadow), a.ShadowOnly, a.LiveOnly, a.PValue, worseMark(a.Worse))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	fmt.Fprintf(&b, "verdict: %s\n", r.Verdict)
	return b.String()
}

func worseMark(w bool) string {
	if w {
		return " (shadow significantly worse)"
	}
	return ""
}

// mdEscape keeps text from breaking a Markdown table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

func (r *Report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Shadow report: %s\n\nSince %s. Pairs: %d (evaluated: %d). Agreement (exact, normalised): %s.\n\n",
		mdEscape(r.Route), r.Since.UTC().Format("2006-01-02 15:04 MST"), r.N, r.Evaluated, pctStr(r.Agreement))
	b.WriteString("| | errors | p50 ms | p95 ms | cost/call |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| live | %s | %.1f | %.1f | %s |\n", pctStr(r.Live.Errors), r.Live.P50MS, r.Live.P95MS, usd(r.Live.CostPerCall))
	fmt.Fprintf(&b, "| shadow | %s | %.1f | %.1f | %s |\n\n", pctStr(r.Shadow.Errors), r.Shadow.P50MS, r.Shadow.P95MS, usd(r.Shadow.CostPerCall))
	fmt.Fprintf(&b, "Cost difference per call (shadow − live): %s.\n\n", usd(r.CostDiffPerCall))
	if len(r.Assertions) > 0 {
		b.WriteString("| assertion | live pass | shadow pass | shadow-only | live-only | McNemar p |\n|---|---|---|---|---|---|\n")
		for _, a := range r.Assertions {
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %.4g%s |\n", mdEscape(a.Name), pctStr(a.Live), pctStr(a.Shadow), a.ShadowOnly, a.LiveOnly, a.PValue, worseMark(a.Worse))
		}
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "> %s\n\n", mdEscape(n))
	}
	fmt.Fprintf(&b, "**Verdict:** %s\n", mdEscape(r.Verdict))
	return b.String()
}
