package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plumbhq/plumb/internal/gateway/shadowreport"
)

// ShadowReport is the comparison of a route's live and shadow calls.
type ShadowReport = shadowreport.Report

// ShadowReport returns the comparison of a route's live and shadow calls since a time:
// since is a duration back from now ("24h", the default when ""), an RFC 3339 time or a
// date (YYYY-MM-DD).
func (c *Client) ShadowReport(ctx context.Context, project, route, since string) (ShadowReport, error) {
	v := url.Values{"route": {route}}
	if since != "" {
		v.Set("since", since)
	}
	var out ShadowReport
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/shadow", v, nil, &out)
	return out, err
}
