package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// A call whose tool calls were held for approval says so on the traces pages, with links
// to the approvals; a call a rule blocked still says what blocked it.
func TestTraceHeldForApproval(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		now := time.Now().UTC()
		if err := f.st.SaveTraces(context.Background(), []store.Trace{
			{ID: "t_held", ProjectID: f.a.ID, Key: "app", Route: "agent", Status: 200, Blocked: store.HeldBlocked([]int64{12, 13}), StartedAt: now, LatencyMS: 1},
			{ID: "t_denied", ProjectID: f.a.ID, Key: "app", Route: "agent", Status: 403, ErrorCode: "tool_call_blocked", Blocked: "deny", StartedAt: now, LatencyMS: 1},
		}); err != nil {
			t.Fatal(err)
		}
		vera := f.as(f.vera)
		res := vera.get("/p/alpha/traces/t_held")
		checkSafe(t, "held trace", res)
		if res.status != 200 || !strings.Contains(res.body, `held for approval <a href="/p/alpha/approvals/12">#12</a> <a href="/p/alpha/approvals/13">#13</a>`) || strings.Contains(res.body, "blocked by") {
			t.Errorf("held trace: %d, want the approvals linked and no 'blocked by'", res.status)
		}
		res = vera.get("/p/alpha/traces/t_denied")
		if !strings.Contains(res.body, "blocked by deny") || strings.Contains(res.body, "held for approval") {
			t.Errorf("blocked trace: want 'blocked by deny'")
		}
		res = vera.get("/p/alpha/traces")
		if !strings.Contains(res.body, "held for approval #12 #13") || !strings.Contains(res.body, "blocked by deny") {
			t.Errorf("traces list: want the held and the blocked call marked")
		}
	})
}
