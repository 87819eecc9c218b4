package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// approvalClock is a fake clock the test moves.
type approvalClock struct{ t time.Time }

func (c *approvalClock) now() time.Time { return c.t }

// openApprovals opens a store at dsn on a fake clock at 2026-11-26 10:00 UTC, closed
// with the test, and the same store auditing as the system.
func openApprovals(t *testing.T, dsn string) (Store, Store, *approvalClock) {
	t.Helper()
	clock := &approvalClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	base, err := Open(context.Background(), dsn, OpenOptions{Migrate: true, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	return base, base.WithAudit(Actor{Type: ActorSystem}), clock
}

func heldPayment(t *testing.T, s Store, projectID, callID, requester string, expires time.Time) Approval {
	t.Helper()
	_, canon, hash, err := toolpolicy.Canonical(`{"to": "acme", "amount": 250, "currency": "EUR"}`)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := s.CreateApproval(context.Background(), projectID, NewApproval{Tool: "make_payment", CallID: callID,
		Args: canon, ArgsHash: hash, Rule: "payments", RuleReason: "amount is 250, above 100", Requester: requester,
		OnBehalfOf: "customer@example.com", Route: "agent", TraceID: "tr_1", ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// TestApprovalSelfApprovalByID: the agent named the user it acted for by user id; that
// user cannot approve under their e-mail either, and another member can.
func TestApprovalSelfApprovalByID(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		base, err := Open(ctx, dsn, OpenOptions{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer base.Close()
		s := base.WithAudit(Actor{Type: ActorSystem})
		ap := heldPayment(t, s, DefaultProjectID, "call_1", "gateway key agent", time.Now().Add(time.Hour))
		byID, err := s.CreateApproval(ctx, DefaultProjectID, NewApproval{Tool: ap.Tool, CallID: "call_2", Args: ap.Args,
			ArgsHash: ap.ArgsHash, Rule: ap.Rule, Requester: "gateway key agent", OnBehalfOf: "u_customer", ExpiresAt: ap.ExpiresAt})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecideApproval(ctx, DefaultProjectID, byID.ID, ApprovalDecision{Decision: DecisionApprove,
			Approver: "customer@example.com", ApproverIDs: []string{"u_customer"}}); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("self-approval by the user id the agent acted for: %v", err)
		}
		if got, err := s.DecideApproval(ctx, DefaultProjectID, byID.ID, ApprovalDecision{Decision: DecisionApprove,
			Approver: "bob@example.com", ApproverIDs: []string{"u_bob"}}); err != nil || got.Status != ApprovalApproved {
			t.Errorf("another member's approval: %+v %v", got, err)
		}
	})
}

func TestApprovalFlow(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		base, s, clock := openApprovals(t, dsn)
		other, err := base.CreateProject(ctx, Project{Slug: "other", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}

		ap := heldPayment(t, s, DefaultProjectID, "call_1", "gateway key agent", clock.t.Add(time.Hour))
		if ap.Status != ApprovalPending || ap.Args != `{"amount":250,"currency":"EUR","to":"acme"}` || ap.ArgsHash != toolpolicy.Hash(ap.Args) || ap.Scope != "once" {
			t.Fatalf("created %+v", ap)
		}
		// Another project sees nothing of it.
		if _, err := s.GetApproval(ctx, other.ID, ap.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("other project get: %v", err)
		}
		if _, err := s.DecideApproval(ctx, other.ID, ap.ID, ApprovalDecision{Decision: DecisionApprove, Approver: "bob@example.com"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("other project decide: %v", err)
		}
		// The requester and the user the agent acted for cannot approve.
		for _, who := range []string{"Gateway Key Agent", "customer@example.com"} {
			if _, err := s.DecideApproval(ctx, DefaultProjectID, ap.ID, ApprovalDecision{Decision: DecisionApprove, Approver: who}); !errors.Is(err, ErrNotAllowed) {
				t.Errorf("self-approval by %s: %v", who, err)
			}
		}
		// A rejection or an edit needs a reason.
		if _, err := s.DecideApproval(ctx, DefaultProjectID, ap.ID, ApprovalDecision{Decision: DecisionReject, Approver: "bob@example.com"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("reject without reason: %v", err)
		}
		// Nothing ran before approval.
		if _, err := s.RecordApprovalOutcome(ctx, DefaultProjectID, ap.ID, ap.CallID, ap.ArgsHash, OutcomeExecuted, ""); !errors.Is(err, ErrConflict) {
			t.Errorf("outcome while pending: %v", err)
		}
		got, err := s.DecideApproval(ctx, DefaultProjectID, ap.ID, ApprovalDecision{Decision: DecisionApprove, Approver: "bob@example.com", Reason: "known supplier"})
		if err != nil || got.Status != ApprovalApproved || got.ApprovedHash != ap.ArgsHash || got.Approver != "bob@example.com" || got.DecidedAt == nil {
			t.Fatalf("approve: %+v %v", got, err)
		}
		if _, err := s.DecideApproval(ctx, DefaultProjectID, ap.ID, ApprovalDecision{Decision: DecisionReject, Approver: "carol@example.com", Reason: "no"}); !errors.Is(err, ErrConflict) {
			t.Errorf("decided twice: %v", err)
		}
		// Arguments changed after the approval: refused, and the refusal is audited.
		_, _, tampered, _ := toolpolicy.Canonical(`{"to": "mallory", "amount": 250, "currency": "EUR"}`)
		if _, err := s.RecordApprovalOutcome(ctx, DefaultProjectID, ap.ID, ap.CallID, tampered, OutcomeExecuted, ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "not the ones approved") {
			t.Errorf("tampered outcome: %v", err)
		}
		if _, err := s.RecordApprovalOutcome(ctx, DefaultProjectID, ap.ID, "call_2", ap.ArgsHash, OutcomeExecuted, ""); !errors.Is(err, ErrConflict) {
			t.Errorf("other call id: %v", err)
		}
		done, err := s.RecordApprovalOutcome(ctx, DefaultProjectID, ap.ID, ap.CallID, ap.ArgsHash, OutcomeExecuted, "payment p_9")
		if err != nil || done.Outcome != OutcomeExecuted || done.OutcomeAt == nil {
			t.Fatalf("outcome: %+v %v", done, err)
		}
		if _, err := s.RecordApprovalOutcome(ctx, DefaultProjectID, ap.ID, ap.CallID, ap.ArgsHash, OutcomeExecuted, ""); !errors.Is(err, ErrConflict) {
			t.Errorf("second execution: %v", err)
		}

		// An edit: the approved arguments are the approver's, with their own hash.
		ap2 := heldPayment(t, s, DefaultProjectID, "call_3", "gateway key agent", clock.t.Add(time.Hour))
		_, edited, editedHash, _ := toolpolicy.Canonical(`{"to": "acme", "amount": 200, "currency": "EUR"}`)
		got, err = s.DecideApproval(ctx, DefaultProjectID, ap2.ID, ApprovalDecision{Decision: DecisionEdit, Approver: "bob@example.com",
			Reason: "cap at 200", Args: edited, ArgsHash: editedHash})
		if err != nil || got.Status != ApprovalApproved || got.ApprovedArgs != edited || got.ApprovedHash != editedHash || got.ArgsHash != ap2.ArgsHash {
			t.Fatalf("edit: %+v %v", got, err)
		}
		if _, err := s.RecordApprovalOutcome(ctx, DefaultProjectID, ap2.ID, ap2.CallID, ap2.ArgsHash, OutcomeExecuted, ""); !errors.Is(err, ErrConflict) {
			t.Errorf("original arguments after an edit: %v", err)
		}

		// Expiry: reads as expired, a decision is refused and marks it, the list filters.
		ap3 := heldPayment(t, s, DefaultProjectID, "call_4", "gateway key agent", clock.t.Add(10*time.Minute))
		ap4 := heldPayment(t, s, DefaultProjectID, "call_5", "gateway key agent", clock.t.Add(10*time.Minute))
		clock.t = clock.t.Add(10 * time.Minute)
		if g, _ := s.GetApproval(ctx, DefaultProjectID, ap3.ID); g.Status != ApprovalExpired {
			t.Errorf("read after expiry: %s", g.Status)
		}
		if _, err := s.DecideApproval(ctx, DefaultProjectID, ap3.ID, ApprovalDecision{Decision: DecisionApprove, Approver: "bob@example.com"}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("decide after expiry: %v", err)
		}
		if n := countRows(t, base, "SELECT count(*) FROM tool_approvals WHERE status = 'expired' AND id = ?", ap3.ID); n != 1 {
			t.Errorf("expired approval not marked: %d", n)
		}
		pending, _ := s.ListApprovals(ctx, DefaultProjectID, ApprovalFilter{Status: ApprovalPending})
		expired, _ := s.ListApprovals(ctx, DefaultProjectID, ApprovalFilter{Status: ApprovalExpired})
		if len(pending) != 0 || len(expired) != 2 {
			t.Errorf("pending %d expired %d", len(pending), len(expired))
		}
		if ex, err := s.ExpireApprovals(ctx); err != nil || len(ex) != 1 || ex[0].ProjectID != DefaultProjectID || ex[0].Approval.Status != ApprovalExpired || ex[0].Approval.Tool == "" {
			t.Errorf("expire: %+v %v", ex, err)
		}
		if ex, err := s.ExpireApprovals(ctx); err != nil || len(ex) != 0 {
			t.Errorf("expire again: %+v %v", ex, err)
		}
		_ = ap4
		if _, err := s.ListApprovals(ctx, DefaultProjectID, ApprovalFilter{Status: "open"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad status: %v", err)
		}

		// Every decision is in the audit log.
		entries, _, err := base.ListAudit(ctx, DefaultProjectID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, e := range entries {
			counts[e.Action]++
		}
		want := map[string]int{"approval.request": 4, "approval.approve": 1, "approval.edit": 1, "approval.expire": 2,
			"approval.outcome": 1, "approval.mismatch": 3}
		for k, v := range want {
			if counts[k] != v {
				t.Errorf("audit %s: %d, want %d (all: %v)", k, counts[k], v, counts)
			}
		}

		// A retry of a call is not held twice: the same call id and arguments are its
		// approval, decided or not (nothing stored or audited above: 4 requests); other
		// arguments are refused; an expired call may be held again; another project's
		// call ids are its own.
		retry := NewApproval{Tool: ap.Tool, CallID: ap.CallID, Args: ap.Args, ArgsHash: ap.ArgsHash, Rule: ap.Rule,
			Requester: "gateway key agent", ExpiresAt: clock.t.Add(time.Hour)}
		if got, err := s.CreateApproval(ctx, DefaultProjectID, retry); err != nil || got.ID != ap.ID || got.Outcome != OutcomeExecuted {
			t.Errorf("retry of a decided call: %+v %v", got, err)
		}
		other2 := retry
		other2.Args, other2.ArgsHash = edited, editedHash
		if _, err := s.CreateApproval(ctx, DefaultProjectID, other2); !errors.Is(err, ErrConflict) ||
			!strings.Contains(err.Error(), fmt.Sprintf(`call_id "call_1" is approval #%d, held with other arguments`, ap.ID)) {
			t.Errorf("same call id, other arguments: %v", err)
		}
		again := retry
		again.CallID = ap3.CallID
		if got, err := s.CreateApproval(ctx, DefaultProjectID, again); err != nil || got.ID == ap3.ID || got.Status != ApprovalPending {
			t.Errorf("an expired call held again: %+v %v", got, err)
		}
		if n := countRows(t, base, "SELECT count(*) FROM tool_approvals WHERE call_id = ?", ap.CallID); n != 1 {
			t.Errorf("%d approvals of one call", n)
		}
		if got, err := s.CreateApproval(ctx, other.ID, retry); err != nil || got.ID == ap.ID {
			t.Errorf("the same call id in another project: %+v %v", got, err)
		}
	})
}
