package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

const fixtureApprovalArgs = `{"amount":250,"to":"acme"}`

var fixtureApprovalHash = toolpolicy.Hash(fixtureApprovalArgs)

// fixtureApproval is a pending approval of a payment in project p, as the gateway holds
// it; its rule caps amount at 500.
func fixtureApproval(t *testing.T, st store.Store, p store.Project, callID string, now time.Time) string {
	t.Helper()
	a, err := st.CreateApproval(context.Background(), p.ID, store.NewApproval{Tool: "make_payment", CallID: callID,
		Args: fixtureApprovalArgs, ArgsHash: fixtureApprovalHash, Rule: "payments", RuleReason: "amount is 250, above 100",
		RuleSpec: `{"name":"payments","tool":"make_payment","max":{"amount":500}}`, Requester: "gateway key app",
		OnBehalfOf: "vera@example.com", Route: "agent", ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(a.ID, 10)
}

func approvalBody(name string) any {
	switch name {
	case "ApprovalCheck":
		return map[string]any{"tool": "make_payment", "call_id": "call_x", "arguments": `{"amount": 1}`}
	case "ApprovalDecision":
		return map[string]any{"decision": "reject", "reason": "intruder"}
	}
	return map[string]any{"call_id": "call_1", "arguments_hash": fixtureApprovalHash, "outcome": "executed"}
}

func TestApprovalAPI(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	alice := f.session(f.alice.Email)
	base := "/api/v1/projects/" + f.a.Slug + "/approvals/" + f.approvalA
	poll := base + "/decision?call_id=call_1&arguments_hash=" + fixtureApprovalHash

	res := alice.do("GET", "/api/v1/projects/"+f.a.Slug+"/approvals?status=pending", nil)
	if res.status != 200 || !strings.Contains(res.raw, `"arguments_hash":"`+fixtureApprovalHash+`"`) {
		t.Fatalf("list: %d %s", res.status, res.raw)
	}
	// The agent's key polls: pending, nothing to execute.
	app := f.withKey(f.keyA)
	res = app.do("GET", poll, nil)
	if res.status != 200 || res.body["status"] != "pending" || res.body["execute"] != false {
		t.Fatalf("poll pending: %d %s", res.status, res.raw)
	}
	// Tampered arguments: the poll refuses them.
	res = app.do("GET", base+"/decision?call_id=call_1&arguments_hash="+toolpolicy.Hash(`{"amount":250,"to":"mallory"}`), nil)
	if res.status != 409 || !strings.Contains(res.raw, "must not run") {
		t.Errorf("poll tampered: %d %s", res.status, res.raw)
	}
	// An API key cannot decide; the user the agent acted for cannot either.
	res = app.do("POST", base+"/decide", map[string]any{"decision": "approve"})
	if res.status != 403 || !strings.Contains(res.raw, "API key cannot decide") {
		t.Errorf("key decides: %d %s", res.status, res.raw)
	}
	if _, err := f.st.UpdateMember(context.Background(), f.a.ID, f.vera.ID, store.RoleEditor); err != nil {
		t.Fatal(err)
	}
	res = f.session(f.vera.Email).do("POST", base+"/decide", map[string]any{"decision": "approve"})
	if res.status != 403 || !strings.Contains(res.raw, "on your behalf") {
		t.Errorf("self-approval: %d %s", res.status, res.raw)
	}
	// An edit beyond the rule's limit is refused; malformed arguments too.
	res = alice.do("POST", base+"/decide", map[string]any{"decision": "edit", "reason": "more", "arguments": map[string]any{"amount": 900, "to": "acme"}})
	if res.status != 400 || !strings.Contains(res.raw, "above the limit of 500") {
		t.Errorf("edit over the limit: %d %s", res.status, res.raw)
	}
	res = alice.do("POST", base+"/decide", map[string]any{"decision": "edit", "reason": "x", "arguments": `{"amount":`})
	if res.status != 400 || !strings.Contains(res.raw, "malformed") {
		t.Errorf("edit malformed: %d %s", res.status, res.raw)
	}
	// An edit with a key written twice: a runner could read either value.
	res = alice.do("POST", base+"/decide", map[string]any{"decision": "edit", "reason": "x", "arguments": json.RawMessage(`{"amount": 200, "to": "acme", "to": "mallory"}`)})
	if res.status != 400 || !strings.Contains(res.raw, `the key \"to\" appears twice`) {
		t.Errorf("edit with a repeated key: %d %s", res.status, res.raw)
	}
	// A body with a key written twice is refused whole (encoding/json would keep the last
	// value): the approval stays pending.
	res = alice.do("POST", base+"/decide", `{"decision": "approve", "decision": "reject"}`)
	if res.status != 400 || !strings.Contains(res.raw, `the key \"decision\" appears twice (at decision)`) {
		t.Errorf("decide with a repeated key: %d %s", res.status, res.raw)
	}
	res = alice.do("POST", base+"/decide", `{"decision": "edit", "reason": "x", "arguments": {"amount": 1, "to": {"iban": "DE1", "iban": "FR2"}}}`)
	if res.status != 400 || !strings.Contains(res.raw, `(at arguments.to.iban)`) {
		t.Errorf("decide with a nested repeated key: %d %s", res.status, res.raw)
	}
	if res = app.do("GET", poll, nil); res.body["status"] != "pending" {
		t.Errorf("after refused decides: %d %s", res.status, res.raw)
	}
	res = alice.do("POST", base+"/decide", map[string]any{"decision": "edit", "reason": "cap it", "arguments": map[string]any{"to": "acme", "amount": 200}})
	edited := `{"amount":200,"to":"acme"}`
	if res.status != 200 || !strings.Contains(res.raw, `"approved_arguments_hash":"`+toolpolicy.Hash(edited)+`"`) {
		t.Fatalf("edit: %d %s", res.status, res.raw)
	}
	// The poll now says execute, with the approver's arguments.
	res = app.do("GET", poll, nil)
	if res.status != 200 || res.body["execute"] != true || res.body["arguments"] != edited {
		t.Fatalf("poll approved: %d %s", res.status, res.raw)
	}
	// The original arguments cannot be reported as executed; the edited ones can, once.
	res = app.do("POST", base+"/outcome", map[string]any{"call_id": "call_1", "arguments_hash": fixtureApprovalHash, "outcome": "executed"})
	if res.status != 409 {
		t.Errorf("outcome with the original hash: %d %s", res.status, res.raw)
	}
	res = app.do("POST", base+"/outcome", map[string]any{"call_id": "call_1", "arguments_hash": toolpolicy.Hash(edited), "outcome": "executed", "detail": "paid"})
	if res.status != 200 || !strings.Contains(res.raw, `"outcome":"executed"`) {
		t.Errorf("outcome: %d %s", res.status, res.raw)
	}
	if res = app.do("GET", poll, nil); res.body["execute"] != false {
		t.Errorf("executed call still executable: %s", res.raw)
	}
	// Expiry: a decision after it is refused.
	id := fixtureApproval(t, f.st, f.a, "call_2", f.clock.Now())
	f.clock.Advance(2 * time.Hour)
	res = alice.do("POST", "/api/v1/projects/"+f.a.Slug+"/approvals/"+id+"/decide", map[string]any{"decision": "approve"})
	if res.status != 409 || !strings.Contains(res.raw, "expired") {
		t.Errorf("decide after expiry: %d %s", res.status, res.raw)
	}
	res = alice.do("GET", "/api/v1/projects/"+f.a.Slug+"/approvals/"+id, nil)
	if res.status != 200 || !strings.Contains(res.raw, `"status":"expired"`) {
		t.Errorf("expired: %s", res.raw)
	}
	// The audit log has the decision and the refused outcome.
	res = alice.do("GET", "/api/v1/projects/"+f.a.Slug+"/audit", nil)
	for _, want := range []string{"approval.edit", "approval.mismatch", "approval.outcome", "approval.expire"} {
		if !strings.Contains(res.raw, want) {
			t.Errorf("audit has no %s", want)
		}
	}
	// Without a server policy, checking a call says how to configure one.
	res = app.do("POST", "/api/v1/projects/"+f.a.Slug+"/approvals", approvalBody("ApprovalCheck"))
	if res.status != 400 || !strings.Contains(res.raw, "--tool-policy") {
		t.Errorf("check without policy: %d %s", res.status, res.raw)
	}
}

func TestApprovalCheckAndWebhook(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	pol, err := toolpolicy.Parse([]byte("tools:\n  deny: [delete_account]\n  approve:\n    - tool: make_payment\n      above: {amount: 100}\n"), "tools.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	fails := 2
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got, bodies = append(got, r), append(bodies, b)
		if fails > 0 {
			fails--
			w.WriteHeader(500)
		}
	}))
	defer hook.Close()
	var slept []time.Duration
	secret := []byte("whsec-test-0123")
	g := f.withServer(Config{ToolPolicy: pol, ApprovalWebhook: &ApprovalWebhook{URL: hook.URL, Secret: secret,
		Sleep: func(d time.Duration) { mu.Lock(); slept = append(slept, d); mu.Unlock() }}})
	app := g.withKey(f.keyA)
	p := "/api/v1/projects/" + f.a.Slug + "/approvals"
	for _, tc := range []struct{ tool, args, action string }{
		{"make_payment", `{"amount": 5}`, "allow"},
		{"delete_account", `{}`, "deny"},
		{"make_payment", `{"amount": 5`, "deny"},
		// Repeated keys, as a string and as an object: malformed, whichever value is first.
		{"make_payment", `{"amount": 5000, "amount": 5}`, "deny"},
		{"make_payment", `{"amount": 5, "amount": 5000}`, "deny"},
		{"make_payment", `{"amount": 500}`, "approve"},
	} {
		res := app.do("POST", p, map[string]any{"tool": tc.tool, "call_id": "c9", "arguments": tc.args})
		if res.status != 200 || res.body["action"] != tc.action {
			t.Errorf("%s %s: %d %s", tc.tool, tc.args, res.status, res.raw)
		}
		if strings.Count(tc.args, "amount") != 2 {
			continue
		}
		if !strings.Contains(res.raw, `appears twice`) || res.body["arguments_hash"] != "" {
			t.Errorf("repeated key: %s", res.raw)
		}
		res = app.do("POST", p, map[string]any{"tool": tc.tool, "call_id": "c9", "arguments": json.RawMessage(tc.args)})
		if res.status != 200 || res.body["action"] != "deny" || !strings.Contains(res.raw, `appears twice`) {
			t.Errorf("%s %s: %d %s", tc.tool, tc.args, res.status, res.raw)
		}
	}
	// Outside the arguments, a repeated key is the client's mistake.
	if res := app.do("POST", p, `{"tool": "make_payment", "tool": "delete_account", "call_id": "c9", "arguments": {}}`); res.status != 400 || !strings.Contains(res.raw, `the key \"tool\" appears twice`) {
		t.Errorf("repeated tool: %d %s", res.status, res.raw)
	}
	res := app.do("GET", p+"?status=pending&tool=make_payment", nil)
	var list struct {
		Approvals []store.Approval `json:"approvals"`
	}
	_ = json.Unmarshal([]byte(res.raw), &list)
	var newest store.Approval
	for _, a := range list.Approvals {
		if a.CallID == "c9" {
			newest = a
		}
	}
	if newest.Requester != "API key "+"alpha-editor" && !strings.HasPrefix(newest.Requester, "API key") {
		t.Errorf("requester: %+v", newest)
	}
	res = g.session(f.alice.Email).do("POST", fmt.Sprintf("%s/%d/decide", p, newest.ID), map[string]any{"decision": "reject", "reason": "no <script>alert(1)</script>"})
	if res.status != 200 {
		t.Fatalf("reject: %d %s", res.status, res.raw)
	}
	g.srv.WaitWebhooks()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || len(slept) != 2 || slept[0] != time.Second || slept[1] != 2*time.Second {
		t.Fatalf("webhook attempts %d, waits %v", len(got), slept)
	}
	last := got[2]
	ts, _ := strconv.ParseInt(last.Header.Get(toolpolicy.HeaderTimestamp), 10, 64)
	if sig := last.Header.Get(toolpolicy.HeaderSignature); sig != toolpolicy.Sign(secret, ts, bodies[2]) || sig == toolpolicy.Sign([]byte("other"), ts, bodies[2]) {
		t.Errorf("signature %s", sig)
	}
	if !strings.Contains(string(bodies[2]), `"decision":"reject"`) || strings.Contains(string(bodies[2]), string(secret)) {
		t.Errorf("webhook body: %s", bodies[2])
	}
}

// TestApprovalNoticesReachTheWebhook: a decision made on the store by another process
// (plumb approvals on the CLI) reaches the webhook at the server's next sweep, once; an
// API decision the webhook refused is sent again by a sweep after the lease; one it took
// is not sent again.
func TestApprovalNoticesReachTheWebhook(t *testing.T) {
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t))
			var mu sync.Mutex
			var got []string
			down := true
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var ev struct {
					Decision string         `json:"decision"`
					Approval store.Approval `json:"approval"`
				}
				b, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(b, &ev)
				mu.Lock()
				defer mu.Unlock()
				if down {
					w.WriteHeader(503)
					return
				}
				got = append(got, fmt.Sprintf("#%d %s", ev.Approval.ID, ev.Decision))
			}))
			defer hook.Close()
			g := f.withServer(Config{ApprovalWebhook: &ApprovalWebhook{URL: hook.URL, Secret: []byte("whsec-test-0123"), Attempts: 2,
				Sleep: func(time.Duration) {}}})
			ctx := context.Background()
			sweep := func() []string {
				t.Helper()
				if _, err := g.srv.SendApprovalNotices(ctx); err != nil {
					t.Fatal(err)
				}
				g.srv.WaitWebhooks()
				mu.Lock()
				defer mu.Unlock()
				out := got
				got = nil
				return out
			}
			// Through the API while the webhook is down: not delivered, still due.
			a := f.approvalA
			res := g.session(f.alice.Email).do("POST", "/api/v1/projects/"+f.a.Slug+"/approvals/"+a+"/decide", map[string]any{"decision": "approve"})
			if res.status != 200 {
				t.Fatalf("decide: %d %s", res.status, res.raw)
			}
			g.srv.WaitWebhooks()
			mu.Lock()
			down = false
			mu.Unlock()
			// As the CLI does it: on the store, no server involved.
			other := fixtureApproval(t, f.st, f.a, "call_2", f.clock.Now())
			id, _ := strconv.ParseInt(other, 10, 64)
			if _, err := f.st.WithAudit(store.Actor{Type: store.ActorSystem}).DecideApproval(ctx, f.a.ID, id,
				store.ApprovalDecision{Decision: store.DecisionReject, Approver: "bob@example.com", Reason: "unknown payee"}); err != nil {
				t.Fatal(err)
			}
			if got := sweep(); len(got) != 1 || got[0] != "#"+other+" reject" {
				t.Errorf("first sweep sent %v, want the CLI's rejection only (the API's is leased)", got)
			}
			f.clock.Advance(6 * time.Minute)
			if got := sweep(); len(got) != 1 || got[0] != "#"+a+" approve" {
				t.Errorf("sweep after the lease sent %v, want the API's approval the webhook refused", got)
			}
			f.clock.Advance(6 * time.Minute)
			if got := sweep(); len(got) != 0 {
				t.Errorf("a later sweep sent %v again", got)
			}
		})
	}
}

// TestApprovalRetry: an agent that sends POST /approvals again for the same call (same call
// id, same arguments, written differently or not) gets the approval it has, pending or
// decided, not a second one it could run the call under; the same call id with other
// arguments is a 409.
func TestApprovalRetry(t *testing.T) {
	pol, err := toolpolicy.Parse([]byte("tools:\n  approve:\n    - tool: make_payment\n      above: {amount: 100}\n"), "tools.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, dsn := range map[string]func(*testing.T) string{"sqlite": sqliteDSN, "postgres": func(t *testing.T) string { return storetest.FreshPostgres(t) }} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t))
			g := f.withServer(Config{ToolPolicy: pol})
			app := g.withKey(f.keyA)
			p := "/api/v1/projects/" + f.a.Slug + "/approvals"
			ask := func(args string) *response {
				return app.do("POST", p, map[string]any{"tool": "make_payment", "call_id": "call_r", "arguments": args})
			}
			approvalOf := func(res *response) float64 {
				t.Helper()
				a, _ := res.body["approval"].(map[string]any)
				if res.status != 200 || a == nil {
					t.Fatalf("ask: %d %s", res.status, res.raw)
				}
				return a["id"].(float64)
			}
			first := approvalOf(ask(`{"amount": 250, "to": "acme"}`))
			if again := approvalOf(ask(`{"to":"acme","amount":250}`)); again != first {
				t.Errorf("a retry made approval #%v besides #%v", again, first)
			}
			res := g.session(f.alice.Email).do("POST", fmt.Sprintf("%s/%v/decide", p, first), map[string]any{"decision": "approve"})
			if res.status != 200 {
				t.Fatalf("approve: %d %s", res.status, res.raw)
			}
			res = ask(`{"amount": 250, "to": "acme"}`)
			if approvalOf(res) != first || !strings.Contains(res.raw, `"status":"approved"`) {
				t.Errorf("a retry after the decision: %s", res.raw)
			}
			res = ask(`{"amount": 400, "to": "acme"}`)
			if res.status != 409 || !strings.Contains(res.raw, fmt.Sprintf(`call_id \"call_r\" is approval #%v, held with other arguments`, first)) {
				t.Errorf("same call id, other arguments: %d %s", res.status, res.raw)
			}
			list := g.session(f.alice.Email).do("GET", p+"?status=all", nil)
			if n := strings.Count(list.raw, `"call_id":"call_r"`); n != 1 {
				t.Errorf("%d approvals of call_r: %s", n, list.raw)
			}
		})
	}
}
