package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// The gateway's trace log: GET /traces (filtered, paged), /traces/{trace_id} (with the
// bodies) and /traffic (the sums the traffic page shows).

// DefaultTrafficDays and MaxTrafficDays bound /traffic's days.
const (
	DefaultTrafficDays = 7
	MaxTrafficDays     = 366
)

// TracePage is GET /traces' answer.
type TracePage struct {
	Traces     []store.Trace `json:"traces"`
	NextCursor string        `json:"next_cursor"`
}

// Traffic is GET /traffic's answer: the project's live traffic from Since (the start of
// the UTC day PeriodDays-1 days before today) to now.
type Traffic struct {
	PeriodDays int       `json:"period_days"`
	Since      time.Time `json:"since"`
	store.TrafficStats
}

// ParseTraceFilter reads a trace list's filters from a query: route, key, status (ok or
// error), shadow (true or false), since and until (RFC 3339 times, or dates: YYYY-MM-DD,
// the start of that UTC day). The error is a 400 naming the parameter and how to fix it.
func ParseTraceFilter(q url.Values) (store.TraceFilter, error) {
	f := store.TraceFilter{Route: q.Get("route"), Key: q.Get("key"), Status: q.Get("status")}
	switch f.Status {
	case "", "ok", "error":
	default:
		return f, errorf(http.StatusBadRequest, codeBadRequest, "status %q: use ok (2xx answers), error (the rest) or leave it out", f.Status)
	}
	shadow, err := queryBool(q, "shadow")
	if err != nil {
		return f, err
	}
	f.Shadow = shadow
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := strings.TrimSpace(q.Get(p.name))
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			t, err = time.Parse(time.DateOnly, v)
		}
		if err != nil {
			return f, errorf(http.StatusBadRequest, codeBadRequest, "%s %q: use an RFC 3339 time (2026-11-26T09:00:00Z) or a date (2026-11-26)", p.name, v)
		}
		*p.t = t.UTC()
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, errorf(http.StatusBadRequest, codeBadRequest, "until %s is not after since %s: swap them or widen the window",
			f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	return f, nil
}

// ParseTrafficDays reads /traffic's days (1 to MaxTrafficDays; DefaultTrafficDays when "").
func ParseTrafficDays(v string) (int, error) {
	if v == "" {
		return DefaultTrafficDays, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxTrafficDays {
		return 0, errorf(http.StatusBadRequest, codeBadRequest, "days %q: use a whole number of days from 1 to %d", v, MaxTrafficDays)
	}
	return n, nil
}

// TrafficSince is the start of the UTC day days-1 days before now's: a period of days
// whole days, today included.
func TrafficSince(now time.Time, days int) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d-(days-1), 0, 0, 0, 0, time.UTC)
}

func (s *Server) listTraces(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	f, err := ParseTraceFilter(q)
	if err != nil {
		return err
	}
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	page, next, err := s.store.ListTraces(r.Context(), c.project.ID, f, q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TracePage{Traces: page, NextCursor: next})
	return nil
}

func (s *Server) getTrace(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("trace_id")
	t, err := s.store.GetTrace(r.Context(), c.project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no trace %q in project %s", id, c.project.Slug)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"trace": t})
	return nil
}

func (s *Server) traffic(w http.ResponseWriter, r *http.Request, c *call) error {
	days, err := ParseTrafficDays(r.URL.Query().Get("days"))
	if err != nil {
		return err
	}
	since := TrafficSince(s.now(), days)
	st, err := s.store.TrafficStats(r.Context(), c.project.ID, since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Traffic{PeriodDays: days, Since: since, TrafficStats: st})
	return nil
}
