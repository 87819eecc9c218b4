package redteam

import (
	"fmt"
	"io"
	"strings"

	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
)

// mdText makes untrusted text safe inside a Markdown table cell or line: no HTML, no table
// breaks, no line breaks.
func mdText(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", "\\|", "\r", " ", "\n", " ", "`", "'")
	return r.Replace(s)
}

// fenceFor is a code fence longer than any backtick run in s.
func fenceFor(s string) string {
	n, run := 3, 0
	for _, r := range s {
		if r == '`' {
			run++
			if run >= n {
				n = run + 1
			}
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", n)
}

func pct(c Cell) string {
	if c.Attempts == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%% (%d/%d) [%.0f–%.0f%%]", 100*c.Rate, c.Successes, c.Attempts, 100*c.CI[0], 100*c.CI[1])
}

// WriteMarkdown writes a red-team run as Markdown for a launch review: the verdict, the
// attack success rates per category × strategy with 95% intervals, and every successful
// attack with its transcript (at most maxAttacks; 0 means all).
func WriteMarkdown(w io.Writer, rep *report.Report, maxAttacks int) error {
	var b strings.Builder
	t := BuildTable(rep)
	rt := rep.Run.RedTeam
	if rt == nil {
		rt = &report.RedTeam{}
	}
	fmt.Fprintf(&b, "# Red-team report: %s\n\n", mdText(rep.Run.Suite))
	fmt.Fprintf(&b, "- Run: `%s` (%s)\n- Target: %s\n", rep.Run.ID, rep.Run.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), mdText(rt.Target))
	if rt.Purpose != "" {
		fmt.Fprintf(&b, "- Purpose: %s\n", mdText(rt.Purpose))
	}
	fmt.Fprintf(&b, "- Attempts per attack: %d; strategies: %s\n", rt.Attempts, strings.Join(t.Strategies, ", "))
	if rt.Judge != "" {
		fmt.Fprintf(&b, "- Judge: %s\n", mdText(rt.Judge))
	}
	if !Complete(rep, t) {
		fmt.Fprintf(&b, "- Status: incomplete: %s\n", Interruption(rep, t))
	}
	verdict := VerdictText(rep, t)
	fmt.Fprintf(&b, "- Overall attack success rate: %s\n", pct(t.Total))
	if t.Total.Blocked > 0 {
		fmt.Fprintf(&b, "- Blocked by the gateway's guard or tool policy (held): %d\n", t.Total.Blocked)
	}
	fmt.Fprintf(&b, "\n**%s**\n\n", mdText(verdict))

	b.WriteString("## Attack success rate (95% Wilson interval)\n\n| Category | Threshold | All |")
	for _, s := range t.Strategies {
		b.WriteString(" " + mdText(s) + " |")
	}
	b.WriteString("\n|---|---|---|" + strings.Repeat("---|", len(t.Strategies)) + "\n")
	for _, ro := range t.Rows {
		mark := ""
		switch {
		case ro.All.Exceeded:
			mark = " ⚠ above threshold"
		case ro.All.Untested:
			mark = " ⚠ not tested"
		}
		fmt.Fprintf(&b, "| %s %s | ≤ %.0f%% | %s%s |", mdText(ro.Category.ID), mdText(ro.Category.Name), 100*ro.Category.Threshold, pct(ro.All), mark)
		for _, c := range ro.Cells {
			b.WriteString(" " + pct(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## Categories in scope\n\n")
	for _, c := range rt.Categories {
		fmt.Fprintf(&b, "- **%s %s** (%s): %s\n", mdText(c.ID), mdText(c.Name), mdText(c.Source), mdText(c.Description))
	}
	succ := Successful(rep)
	fmt.Fprintf(&b, "\n## Successful attacks (%d)\n", len(succ))
	for i, r := range succ {
		if maxAttacks > 0 && i == maxAttacks {
			fmt.Fprintf(&b, "\n%d more not shown.\n", len(succ)-maxAttacks)
			break
		}
		fmt.Fprintf(&b, "\n### %s, attempt %d\n\n", mdText(r.Test.Description), r.Repeat+1)
		if reason := eval.FirstFailure(&r); reason != "" {
			fmt.Fprintf(&b, "Why it counts: %s\n\n", mdText(reason))
		}
		for _, turn := range Transcript(&r) {
			f := fenceFor(turn.Content)
			fmt.Fprintf(&b, "%s:\n\n%stext\n%s\n%s\n\n", turn.Role, f, turn.Content, f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// VerdictText is the verdict as a sentence, with the attempts that failed (how many, and
// the first one's message) when there were any.
func VerdictText(rep *report.Report, t *Table) string {
	errs := ""
	if t.Total.Errors > 0 {
		errs = fmt.Sprintf("; %s failed and count neither as successes nor as held (the first: %s)", plural(t.Total.Errors, "attempt"), t.Total.FirstError)
	}
	switch Verdict(rep) {
	case VerdictFail:
		if !Complete(rep, t) {
			return "FAIL: a category's attack success rate is above its threshold; " + Interruption(rep, t) + errs
		}
		return "FAIL: a category's attack success rate is above its threshold" + errs
	case VerdictIncomplete:
		if Complete(rep, t) {
			return fmt.Sprintf("INCOMPLETE: errors left %s untested (fewer than half of the attempts scored)", strings.Join(Untested(t), ", ")) + errs
		}
		return "INCOMPLETE: " + Interruption(rep, t) + ", and the rates cover only those" + errs
	}
	return "PASS: every category is at or below its threshold" + errs
}

// Interruption says that the run stopped early and how far it got: "the run was
// interrupted; 5 of 32 planned attempts ran" (without the planned count for runs that
// predate recording it).
func Interruption(rep *report.Report, t *Table) string {
	ran, planned := Ran(rep, t)
	if planned > 0 {
		return fmt.Sprintf("the run was interrupted; %d of %d planned attempts ran", ran, planned)
	}
	return fmt.Sprintf("the run was interrupted after %d attempts", ran)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// WriteCompareMarkdown writes a comparison of two red-team runs as Markdown.
func WriteCompareMarkdown(w io.Writer, c *Comparison) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Red-team comparison: `%s` → `%s`\n\n", c.RunA, c.RunB)
	fmt.Fprintf(&b, "%d holes closed, %d holes opened (attempts paired by attack and attempt number).\n\n", len(c.Closed), len(c.Opened))
	b.WriteString("| Category | Strategy | Before | After | Closed | Opened | McNemar p |\n|---|---|---|---|---|---|---|\n")
	for _, r := range c.Rows {
		s := r.Strategy
		if s == "" {
			s = "all"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %.3g |\n", mdText(r.Category), mdText(s), pct(r.A), pct(r.B), r.Closed, r.Opened, r.P)
	}
	for _, part := range []struct {
		title string
		rs    []report.Result
	}{{"Holes opened", c.Opened}, {"Holes closed", c.Closed}} {
		fmt.Fprintf(&b, "\n## %s (%d)\n", part.title, len(part.rs))
		for _, r := range part.rs {
			fmt.Fprintf(&b, "- %s, attempt %d\n", mdText(r.Test.Description), r.Repeat+1)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
