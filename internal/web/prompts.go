package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/promptdiff"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// The prompt registry's pages: the prompts, a prompt (versions, labels, history with
// rollback, a release request), a version, the diff of two versions, and review requests.
// Prompt names have slashes, so they end each path ({name...}).

// promptHref is the path of a prompt name: each part escaped, the slashes kept.
func promptHref(name string) string {
	parts := strings.Split(name, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return strings.Join(parts, "/")
}

// pagePromptName reads and checks the {name...} of a page.
func pagePromptName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := store.CheckPromptName(name); err != nil {
		return "", notFound("no prompt %q: %v", name, err)
	}
	return name, nil
}

// promptsPage lists the project's prompts, their labels and the open review requests.
func (u *UI) promptsPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ctx := r.Context()
	ps, err := u.store.ListPrompts(ctx, c.Project.ID)
	if err != nil {
		return err
	}
	protected, err := u.store.ProtectedLabels(ctx, c.Project.ID)
	if err != nil {
		return err
	}
	open, err := u.store.ListPromptReviews(ctx, c.Project.ID, store.PromptReviewFilter{Status: store.ReviewOpen, Limit: store.MaxPageSize})
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "prompts", &view{Caller: c, Title: "Prompts", Nav: "prompts", Data: map[string]any{
		"Prompts": ps, "Protected": protected, "OpenReviews": len(open),
	}})
	return nil
}

// promptSettings replaces the protected labels (admins) from the prompts page's form:
// labels separated by spaces or commas; none protects nothing.
func (u *UI) promptSettings(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	labels := strings.FieldsFunc(r.PostFormValue("protected"), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if _, err := u.srv.SetProtectedLabels(r, c, labels); err != nil {
		return err
	}
	http.Redirect(w, r, "/p/"+c.Project.Slug+"/prompts", http.StatusSeeOther)
	return nil
}

// labelRow is a label of a prompt on its page.
type labelRow struct {
	Label     string
	Version   int
	Protected bool
	// Back is where a rollback takes the label (nil: its only move created it).
	Back *int
}

// promptPage shows a prompt: its labels (with rollback), versions, label history, open
// review requests and the form to request a release.
func (u *UI) promptPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ctx := r.Context()
	name, err := pagePromptName(r)
	if err != nil {
		return err
	}
	versions, err := u.store.ListPromptVersions(ctx, c.Project.ID, name)
	if err != nil {
		return err
	}
	history, err := u.store.PromptLabelHistory(ctx, c.Project.ID, name, "")
	if err != nil {
		return err
	}
	protected, err := u.store.ProtectedLabels(ctx, c.Project.ID)
	if err != nil {
		return err
	}
	reviews, err := u.store.ListPromptReviews(ctx, c.Project.ID, store.PromptReviewFilter{Prompt: name, Status: store.ReviewOpen, Limit: store.MaxPageSize})
	if err != nil {
		return err
	}
	var labels []labelRow
	for _, v := range versions {
		for _, l := range v.Labels {
			row := labelRow{Label: l, Version: v.Version}
			for _, p := range protected {
				row.Protected = row.Protected || p == l
			}
			for _, m := range history { // newest first: the first is the latest move
				if m.Label == l {
					row.Back = m.FromVersion
					break
				}
			}
			labels = append(labels, row)
		}
	}
	u.render(w, r, http.StatusOK, "prompt", &view{Caller: c, Title: name, Nav: "prompts", Data: map[string]any{
		"Name": name, "Versions": versions, "Labels": labels, "History": history, "Reviews": reviews,
		"Protected": protected, "CanEdit": c.Role.AtLeast(store.RoleEditor),
	}})
	return nil
}

// promptVersionPage shows one version whole: text or messages, model, params, tools,
// response format, variables.
func (u *UI) promptVersionPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	name, err := pagePromptName(r)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 {
		return notFound("no version %q of %s: versions are numbered 1, 2, ...", r.PathValue("version"), name)
	}
	v, err := u.store.GetPromptVersion(r.Context(), c.Project.ID, name, strconv.Itoa(n))
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "prompt_version", &view{Caller: c, Title: name + "@" + strconv.Itoa(n), Nav: "prompts", Data: map[string]any{
		"Name": name, "V": v,
	}})
	return nil
}

// diffLine is a line of a unified diff, classed for its colour.
type diffLine struct {
	Text  string
	Class string // "ins", "del" or ""
}

// promptDiffView is a diff as a page shows it: the text word by word side by side, as the
// run comparison shows outputs, and the params line by line.
type promptDiffView struct {
	Diff   promptdiff.Diff
	Text   sides
	Params []diffLine
}

// newPromptDiffView shows d, between the contents a (nil: nothing) and b.
func newPromptDiffView(d promptdiff.Diff, a *store.PromptContent, b store.PromptContent) promptDiffView {
	at := ""
	if a != nil {
		at = promptdiff.Text(*a)
	}
	out := promptDiffView{Diff: d, Text: diffWords(at, promptdiff.Text(b))}
	for _, h := range d.Hunks {
		if h.Part != "params" {
			continue
		}
		out.Params = append(out.Params, diffLine{Text: "@@ " + h.Header + " @@", Class: "hunk"})
		for _, l := range h.Lines {
			cl := ""
			switch {
			case strings.HasPrefix(l, "+"):
				cl = "ins"
			case strings.HasPrefix(l, "-"):
				cl = "del"
			}
			out.Params = append(out.Params, diffLine{Text: l, Class: cl})
		}
	}
	return out
}

// promptDiffPage diffs two versions picked by ?a= and ?b= (numbers or labels); by default
// the latest against the one before.
func (u *UI) promptDiffPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ctx := r.Context()
	name, err := pagePromptName(r)
	if err != nil {
		return err
	}
	versions, err := u.store.ListPromptVersions(ctx, c.Project.ID, name)
	if err != nil {
		return err
	}
	a, b := r.URL.Query().Get("a"), r.URL.Query().Get("b")
	if a == "" && b == "" && len(versions) > 1 {
		a, b = strconv.Itoa(versions[1].Version), strconv.Itoa(versions[0].Version)
	}
	data := map[string]any{"Name": name, "Versions": versions, "A": a, "B": b}
	if a != "" || b != "" {
		// One given: b defaults to the newest version, a to the version before b.
		if b == "" {
			b = "latest"
		}
		vb, err := u.diffVersion(r, c, name, "b", b)
		if err != nil {
			return err
		}
		if a == "" {
			if vb.Version < 2 {
				return badRequest("a is missing and version %d of %s is its first: give a, the version to compare b with", vb.Version, name)
			}
			a = strconv.Itoa(vb.Version - 1)
		}
		va, err := u.diffVersion(r, c, name, "a", a)
		if err != nil {
			return err
		}
		data["A"], data["B"] = strconv.Itoa(va.Version), strconv.Itoa(vb.Version)
		data["Diff"] = newPromptDiffView(promptdiff.Versions(name, va, vb, 3), &va.Content, vb.Content)
	}
	u.render(w, r, http.StatusOK, "prompt_diff", &view{Caller: c, Title: "Diff of " + name, Nav: "prompts", Data: data})
	return nil
}

// diffVersion reads the version the query parameter param names (a number, a label or
// latest): one that cannot name a version is 400, one the prompt does not have 404, each
// naming the parameter.
func (u *UI) diffVersion(r *http.Request, c *server.Caller, name, param, ref string) (store.PromptVersion, error) {
	if ref != "latest" {
		if ref[0] >= '0' && ref[0] <= '9' {
			if n, err := strconv.Atoi(ref); err != nil || n < 1 {
				return store.PromptVersion{}, badRequest("%s=%s is not a version: give a version number (1, 2, ...) or a label", param, ref)
			}
		} else if err := store.CheckPromptLabel(ref); err != nil {
			return store.PromptVersion{}, badRequest("%s=%s is neither a version number nor a label: give a version number (1, 2, ...) or a label such as production", param, ref)
		}
	}
	v, err := u.store.GetPromptVersion(r.Context(), c.Project.ID, name, ref)
	if errors.Is(err, store.ErrNotFound) {
		return v, notFound("%s=%s: prompt %s has no such version or label: pick one from the list", param, ref, name)
	}
	return v, err
}

// promptRollbackConfirm asks to confirm a rollback of ?label=, saying where it goes.
func (u *UI) promptRollbackConfirm(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	name, err := pagePromptName(r)
	if err != nil {
		return err
	}
	label := r.URL.Query().Get("label")
	if err := store.CheckPromptLabel(label); err != nil {
		return badRequest("%v: open the rollback from the prompt's page", err)
	}
	hist, err := u.store.PromptLabelHistory(r.Context(), c.Project.ID, name, label)
	if err != nil {
		return err
	}
	if len(hist) == 0 {
		return notFound("label %s of %s has never been set: there is nothing to roll back", label, name)
	}
	u.render(w, r, http.StatusOK, "prompt_rollback", &view{Caller: c, Title: "Roll back " + label, Nav: "prompts", Data: map[string]any{
		"Name": name, "Label": label, "Latest": hist[0],
	}})
	return nil
}

// promptRollback rolls the label back and returns to the prompt's page.
func (u *UI) promptRollback(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	name, err := pagePromptName(r)
	if err != nil {
		return err
	}
	if _, err := u.srv.RollbackPromptLabel(r, c, name, r.PostFormValue("label"), strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		return err
	}
	http.Redirect(w, r, "/p/"+c.Project.Slug+"/prompts/"+promptHref(name), http.StatusSeeOther)
	return nil
}

// reviewsPage lists review requests by status (open by default).
func (u *UI) reviewsPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = store.ReviewOpen
	}
	f := store.PromptReviewFilter{Status: status, Limit: store.MaxPageSize}
	if status == "all" {
		f.Status = ""
	}
	rs, err := u.store.ListPromptReviews(r.Context(), c.Project.ID, f)
	if errors.Is(err, store.ErrInvalid) {
		return badRequest("status %q: use open, approved, rejected, superseded or all", status)
	}
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "reviews", &view{Caller: c, Title: "Review requests", Nav: "reviews", Data: map[string]any{
		"Reviews": rs, "Status": status, "Statuses": []string{"open", "approved", "rejected", "superseded", "all"},
	}})
	return nil
}

// reviewCreate opens a review request from the prompt page's form.
func (u *UI) reviewCreate(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	name := r.PostFormValue("prompt")
	if err := store.CheckPromptName(name); err != nil {
		return badRequest("%v", err)
	}
	version, err := strconv.Atoi(r.PostFormValue("version"))
	if err != nil || version < 1 {
		return badRequest("version %q: pick a version", r.PostFormValue("version"))
	}
	label := strings.TrimSpace(r.PostFormValue("label"))
	if label == "" {
		label = "production"
	}
	rv, err := u.srv.RequestPromptReview(r, c, name, label, version, strings.TrimSpace(r.PostFormValue("description")))
	if err != nil {
		return err
	}
	http.Redirect(w, r, reviewURL(c, rv.ID), http.StatusSeeOther)
	return nil
}

func reviewURL(c *server.Caller, id int64) string {
	return "/p/" + c.Project.Slug + "/reviews/" + strconv.FormatInt(id, 10)
}

// pageReviewID reads the {review} of a page.
func pageReviewID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("review"), 10, 64)
	if err != nil || id < 1 {
		return 0, notFound("no review request %q: they are numbered 1, 2, ...", r.PathValue("review"))
	}
	return id, nil
}

// reviewPage shows a request: the move, the diff from the label's current version to the
// one asked, the thread, and approve and reject buttons to those who may use them (the
// reason to the others).
func (u *UI) reviewPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	id, err := pageReviewID(r)
	if err != nil {
		return err
	}
	rv, d, rights, err := u.srv.PromptReview(r, c, id)
	if err != nil {
		return err
	}
	ctx := r.Context()
	to, err := u.store.GetPromptVersion(ctx, c.Project.ID, rv.Prompt, strconv.Itoa(rv.Version))
	if err != nil {
		return err
	}
	var from *store.PromptContent
	if rv.CurrentVersion != nil {
		v, err := u.store.GetPromptVersion(ctx, c.Project.ID, rv.Prompt, strconv.Itoa(*rv.CurrentVersion))
		if err != nil {
			return err
		}
		from = &v.Content
	}
	u.render(w, r, http.StatusOK, "review", &view{Caller: c, Title: "Review #" + strconv.FormatInt(id, 10), Nav: "reviews", Data: map[string]any{
		"R": rv, "Diff": newPromptDiffView(d, from, to.Content), "You": rights,
	}})
	return nil
}

// reviewComment adds a comment and returns to the request.
func (u *UI) reviewComment(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	id, err := pageReviewID(r)
	if err != nil {
		return err
	}
	if _, err := u.srv.CommentPromptReview(r, c, id, strings.TrimSpace(r.PostFormValue("body"))); err != nil {
		return err
	}
	http.Redirect(w, r, reviewURL(c, id), http.StatusSeeOther)
	return nil
}

// reviewApprove approves the request (the label moves) and returns to it.
func (u *UI) reviewApprove(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	return u.reviewDecide(w, r, c, true)
}

// reviewReject rejects the request and returns to it.
func (u *UI) reviewReject(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	return u.reviewDecide(w, r, c, false)
}

func (u *UI) reviewDecide(w http.ResponseWriter, r *http.Request, c *server.Caller, approve bool) error {
	id, err := pageReviewID(r)
	if err != nil {
		return err
	}
	if _, err := u.srv.DecidePromptReview(r, c, id, approve, strings.TrimSpace(r.PostFormValue("comment"))); err != nil {
		return err
	}
	http.Redirect(w, r, reviewURL(c, id), http.StatusSeeOther)
	return nil
}
