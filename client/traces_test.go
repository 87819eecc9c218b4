package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

func TestTraces(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	a, err := ts.st.GetProject(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var batch []store.Trace
	for i := range 5 {
		batch = append(batch, store.Trace{ID: fmt.Sprintf("t_%d", i), ProjectID: a.ID, Key: "team-a", Route: "support-bot",
			Status: []int{200, 429}[i%2], StartedAt: now.Add(-time.Duration(i) * time.Minute), LatencyMS: float64(i + 1),
			Attempts: []store.Attempt{{Provider: "primary", Model: "fake-1", Status: 200}}, RequestBody: `{"q":"hi"}`})
	}
	if err := ts.st.SaveTraces(ctx, batch); err != nil {
		t.Fatal(err)
	}
	c := ts.client(t, ts.keyAView)
	var got []string
	q := TraceQuery{Limit: 2, Since: now.Add(-time.Hour)}
	for {
		page, err := c.Traces(ctx, "alpha", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range page.Traces {
			got = append(got, tr.ID)
		}
		if q.Cursor = page.NextCursor; q.Cursor == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[t_0 t_1 t_2 t_3 t_4]" {
		t.Errorf("Traces paged: %v", got)
	}
	page, err := c.Traces(ctx, "alpha", TraceQuery{Status: "error"})
	if err != nil || len(page.Traces) != 2 || page.Traces[0].ID != "t_1" {
		t.Errorf("Traces status=error: %+v, %v", page, err)
	}
	tr, err := c.Trace(ctx, "alpha", "t_3")
	if err != nil || tr.RequestBody != `{"q":"hi"}` || tr.Status != 429 || len(tr.Attempts) != 1 {
		t.Errorf("Trace: %+v, %v", tr, err)
	}
	var ce *Error
	if _, err := c.Trace(ctx, "alpha", "t_missing"); !errors.As(err, &ce) || ce.Code != CodeNotFound {
		t.Errorf("a missing trace: %v", err)
	}
	if _, err := ts.client(t, ts.keyB).Trace(ctx, "alpha", "t_3"); !errors.As(err, &ce) || ce.Code != CodeNotFound {
		t.Errorf("another project's key reading A's trace: %v, want not found", err)
	}
	// Two days (today and yesterday) hold the last 5 minutes whatever the hour.
	traffic, err := c.Traffic(ctx, "alpha", 2)
	if err != nil || traffic.PeriodDays != 2 || len(traffic.Routes) != 1 || len(traffic.Days) == 0 {
		t.Fatalf("Traffic: %+v, %v", traffic, err)
	}
	if r := traffic.Routes[0]; r.Requests != 5 || r.Errors != 2 || r.P50MS != 3 || r.P99MS != 5 {
		t.Errorf("Traffic route: %+v, want 5 requests, 2 errors, p50 3, p99 5", r)
	}
	if _, err := c.Traffic(ctx, "alpha", 1000); !errors.As(err, &ce) || ce.Code != CodeBadRequest {
		t.Errorf("Traffic 1000 days: %v, want bad request", err)
	}
}
