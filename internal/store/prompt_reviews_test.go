package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// pushAs pushes a version of triage written by author.
func pushAs(t *testing.T, st Store, project, author, text string) PromptVersion {
	t.Helper()
	v, _, err := st.PushPrompt(context.Background(), project, "triage", PromptContent{Template: text}, author, "")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// labelAt is where a label of triage points, 0 when it is not set.
func labelAt(t *testing.T, st Store, project, label string) int {
	t.Helper()
	v, err := st.GetPromptVersion(context.Background(), project, "triage", label)
	if errors.Is(err, ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return v.Version
}

// TestProtectedLabels: production is protected by default and refused to a direct move,
// with a message saying how it moves; a project sets its own list; unprotected labels move
// as before.
func TestProtectedLabels(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		au := st.WithAudit(Actor{Type: ActorSystem})
		pushAs(t, st, DefaultProjectID, "ana", "v1 {{q}}")
		if got, err := st.ProtectedLabels(ctx, DefaultProjectID); err != nil || !slices.Equal(got, []string{"production"}) {
			t.Fatalf("default protected labels = %v, %v; want [production]", got, err)
		}
		_, err := au.MovePromptLabel(ctx, DefaultProjectID, "triage", "production", 1, "ana")
		if !errors.Is(err, ErrProtected) || !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "review request") {
			t.Fatalf("direct move of production = %v, want ErrProtected saying a review request moves it", err)
		}
		if labelAt(t, st, DefaultProjectID, "production") != 0 {
			t.Errorf("the refused move set the label")
		}
		if _, err := au.MovePromptLabel(ctx, DefaultProjectID, "triage", "staging", 1, "ana"); err != nil {
			t.Errorf("unprotected staging: %v", err)
		}

		got, err := au.SetProtectedLabels(ctx, DefaultProjectID, []string{"staging", "production", "staging"})
		if err != nil || !slices.Equal(got, []string{"production", "staging"}) {
			t.Fatalf("SetProtectedLabels = %v, %v", got, err)
		}
		if _, err := au.MovePromptLabel(ctx, DefaultProjectID, "triage", "staging", 1, "ana"); !errors.Is(err, ErrProtected) {
			t.Errorf("staging after protecting it = %v, want ErrProtected", err)
		}
		if _, err := au.SetProtectedLabels(ctx, DefaultProjectID, []string{"ok", "latest"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("protecting latest = %v, want ErrInvalid", err)
		}
		if _, err := au.SetProtectedLabels(ctx, "p_missing", nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("a missing project = %v, want ErrNotFound", err)
		}
		// None protected: production moves directly.
		if got, err := au.SetProtectedLabels(ctx, DefaultProjectID, nil); err != nil || len(got) != 0 {
			t.Fatalf("protect nothing = %v, %v", got, err)
		}
		if got, _ := st.ProtectedLabels(ctx, DefaultProjectID); got == nil || len(got) != 0 {
			t.Errorf("after protecting nothing, ProtectedLabels = %#v, want an empty list (not the default)", got)
		}
		if _, err := au.MovePromptLabel(ctx, DefaultProjectID, "triage", "production", 1, "ana"); err != nil {
			t.Errorf("production unprotected: %v", err)
		}
		var protects int
		for _, e := range allAudit(t, st) {
			if e.Action == "prompt.protect" {
				protects++
				if protects == 1 && (!strings.Contains(string(e.Before), `"production","staging"`) || string(e.After) != `{"protected_labels":[]}`) {
					t.Errorf("last prompt.protect entry = %s -> %s", e.Before, e.After)
				}
			}
		}
		if protects != 2 {
			t.Errorf("%d prompt.protect entries, want 2", protects)
		}
	})
}

// TestPromptReviewFlow: a release is requested, refused to the version's author and to
// the requester with the reason, approved by a third person, which moves the label in the
// same step; the thread, the history and the audit log record it all.
func TestPromptReviewFlow(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		au := st.WithAudit(Actor{Type: ActorUser, ID: "u_x"})
		pushAs(t, st, DefaultProjectID, "ana@example.com", "v1 {{q}}")
		pushAs(t, st, DefaultProjectID, "bob@example.com", "v2 {{q}}")

		r, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 1, "carol@example.com", "first release <b>")
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == 0 || r.Status != ReviewOpen || r.Stale || r.BaseVersion != nil || r.VersionAuthor != "ana@example.com" || r.Description != "first release <b>" {
			t.Fatalf("request = %+v", r)
		}
		if _, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 1, "bob@example.com", ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("#%d already asks", r.ID)) {
			t.Errorf("a second open request for the same move = %v, want ErrConflict naming #%d", err, r.ID)
		}
		for _, c := range []struct{ who, why string }{
			{"ANA@example.com ", "you wrote version 1"},
			{"carol@example.com", "you requested this release"},
		} {
			if why := r.Refusal(c.who, true); !strings.Contains(why, c.why) {
				t.Errorf("Refusal(%s) = %q, want %q", c.who, why, c.why)
			}
			_, err := au.DecidePromptReview(ctx, DefaultProjectID, r.ID, true, c.who, "")
			if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), c.why) {
				t.Errorf("approval by %s = %v, want ErrNotAllowed saying %q", c.who, err, c.why)
			}
			if _, err := au.DecidePromptReview(ctx, DefaultProjectID, r.ID, false, c.who, "no"); !errors.Is(err, ErrNotAllowed) {
				t.Errorf("rejection by %s = %v, want ErrNotAllowed", c.who, err)
			}
		}
		if why := r.Refusal("dave@example.com", true); why != "" {
			t.Errorf("Refusal(dave) = %q, want none", why)
		}
		if labelAt(t, st, DefaultProjectID, "production") != 0 {
			t.Fatal("a refused approval moved the label")
		}
		if _, err := au.CommentPromptReview(ctx, DefaultProjectID, r.ID, "dave@example.com", "looks good <script>"); err != nil {
			t.Fatal(err)
		}
		if _, err := au.CommentPromptReview(ctx, DefaultProjectID, r.ID, "dave@example.com", "  "); !errors.Is(err, ErrInvalid) {
			t.Errorf("empty comment = %v, want ErrInvalid", err)
		}

		done, err := au.DecidePromptReview(ctx, DefaultProjectID, r.ID, true, "dave@example.com", "ship it")
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != ReviewApproved || done.DecidedBy != "dave@example.com" || done.MoveID == nil || done.DecidedAt == nil ||
			done.CurrentVersion == nil || *done.CurrentVersion != 1 || done.Stale {
			t.Errorf("approved = %+v", done)
		}
		if len(done.Comments) != 2 || done.Comments[0].Kind != "comment" || done.Comments[1].Kind != "approve" || done.Comments[1].Body != "ship it" {
			t.Errorf("thread = %+v", done.Comments)
		}
		if labelAt(t, st, DefaultProjectID, "production") != 1 {
			t.Fatal("the approval did not move production to 1")
		}
		hist, _ := st.PromptLabelHistory(ctx, DefaultProjectID, "triage", "production")
		if len(hist) != 1 || hist[0].Kind != MoveReview || hist[0].ReviewID == nil || *hist[0].ReviewID != r.ID ||
			hist[0].Actor != "dave@example.com" || hist[0].ID != *done.MoveID {
			t.Errorf("history = %+v, want the review's move", hist)
		}
		if _, err := au.DecidePromptReview(ctx, DefaultProjectID, r.ID, false, "erin@example.com", "too late"); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "is approved") {
			t.Errorf("deciding again = %v, want ErrConflict", err)
		}
		if _, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 1, "bob@example.com", ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already at version 1") {
			t.Errorf("requesting the current version = %v, want ErrConflict", err)
		}

		// A rejection needs its reason.
		r2, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 2, "ana@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := au.DecidePromptReview(ctx, DefaultProjectID, r2.ID, false, "dave@example.com", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("rejection without a comment = %v, want ErrInvalid", err)
		}
		rej, err := au.DecidePromptReview(ctx, DefaultProjectID, r2.ID, false, "dave@example.com", "tone is off")
		if err != nil || rej.Status != ReviewRejected || rej.MoveID != nil || labelAt(t, st, DefaultProjectID, "production") != 1 {
			t.Errorf("rejection = %+v, %v; want rejected and production still at 1", rej, err)
		}

		open, _ := st.ListPromptReviews(ctx, DefaultProjectID, PromptReviewFilter{Status: ReviewOpen})
		all, _ := st.ListPromptReviews(ctx, DefaultProjectID, PromptReviewFilter{})
		if len(open) != 0 || len(all) != 2 || all[0].ID != r2.ID {
			t.Errorf("lists: %d open, %d in all (first #%d); want 0 and 2 newest first", len(open), len(all), all[0].ID)
		}
		if _, err := st.ListPromptReviews(ctx, DefaultProjectID, PromptReviewFilter{Status: "pending"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad status filter = %v, want ErrInvalid", err)
		}

		var actions []string
		for _, e := range allAudit(t, st) {
			actions = append(actions, e.Action)
			if e.ProjectID != DefaultProjectID || e.ActorID != "u_x" {
				t.Errorf("entry %s in %q by %q", e.Action, e.ProjectID, e.ActorID)
			}
		}
		want := []string{"prompt.review.reject", "prompt.review.request", "prompt.review.approve", "prompt.label",
			"prompt.review.comment", "prompt.review.request"}
		if !slices.Equal(actions, want) {
			t.Errorf("audit = %v, want %v", actions, want)
		}
	})
}

// TestPromptReviewStale: a request whose label moved since it was opened cannot be
// approved; requesting the same move again supersedes it.
func TestPromptReviewStale(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		for i := 1; i <= 3; i++ {
			pushAs(t, st, DefaultProjectID, "ana", fmt.Sprintf("v%d {{q}}", i))
		}
		r1, _ := st.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 1, "ana", "")
		if _, err := st.DecidePromptReview(ctx, DefaultProjectID, r1.ID, true, "bob", ""); err != nil {
			t.Fatal(err)
		}
		r2, err := st.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 2, "ana", "")
		if err != nil || r2.BaseVersion == nil || *r2.BaseVersion != 1 {
			t.Fatalf("request = %+v, %v", r2, err)
		}
		r3, _ := st.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 3, "ana", "")
		if _, err := st.DecidePromptReview(ctx, DefaultProjectID, r3.ID, true, "bob", ""); err != nil {
			t.Fatal(err)
		}
		got, _ := st.GetPromptReview(ctx, DefaultProjectID, r2.ID)
		if !got.Stale || *got.CurrentVersion != 3 {
			t.Fatalf("r2 after production moved = %+v, want stale", got)
		}
		_, err = st.DecidePromptReview(ctx, DefaultProjectID, r2.ID, true, "bob", "")
		if !errors.Is(err, ErrConflict) || errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "request the release again") {
			t.Errorf("approving a stale request = %v, want ErrConflict saying to request again", err)
		}
		if labelAt(t, st, DefaultProjectID, "production") != 3 {
			t.Errorf("a stale approval moved the label")
		}
		// Moving away and back is still a move: the request stays stale.
		r4, err := st.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 2, "ana", "again")
		if err != nil || r4.Stale {
			t.Fatalf("re-request = %+v, %v", r4, err)
		}
		old, _ := st.GetPromptReview(ctx, DefaultProjectID, r2.ID)
		if old.Status != ReviewSuperseded || old.Stale {
			t.Errorf("the stale request = %s (stale %v), want superseded", old.Status, old.Stale)
		}
		if _, err := st.DecidePromptReview(ctx, DefaultProjectID, r4.ID, true, "bob", ""); err != nil || labelAt(t, st, DefaultProjectID, "production") != 2 {
			t.Errorf("approving the new request: %v", err)
		}
	})
}

// TestPromptReviewRace: two requests opened on the same state of a label, approved at
// once: exactly one moves the label, the other is stale.
func TestPromptReviewRace(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		for i := 1; i <= 3; i++ {
			pushAs(t, st, DefaultProjectID, "ana", fmt.Sprintf("v%d {{q}}", i))
		}
		first, _ := st.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 1, "ana", "")
		if _, err := st.DecidePromptReview(ctx, DefaultProjectID, first.ID, true, "bob", ""); err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			a, err := st.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 2, "ana", "")
			if err != nil {
				t.Fatal(err)
			}
			b, err := st.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 3, "ana", "")
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, id := range []int64{a.ID, b.ID} {
				wg.Go(func() { _, errs[i] = st.DecidePromptReview(ctx, DefaultProjectID, id, true, "bob", "") })
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, ErrConflict):
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d approvals succeeded (%v), want exactly 1", round, ok, errs)
			}
			// Back to 1 for the next round, whose requests supersede this round's stale one.
			if _, err := st.RollbackPromptLabel(ctx, DefaultProjectID, "triage", "production", "ana", ""); err != nil {
				t.Fatal(err)
			}
			if at := labelAt(t, st, DefaultProjectID, "production"); at != 1 {
				t.Fatalf("round %d: production at %d after the rollback, want 1", round, at)
			}
		}
	})
}

// TestPromptRollback: a rollback points the label where it was before its latest move,
// protected or not, and is recorded with its reason; rolling back twice returns.
func TestPromptRollback(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		au := st.WithAudit(Actor{Type: ActorSystem})
		pushAs(t, st, DefaultProjectID, "ana", "v1 {{q}}")
		pushAs(t, st, DefaultProjectID, "ana", "v2 {{q}}")
		if _, err := au.RollbackPromptLabel(ctx, DefaultProjectID, "triage", "production", "bob", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("rollback of a label never set = %v, want ErrNotFound", err)
		}
		for _, v := range []int{1, 2} {
			r, _ := st.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", v, "ana", "")
			if _, err := st.DecidePromptReview(ctx, DefaultProjectID, r.ID, true, "bob", ""); err != nil {
				t.Fatal(err)
			}
		}
		m, err := au.RollbackPromptLabel(ctx, DefaultProjectID, "triage", "production", "carol", "answers got rude")
		if err != nil || m.ToVersion != 1 || *m.FromVersion != 2 || m.Kind != MoveRollback || m.Reason != "answers got rude" {
			t.Fatalf("rollback = %+v, %v; want 2 -> 1 with the reason", m, err)
		}
		if labelAt(t, st, DefaultProjectID, "production") != 1 {
			t.Errorf("production not at 1 after the rollback")
		}
		log := allAudit(t, st)
		if log[0].Action != "prompt.rollback" || !strings.Contains(string(log[0].After), `"reason":"answers got rude"`) || !strings.Contains(string(log[0].Before), `"version":2`) {
			t.Errorf("audit = %s %s -> %s", log[0].Action, log[0].Before, log[0].After)
		}
		// Rolling back the rollback returns to 2.
		if m, err := au.RollbackPromptLabel(ctx, DefaultProjectID, "triage", "production", "carol", ""); err != nil || m.ToVersion != 2 {
			t.Errorf("second rollback = %+v, %v; want back to 2", m, err)
		}
		// A label whose only move created it has nowhere to go back to.
		if _, err := st.MovePromptLabel(ctx, DefaultProjectID, "triage", "staging", 2, "ana"); err != nil {
			t.Fatal(err)
		}
		if _, err := au.RollbackPromptLabel(ctx, DefaultProjectID, "triage", "staging", "ana", ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "no earlier version") {
			t.Errorf("rollback of a new label = %v, want ErrConflict", err)
		}
	})
}

// TestPromptForceMove: a forced move of a protected label works on a store of one user or
// none, and is refused once there are two.
func TestPromptForceMove(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		pushAs(t, st, DefaultProjectID, "ana", "v1 {{q}}")
		pushAs(t, st, DefaultProjectID, "ana", "v2 {{q}}")
		m, err := st.ForceMovePromptLabel(ctx, DefaultProjectID, "triage", "production", 1, "ana", "solo")
		if err != nil || m.Kind != MoveForced || m.Reason != "solo" {
			t.Fatalf("forced move with no users = %+v, %v", m, err)
		}
		mustUser(t, st, "one@example.com", false)
		if _, err := st.ForceMovePromptLabel(ctx, DefaultProjectID, "triage", "production", 2, "ana", ""); err != nil {
			t.Errorf("forced move with one user: %v", err)
		}
		mustUser(t, st, "two@example.com", false)
		_, err = st.ForceMovePromptLabel(ctx, DefaultProjectID, "triage", "production", 1, "ana", "")
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "2 users") {
			t.Errorf("forced move with two users = %v, want ErrNotAllowed", err)
		}
		if labelAt(t, st, DefaultProjectID, "production") != 2 {
			t.Errorf("the refused forced move moved the label")
		}
	})
}

// TestPromptReviewIsolated: a project never reads or decides another's requests.
func TestPromptReviewIsolated(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		other := mustProject(t, st, "other")
		pushAs(t, st, other.ID, "ana", "v1 {{q}}")
		r, err := st.RequestPromptReview(ctx, other.ID, "triage", "production", 1, "ana", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.GetPromptReview(ctx, DefaultProjectID, r.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("get from another project = %v", err)
		}
		if _, err := st.DecidePromptReview(ctx, DefaultProjectID, r.ID, true, "bob", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("approve from another project = %v", err)
		}
		if _, err := st.CommentPromptReview(ctx, DefaultProjectID, r.ID, "bob", "hi"); !errors.Is(err, ErrNotFound) {
			t.Errorf("comment from another project = %v", err)
		}
		if l, _ := st.ListPromptReviews(ctx, DefaultProjectID, PromptReviewFilter{}); len(l) != 0 {
			t.Errorf("list of the default project shows %d requests", len(l))
		}
		if labelAt(t, st, other.ID, "production") != 0 {
			t.Errorf("the other project's label moved")
		}
	})
}

// TestRefusalMovedBack: a request whose label moved away and back is stale, and its
// refusal says so rather than "it was at version 2, it is at version 2".
func TestRefusalMovedBack(t *testing.T) {
	two := 2
	r := PromptReview{Label: "production", Version: 3, VersionAuthor: "ana", Requester: "ana", Status: ReviewOpen,
		Stale: true, BaseVersion: &two, CurrentVersion: &two}
	got := r.Refusal("bob", true)
	if !strings.Contains(got, "it was at version 2, moved and came back to it") || strings.Contains(got, "it is at version 2") {
		t.Errorf("refusal = %q, want it to say the label moved and came back", got)
	}
}

// TestPromptReviewMadeElsewhere: an open request whose move is made by other means (a
// forced move, a rollback, the approval of another request) is superseded, with a note in
// its thread and an audit entry saying how the label moved, instead of staying open and
// stale for ever. Requests for other versions stay open.
func TestPromptReviewMadeElsewhere(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		au := st.WithAudit(Actor{Type: ActorSystem})
		pushAs(t, st, DefaultProjectID, "ana", "v1 {{q}}")
		pushAs(t, st, DefaultProjectID, "ana", "v2 {{q}}")
		check := func(id int64, how string) {
			t.Helper()
			r, err := st.GetPromptReview(ctx, DefaultProjectID, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != ReviewSuperseded || r.Stale || r.MoveID == nil {
				t.Fatalf("request #%d after %s: status %q stale %v move %v; want superseded by the move", id, how, r.Status, r.Stale, r.MoveID)
			}
			if n := len(r.Comments); n == 0 || !strings.Contains(r.Comments[n-1].Body, how) {
				t.Errorf("request #%d's thread = %+v, want a note saying %q", id, r.Comments, how)
			}
			var found bool
			for _, e := range allAudit(t, st) {
				if e.Action == "prompt.review.supersede" && e.TargetID == fmt.Sprint(id) {
					found = strings.Contains(string(e.After), how) && strings.Contains(string(e.After), `"status":"superseded"`)
				}
			}
			if !found {
				t.Errorf("no prompt.review.supersede audit entry for #%d saying %q", id, how)
			}
		}

		// A forced move.
		r1, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 1, "ana", "")
		if err != nil {
			t.Fatal(err)
		}
		other, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 2, "ana", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := au.ForceMovePromptLabel(ctx, DefaultProjectID, "triage", "production", 1, "ana", "hotfix"); err != nil {
			t.Fatal(err)
		}
		check(r1.ID, "a forced move")
		if r, _ := st.GetPromptReview(ctx, DefaultProjectID, other.ID); r.Status != ReviewOpen || !r.Stale {
			t.Errorf("the request for version 2 = %q stale %v, want still open (stale)", r.Status, r.Stale)
		}

		// The approval of another request: the stale one for version 2 is replaced by a new
		// one (superseded as before), whose approval moves the label.
		r2, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 2, "ana", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := au.DecidePromptReview(ctx, DefaultProjectID, r2.ID, true, "bob", ""); err != nil {
			t.Fatal(err)
		}
		if r, _ := st.GetPromptReview(ctx, DefaultProjectID, r2.ID); r.Status != ReviewApproved {
			t.Errorf("the approved request = %q", r.Status)
		}

		// A rollback to version 1 makes an open request for version 1.
		r3, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "production", 1, "ana", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := au.RollbackPromptLabel(ctx, DefaultProjectID, "triage", "production", "carol", "rude"); err != nil {
			t.Fatal(err)
		}
		check(r3.ID, "a rollback")

		// The approval of a request on staging (unprotected, moved directly).
		r4, err := au.RequestPromptReview(ctx, DefaultProjectID, "triage", "staging", 2, "ana", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := au.MovePromptLabel(ctx, DefaultProjectID, "triage", "staging", 2, "dan"); err != nil {
			t.Fatal(err)
		}
		check(r4.ID, "a direct move")
	})
}
