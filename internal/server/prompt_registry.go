package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/plumbhq/plumb/internal/promptdiff"
	"github.com/plumbhq/plumb/internal/store"
)

// The prompt registry's API beyond the fetch endpoint (prompts.go): pushing versions,
// diffs, label moves and history, rollback, review requests and protected labels. A
// prompt's name has slashes, and ServeMux's {name...} must end a pattern, so each resource
// has its own prefix with the name last: /prompt-versions/support/triage.

// person names the caller in the registry's records (authors, requesters, reviewers): a
// user's email, or an API key's name.
func (c *call) person() string {
	if c.user != nil {
		return c.user.Email
	}
	if c.key != nil {
		return "API key " + c.key.Name
	}
	return "system"
}

// userID is the calling user's id, "" for an API key.
func (c *call) userID() string {
	if c.user != nil {
		return c.user.ID
	}
	return ""
}

// promptName reads and checks the {name...} of a registry route.
func promptName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := store.CheckPromptName(name); err != nil {
		return "", errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	return name, nil
}

// pushBody is a version to push: the content as a prompt file has it, and a message.
type pushBody struct {
	store.PromptContent
	Message string `json:"message"`
}

// pushPromptVersion stores the body as the next version of the prompt; 200 with the
// latest version when the content is unchanged.
func (s *Server) pushPromptVersion(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := promptName(r)
	if err != nil {
		return err
	}
	var b pushBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	v, created, err := s.changes(c).PushPrompt(r.Context(), c.project.ID, name, b.PromptContent, c.person(), b.Message)
	if err != nil {
		return err
	}
	s.forgetPrompts(c.project.ID)
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"version": v, "created": created})
	return nil
}

// listPromptVersions lists a prompt's versions, newest first.
func (s *Server) listPromptVersions(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := promptName(r)
	if err != nil {
		return err
	}
	vs, err := s.store.ListPromptVersions(r.Context(), c.project.ID, name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
	return nil
}

// diffPrompt diffs two versions of a prompt named by ?from= and ?to= (numbers or labels).
func (s *Server) diffPrompt(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := promptName(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	if from == "" || to == "" {
		return errorf(http.StatusBadRequest, codeBadRequest, "give both versions: ?from=A&to=B, each a version number or a label (e.g. from=production&to=4)")
	}
	d, err := s.PromptDiff(r, c.project.ID, name, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"diff": d})
	return nil
}

// PromptDiff diffs versions from and to (numbers or labels) of a prompt of projectID.
func (s *Server) PromptDiff(r *http.Request, projectID, name, from, to string) (promptdiff.Diff, error) {
	a, err := s.store.GetPromptVersion(r.Context(), projectID, name, from)
	if err != nil {
		return promptdiff.Diff{}, err
	}
	b, err := s.store.GetPromptVersion(r.Context(), projectID, name, to)
	if err != nil {
		return promptdiff.Diff{}, err
	}
	return promptdiff.Versions(name, a, b, 3), nil
}

// labelBody moves a label.
type labelBody struct {
	Label   string `json:"label"`
	Version int    `json:"version"`
}

// movePromptLabel points a label at a version; a protected label is refused with how to
// request its review.
func (s *Server) movePromptLabel(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := promptName(r)
	if err != nil {
		return err
	}
	var b labelBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	if b.Version < 1 {
		return fieldErr("version", "version must be a version number (1, 2, ...)")
	}
	m, err := s.changes(c).MovePromptLabel(r.Context(), c.project.ID, name, b.Label, b.Version, c.person())
	s.forgetPrompts(c.project.ID)
	if errors.Is(err, store.ErrProtected) {
		return errorf(http.StatusConflict, codeConflict, "%v: request the release with POST /api/v1/projects/%s/prompt-reviews {\"prompt\": %q, \"label\": %q, \"version\": %d}, for another member to approve",
			err, c.project.Slug, name, b.Label, b.Version)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"move": m})
	return nil
}

// promptLabelHistory lists a prompt's label moves (?label= for one label), newest first.
func (s *Server) promptLabelHistory(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := promptName(r)
	if err != nil {
		return err
	}
	label := r.URL.Query().Get("label")
	if label != "" {
		if err := store.CheckPromptLabel(label); err != nil {
			return errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
		}
	}
	ms, err := s.store.PromptLabelHistory(r.Context(), c.project.ID, name, label)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []store.PromptLabelMove{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"moves": ms})
	return nil
}

// rollbackBody rolls a label back.
type rollbackBody struct {
	Label  string `json:"label"`
	Reason string `json:"reason"`
}

// rollbackPromptLabel moves a label back to where it pointed before its latest move.
func (s *Server) rollbackPromptLabel(w http.ResponseWriter, r *http.Request, c *call) error {
	name, err := promptName(r)
	if err != nil {
		return err
	}
	var b rollbackBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	m, err := s.rollback(r, c, name, b.Label, b.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"move": m})
	return nil
}

func (s *Server) rollback(r *http.Request, c *call, name, label, reason string) (store.PromptLabelMove, error) {
	defer s.forgetPrompts(c.project.ID)
	return s.changes(c).RollbackPromptLabel(r.Context(), c.project.ID, name, label, c.person(), reason)
}

// listPromptReviews lists the project's review requests, newest first, a page at a time.
func (s *Server) listPromptReviews(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	f := store.PromptReviewFilter{Status: q.Get("status"), Prompt: q.Get("prompt"), Limit: limit + 1}
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before < 1 {
			return errorf(http.StatusBadRequest, codeBadRequest, "before %q: give the next_before of the previous page", v)
		}
	}
	rs, err := s.store.ListPromptReviews(r.Context(), c.project.ID, f)
	if err != nil {
		return err
	}
	var next int64
	if len(rs) > limit {
		rs = rs[:limit]
		next = rs[limit-1].ID
	}
	if rs == nil {
		rs = []store.PromptReview{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"reviews": rs, "next_before": next})
	return nil
}

// reviewBody opens a review request.
type reviewBody struct {
	Prompt      string `json:"prompt"`
	Label       string `json:"label"`
	Version     int    `json:"version"`
	Description string `json:"description"`
}

// createPromptReview opens a review request.
func (s *Server) createPromptReview(w http.ResponseWriter, r *http.Request, c *call) error {
	var b reviewBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	if err := store.CheckPromptName(b.Prompt); err != nil {
		return fieldErr("prompt", "%v", err)
	}
	if b.Label == "" {
		b.Label = defaultPromptRef
	}
	if b.Version < 1 {
		return fieldErr("version", "version must be a version number (1, 2, ...)")
	}
	rv, err := s.requestReview(r, c, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"review": rv})
	return nil
}

func (s *Server) requestReview(r *http.Request, c *call, b reviewBody) (store.PromptReview, error) {
	return s.changes(c).RequestPromptReview(r.Context(), c.project.ID, b.Prompt, b.Label, b.Version, c.person(), b.Description)
}

// reviewID reads the {review_id} of a path.
func reviewID(r *http.Request) (int64, error) {
	v := r.PathValue("review_id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, errorf(http.StatusNotFound, codeNotFound, "no review request %q: review requests are numbered 1, 2, ...", v)
	}
	return id, nil
}

// reviewRights applies the review rules to the caller.
func (c *call) reviewRights(rv store.PromptReview) store.PromptReviewRights {
	return rv.RightsOf(c.person(), c.user != nil, c.role)
}

// getPromptReview returns a request with its thread, the diff it would release (from
// where the label points now) and what the caller may do with it.
func (s *Server) getPromptReview(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := reviewID(r)
	if err != nil {
		return err
	}
	rv, d, err := s.review(r, c, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"review": rv, "diff": d, "you": c.reviewRights(rv)})
	return nil
}

// review reads a request and its diff: from the label's current version (or nothing, for
// a new label) to the version asked.
func (s *Server) review(r *http.Request, c *call, id int64) (store.PromptReview, promptdiff.Diff, error) {
	rv, err := s.store.GetPromptReview(r.Context(), c.project.ID, id)
	if err != nil {
		return rv, promptdiff.Diff{}, err
	}
	to := strconv.Itoa(rv.Version)
	if rv.CurrentVersion == nil {
		v, err := s.store.GetPromptVersion(r.Context(), c.project.ID, rv.Prompt, to)
		if err != nil {
			return rv, promptdiff.Diff{}, err
		}
		return rv, promptdiff.Added(rv.Prompt, v, 3), nil
	}
	d, err := s.PromptDiff(r, c.project.ID, rv.Prompt, strconv.Itoa(*rv.CurrentVersion), to)
	return rv, d, err
}

// commentBody is a comment, or a decision's comment.
type commentBody struct {
	Body string `json:"body"`
}

// decisionBody is an approval's or rejection's comment.
type decisionBody struct {
	Comment string `json:"comment"`
}

// commentPromptReview adds a comment to a request's thread.
func (s *Server) commentPromptReview(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := reviewID(r)
	if err != nil {
		return err
	}
	var b commentBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	cm, err := s.comment(r, c, id, b.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"comment": cm})
	return nil
}

func (s *Server) comment(r *http.Request, c *call, id int64, body string) (store.PromptReviewComment, error) {
	return s.changes(c).CommentPromptReview(r.Context(), c.project.ID, id, c.person(), body)
}

// approvePromptReview approves a request: its label moves in the same transaction.
func (s *Server) approvePromptReview(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.decideHandler(w, r, c, true)
}

// rejectPromptReview rejects a request, with a comment saying why.
func (s *Server) rejectPromptReview(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.decideHandler(w, r, c, false)
}

func (s *Server) decideHandler(w http.ResponseWriter, r *http.Request, c *call, approve bool) error {
	id, err := reviewID(r)
	if err != nil {
		return err
	}
	var b decisionBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	rv, err := s.decide(r, c, id, approve, b.Comment)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"review": rv})
	return nil
}

// decide applies the caller's rights (a person with the editor role), then the store's
// rules, which it checks again in the decision's transaction.
func (s *Server) decide(r *http.Request, c *call, id int64, approve bool, comment string) (store.PromptReview, error) {
	if c.user == nil || !c.role.AtLeast(store.RoleEditor) {
		rv, err := s.store.GetPromptReview(r.Context(), c.project.ID, id)
		if err != nil {
			return rv, err
		}
		rights := c.reviewRights(rv)
		why := rights.RejectRefusal
		if approve {
			why = rights.ApproveRefusal
		}
		return rv, errorf(http.StatusForbidden, codeForbidden, "%s", why)
	}
	defer s.forgetPrompts(c.project.ID)
	return s.changes(c).DecidePromptReview(r.Context(), c.project.ID, id, approve, c.person(), comment)
}

// promptSettings returns the project's protected labels.
func (s *Server) promptSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	labels, err := s.store.ProtectedLabels(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"protected_labels": labels})
	return nil
}

// settingsBody replaces the project's protected labels.
type settingsBody struct {
	ProtectedLabels *[]string `json:"protected_labels"`
}

// setPromptSettings replaces the project's protected labels (project admins).
func (s *Server) setPromptSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	var b settingsBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	if b.ProtectedLabels == nil {
		return fieldErr("protected_labels", "protected_labels is required: a list of labels, [] to protect none")
	}
	labels, err := s.changes(c).SetProtectedLabels(r.Context(), c.project.ID, *b.ProtectedLabels)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"protected_labels": labels})
	return nil
}
