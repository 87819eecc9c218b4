package store

import (
	"context"
	"testing"
	"time"
)

// TestApprovalNotices: every decision and expiry, whoever makes it, leaves a webhook
// notice due; one claimer gets it (another claim within the lease gets nothing); a sent
// notice is not due again; an unsent one is due again after the lease, up to MaxTries;
// decisions older than MaxAge are not sent by the sweep.
func TestApprovalNotices(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		_, s, clock := openApprovals(t, dsn)
		ids := func(ns []ApprovalNotice, err error) []int64 {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var out []int64
			for _, n := range ns {
				if n.ProjectID != DefaultProjectID {
					t.Errorf("notice of #%d in project %q", n.Approval.ID, n.ProjectID)
				}
				out = append(out, n.Approval.ID)
			}
			return out
		}
		same := func(what string, got []int64, want ...int64) {
			t.Helper()
			if len(got) != len(want) {
				t.Errorf("%s: notices %v, want %v", what, got, want)
				return
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s: notices %v, want %v", what, got, want)
					return
				}
			}
		}
		approved := heldPayment(t, s, DefaultProjectID, "call_approved", "gateway key agent", clock.t.Add(time.Hour))
		rejected := heldPayment(t, s, DefaultProjectID, "call_rejected", "gateway key agent", clock.t.Add(time.Hour))
		expiring := heldPayment(t, s, DefaultProjectID, "call_expiring", "gateway key agent", clock.t.Add(time.Minute))
		pending := heldPayment(t, s, DefaultProjectID, "call_pending", "gateway key agent", clock.t.Add(time.Hour))
		same("nothing decided", ids(s.ClaimApprovalNotices(ctx, NoticeClaim{})))

		if _, err := s.DecideApproval(ctx, DefaultProjectID, approved.ID, ApprovalDecision{Decision: DecisionApprove, Approver: "bob@example.com"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecideApproval(ctx, DefaultProjectID, rejected.ID, ApprovalDecision{Decision: DecisionReject, Approver: "bob@example.com", Reason: "no"}); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(2 * time.Minute)
		if _, err := s.ExpireApprovals(ctx); err != nil {
			t.Fatal(err)
		}
		// The server that decided claims its own decision; the sweep then gets the rest.
		ns, err := s.ClaimApprovalNotices(ctx, NoticeClaim{ID: approved.ID})
		if same("claim by id", ids(ns, err), approved.ID); len(ns) == 1 && (ns[0].Approval.Status != ApprovalApproved || ns[0].Approval.Approver != "bob@example.com") {
			t.Errorf("claimed %+v", ns[0].Approval)
		}
		same("claim by id again", ids(s.ClaimApprovalNotices(ctx, NoticeClaim{ID: approved.ID})))
		ns, err = s.ClaimApprovalNotices(ctx, NoticeClaim{})
		if same("sweep", ids(ns, err), rejected.ID, expiring.ID); len(ns) == 2 && ns[1].Approval.Status != ApprovalExpired {
			t.Errorf("expired notice: %+v", ns[1].Approval)
		}
		same("sweep within the lease", ids(s.ClaimApprovalNotices(ctx, NoticeClaim{})))
		for _, id := range []int64{approved.ID, rejected.ID} {
			if err := s.ApprovalNoticeSent(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		// After the lease, what was not sent is due again, until MaxTries.
		clock.t = clock.t.Add(6 * time.Minute)
		same("after the lease", ids(s.ClaimApprovalNotices(ctx, NoticeClaim{MaxTries: 2})), expiring.ID)
		clock.t = clock.t.Add(6 * time.Minute)
		same("tried twice", ids(s.ClaimApprovalNotices(ctx, NoticeClaim{MaxTries: 2})))
		same("more tries allowed", ids(s.ClaimApprovalNotices(ctx, NoticeClaim{MaxTries: 3})), expiring.ID)

		// A decision a day old is not sent by the sweep; a new decision of it would be.
		if _, err := s.DecideApproval(ctx, DefaultProjectID, pending.ID, ApprovalDecision{Decision: DecisionApprove, Approver: "bob@example.com"}); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(25 * time.Hour)
		same("a day later", ids(s.ClaimApprovalNotices(ctx, NoticeClaim{MaxTries: 99})))
		same("a day later, by id", ids(s.ClaimApprovalNotices(ctx, NoticeClaim{ID: pending.ID})), pending.ID)
	})
}
