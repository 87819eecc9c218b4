package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// The gateway's pages: traffic (what the trace log sums to) and the trace list and detail.
// Bodies are client input and model output: the templates print them as text, escaped.

// tracePage is how many traces a page of the list shows.
const tracePage = 50

// topKeys is how many client keys the traffic page lists.
const topKeys = 10

// routeRow is one route of the traffic page.
type routeRow struct {
	store.RouteTraffic
	ErrorRate float64
	SLA       float64 // the route's p95 target in ms; 0 when unknown
	OverSLA   bool    // p95 above the SLA
	Shadow    int     // shadow calls of the route in the period (shadow.go)
}

// trafficPage shows a project's live traffic over ?days= (default 7).
func (u *UI) trafficPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	days, err := server.ParseTrafficDays(r.URL.Query().Get("days"))
	if err != nil {
		return err
	}
	since := server.TrafficSince(u.now(), days)
	st, err := u.store.TrafficStats(r.Context(), c.Project.ID, since)
	if err != nil {
		return err
	}
	shadows, err := u.store.ShadowRoutes(r.Context(), c.Project.ID, since)
	if err != nil {
		return err
	}
	shadowCalls := map[string]int{}
	for _, s := range shadows {
		shadowCalls[s.Route] = s.Calls
	}
	var rows []routeRow
	var total store.RouteTraffic
	for _, rt := range st.Routes {
		row := routeRow{RouteTraffic: rt, ErrorRate: ratio(rt.Errors, rt.Requests), SLA: u.slas[rt.Route], Shadow: shadowCalls[rt.Route]}
		row.OverSLA = row.SLA > 0 && rt.P95MS > row.SLA
		rows = append(rows, row)
		total.Requests += rt.Requests
		total.Errors += rt.Errors
		total.Fallbacks += rt.Fallbacks
		total.Cached += rt.Cached
		total.TokensIn += rt.TokensIn
		total.TokensOut += rt.TokensOut
		total.CostUSD += rt.CostUSD
	}
	// Every day of the period, days without calls at zero, so the charts' x axis is time.
	byDay := map[string]store.DayTraffic{}
	for _, d := range st.Days {
		byDay[d.Day.Format(time.DateOnly)] = d
	}
	var cost, reqs, errRate []point
	for i := range days {
		day := since.AddDate(0, 0, i)
		k := day.Format(time.DateOnly)
		d := byDay[k]
		label := day.Format("Jan 2")
		href := "/p/" + url.PathEscape(c.Project.Slug) + "/traces?since=" + k + "&until=" + day.AddDate(0, 0, 1).Format(time.DateOnly)
		cost = append(cost, point{V: d.CostUSD, Lo: d.CostUSD, Hi: d.CostUSD, Label: label, Title: k + ": " + usd(d.CostUSD), Href: href})
		reqs = append(reqs, point{V: float64(d.Requests), Lo: float64(d.Requests), Hi: float64(d.Requests), Label: label,
			Title: k + ": " + strconv.Itoa(d.Requests) + " requests", Href: href})
		er := ratio(d.Errors, d.Requests)
		if math.IsNaN(er) {
			er = 0
		}
		errRate = append(errRate, point{V: er, Lo: er, Hi: er, Label: label, Title: k + ": " + pct(er) + " errors", Href: href + "&status=error"})
	}
	count := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
	charts := []trend{
		newTrend("Cost per day (USD)", cost, usd, false),
		newTrend("Requests per day", reqs, count, false),
		newTrend("Error rate per day", errRate, pct, true),
	}
	keys := st.Keys
	if len(keys) > topKeys {
		keys = keys[:topKeys]
	}
	u.render(w, r, http.StatusOK, "traffic", &view{Caller: c, Title: "Traffic", Nav: "traffic", Data: map[string]any{
		"Days": days, "Since": since, "Routes": rows, "Total": total, "TotalErrorRate": ratio(total.Errors, total.Requests),
		"Charts": charts, "Keys": keys, "MoreKeys": len(st.Keys) - len(keys), "DayChoices": []int{1, 7, 30, 90},
	}})
	return nil
}

// tracesPage lists a project's gateway calls, newest first, with the filters of the URL
// (route, key, status, shadow, since, until) and a cursor. An htmx request from the filter
// form or the pager gets the list alone.
func (u *UI) tracesPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q := r.URL.Query()
	f, err := server.ParseTraceFilter(q)
	if err != nil {
		return err
	}
	cursor := q.Get("cursor")
	page, next, err := u.store.ListTraces(r.Context(), c.Project.ID, f, cursor, tracePage)
	if err != nil {
		return err
	}
	// The links keep the filters.
	nq := url.Values{}
	for _, k := range []string{"route", "key", "status", "shadow", "since", "until"} {
		if v := q.Get(k); v != "" {
			nq.Set(k, v)
		}
	}
	first := "?" + nq.Encode()
	nextURL := ""
	if next != "" {
		nq.Set("cursor", next)
		nextURL = "?" + nq.Encode()
	}
	u.render(w, r, http.StatusOK, "traces", &view{Caller: c, Title: "Traces", Nav: "traces", Data: map[string]any{
		"Traces": page, "Filter": f, "Q": q, "First": first, "Next": nextURL, "Paged": cursor != "",
	}})
	return nil
}

// tracePageView shows one call: its attempts, timings and bodies.
func (u *UI) tracePageView(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	id := r.PathValue("trace")
	t, err := u.store.GetTrace(r.Context(), c.Project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No trace %q in this project.", id)
	}
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "trace", &view{Caller: c, Title: "Trace " + t.ID, Nav: "traces", Data: map[string]any{
		"Trace": t, "Request": prettyBody(t.RequestBody), "Response": prettyBody(t.ResponseBody),
	}})
	return nil
}

// prettyBody indents a JSON body for reading; anything else (a truncated body, a stream's
// events) is shown as recorded. The template escapes it either way.
func prettyBody(s string) string {
	if s == "" || !json.Valid([]byte(s)) {
		return s
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		return s
	}
	return b.String()
}
