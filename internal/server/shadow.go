package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/gateway/shadowreport"
)

// ParseShadowSince reads /shadow's since: a duration back from now (24h, the default), an
// RFC 3339 time or a date (YYYY-MM-DD, the start of that UTC day).
func ParseShadowSince(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return now.Add(-24 * time.Hour).UTC(), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, errorf(http.StatusBadRequest, codeBadRequest, "since %q: use a duration (24h), an RFC 3339 time (2026-11-26T09:00:00Z) or a date (2026-11-26)", v)
}

func (s *Server) shadowReport(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	rep, err := s.buildShadowReport(r, c, q.Get("route"), q.Get("since"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// buildShadowReport is the report of c's project for route since (ParseShadowSince's
// syntax), for the API and the UI alike.
func (s *Server) buildShadowReport(r *http.Request, c *call, route, sinceText string) (*shadowreport.Report, error) {
	if route == "" {
		return nil, errorf(http.StatusBadRequest, codeBadRequest, "route is required: ?route=NAME, a gateway route with a shadow")
	}
	since, err := ParseShadowSince(sinceText, s.now())
	if err != nil {
		return nil, err
	}
	pairs, err := s.store.ShadowPairs(r.Context(), c.project.ID, route, since, 0)
	if err != nil {
		return nil, err
	}
	var checks []gateway.ShadowCheck
	if s.shadowChecks != nil {
		checks = s.shadowChecks(route)
	}
	rep := shadowreport.Build(r.Context(), route, since, pairs, checks)
	switch {
	case s.shadowChecks == nil:
		rep.Notes = append(rep.Notes, "no assertions: this server was not given the gateway config (plumb gateway shadow-report -c gateway.yaml runs them)")
	case len(checks) == 0:
		rep.Notes = append(rep.Notes, "no assertions: the gateway config gives this route's shadow none (add them under shadow.assert)")
	}
	return rep, nil
}
