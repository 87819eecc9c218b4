package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// The gateway's trace log (docs/traces.md): the wire types, aliased like the others.
type (
	Trace        = store.Trace        // one call through the gateway
	Attempt      = store.Attempt      // one target tried for a call
	TracePage    = server.TracePage   // a page of Traces and the next cursor
	Traffic      = server.Traffic     // a project's traffic over some days
	RouteTraffic = store.RouteTraffic // one route's sums and latency percentiles
	DayTraffic   = store.DayTraffic   // one UTC day's sums
	KeyTraffic   = store.KeyTraffic   // one client key's sums
)

// TraceQuery filters and pages Traces; zero values mean no filter.
type TraceQuery struct {
	Route  string
	Key    string
	Status string // "ok" (2xx), "error" (the rest) or ""
	Shadow bool   // shadow calls instead of live ones
	Since  time.Time
	Until  time.Time
	Cursor string // "" for the first page, else a page's NextCursor
	Limit  int    // 0: the server's default page size
}

// Traces returns one page of a project's gateway calls, newest first, without their
// bodies (Trace has them).
func (c *Client) Traces(ctx context.Context, project string, q TraceQuery) (TracePage, error) {
	v := url.Values{}
	setNonEmpty(v, "route", q.Route)
	setNonEmpty(v, "key", q.Key)
	setNonEmpty(v, "status", q.Status)
	setNonEmpty(v, "cursor", q.Cursor)
	if q.Shadow {
		v.Set("shadow", "true")
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var page TracePage
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/traces", v, nil, &page)
	return page, err
}

// Trace returns one gateway call with its attempts and bodies.
func (c *Client) Trace(ctx context.Context, project, id string) (Trace, error) {
	var out struct {
		Trace Trace `json:"trace"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/traces/"+url.PathEscape(id), nil, nil, &out)
	return out.Trace, err
}

// Traffic returns a project's live gateway traffic over the last days (today included; 0:
// the server's default of 7).
func (c *Client) Traffic(ctx context.Context, project string, days int) (Traffic, error) {
	v := url.Values{}
	if days != 0 {
		v.Set("days", strconv.Itoa(days))
	}
	var out Traffic
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/traffic", v, nil, &out)
	return out, err
}
