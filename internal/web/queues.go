package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"

	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// markdownRenderer renders guidelines. goldmark leaves raw HTML out (it writes a comment in
// its place) and drops dangerous link targets (javascript:, ...) unless told otherwise,
// which it never is here: guidelines are user text.
var markdownRenderer = goldmark.New()

// markdown renders guidelines as HTML with raw HTML omitted.
func markdown(src string) template.HTML {
	var b bytes.Buffer
	if err := markdownRenderer.Convert([]byte(src), &b); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(b.String()) // #nosec: goldmark without WithUnsafe escapes text and omits raw HTML
}

// queuePages are the annotation queue pages (docs/queues.md).
func (u *UI) queuePages(p string) []page {
	q := p + "/queues/{queue}"
	return []page{
		{Method: "GET", Path: p + "/queues", Access: project, Role: store.RoleViewer, Handle: u.queuesPage},
		{Method: "POST", Path: p + "/queues", Access: project, Role: store.RoleEditor, Handle: u.queueCreate},
		{Method: "GET", Path: q, Access: project, Role: store.RoleViewer, Handle: u.queuePage},
		{Method: "POST", Path: q + "/guidelines", Access: project, Role: store.RoleEditor, Handle: u.queueGuidelines},
		{Method: "POST", Path: q + "/annotators", Access: project, Role: store.RoleEditor, Handle: u.queueAnnotator},
		{Method: "POST", Path: q + "/items/{item}/adjudicate", Access: project, Role: store.RoleEditor, Handle: u.queueAdjudicate},
		{Method: "POST", Path: q + "/writeback", Access: project, Role: store.RoleEditor, Handle: u.queueWriteBack},
		{Method: "GET", Path: q + "/label", Access: project, Role: store.RoleViewer, Handle: u.labelPage},
		{Method: "POST", Path: q + "/items/{item}/label", Access: project, Role: store.RoleViewer, Handle: u.labelSubmit},
		{Method: "POST", Path: q + "/items/{item}/skip", Access: project, Role: store.RoleViewer, Handle: u.labelSkip},
		{Method: "POST", Path: q + "/status", Access: project, Role: store.RoleEditor, Handle: u.queueStatus},
		{Method: "POST", Path: q + "/annotators/{user}/remove", Access: project, Role: store.RoleEditor, Handle: u.queueRemoveAnnotator},
		{Method: "GET", Path: q + "/guidelines/{version}", Access: project, Role: store.RoleViewer, Handle: u.guidelinesPage},
	}
}

func (u *UI) queuesPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	qs, err := u.store.ListQueues(r.Context(), c.Project.ID)
	if err != nil {
		return err
	}
	ds, err := u.store.ListDatasets(r.Context(), c.Project.ID)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "queues", &view{Caller: c, Title: "Queues", Nav: "queues", Data: map[string]any{
		"Queues": qs, "Datasets": ds, "CanEdit": c.Role.AtLeast(store.RoleEditor),
	}})
	return nil
}

func (u *UI) queueCreate(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	overlap := 1
	if v := strings.TrimSpace(r.PostFormValue("overlap")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return badRequest("overlap %q: give a whole number of annotators per item", v)
		}
		overlap = n
	}
	rb, err := review.ParseRubric([]byte(r.PostFormValue("rubric")))
	if err != nil {
		return badRequest("rubric: %v", err)
	}
	raw, err := json.Marshal(rb)
	if err != nil {
		return err
	}
	annotators := strings.FieldsFunc(r.PostFormValue("annotators"), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' })
	q, err := u.srv.CreateQueue(r, c, server.QueueSpec{Name: strings.TrimSpace(r.PostFormValue("name")),
		Dataset: strings.TrimSpace(r.PostFormValue("dataset")), Run: strings.TrimSpace(r.PostFormValue("run")),
		Rubric: raw, Overlap: overlap, Guidelines: r.PostFormValue("guidelines"), Annotators: annotators})
	if err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/queues/"+q.ID), http.StatusSeeOther)
	return nil
}

// queueOf is the {queue} of the path, in the caller's project.
func (u *UI) queueOf(r *http.Request, c *server.Caller) (store.Queue, error) {
	return u.srv.Queue(r, c, r.PathValue("queue"))
}

// itemOf is the {item} of the path.
func itemOf(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("item"), 10, 64)
	if err != nil || id < 1 {
		return 0, notFound("no item %q: items are numbered from 1", r.PathValue("item"))
	}
	return id, nil
}

func (u *UI) queuePage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	ctx := r.Context()
	rb, err := queue.RubricOf(q)
	if err != nil {
		return err
	}
	prog, err := u.store.QueueProgress(ctx, q.ID)
	if err != nil {
		return err
	}
	rv, err := queue.Analyze(ctx, u.store, q)
	if err != nil {
		return err
	}
	g, err := u.store.GetGuidelines(ctx, q.ID, 0)
	if err != nil {
		return err
	}
	members, err := u.store.QueueMembers(ctx, q.ID)
	if err != nil {
		return err
	}
	isAnnotator := false
	for _, m := range members {
		if c.User != nil && m.UserID == c.User.ID {
			isAnnotator = true
		}
	}
	type disagreementRow struct {
		queue.Disagreement
		Values []string // "email: value", sorted
		Field  review.Field
	}
	var dis []disagreementRow
	for _, d := range rv.Disagreements {
		row := disagreementRow{Disagreement: d}
		for who, v := range d.Values {
			row.Values = append(row.Values, who+": "+v)
		}
		sort.Strings(row.Values)
		row.Field, _ = rb.Field(d.Field)
		dis = append(dis, row)
	}
	versions, err := u.store.ListGuidelines(ctx, q.ID)
	if err != nil {
		return err
	}
	var precision []queue.StepPrecision
	if q.Source.Kind == store.SourceGateway {
		if precision, err = queue.Precision(ctx, u.store, q); err != nil {
			return err
		}
	}
	u.render(w, r, http.StatusOK, "queue", &view{Caller: c, Title: "Queue " + q.Name, Nav: "queues", Data: map[string]any{
		"Versions": versions, "Precision": precision,
		"Queue": q, "Rubric": rb, "Progress": prog, "Agreement": rv.Agreement, "Disagreements": dis,
		"Guidelines": g, "GuidelinesHTML": markdown(g.Body), "Members": members, "IsAnnotator": isAnnotator,
		"CanEdit": c.Role.AtLeast(store.RoleEditor),
	}})
	return nil
}

func (u *UI) queueGuidelines(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	if _, err := u.srv.AddGuidelines(r, c, q, r.PostFormValue("body")); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/queues/"+q.ID), http.StatusSeeOther)
	return nil
}

func (u *UI) queueAnnotator(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	if _, err := u.srv.AddAnnotator(r, c, q, strings.TrimSpace(r.PostFormValue("email"))); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/queues/"+q.ID), http.StatusSeeOther)
	return nil
}

func (u *UI) queueAdjudicate(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	id, err := itemOf(r)
	if err != nil {
		return err
	}
	if _, err := u.srv.Adjudicate(r, c, q, id, server.AdjudicationBody{Field: r.PostFormValue("field"),
		Value: r.PostFormValue("value"), Note: r.PostFormValue("note")}); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/queues/"+q.ID)+"#disagreements", http.StatusSeeOther)
	return nil
}

func (u *UI) queueWriteBack(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	res, err := u.srv.WriteBack(r, c, q, strings.TrimSpace(r.PostFormValue("field")), r.PostFormValue("message"))
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "writeback", &view{Caller: c, Title: "Written back", Nav: "queues", Data: map[string]any{
		"Queue": q, "Result": res,
	}})
	return nil
}

// labelPage leases the caller the next item and shows it with the guidelines and the
// rubric as a form.
func (u *UI) labelPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	it, ok, err := u.srv.NextItem(r, c, q)
	if err != nil {
		return err
	}
	rb, err := queue.RubricOf(q)
	if err != nil {
		return err
	}
	g, err := u.store.GetGuidelines(r.Context(), q.ID, 0)
	if err != nil {
		return err
	}
	prog, err := u.store.QueueProgress(r.Context(), q.ID)
	if err != nil {
		return err
	}
	var mine store.AnnotatorProgress
	for _, a := range prog.Annotators {
		if c.User != nil && a.UserID == c.User.ID {
			mine = a
		}
	}
	u.render(w, r, http.StatusOK, "label", &view{Caller: c, Title: "Label " + q.Name, Nav: "queues", Data: map[string]any{
		"Queue": q, "Item": it, "Done": !ok, "Rubric": rb, "Guidelines": g, "GuidelinesHTML": markdown(g.Body),
		"Mine": mine, "Progress": prog, "Error": r.URL.Query().Get("error") != "",
	}})
	return nil
}

func (u *UI) labelSubmit(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	id, err := itemOf(r)
	if err != nil {
		return err
	}
	rb, err := queue.RubricOf(q)
	if err != nil {
		return err
	}
	values := map[string]string{}
	for _, f := range rb.Fields {
		if v := r.PostFormValue("f_" + f.Name); v != "" {
			values[f.Name] = v
		}
	}
	if len(values) == 0 {
		return badRequest("answer at least one question before submitting (press ? on the labelling page for the keys)")
	}
	if _, err := u.srv.Annotate(r, c, q, id, server.AnnotationBody{Values: values, Comment: r.PostFormValue("comment")}, false); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/queues/"+q.ID+"/label"), http.StatusSeeOther)
	return nil
}

func (u *UI) labelSkip(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	id, err := itemOf(r)
	if err != nil {
		return err
	}
	if _, err := u.srv.Annotate(r, c, q, id, server.AnnotationBody{}, true); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/queues/"+q.ID+"/label"), http.StatusSeeOther)
	return nil
}

// panelOf is the human eval panel of a run, or nil when no panel queue labels it. A
// failure to compute it is logged and the run page shown without it.
func (u *UI) panelOf(r *http.Request, runID string) *queue.Panel {
	p, err := queue.RunPanel(r.Context(), u.store, runID)
	if err != nil {
		u.log.Error("human panel", "run", runID, "err", err)
		return nil
	}
	if len(p.Queues) == 0 {
		return nil
	}
	return &p
}

// queueStatus closes or reopens a queue: a closed queue takes no labels.
func (u *UI) queueStatus(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	status := r.PostFormValue("status")
	if status != store.QueueOpen && status != store.QueueClosed {
		return badRequest("status %q: use open or closed", status)
	}
	if _, err := u.srv.SetQueueStatus(r, c, q, status); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/queues/"+q.ID), http.StatusSeeOther)
	return nil
}

// queueRemoveAnnotator removes an annotator; their labels stay.
func (u *UI) queueRemoveAnnotator(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	if err := u.srv.RemoveAnnotator(r, c, q, r.PathValue("user")); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/queues/"+q.ID)+"#annotators", http.StatusSeeOther)
	return nil
}

// guidelinesPage shows one version of a queue's guidelines, every version with how many
// annotations were made under it, and the annotations made under this one.
func (u *UI) guidelinesPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q, err := u.queueOf(r, c)
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		return notFound("no guidelines version %q: versions are numbered from 1", r.PathValue("version"))
	}
	ctx := r.Context()
	g, err := u.store.GetGuidelines(ctx, q.ID, v)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("queue %s has no guidelines version %d", q.Name, v)
	}
	if err != nil {
		return err
	}
	all, err := u.store.ListGuidelines(ctx, q.ID)
	if err != nil {
		return err
	}
	anns, err := u.store.Annotations(ctx, q.ID)
	if err != nil {
		return err
	}
	prog, err := u.store.QueueProgress(ctx, q.ID)
	if err != nil {
		return err
	}
	emails := map[string]string{}
	for _, a := range prog.Annotators {
		emails[a.UserID] = a.Email
	}
	type annRow struct {
		store.Annotation
		Email  string
		Values []string // "field: value", sorted
	}
	counts := map[int]int{}
	var under []annRow
	for _, a := range anns {
		counts[a.GuidelineVersion]++
		if a.GuidelineVersion != v {
			continue
		}
		row := annRow{Annotation: a, Email: emails[a.Annotator]}
		for f, val := range a.Values {
			row.Values = append(row.Values, f+": "+val)
		}
		sort.Strings(row.Values)
		under = append(under, row)
	}
	u.render(w, r, http.StatusOK, "guidelines", &view{Caller: c, Title: "Guidelines of " + q.Name, Nav: "queues", Data: map[string]any{
		"Queue": q, "Guidelines": g, "HTML": markdown(g.Body), "Versions": all, "Counts": counts, "Annotations": under,
	}})
	return nil
}
