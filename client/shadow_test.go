package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

func TestShadowReport(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	a, err := ts.st.GetProject(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	answer := `{"choices":[{"message":{"content":"hi"}}]}`
	batch := []store.Trace{
		{ID: "l1", ProjectID: a.ID, Route: "bot", Status: 200, StartedAt: now.Add(-time.Minute), LatencyMS: 10, ResponseBody: answer},
		{ID: "s1", ProjectID: a.ID, Route: "bot", ShadowOf: "l1", Status: 200, StartedAt: now.Add(-time.Minute), LatencyMS: 30, ResponseBody: answer},
	}
	if err := ts.st.SaveTraces(ctx, batch); err != nil {
		t.Fatal(err)
	}
	rep, err := ts.client(t, ts.keyAView).ShadowReport(ctx, "alpha", "bot", "1h")
	if err != nil || rep.N != 1 || rep.Agreement.K != 1 || rep.Shadow.P50MS != 30 {
		t.Errorf("ShadowReport: %+v, %v", rep, err)
	}
	var ce *Error
	if _, err := ts.client(t, ts.keyB).ShadowReport(ctx, "alpha", "bot", ""); !errors.As(err, &ce) || ce.Code != CodeNotFound {
		t.Errorf("another project's key: %v, want not found", err)
	}
}
