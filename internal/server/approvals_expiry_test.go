package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// An approval that expires (the sweep plumb serve runs every minute, or a decision that
// comes too late) goes to the webhook with decision "expired", signed and retried like a
// decision; it is sent once.
func TestApprovalExpiryWebhook(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	var mu sync.Mutex
	type delivery struct {
		ts, sig string
		body    []byte
	}
	var got []delivery
	fails := 1
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, delivery{r.Header.Get(toolpolicy.HeaderTimestamp), r.Header.Get(toolpolicy.HeaderSignature), b})
		if fails > 0 {
			fails--
			w.WriteHeader(503)
		}
	}))
	defer hook.Close()
	secret := []byte("whsec-test-0123")
	var slept []time.Duration
	g := f.withServer(Config{ApprovalWebhook: &ApprovalWebhook{URL: hook.URL, Secret: secret,
		Sleep: func(d time.Duration) { mu.Lock(); slept = append(slept, d); mu.Unlock() }}})

	// Nothing has expired yet.
	if n, err := g.srv.ExpireApprovals(context.Background()); err != nil || n != 0 {
		t.Fatalf("expire before the time: %d %v", n, err)
	}
	g.srv.WaitWebhooks()
	if len(got) != 0 {
		t.Fatalf("webhook sent for nothing: %d", len(got))
	}

	f.clock.Advance(2 * time.Hour) // the fixture's approvals wait 1h
	// A decision that comes too late marks A's expired, and sends it.
	if res := g.session(f.alice.Email).do("POST", "/api/v1/projects/"+f.a.Slug+"/approvals/"+f.approvalA+"/decide", map[string]any{"decision": "approve"}); res.status != 409 {
		t.Fatalf("late decision: %d %s", res.status, res.raw)
	}
	g.srv.WaitWebhooks()
	n, err := g.srv.ExpireApprovals(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("expire: %d %v, want B's approval", n, err)
	}
	g.srv.WaitWebhooks()
	if n, _ := g.srv.ExpireApprovals(context.Background()); n != 0 {
		t.Errorf("a second sweep expired %d again", n)
	}
	g.srv.WaitWebhooks()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || len(slept) != 1 || slept[0] != time.Second {
		t.Fatalf("webhook: %d deliveries, waits %v; want 2 approvals, one retried once after 1s", len(got), slept)
	}
	projects := map[string]string{}
	for _, d := range got[1:] {
		ts, _ := strconv.ParseInt(d.ts, 10, 64)
		if d.sig != toolpolicy.Sign(secret, ts, d.body) {
			t.Errorf("signature %s does not match the body", d.sig)
		}
		var ev struct {
			Event    string         `json:"event"`
			Decision string         `json:"decision"`
			Project  string         `json:"project"`
			Approval store.Approval `json:"approval"`
		}
		if err := json.Unmarshal(d.body, &ev); err != nil || ev.Event != "approval.decided" || ev.Decision != "expired" ||
			ev.Approval.Status != store.ApprovalExpired || ev.Approval.Tool != "make_payment" || ev.Approval.ArgsHash != fixtureApprovalHash {
			t.Errorf("webhook body: %s", d.body)
		}
		projects[ev.Project] = strconv.FormatInt(ev.Approval.ID, 10)
	}
	if projects[f.a.ID] != f.approvalA || projects[f.b.ID] != f.approvalB {
		t.Errorf("webhooks by project: %v, want A's %s and B's %s", projects, f.approvalA, f.approvalB)
	}
	// The sweep's expiry is audited as the system's.
	entries, _, err := f.st.ListAudit(context.Background(), f.b.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Action == "approval.expire" && e.TargetID == f.approvalB && e.ActorType == store.ActorSystem {
			found = true
		}
	}
	if !found {
		t.Errorf("no approval.expire audit entry by the system for %s", f.approvalB)
	}
}
