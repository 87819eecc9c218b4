package gateway

import (
	"reflect"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// A call's trace record names the approvals its held tool calls wait for; a blocked
// call names the rule; an allowed one neither.
func TestToolPolicyTraceRecord(t *testing.T) {
	m := &memApprovals{}
	rec := &memRecorder{}
	srv := toolsGatewayRec(t, m, rec)
	cases := []struct {
		body    string
		blocked string
		held    []int64
	}{
		{askTools("small", false), "", nil},
		{askTools("big", false), "approval:1", []int64{1}},
		{askTools("both", true), "approval:2", []int64{2}},
		{askTools("delete", false), "deny delete_account", nil},
	}
	for i, c := range cases {
		postTools(t, srv, c.body)
		var tr store.Trace
		for range 200 {
			if all := rec.traces(); len(all) > i {
				tr = all[i]
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if tr.Blocked != c.blocked || !reflect.DeepEqual(tr.HeldApprovals(), c.held) {
			t.Errorf("%s: trace blocked %q held %v, want %q %v", c.body, tr.Blocked, tr.HeldApprovals(), c.blocked, c.held)
		}
		if c.held != nil && tr.BlockedBy() != "" {
			t.Errorf("%s: a held call reads as blocked by %q", c.body, tr.BlockedBy())
		}
	}
}
