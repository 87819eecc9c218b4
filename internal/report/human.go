package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/stats"
)

// Human is the consensus human verdict on one result, from a human eval panel (a queue
// over the run's results whose rubric has a "verdict" field, docs/queues.md). The store
// keeps it beside the automatic scores and fills it in when it reads results.
type Human struct {
	Queue       string  `json:"queue"`   // the panel queue's name
	Item        int64   `json:"item"`    // the queue item
	Verdict     string  `json:"verdict"` // the consensus value of the verdict field
	Passed      bool    `json:"passed"`
	Score       float64 `json:"score"`  // 1 pass, 0 fail
	Labels      int     `json:"labels"` // annotators who gave a verdict
	Adjudicated bool    `json:"adjudicated,omitempty"`
}

// HumanPanel sums up the human verdicts of a run: the human pass rate with its 95% Wilson
// interval and how well each model-graded assertion (an LLM judge) agrees with the humans.
type HumanPanel struct {
	Judged     int                     `json:"judged"` // results with a human verdict
	Passed     int                     `json:"passed"`
	PassRate   float64                 `json:"pass_rate"`
	PassRateCI [2]float64              `json:"pass_rate_ci"`
	Judges     []review.JudgeAgreement `json:"judges"`
	Note       string                  `json:"note,omitempty"`
}

// judgeTypes are the model-graded assertion types whose verdicts are compared with the
// humans: internal/config's model-graded types without is-refusal, whose report does not say
// whether a judge or the heuristics decided.
var judgeTypes = map[string]bool{"llm-rubric": true, "factuality": true, "context-faithfulness": true, "answer-relevance": true}

// IsJudge reports whether an assertion type (perhaps not- prefixed) is graded by a model.
func IsJudge(typ string) bool { return judgeTypes[strings.TrimPrefix(typ, "not-")] }

// Panel computes the human panel of results (any subset of a run's results: those without
// a human verdict count for nothing), or nil when none has a human verdict. A model-graded
// assertion is named by its type, its metric in parentheses, and #2, #3... when a test has
// several of the same name; an assertion whose judge errored is left out.
func Panel(results []Result) *HumanPanel {
	p := &HumanPanel{Judges: []review.JudgeAgreement{}}
	human := map[string]bool{}
	judges := map[string]map[string]bool{}
	var order []string
	for i, r := range results {
		if r.Human == nil {
			continue
		}
		key := strconv.Itoa(i)
		p.Judged++
		if r.Human.Passed {
			p.Passed++
		}
		human[key] = r.Human.Passed
		seen := map[string]int{}
		for _, a := range r.Assertions {
			if !IsJudge(a.Type) || a.Error {
				continue
			}
			name := a.Type
			if a.Metric != "" {
				name += " (" + a.Metric + ")"
			}
			seen[name]++
			if seen[name] > 1 {
				name += " #" + strconv.Itoa(seen[name])
			}
			if judges[name] == nil {
				judges[name] = map[string]bool{}
				order = append(order, name)
			}
			judges[name][key] = a.Passed
		}
	}
	if p.Judged == 0 {
		return nil
	}
	p.PassRate = float64(p.Passed) / float64(p.Judged)
	ci := stats.Wilson(p.Passed, p.Judged, 0.95)
	p.PassRateCI = [2]float64{ci.Lo, ci.Hi}
	for _, name := range order {
		p.Judges = append(p.Judges, review.CompareJudge(name, judges[name], human))
	}
	if len(order) == 0 {
		p.Note = "no model-graded assertion (llm-rubric, factuality, context-faithfulness, answer-relevance) ran on the judged results: nothing to compare with the humans"
	}
	return p
}

// humanLine is the human pass rate line of the summaries.
func humanLine(p *HumanPanel) string {
	return fmt.Sprintf("%s [%s, %s] of %d %s with a human verdict (%d passed)", fmtPct(p.PassRate),
		fmtPct(p.PassRateCI[0]), fmtPct(p.PassRateCI[1]), p.Judged, plural(p.Judged, "result", "results"), p.Passed)
}

// judgeRow is one model-graded assertion's agreement with the humans, formatted.
type judgeRow struct {
	Assertion, Rate, Kappa, Reading, Note       string
	N, BothPass, BothFail, JudgePass, JudgeFail int
}

func judgeRows(p *HumanPanel) []judgeRow {
	var out []judgeRow
	for _, j := range p.Judges {
		row := judgeRow{Assertion: j.Assertion, N: j.N, Rate: "n/a", Kappa: "n/a", Note: j.Note,
			BothPass: j.BothPass, BothFail: j.BothFail, JudgePass: j.JudgePassHumanFail, JudgeFail: j.JudgeFailHumanPass}
		if j.N > 0 {
			row.Rate = fmtPct(j.Rate)
		}
		if j.Kappa != nil {
			row.Kappa, row.Reading = fmt.Sprintf("%.3f", j.Kappa.Value), j.Kappa.Reading
		}
		out = append(out, row)
	}
	return out
}

// humanVerdict is a result's human verdict as the reports print it, or "".
func humanVerdict(h *Human) string {
	if h == nil {
		return ""
	}
	s := "human fail"
	if h.Passed {
		s = "human pass"
	}
	s += " (verdict " + h.Verdict + ", " + strconv.Itoa(h.Labels) + " " + plural(h.Labels, "label", "labels")
	if h.Adjudicated {
		s += ", adjudicated"
	}
	return s + ")"
}

// writeHumanSummary writes the human panel lines of the terminal summary.
func writeHumanSummary(b *bytes.Buffer, st style, p *HumanPanel) {
	if p == nil {
		return
	}
	b.WriteString("\n" + st.bold("Human panel") + "\n")
	fmt.Fprintf(b, "  Human pass rate %s\n", humanLine(p))
	for _, j := range judgeRows(p) {
		line := fmt.Sprintf("  %s: agrees with humans on %s of %d", oneLine(j.Assertion, 60), j.Rate, j.N)
		if j.Kappa != "n/a" {
			line += fmt.Sprintf(" · κ %s %s", j.Kappa, j.Reading)
		} else {
			line += " · κ n/a"
		}
		line += fmt.Sprintf(" · both pass %d, both fail %d, judge pass/humans fail %d, judge fail/humans pass %d",
			j.BothPass, j.BothFail, j.JudgePass, j.JudgeFail)
		b.WriteString(line + "\n")
	}
	if p.Note != "" {
		b.WriteString("  " + oneLine(p.Note, 200) + "\n")
	}
}

// writeHumanMarkdown writes the human panel section of the Markdown report.
func writeHumanMarkdown(b *bytes.Buffer, p *HumanPanel) {
	if p == nil {
		return
	}
	fmt.Fprintf(b, "## Human panel\n\nHuman pass rate %s (95%% Wilson interval).\n\n", mdText(humanLine(p)))
	if rows := judgeRows(p); len(rows) > 0 {
		b.WriteString("| model-graded assertion | results | agrees with humans | Cohen's κ | reading | both pass | both fail | judge pass, humans fail | judge fail, humans pass |\n" +
			"|---|---:|---:|---:|---|---:|---:|---:|---:|\n")
		for _, j := range rows {
			fmt.Fprintf(b, "| `%s` | %d | %s | %s | %s | %d | %d | %d | %d |\n", mdCode(j.Assertion), j.N, j.Rate,
				j.Kappa, orDash(j.Reading), j.BothPass, j.BothFail, j.JudgePass, j.JudgeFail)
		}
		b.WriteString("\nκ readings are Landis & Koch's bands (poor < 0, slight, fair, moderate, substantial, almost perfect > 0.80).\n\n")
	}
	if p.Note != "" {
		b.WriteString(mdText(p.Note) + "\n\n")
	}
}
