package client

import (
	"context"
	"strings"
	"testing"
)

// TestPromptReviewClient: every registry method of the client against a real server: a
// CI key pushes and requests a release, a person reviews it, the label moves and rolls
// back; the server's refusals arrive as *Error with their codes.
func TestPromptReviewClient(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	root := ts.login(t, "root@example.com", password)
	if _, err := root.CreateUser(ctx, NewUser{Email: "rita@example.com", Password: password}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.AddMember(ctx, "alpha", "rita@example.com", RoleEditor); err != nil {
		t.Fatal(err)
	}
	ci, rita, viewer := ts.client(t, ts.keyA), ts.login(t, "rita@example.com", password), ts.client(t, ts.keyAView)
	const name = "support/triage"

	v1, created, err := ci.PushPrompt(ctx, "alpha", name, PromptContent{Template: "Triage {{ ticket }}"}, "first")
	if err != nil || !created || v1.Version != 1 || v1.Author != "API key test" {
		t.Fatalf("PushPrompt = %+v, %v, %v", v1, created, err)
	}
	v2, _, err := ci.PushPrompt(ctx, "alpha", name, PromptContent{Template: "Triage {{ ticket }} briefly", Params: map[string]any{"temperature": 0.1}}, "")
	if err != nil || v2.Version != 2 {
		t.Fatalf("second push = %+v, %v", v2, err)
	}
	if _, again, err := ci.PushPrompt(ctx, "alpha", name, PromptContent{Template: "Triage {{ ticket }} briefly", Params: map[string]any{"temperature": 0.1}}, ""); err != nil || again {
		t.Errorf("identical push: created %v, %v", again, err)
	}
	if vs, err := viewer.PromptVersions(ctx, "alpha", name); err != nil || len(vs) != 2 || vs[0].Version != 2 {
		t.Errorf("PromptVersions = %d, %v", len(vs), err)
	}
	d, err := viewer.DiffPrompt(ctx, "alpha", name, "1", "2")
	if err != nil || d.From != 1 || d.To != 2 || !strings.Contains(d.Unified, "+Triage {{ ticket }} briefly") || len(d.Hunks) != 2 {
		t.Errorf("DiffPrompt = %+v, %v", d, err)
	}

	if _, err := ci.MovePromptLabel(ctx, "alpha", name, "production", 1); !IsCode(err, CodeConflict) {
		t.Errorf("moving production = %v, want conflict", err)
	}
	if m, err := ci.MovePromptLabel(ctx, "alpha", name, "staging", 2); err != nil || m.ToVersion != 2 {
		t.Errorf("MovePromptLabel staging = %+v, %v", m, err)
	}

	r, err := ci.RequestPromptReview(ctx, "alpha", name, "", 2, "eval passes")
	if err != nil || r.Label != "production" || r.Status != ReviewOpen {
		t.Fatalf("RequestPromptReview = %+v, %v", r, err)
	}
	if _, err := ci.ApprovePromptReview(ctx, "alpha", r.ID, ""); !IsCode(err, CodeForbidden) || !strings.Contains(err.Error(), "API key cannot approve") {
		t.Errorf("a key approving = %v, want forbidden", err)
	}
	if _, err := ci.CommentPromptReview(ctx, "alpha", r.ID, "run 42 passes"); err != nil {
		t.Errorf("CommentPromptReview: %v", err)
	}
	det, err := rita.PromptReview(ctx, "alpha", r.ID)
	if err != nil || !det.You.MayApprove || det.Diff.To != 2 || len(det.Review.Comments) != 1 {
		t.Fatalf("PromptReview = %+v, %v", det, err)
	}
	if pg, err := viewer.PromptReviews(ctx, "alpha", PromptReviewsOptions{Status: ReviewOpen}); err != nil || len(pg.Reviews) != 1 {
		t.Errorf("PromptReviews(open) = %+v, %v", pg, err)
	}
	if done, err := rita.ApprovePromptReview(ctx, "alpha", r.ID, "ok"); err != nil || done.Status != ReviewApproved {
		t.Fatalf("ApprovePromptReview = %+v, %v", done, err)
	}
	if v, err := viewer.Prompt(ctx, "alpha", name, ""); err != nil || v.Version != 2 {
		t.Errorf("production after approval = v%d, %v", v.Version, err)
	}

	// A rejected request, then the rollback (production was new: nothing to go back to
	// until it moves twice).
	r2, _ := ci.RequestPromptReview(ctx, "alpha", name, "production", 1, "")
	if _, err := rita.RejectPromptReview(ctx, "alpha", r2.ID, ""); !IsCode(err, CodeBadRequest) {
		t.Errorf("reject without a reason = %v, want bad request", err)
	}
	if rej, err := rita.RejectPromptReview(ctx, "alpha", r2.ID, "v1 is worse"); err != nil || rej.Status != ReviewRejected {
		t.Errorf("RejectPromptReview = %+v, %v", rej, err)
	}
	if _, err := ci.RollbackPromptLabel(ctx, "alpha", name, "production", "oops"); !IsCode(err, CodeConflict) {
		t.Errorf("rollback of a label with one move = %v, want conflict", err)
	}
	if m, err := ci.RollbackPromptLabel(ctx, "alpha", name, "staging", ""); !IsCode(err, CodeConflict) {
		t.Errorf("rollback of staging = %+v, %v", m, err)
	}
	if _, err := ci.MovePromptLabel(ctx, "alpha", name, "staging", 1); err != nil {
		t.Fatal(err)
	}
	if m, err := ci.RollbackPromptLabel(ctx, "alpha", name, "staging", "back"); err != nil || m.ToVersion != 2 || m.Reason != "back" {
		t.Errorf("RollbackPromptLabel = %+v, %v", m, err)
	}
	if h, err := viewer.PromptLabelHistory(ctx, "alpha", name, "staging"); err != nil || len(h) != 3 || h[0].Kind != "rollback" {
		t.Errorf("PromptLabelHistory = %+v, %v", h, err)
	}

	if l, err := viewer.ProtectedLabels(ctx, "alpha"); err != nil || len(l) != 1 || l[0] != "production" {
		t.Errorf("ProtectedLabels = %v, %v", l, err)
	}
	if _, err := ci.SetProtectedLabels(ctx, "alpha", nil); !IsCode(err, CodeForbidden) {
		t.Errorf("an editor key setting protected labels = %v, want forbidden", err)
	}
	if l, err := root.SetProtectedLabels(ctx, "alpha", nil); err != nil || len(l) != 0 {
		t.Errorf("SetProtectedLabels(none) = %v, %v", l, err)
	}
	if _, err := ci.MovePromptLabel(ctx, "alpha", name, "production", 1); err != nil {
		t.Errorf("moving production once unprotected: %v", err)
	}
	// Another project's key reaches none of it.
	if _, err := ts.client(t, ts.keyB).PromptReview(ctx, "alpha", r.ID); !IsCode(err, CodeNotFound) {
		t.Errorf("B's key reading A's review = %v, want not found", err)
	}
}
