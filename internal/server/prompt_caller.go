package server

import (
	"net/http"

	"github.com/plumbhq/plumb/internal/promptdiff"
	"github.com/plumbhq/plumb/internal/store"
)

// The prompt registry's surface for the web UI (see caller.go): the same changes, rules
// and audit as the API routes, for a Caller that InProject has placed in its project.

// PromptReview reads a review request of c.Project with the diff it releases and what c
// may do with it; another project's request is 404.
func (s *Server) PromptReview(r *http.Request, c *Caller, id int64) (store.PromptReview, promptdiff.Diff, store.PromptReviewRights, error) {
	rv, d, err := s.review(r, c.c, id)
	if err != nil {
		return rv, d, store.PromptReviewRights{}, err
	}
	return rv, d, c.c.reviewRights(rv), nil
}

// RequestPromptReview opens a request, by c, to point label at a version of a prompt.
func (s *Server) RequestPromptReview(r *http.Request, c *Caller, name, label string, version int, description string) (store.PromptReview, error) {
	return s.requestReview(r, c.c, reviewBody{Prompt: name, Label: label, Version: version, Description: description})
}

// CommentPromptReview adds c's comment to a request's thread.
func (s *Server) CommentPromptReview(r *http.Request, c *Caller, id int64, body string) (store.PromptReviewComment, error) {
	return s.comment(r, c.c, id, body)
}

// DecidePromptReview approves (moving the label) or rejects a request as c: a person with
// the editor role who neither wrote the version nor asked; 403 saying why otherwise.
func (s *Server) DecidePromptReview(r *http.Request, c *Caller, id int64, approve bool, comment string) (store.PromptReview, error) {
	return s.decide(r, c.c, id, approve, comment)
}

// RollbackPromptLabel moves a label of a prompt of c.Project back to where it pointed
// before its latest move, as c, with a reason.
func (s *Server) RollbackPromptLabel(r *http.Request, c *Caller, name, label, reason string) (store.PromptLabelMove, error) {
	return s.rollback(r, c.c, name, label, reason)
}

// SetProtectedLabels replaces the protected labels of c.Project (admins: checked by
// InProject), audited as c.
func (s *Server) SetProtectedLabels(r *http.Request, c *Caller, labels []string) ([]string, error) {
	return s.changes(c.c).SetProtectedLabels(r.Context(), c.c.project.ID, labels)
}

// Person is how the registry names c in its records (a user's email, an API key's name).
func (c *Caller) Person() string { return c.c.person() }
