package gateway

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
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

// An Anthropic client (/v1/messages, translated from the chat answer) gets the held
// calls in the body's plumb_approvals, as a chat client does, besides the header.
func TestToolPolicyMessagesHeld(t *testing.T) {
	m := &memApprovals{}
	srv := toolsGateway(t, m)
	post := func(text string) (http.Header, string) {
		return postMessagesTo(t, srv, `{"model":"agent","max_tokens":50,"messages":[{"role":"user","content":"`+text+`"}]}`)
	}
	type answer struct {
		Type    string `json:"type"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
			Name string `json:"name"`
		} `json:"content"`
		StopReason string     `json:"stop_reason"`
		Approvals  []HeldCall `json:"plumb_approvals"`
	}
	_, canon, hash, _ := toolpolicy.Canonical(`{"amount":250,"to":"acme"}`)

	h, body := post("big")
	var a answer
	if err := json.Unmarshal([]byte(body), &a); err != nil || a.Type != "message" {
		t.Fatalf("big: %v %s", err, body)
	}
	if len(a.Approvals) != 1 || a.Approvals[0].ApprovalID != 1 || a.Approvals[0].Tool != "make_payment" || a.Approvals[0].ArgsHash != hash ||
		a.Approvals[0].Arguments != canon || a.Approvals[0].DecisionURL != "/api/v1/projects/p_default/approvals/1/decision" || h.Get(HeaderApprovals) != "1" {
		t.Errorf("big: plumb_approvals %+v, header %q", a.Approvals, h.Get(HeaderApprovals))
	}
	if len(a.Content) != 1 || a.Content[0].Type != "text" || a.Content[0].Text != "Paying now." || a.StopReason != "end_turn" {
		t.Errorf("big: the held call is still in the answer: %s", body)
	}

	h, body = post("both")
	a = answer{}
	_ = json.Unmarshal([]byte(body), &a)
	var uses []string
	for _, c := range a.Content {
		if c.Type == "tool_use" {
			uses = append(uses, c.Name)
		}
	}
	if len(uses) != 1 || uses[0] != "search_orders" || len(a.Approvals) != 1 || a.Approvals[0].ApprovalID != 2 || h.Get(HeaderApprovals) != "2" {
		t.Errorf("both: tool_use %v, plumb_approvals %+v: %s", uses, a.Approvals, body)
	}

	// An answer with nothing held has no plumb_approvals.
	_, body = post("small")
	if strings.Contains(body, "plumb_approvals") {
		t.Errorf("small: %s", body)
	}
}
