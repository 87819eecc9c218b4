package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/gateway/shadowreport"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// The shadow page: a route's live calls against the shadow calls beside them, the
// report of GET /api/v1/projects/{project}/shadow (docs/gateway.md, "Shadow"). Route names
// and answers are client input and model output: the template prints them escaped.

// shadowRow is one line of the sides table: a number of live, of the shadow, and the
// difference (shadow − live).
type shadowRow struct {
	Label, Live, Shadow, Diff string
	Worse                     bool // the shadow's number is higher (worse) than live's
}

// shadowAssertion is one assertion of the report, formatted.
type shadowAssertion struct {
	shadowreport.Assertion
	LiveText, ShadowText, P string
}

// shadowPage shows the shadow report of ?route= since ?since= (24h by default), with a
// picker of the routes that have shadow records in the period.
func (u *UI) shadowPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q := r.URL.Query()
	route, sinceText := q.Get("route"), strings.TrimSpace(q.Get("since"))
	if sinceText == "" {
		sinceText = "24h"
	}
	since, err := server.ParseShadowSince(sinceText, u.now())
	if err != nil {
		return err
	}
	routes, err := u.store.ShadowRoutes(r.Context(), c.Project.ID, since)
	if err != nil {
		return err
	}
	data := map[string]any{"Route": route, "SinceText": sinceText, "Since": since, "Routes": routes}
	picked := route == ""
	for _, rt := range routes {
		picked = picked || rt.Route == route
	}
	if !picked { // keep the asked-for route in the picker, even without records
		data["Routes"] = append([]store.ShadowRoute{{Route: route}}, routes...)
	}
	title := "Shadow"
	if route != "" {
		rep, err := u.srv.ShadowReport(r, c, route, sinceText)
		if err != nil {
			return err
		}
		title = "Shadow of " + route
		data["Report"] = rep
		data["VerdictClass"] = verdictClass(rep)
		data["Agreement"] = rateText(rep.Agreement)
		data["Sides"] = shadowSides(rep)
		data["TracesURL"] = "/p/" + url.PathEscape(c.Project.Slug) + "/traces?" + url.Values{
			"route": {route}, "shadow": {"true"}, "since": {rep.Since.Format(time.RFC3339)}}.Encode()
		var as []shadowAssertion
		for _, a := range rep.Assertions {
			as = append(as, shadowAssertion{a, rateText(a.Live), rateText(a.Shadow), fmt.Sprintf("%.3g", a.PValue)})
		}
		data["Assertions"] = as
	}
	u.render(w, r, http.StatusOK, "shadow", &view{Caller: c, Title: title, Nav: "traffic", Data: data})
	return nil
}

// verdictClass colours the verdict: ready green, not ready red, anything else (not enough
// data, cannot tell) grey.
func verdictClass(rep *shadowreport.Report) string {
	switch {
	case rep.Ready:
		return "pass"
	case strings.HasPrefix(rep.Verdict, "not ready"):
		return "fail"
	}
	return "none"
}

// rateText is "12.5% [5.2%, 27.3%] (3/24)", or "–" over no calls.
func rateText(x shadowreport.Rate) string {
	if x.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s [%s, %s] (%d/%d)", pct(x.Rate), pct(x.Low), pct(x.High), x.K, x.N)
}

// shadowSides is the sides table: error rate, latency and cost of each side.
func shadowSides(rep *shadowreport.Report) []shadowRow {
	l, s := rep.Live, rep.Shadow
	signed := func(d float64, format func(float64) string) string {
		switch {
		case d > 0:
			return "+" + format(d)
		case d < 0:
			return "−" + format(-d)
		}
		return "±" + format(0)
	}
	ms := func(v float64) string { return report.FormatValue("latency_ms", "quantile", v) }
	pp := func(v float64) string { return fmt.Sprintf("%.1f pp", 100*v) }
	errDiff := s.Errors.Rate - l.Errors.Rate
	return []shadowRow{
		{Label: "error rate", Live: rateText(l.Errors), Shadow: rateText(s.Errors), Diff: signed(errDiff, pp), Worse: s.Errors.K > l.Errors.K},
		{Label: "latency p50", Live: ms(l.P50MS), Shadow: ms(s.P50MS), Diff: signed(s.P50MS-l.P50MS, ms), Worse: s.P50MS > l.P50MS},
		{Label: "latency p95", Live: ms(l.P95MS), Shadow: ms(s.P95MS), Diff: signed(s.P95MS-l.P95MS, ms), Worse: s.P95MS > l.P95MS},
		{Label: "cost per call", Live: usd(l.CostPerCall), Shadow: usd(s.CostPerCall), Diff: signed(rep.CostDiffPerCall, usd), Worse: rep.CostDiffPerCall > 0},
		{Label: "cost in the period", Live: usd(l.CostUSD), Shadow: usd(s.CostUSD), Diff: signed(s.CostUSD-l.CostUSD, usd), Worse: s.CostUSD > l.CostUSD},
	}
}
