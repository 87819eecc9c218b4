package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// fixtureApprovals holds, in A, approval #1: a payment full of hostile text asked by a
// gateway key on behalf of vera; and in B one A must never see.
func fixtureApprovals(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []struct {
		id, tool, user string
	}{{f.a.ID, "pay " + hostile, "vera@example.com"}, {f.b.ID, "Beta tool", "bob@example.com"}} {
		_, canon, hash, err := toolpolicy.Canonical(`{"amount": 250, "to": "` + strings.ReplaceAll(hostile, `"`, `\"`) + `"}`)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.CreateApproval(ctx, p.id, store.NewApproval{Tool: p.tool, CallID: "call_1", Args: canon, ArgsHash: hash,
			Rule: "rule " + hostile, RuleReason: "why " + hostile, RuleSpec: `{"name":"payments","tool":"x","max":{"amount":500}}`,
			Requester: "gateway key " + hostile, OnBehalfOf: p.user, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApprovalPages(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		alice, vera, bob := f.as(f.alice), f.as(f.vera), f.as(f.bob)
		esc := "&lt;script&gt;alert(1)&lt;/script&gt;"
		for _, path := range []string{"/p/alpha/approvals", "/p/alpha/approvals/1"} {
			res := alice.get(path)
			if res.status != 200 || !strings.Contains(res.body, esc) || strings.Contains(res.body, "Beta tool") {
				t.Errorf("GET %s: %d", path, res.status)
			}
			checkSafe(t, path, res)
		}
		page := alice.get("/p/alpha/approvals/1").body
		for _, want := range []string{`id="approve"`, `id="edit"`, `id="reject"`, `id="hash"`, `id="remaining"`, "SHA-256"} {
			if !strings.Contains(page, want) {
				t.Errorf("the approval page lacks %s", want)
			}
		}
		// vera (a viewer, and the user the agent acted for) sees why she may not decide.
		if body := vera.get("/p/alpha/approvals/1").body; strings.Contains(body, `id="approve"`) || !strings.Contains(body, `id="refusal"`) {
			t.Errorf("vera sees the forms")
		}
		if res := vera.post("/p/alpha/approvals/1/decide", url.Values{"decision": {"approve"}}); res.status != http.StatusForbidden {
			t.Errorf("viewer decides: %d", res.status)
		}
		if res := bob.post("/p/alpha/approvals/1/decide", url.Values{"decision": {"approve"}}); res.status != http.StatusNotFound {
			t.Errorf("other project decides: %d", res.status)
		}
		// An edit over the rule's limit is refused with the reason; a valid one is recorded.
		res := alice.post("/p/alpha/approvals/1/decide", url.Values{"decision": {"edit"}, "reason": {"cap"}, "arguments": {`{"amount": 900}`}})
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, "above the limit of 500") {
			t.Errorf("edit over the limit: %d", res.status)
		}
		res = alice.post("/p/alpha/approvals/1/decide", url.Values{"decision": {"edit"}, "reason": {"cap " + hostile}, "arguments": {`{"amount": 200, "to": "acme"}`}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/p/alpha/approvals/1" {
			t.Fatalf("edit: %d %s", res.status, res.body)
		}
		after := alice.get("/p/alpha/approvals/1")
		checkSafe(t, "decided approval", after)
		if !strings.Contains(after.body, "edit by alice@example.com: cap "+esc) || !strings.Contains(after.body, toolpolicy.Hash(`{"amount":200,"to":"acme"}`)) || strings.Contains(after.body, `id="approve"`) {
			t.Errorf("decided page: %s", after.body)
		}
		if body := alice.get("/p/alpha/approvals?status=approved").body; !strings.Contains(body, `href="/p/alpha/approvals/1"`) {
			t.Errorf("approved list")
		}
		if res := alice.get("/p/alpha/approvals?status=" + url.QueryEscape(hostile)); res.status != http.StatusBadRequest {
			t.Errorf("bad status: %d", res.status)
		}
	})
}
