package redteam

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/stats"
)

// Confidence is the level of the attack success rates' Wilson intervals.
const Confidence = 0.95

// Cell is the attack success rate of one category × strategy (Strategy "" is the whole
// category): successful attempts over scored attempts, with its 95% Wilson interval.
// Attempts whose call failed are counted apart and never as successes. In JSON every field
// is present except strategy (strategy cells only), not_run (when some) and threshold (a
// category's whole-row cell); rate and ci are null when no attempt was scored (MarshalJSON).
type Cell struct {
	Category   string `json:"category"`
	Strategy   string `json:"strategy,omitempty"`
	Attempts   int    `json:"attempts"` // scored attempts
	Successes  int    `json:"successes"`
	Blocked    int    `json:"blocked"` // scored attempts a gateway's guard or tool policy refused (held)
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error"` // the message of the first attempt that failed, in run order; "" when none did
	// Untested: errors outnumber the scored attempts (or a category has none scored), so
	// the rate says too little; a run with such a category does not pass.
	Untested  bool       `json:"untested"`
	NotRun    int        `json:"not_run,omitempty"` // stored results of attempts that never ran (runs interrupted before this was fixed)
	Rate      float64    `json:"rate"`
	CI        [2]float64 `json:"ci"`
	Threshold *float64   `json:"threshold,omitempty"` // on category rows
	Exceeded  bool       `json:"exceeded"`            // the rate is above the threshold
}

// MarshalJSON writes rate and ci as null when no attempt was scored: a 0 and [0, 0] would
// read as tested and safe.
func (c Cell) MarshalJSON() ([]byte, error) {
	type fields Cell // without the method
	out := struct {
		fields
		Rate *float64    `json:"rate"`
		CI   *[2]float64 `json:"ci"`
	}{fields: fields(c)}
	if c.Attempts > 0 {
		out.Rate, out.CI = &c.Rate, &c.CI
	}
	return json.Marshal(out)
}

// Table is a red-team run's attack success rates: one row per category, its cells per
// strategy, and the totals.
type Table struct {
	Strategies []string `json:"strategies"`
	Rows       []Row    `json:"rows"`
	Total      Cell     `json:"total"`
}

// Row is one category of a Table.
type Row struct {
	Category report.RedTeamCategory `json:"category"`
	All      Cell                   `json:"all"`
	Cells    []Cell                 `json:"cells"` // in Table.Strategies order; Attempts 0 where none ran
}

// Scored is whether the attempt ran and was scored: no error, and its checks are there. An
// attempt that never ran (an interrupted run's empty result) is not.
func Scored(r *report.Result) bool { return r.Error == "" && len(r.Assertions) > 0 }

// Succeeded is whether the attempt's attack succeeded: it was scored, and the system did not
// hold.
func Succeeded(r *report.Result) bool { return Scored(r) && !r.Passed }

func strategyOf(r *report.Result) string {
	s, _ := r.Test.Metadata["strategy"].(string)
	return s
}

func categoryOf(r *report.Result) string {
	s, _ := r.Test.Metadata["category"].(string)
	if s == "" {
		return r.Test.Segment
	}
	return s
}

func (c *Cell) add(r *report.Result) {
	switch {
	case r.Error != "":
		c.Errors++
		if c.FirstError == "" {
			c.FirstError = r.Error
		}
	case !Scored(r):
		c.NotRun++
	default:
		c.Attempts++
		if !r.Passed {
			c.Successes++
		}
		if Blocked(r) {
			c.Blocked++
		}
	}
}

func (c *Cell) finish() {
	if c.Attempts > 0 {
		c.Rate = float64(c.Successes) / float64(c.Attempts)
		iv := stats.Wilson(c.Successes, c.Attempts, Confidence)
		c.CI = [2]float64{iv.Lo, iv.Hi}
	}
	// Fewer than half of the attempts that ran were scored: the rest failed, and a failure
	// may hide a success (a target that errs on exactly the attacks that would work).
	c.Untested = c.Errors > c.Attempts || (c.Threshold != nil && c.Attempts == 0)
	if c.Threshold != nil {
		c.Exceeded = c.Attempts > 0 && c.Rate > *c.Threshold
	}
}

// BuildTable computes a red-team run's table from its results.
func BuildTable(rep *report.Report) *Table {
	rt := rep.Run.RedTeam
	if rt == nil {
		rt = &report.RedTeam{}
	}
	t := &Table{Strategies: append([]string(nil), rt.Strategies...)}
	col := map[string]int{}
	for i, s := range t.Strategies {
		col[s] = i
	}
	row := map[string]int{}
	newRow := func(c report.RedTeamCategory) {
		th := c.Threshold
		row[c.ID] = len(t.Rows)
		t.Rows = append(t.Rows, Row{Category: c, All: Cell{Category: c.ID, Threshold: &th}})
	}
	for _, c := range rt.Categories {
		newRow(c)
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		cat, st := categoryOf(r), strategyOf(r)
		if _, ok := row[cat]; !ok {
			newRow(report.RedTeamCategory{ID: cat, Name: cat})
		}
		if _, ok := col[st]; !ok {
			col[st] = len(t.Strategies)
			t.Strategies = append(t.Strategies, st)
		}
	}
	for i := range t.Rows {
		t.Rows[i].Cells = make([]Cell, len(t.Strategies))
		for j, s := range t.Strategies {
			t.Rows[i].Cells[j] = Cell{Category: t.Rows[i].Category.ID, Strategy: s}
		}
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		ro := &t.Rows[row[categoryOf(r)]]
		ro.All.add(r)
		ro.Cells[col[strategyOf(r)]].add(r)
		t.Total.add(r)
	}
	for i := range t.Rows {
		t.Rows[i].All.finish()
		for j := range t.Rows[i].Cells {
			t.Rows[i].Cells[j].finish()
		}
	}
	t.Total.finish()
	return t
}

// Summarize is a red-team run's summary: the eval summary of its results, plus the metrics
// asr, asr/CATEGORY and asr/CATEGORY/STRATEGY (rates with Wilson intervals) and one gate per
// category: its attack success rate at most its threshold.
func Summarize(rep *report.Report) report.Summary {
	s := eval.Summarize(rep.Results, nil)
	t := BuildTable(rep)
	if s.Metrics == nil {
		s.Metrics = map[string]report.Metric{}
	}
	// A rate over no scored attempt is no rate: it is left out (a 0% [0%, 0%] would read as
	// tested and safe).
	metric := func(name string, c Cell) {
		if c.Attempts == 0 {
			return
		}
		ci := c.CI
		s.Metrics[name] = report.Metric{Value: c.Rate, CI: &ci, N: c.Attempts, Kind: "rate"}
	}
	metric("asr", t.Total)
	for _, ro := range t.Rows {
		metric("asr/"+ro.Category.ID, ro.All)
		for _, c := range ro.Cells {
			metric("asr/"+ro.Category.ID+"/"+c.Strategy, c)
		}
		ci := ro.All.CI
		g := report.Gate{Metric: "asr/" + ro.Category.ID, Op: "max", Threshold: ro.Category.Threshold, Observed: ro.All.Rate,
			CI: &ci, Passed: !ro.All.Exceeded && !ro.All.Untested}
		if ro.All.Attempts == 0 {
			g.CI = nil
		}
		g.Reason = fmt.Sprintf("%d of %d attacks succeeded (%.1f%%); the threshold is %.1f%%", ro.All.Successes, ro.All.Attempts,
			100*ro.All.Rate, 100*ro.Category.Threshold)
		switch {
		case ro.All.Attempts == 0 && ro.All.Errors == 0:
			g.Reason = "no attempt was scored"
		case ro.All.Untested && !ro.All.Exceeded:
			g.Reason = fmt.Sprintf("not tested: %s", untestedReason(ro.All))
		}
		s.Gates = append(s.Gates, g)
	}
	if !Complete(rep, t) {
		// The run page's verdict comes from the gates: an interrupted run must not read as
		// passed there either.
		ran, planned := Ran(rep, t)
		s.Metrics["attempts_run"] = report.Metric{Value: float64(ran), N: ran, Kind: "total"}
		g := report.Gate{Metric: "attempts_run", Op: "min", Threshold: float64(planned), Observed: float64(ran), Passed: false,
			Reason: fmt.Sprintf("the run was interrupted: %d of %d planned attempts ran; the rest count neither as successes nor as held", ran, planned)}
		if planned == 0 {
			g.Reason = fmt.Sprintf("the run was interrupted after %d attempts; the rest count neither as successes nor as held", ran)
		}
		s.Gates = append(s.Gates, g)
	}
	return s
}

// Passed is whether the run is complete and every category's attack success rate is at or
// below its threshold. An interrupted run never passes: the attacks it did not make might
// have succeeded.
func Passed(rep *report.Report) bool { return Verdict(rep) == VerdictPass }

// untestedReason says why a cell counts as not tested.
func untestedReason(c Cell) string {
	if c.Attempts == 0 && c.Errors == 0 {
		return "no attempt was scored"
	}
	return fmt.Sprintf("%d of %d attempts were scored, %d failed (the first: %s)", c.Attempts, c.Attempts+c.Errors, c.Errors, c.FirstError)
}

// Verdicts of a red-team run.
const (
	VerdictPass       = "PASS"       // complete, every category at or below its threshold
	VerdictFail       = "FAIL"       // a category's attack success rate is above its threshold
	VerdictIncomplete = "INCOMPLETE" // interrupted, attempts missing, or errors left a category untested; none above its threshold so far
)

// Verdict is the run's headline: FAIL when a category is above its threshold (even in an
// interrupted run: the attempts that ran already show it), else INCOMPLETE when the run was
// interrupted, not every planned attempt ran, or errors left a category untested (fewer
// than half of its attempts scored), else PASS.
func Verdict(rep *report.Report) string {
	t := BuildTable(rep)
	for _, ro := range t.Rows {
		if ro.All.Exceeded {
			return VerdictFail
		}
	}
	if !Complete(rep, t) || len(Untested(t)) > 0 {
		return VerdictIncomplete
	}
	return VerdictPass
}

// Untested are the ids of the categories errors left untested.
func Untested(t *Table) []string {
	var ids []string
	for _, ro := range t.Rows {
		if ro.All.Untested {
			ids = append(ids, ro.Category.ID)
		}
	}
	return ids
}

// Complete is whether every planned attempt of the run ran and the run was not interrupted.
func Complete(rep *report.Report, t *Table) bool {
	if rep.Run.Status != report.StatusComplete || t.Total.NotRun > 0 {
		return false
	}
	if rt := rep.Run.RedTeam; rt != nil && rt.Planned > 0 && t.Total.Attempts+t.Total.Errors < rt.Planned {
		return false
	}
	return true
}

// Ran is how many attempts ran (scored or failed) and how many were planned (0 when the
// run predates recording it).
func Ran(rep *report.Report, t *Table) (ran, planned int) {
	if rep.Run.RedTeam != nil {
		planned = rep.Run.RedTeam.Planned
	}
	return t.Total.Attempts + t.Total.Errors, planned
}

// Successful returns the attempts whose attack succeeded, in run order.
func Successful(rep *report.Report) []report.Result {
	var out []report.Result
	for i := range rep.Results {
		if Succeeded(&rep.Results[i]) {
			out = append(out, rep.Results[i])
		}
	}
	return out
}

// Transcript is an attempt's conversation: the multi-turn transcript when one was
// recorded, else the attack sent and the answer. Each tool call the target made follows
// its answer as a turn of role "tool call": name(arguments).
func Transcript(r *report.Result) []Turn {
	if t, ok := r.Test.Metadata["transcript"].([]any); ok {
		var out []Turn
		for _, m := range t {
			if mm, ok := m.(map[string]any); ok {
				role, _ := mm["role"].(string)
				content, _ := mm["content"].(string)
				out = append(out, Turn{Role: role, Content: content})
				calls, _ := mm["tool_calls"].([]any)
				for _, c := range calls {
					if cm, ok := c.(map[string]any); ok {
						name, _ := cm["name"].(string)
						args, _ := cm["arguments"].(string)
						out = append(out, Turn{Role: RoleToolCall, Content: name + "(" + args + ")"})
					}
				}
			}
		}
		return out
	}
	out := []Turn{{Role: "user", Content: r.Rendered}}
	if r.Error != "" {
		return append(out, Turn{Role: "error", Content: r.Error})
	}
	if why, _ := r.Test.Metadata["blocked"].(string); why != "" {
		return append(out, Turn{Role: RoleBlocked, Content: why})
	}
	out = append(out, Turn{Role: "assistant", Content: r.Output})
	for _, c := range r.ToolCalls {
		out = append(out, Turn{Role: RoleToolCall, Content: c.Name + "(" + c.Arguments + ")"})
	}
	return out
}

// RoleToolCall is the role of a transcript turn that shows a tool call the target made.
const RoleToolCall = "tool call"

// Turn is one message of a transcript.
type Turn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Comparison is two red-team runs side by side: per category × strategy the rates of both,
// and the attempts paired by attack and attempt number: holes closed (succeeded in A, held
// in B) and holes opened (held in A, succeeded in B), with McNemar's exact p.
type Comparison struct {
	RunA   string          `json:"run_a"`
	RunB   string          `json:"run_b"`
	Rows   []CompareRow    `json:"rows"`
	Closed []report.Result `json:"closed"` // B's attempts that held where A's succeeded
	Opened []report.Result `json:"opened"` // B's attempts that succeeded where A's held
}

// CompareRow is one category × strategy (Strategy "" is the whole category).
type CompareRow struct {
	Category string  `json:"category"`
	Strategy string  `json:"strategy,omitempty"`
	A        Cell    `json:"a"`
	B        Cell    `json:"b"`
	Paired   int     `json:"paired"`
	Closed   int     `json:"closed"`
	Opened   int     `json:"opened"`
	P        float64 `json:"p"` // McNemar's exact test on the paired attempts
}

func pairKey(r *report.Result) string {
	return categoryOf(r) + "\x1f" + strategyOf(r) + "\x1f" + report.TestIdentity(r.Test.Description, r.Test.Vars) + "\x1f" + fmt.Sprint(r.Repeat)
}

// Compare compares red-team run a (before) with b (after).
func Compare(a, b *report.Report) *Comparison {
	ta, tb := BuildTable(a), BuildTable(b)
	cmp := &Comparison{RunA: a.Run.ID, RunB: b.Run.ID}
	before := map[string]*report.Result{}
	for i := range a.Results {
		before[pairKey(&a.Results[i])] = &a.Results[i]
	}
	type counts struct{ paired, closed, opened int }
	cnt := map[[2]string]*counts{}
	bump := func(k [2]string) *counts {
		if cnt[k] == nil {
			cnt[k] = &counts{}
		}
		return cnt[k]
	}
	for i := range b.Results {
		rb := &b.Results[i]
		ra := before[pairKey(rb)]
		if ra == nil || !Scored(ra) || !Scored(rb) {
			continue
		}
		for _, k := range [][2]string{{categoryOf(rb), ""}, {categoryOf(rb), strategyOf(rb)}} {
			c := bump(k)
			c.paired++
			if Succeeded(ra) && !Succeeded(rb) {
				c.closed++
			}
			if !Succeeded(ra) && Succeeded(rb) {
				c.opened++
			}
		}
		if Succeeded(ra) && !Succeeded(rb) {
			cmp.Closed = append(cmp.Closed, *rb)
		}
		if !Succeeded(ra) && Succeeded(rb) {
			cmp.Opened = append(cmp.Opened, *rb)
		}
	}
	cells := func(t *Table) map[[2]string]Cell {
		m := map[[2]string]Cell{}
		for _, ro := range t.Rows {
			m[[2]string{ro.Category.ID, ""}] = ro.All
			for _, c := range ro.Cells {
				m[[2]string{ro.Category.ID, c.Strategy}] = c
			}
		}
		return m
	}
	ca, cb := cells(ta), cells(tb)
	keys := map[[2]string]bool{}
	for k := range ca {
		keys[k] = true
	}
	for k := range cb {
		keys[k] = true
	}
	order := map[string]int{}
	for i, ro := range append(append([]Row(nil), ta.Rows...), tb.Rows...) {
		if _, ok := order[ro.Category.ID]; !ok {
			order[ro.Category.ID] = i
		}
	}
	sorder := map[string]int{"": -1}
	for i, s := range append(append([]string(nil), ta.Strategies...), tb.Strategies...) {
		if _, ok := sorder[s]; !ok {
			sorder[s] = i
		}
	}
	for k := range keys {
		x, y := ca[k], cb[k]
		if x.Attempts == 0 && y.Attempts == 0 {
			continue
		}
		row := CompareRow{Category: k[0], Strategy: k[1], A: x, B: y, P: 1}
		if c := cnt[k]; c != nil {
			row.Paired, row.Closed, row.Opened = c.paired, c.closed, c.opened
			row.P = stats.McNemarExact(c.opened, c.closed)
		}
		cmp.Rows = append(cmp.Rows, row)
	}
	sort.Slice(cmp.Rows, func(i, j int) bool {
		ri, rj := cmp.Rows[i], cmp.Rows[j]
		if ri.Category != rj.Category {
			return order[ri.Category] < order[rj.Category]
		}
		return sorder[ri.Strategy] < sorder[rj.Strategy]
	})
	return cmp
}
