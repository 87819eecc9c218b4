package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// compareChanges is how many regressions and how many improvements the compare page shows.
const compareChanges = 100

// changeView is one changed case with its outputs split for the side-by-side view.
type changeView struct {
	eval.CaseChange
	Sides sides
}

// comparePage compares two runs: the statistical verdict first, the headline numbers of
// each side, the regressions and then the improvements with both outputs side by side and
// their differences marked, and the cost–quality view of both runs' models. Without a and
// b it offers the recent runs to pick from.
func (u *UI) comparePage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ctx := r.Context()
	q := r.URL.Query()
	if run := q.Get("run"); run != "" {
		return u.compareWithin(w, r, c, run)
	}
	a, b := q.Get("a"), q.Get("b")
	recent, err := u.store.ListRuns(ctx, store.ListOptions{Project: c.Project.ID, Limit: 50})
	if err != nil {
		return err
	}
	data := map[string]any{"Recent": recent, "A": a, "B": b}
	if a == "" || b == "" {
		u.render(w, r, http.StatusOK, "compare", &view{Caller: c, Title: "Compare runs", Nav: "compare", Data: data})
		return nil
	}
	alpha, err := parseAlpha(q.Get("alpha"))
	if err != nil {
		return err
	}
	for _, id := range []string{a, b} {
		if err := u.srv.RunInProject(r, c, id); err != nil {
			return err
		}
	}
	cmp, err := u.srv.Comparison(ctx, a, b, alpha, compareChanges)
	if err != nil {
		return err
	}
	regressions, improvements := changeViews(cmp)
	// The cost–quality view: every prompt × provider of both runs.
	var entries []entry
	var rows []qualityRow
	for _, side := range []struct{ name, id string }{{"A", a}, {"B", b}} {
		groups, err := u.store.Breakdown(ctx, side.id)
		if err != nil {
			return err
		}
		for _, g := range mergeSegments(groups) {
			label := side.name + " · " + g.Provider
			if g.Prompt != "" {
				label = side.name + " · " + g.Prompt + " · " + g.Provider
			}
			entries = append(entries, entry{Label: label, Cost: ratio2(g.Cost, g.Samples), Passed: g.Passed, N: g.Samples})
			rows = append(rows, qualityRow{Side: side.name, Group: g})
		}
	}
	data["Cmp"] = cmp
	data["Regressions"] = regressions
	data["Improvements"] = improvements
	data["Quality"] = rows
	data["Scatter"] = newScatter(entries)
	u.render(w, r, http.StatusOK, "compare", &view{Caller: c, Title: "Compare runs", Nav: "compare", Data: data})
	return nil
}

// parseAlpha reads the significance level, 0.05 by default.
func parseAlpha(v string) (float64, error) {
	if v == "" {
		return 0.05, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f < 1) {
		return 0, badRequest("alpha %q: use a number between 0 and 1, e.g. 0.05", v)
	}
	return f, nil
}

// changeViews splits the changed cases' outputs for the side-by-side view.
func changeViews(cmp *eval.Comparison) (regressions, improvements []changeView) {
	view := func(ch eval.CaseChange) changeView {
		d := diffWords(ch.OutputA, ch.OutputB)
		return changeView{ch, sides{A: elide(d.A, 200), B: elide(d.B, 200)}}
	}
	for _, ch := range cmp.Regressions {
		regressions = append(regressions, view(ch))
	}
	for _, ch := range cmp.Improvements {
		improvements = append(improvements, view(ch))
	}
	return regressions, improvements
}

// compareWithin compares two prompts or models of one run: ?run=RUN&a=A&b=B, where A and
// B name a prompt × provider row of the run as "prompt\x1fprovider" (the run page's picker
// sends them).
func (u *UI) compareWithin(w http.ResponseWriter, r *http.Request, c *server.Caller, run string) error {
	ctx := r.Context()
	q := r.URL.Query()
	if err := u.srv.RunInProject(r, c, run); err != nil {
		return err
	}
	alpha, err := parseAlpha(q.Get("alpha"))
	if err != nil {
		return err
	}
	groups, err := u.store.Breakdown(ctx, run)
	if err != nil {
		return err
	}
	combos := mergeSegments(groups)
	pick := func(name string) (store.Group, error) {
		prompt, provider, _ := strings.Cut(q.Get(name), comboSep)
		for _, g := range combos {
			if g.Prompt == prompt && g.Provider == provider {
				return g, nil
			}
		}
		return store.Group{}, badRequest("%s: run %s has no prompt %q with provider %q: pick two of its rows on its run page", name, run, prompt, provider)
	}
	ga, err := pick("a")
	if err != nil {
		return err
	}
	gb, err := pick("b")
	if err != nil {
		return err
	}
	cmp, err := u.srv.ComparisonWithin(ctx, run, eval.Combo{Prompt: ga.Prompt, Provider: ga.Provider},
		eval.Combo{Prompt: gb.Prompt, Provider: gb.Provider}, alpha, compareChanges)
	if err != nil {
		return err
	}
	cmp.A.CostPerCase, cmp.B.CostPerCase = ratio2(ga.Cost, ga.Samples), ratio2(gb.Cost, gb.Samples)
	regressions, improvements := changeViews(cmp)
	var entries []entry
	var rows []qualityRow
	for _, g := range combos {
		entries = append(entries, entry{Label: g.Prompt + " · " + g.Provider, Cost: ratio2(g.Cost, g.Samples), Passed: g.Passed, N: g.Samples})
		rows = append(rows, qualityRow{Side: "", Group: g})
	}
	u.render(w, r, http.StatusOK, "compare", &view{Caller: c, Title: "Compare models", Nav: "compare", Data: map[string]any{
		"Within": run, "Cmp": cmp, "Regressions": regressions, "Improvements": improvements,
		"Quality": rows, "Scatter": newScatter(entries),
	}})
	return nil
}

// comboSep joins a prompt and a provider label in a compare link.
const comboSep = "\x1f"

// qualityRow is one model of the cost–quality table.
type qualityRow struct {
	Side string
	store.Group
}

// mergeSegments sums a breakdown (ordered by prompt, provider, segment) over segments.
func mergeSegments(gs []store.Group) []store.Group {
	var out []store.Group
	for _, g := range gs {
		if n := len(out); n > 0 && out[n-1].Prompt == g.Prompt && out[n-1].Provider == g.Provider {
			o := &out[n-1]
			o.Samples += g.Samples
			o.Passed += g.Passed
			o.Errors += g.Errors
			o.Cost += g.Cost
			o.LatencyMS += g.LatencyMS
			o.Tokens += g.Tokens
			continue
		}
		g.Segment = ""
		out = append(out, g)
	}
	return out
}
