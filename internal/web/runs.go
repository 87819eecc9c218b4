package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// trendRuns is how many runs of a suite the overview's charts show.
const trendRuns = 30

// casePage is how many cases the run page shows at a time.
const casePage = 50

// caseResults bounds the results of one test that a case page shows (prompts × providers ×
// repeats; a test has that many only with thousands of repeats).
const caseResults = 2000

// suiteRow is one suite of the overview: its latest run.
type suiteRow struct {
	Suite  string
	Latest store.RunInfo
	Runs   int // runs of the suite among the recent ones
}

// overviewPage is the project's home: the latest run of each suite with its gates, and the
// trends of one suite's headline metrics with their 95% intervals.
func (u *UI) overviewPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ctx := r.Context()
	recent, err := u.store.ListRuns(ctx, store.ListOptions{Project: c.Project.ID, Limit: 500})
	if err != nil {
		return err
	}
	var suites []suiteRow
	index := map[string]int{}
	for _, ri := range recent { // newest first: a suite's first run is its latest
		i, ok := index[ri.Suite]
		if !ok {
			index[ri.Suite] = len(suites)
			suites = append(suites, suiteRow{Suite: ri.Suite, Latest: ri})
			i = len(suites) - 1
		}
		suites[i].Runs++
	}
	suite := r.URL.Query().Get("suite")
	if _, ok := index[suite]; !ok && len(suites) > 0 {
		suite = suites[0].Suite
	}
	var charts []trend
	if len(suites) > 0 {
		runs, err := u.store.ListRuns(ctx, store.ListOptions{Project: c.Project.ID, Suite: suite, Limit: trendRuns})
		if err != nil {
			return err
		}
		slices.Reverse(runs) // oldest first, left to right
		series := map[string][]point{}
		for _, ri := range runs {
			h, err := u.store.GetRunHeader(ctx, ri.ID)
			if err != nil {
				return err
			}
			href := "/p/" + url.PathEscape(c.Project.Slug) + "/runs/" + url.PathEscape(ri.ID)
			add := func(name string, v float64, ci *[2]float64, kind string) {
				p := point{V: v, Lo: v, Hi: v, Label: ri.StartedAt.UTC().Format("Jan 2"), Href: href,
					Title: ri.ID + " · " + when(ri.StartedAt) + " · " + report.FormatValue(name, kind, v)}
				if ci != nil {
					p.Lo, p.Hi, p.HasCI = ci[0], ci[1], true
					p.Title += " " + interval(name, kind, ci)
				}
				series[name] = append(series[name], p)
			}
			ci := h.Summary.PassRateCI
			add("pass_rate", h.Summary.PassRate, &ci, "rate")
			for _, name := range []string{"hallucination_rate", "refusal_rate", "cost_per_case", "latency_p95_ms"} {
				if m, ok := h.Summary.Metrics[name]; ok {
					add(name, m.Value, m.CI, m.Kind)
				}
			}
		}
		for _, s := range []struct {
			name, title string
			rate        bool
		}{
			{"pass_rate", "Pass rate", true},
			{"hallucination_rate", "Hallucination rate", true},
			{"refusal_rate", "Refusal rate", true},
			{"cost_per_case", "Cost per case", false},
			{"latency_p95_ms", "Latency p95", false},
		} {
			if pts := series[s.name]; len(pts) > 0 {
				name := s.name
				charts = append(charts, newTrend(s.title, pts, func(v float64) string {
					return report.FormatValue(name, map[bool]string{true: "rate", false: "mean"}[s.rate], v)
				}, s.rate))
			}
		}
	}
	u.render(w, r, http.StatusOK, "overview", &view{Caller: c, Title: c.Project.Name, Nav: "overview", Data: map[string]any{
		"Suites": suites, "Suite": suite, "Charts": charts,
	}})
	return nil
}

// runsPage lists the project's runs, newest first, with search and filters, a page at a
// time; two can be picked to compare.
func (u *UI) runsPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q := r.URL.Query()
	opt := store.ListOptions{Project: c.Project.ID, Search: q.Get("q"), Suite: q.Get("suite"), Status: q.Get("status"), Limit: casePage + 1}
	if opt.Status != "" && opt.Status != report.StatusComplete && opt.Status != report.StatusIncomplete {
		return badRequest("status %q: use %s or %s", opt.Status, report.StatusComplete, report.StatusIncomplete)
	}
	after, err := server.ParseRunCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	opt.After = after
	runs, err := u.store.ListRuns(r.Context(), opt)
	if err != nil {
		return err
	}
	// The links keep the search and filters.
	nq := url.Values{}
	for _, k := range []string{"q", "suite", "status"} {
		if v := q.Get(k); v != "" {
			nq.Set(k, v)
		}
	}
	first := "?" + nq.Encode()
	next := ""
	if len(runs) > casePage {
		runs = runs[:casePage]
		nq.Set("cursor", server.RunCursor(runs[len(runs)-1].Key))
		next = "?" + nq.Encode()
	}
	u.render(w, r, http.StatusOK, "runs", &view{Caller: c, Title: "Runs", Nav: "runs", Data: map[string]any{
		"Runs": runs, "Next": next, "First": first, "Q": q.Get("q"), "Suite": opt.Suite, "Status": opt.Status, "Paged": q.Get("cursor") != "",
	}})
	return nil
}

// caseFilter is the run page's case filter, from its query.
type caseFilter struct {
	View     string // failed-first (default), all, failed, errors, flaky
	Provider string
	Prompt   string
	Segment  string
	Cursor   string
}

var caseViews = []string{"failed-first", "all", "failed", "errors", "flaky"}

func parseCaseFilter(q url.Values) (caseFilter, error) {
	f := caseFilter{View: q.Get("view"), Provider: q.Get("provider"), Prompt: q.Get("prompt"), Segment: q.Get("segment"), Cursor: q.Get("cursor")}
	if f.View == "" {
		f.View = caseViews[0]
	}
	if !slices.Contains(caseViews, f.View) {
		return f, badRequest("view %q: use one of %s", f.View, strings.Join(caseViews, ", "))
	}
	return f, nil
}

// FirstPage is the filter's URL query without a cursor.
func (f caseFilter) FirstPage() string { return f.query("") }

// query is the filter as URL parameters, with another cursor.
func (f caseFilter) query(cursor string) string {
	v := url.Values{}
	if f.View != caseViews[0] {
		v.Set("view", f.View)
	}
	for k, s := range map[string]string{"provider": f.Provider, "prompt": f.Prompt, "segment": f.Segment, "cursor": cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// runPage is a run: summary, gates, metrics, the per-model breakdown with the cost–quality
// view, and the case table with its filters, paged in the database (failures first by
// default). An htmx request from the filter form gets the case table alone.
func (u *UI) runPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ctx := r.Context()
	id := r.PathValue("run")
	if err := u.srv.RunInProject(r, c, id); err != nil {
		return err
	}
	f, err := parseCaseFilter(r.URL.Query())
	if err != nil {
		return err
	}
	if isFragment(r) {
		// The filter form and the pager swap the case table alone: read only its page.
		cases, err := u.cases(r, id, f)
		if err != nil {
			return err
		}
		u.render(w, r, http.StatusOK, "run", &view{Caller: c, Title: "Run " + id, Nav: "runs", Data: map[string]any{
			"Run": report.Run{ID: id}, "Filter": f, "Cases": cases,
		}})
		return nil
	}
	h, err := u.store.GetRunHeader(ctx, id)
	if err != nil {
		return err
	}
	groups, err := u.store.Breakdown(ctx, id)
	if err != nil {
		return err
	}
	cases, err := u.cases(r, id, f)
	if err != nil {
		return err
	}
	// The model table: one row per prompt × provider (segments summed).
	combos := mergeSegments(groups)
	var providers, prompts, segments []string
	for _, g := range groups {
		providers, prompts = appendNew(providers, g.Provider), appendNew(prompts, g.Prompt)
		if g.Segment != "" {
			segments = appendNew(segments, g.Segment)
		}
	}
	slices.Sort(providers)
	slices.Sort(segments)
	var entries []entry
	for _, cb := range combos {
		label := cb.Provider
		if len(prompts) > 1 {
			label = cb.Prompt + " · " + cb.Provider
		}
		entries = append(entries, entry{Label: label, Cost: ratio2(cb.Cost, cb.Samples), Passed: cb.Passed, N: cb.Samples})
	}
	var scatter *scatterChart
	if len(entries) > 1 {
		s := newScatter(entries)
		scatter = &s
	}
	tests, flaky, err := u.store.TestCounts(ctx, id)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(h.Summary.Metrics))
	for n := range h.Summary.Metrics {
		names = append(names, n)
	}
	slices.Sort(names)
	u.render(w, r, http.StatusOK, "run", &view{Caller: c, Title: "Run " + id, Nav: "runs", Data: map[string]any{
		"Run": h.Run, "Summary": h.Summary, "Metrics": names, "Combos": combos, "Scatter": scatter,
		"Providers": providers, "Prompts": prompts, "Segments": segments, "Views": caseViews,
		"Filter": f, "Cases": cases, "Tests": tests, "Flaky": flaky, "Verdict": verdictOf(h),
		"Panel": u.panelOf(r, id), // human eval panel (queues.go)
	}})
	return nil
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// verdictOf is the run's headline: do its gates pass?
func verdictOf(h *report.Report) map[string]any {
	failed := 0
	for _, g := range h.Summary.Gates {
		if !g.Passed {
			failed++
		}
	}
	return map[string]any{"Gates": len(h.Summary.Gates), "Failed": failed, "Pass": failed == 0,
		"Incomplete": h.Run.Status != report.StatusComplete}
}

// caseList is a page of the case table.
type caseList struct {
	Results []report.Result
	Tests   []report.TestStat // the flaky view lists tests, not results
	Total   int
	Next    string // the URL query of the next page, "" after the last
	Phase   string // failed-first: "failed" while listing failures, then "passed"
	PassedN int    // failed-first: how many passed, listed after the failures
}

// cases reads one page of the case table. Failed-first pages through the failures, then
// through the passes; its cursor says which ("f:" or "p:" before the store's cursor).
func (u *UI) cases(r *http.Request, runID string, f caseFilter) (caseList, error) {
	ctx := r.Context()
	var out caseList
	if f.View == "flaky" {
		tests, next, err := u.store.ListTests(ctx, runID, true, f.Cursor, casePage)
		if err != nil {
			return out, err
		}
		_, flaky, err := u.store.TestCounts(ctx, runID)
		if err != nil {
			return out, err
		}
		out.Tests, out.Total = tests, flaky
		if next != "" {
			out.Next = f.query(next)
		}
		return out, nil
	}
	base := store.ResultFilter{Provider: f.Provider, Prompt: f.Prompt, Segment: f.Segment}
	// The totals come from the run's stored counts per prompt × provider × segment, not
	// from counting its results on every page.
	groups, err := u.store.Breakdown(ctx, runID)
	if err != nil {
		return out, err
	}
	all, passed, errored := 0, 0, 0
	for _, g := range groups {
		if (f.Provider == "" || g.Provider == f.Provider) && (f.Prompt == "" || g.Prompt == f.Prompt) && (f.Segment == "" || g.Segment == f.Segment) {
			all, passed, errored = all+g.Samples, passed+g.Passed, errored+g.Errors
		}
	}
	switch f.View {
	case "all", "failed", "errors":
		rf := base
		rf.FailedOnly, rf.ErrorsOnly = f.View == "failed", f.View == "errors"
		page, next, err := u.store.ListResults(ctx, runID, rf, f.Cursor, casePage)
		if err != nil {
			return out, err
		}
		out.Results, out.Total = page, map[string]int{"all": all, "failed": all - passed, "errors": errored}[f.View]
		if next != "" {
			out.Next = f.query(next)
		}
		return out, nil
	}
	// failed-first: the failures, then the passes, each in report order
	failedF := base
	failedF.FailedOnly = true
	out.Total, out.PassedN = all, passed
	phase, cursor, _ := strings.Cut(f.Cursor, ":")
	if f.Cursor == "" {
		phase = "f"
	}
	if phase != "f" && phase != "p" {
		return out, badRequest("cursor %q is not one this page made: start again from the first page", f.Cursor)
	}
	out.Phase = "failed"
	if phase == "f" {
		page, next, err := u.store.ListResults(ctx, runID, failedF, cursor, casePage)
		if err != nil {
			return out, err
		}
		out.Results = page
		if next != "" {
			out.Next = f.query("f:" + next)
			return out, nil
		}
		// The failures end on this page: fill the rest of it with the first passes.
		phase, cursor = "p", ""
	}
	if out.PassedN == 0 || len(out.Results) >= casePage {
		if out.PassedN > 0 {
			out.Next = f.query("p:")
		}
		return out, nil
	}
	if len(out.Results) == 0 {
		out.Phase = "passed"
	}
	passedF := base
	passedF.PassedOnly = true
	page, next, err := u.store.ListResults(ctx, runID, passedF, cursor, casePage-len(out.Results))
	if err != nil {
		return out, err
	}
	out.Results, cursor = append(out.Results, page...), next
	if cursor != "" {
		out.Next = f.query("p:" + cursor)
	}
	return out, nil
}

// casePage is one test of a run: every prompt × provider × repeat of it side by side, with
// the rendered prompt, the output and each assertion's verdict.
func (u *UI) casePage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ctx := r.Context()
	id := r.PathValue("run")
	if err := u.srv.RunInProject(r, c, id); err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("test"))
	if err != nil || n < 0 {
		return notFound("no test %q in run %s: tests are numbered from 0", r.PathValue("test"), id)
	}
	rf := store.ResultFilter{Test: &n}
	var results []report.Result
	cursor := ""
	truncated := false
	for {
		page, next, err := u.store.ListResults(ctx, id, rf, cursor, store.MaxPageSize)
		if err != nil {
			return err
		}
		results = append(results, page...)
		if next == "" {
			break
		}
		if len(results) >= caseResults {
			truncated = true
			break
		}
		cursor = next
	}
	if len(results) == 0 {
		return notFound("no test %d in run %s", n, id)
	}
	// Columns: one per prompt × provider, in the run's order; rows: repeats.
	type column struct {
		Prompt, Provider string
		Results          []report.Result
		Passed           int
	}
	var cols []column
	for _, res := range results {
		i := slices.IndexFunc(cols, func(c column) bool { return c.Prompt == res.Prompt && c.Provider == res.Provider })
		if i < 0 {
			cols = append(cols, column{Prompt: res.Prompt, Provider: res.Provider})
			i = len(cols) - 1
		}
		cols[i].Results = append(cols[i].Results, res)
		if res.Passed {
			cols[i].Passed++
		}
	}
	for i := range cols {
		slices.SortStableFunc(cols[i].Results, func(a, b report.Result) int { return cmp.Compare(a.Repeat, b.Repeat) })
	}
	h, err := u.store.GetRunHeader(ctx, id)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "case", &view{Caller: c, Title: "Case " + strconv.Itoa(n), Nav: "runs", Data: map[string]any{
		"Run": h.Run, "Test": results[0].Test, "Columns": cols, "Truncated": truncated,
	}})
	return nil
}
