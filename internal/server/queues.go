package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/store"
)

// QueueSpec is POST /queues' body: a queue over a dataset version or a run's results.
type QueueSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Dataset     string          `json:"dataset,omitempty"` // name or id
	Version     int             `json:"version,omitempty"` // 0: the latest
	Run         string          `json:"run,omitempty"`
	Rubric      json.RawMessage `json:"rubric"` // {"fields": [...]}, or a rubric file's YAML or JSON as a string (docs/queues.md)
	Overlap     int             `json:"overlap,omitempty"`
	Guidelines  string          `json:"guidelines,omitempty"` // Markdown
	Annotators  []string        `json:"annotators,omitempty"` // emails of project members
}

// queueUpdateBody is PATCH /queues/{queue_id}'s body.
type queueUpdateBody = store.QueueUpdate

// guidelinesBody is POST /guidelines' body.
type guidelinesBody struct {
	Body string `json:"body"`
}

// annotatorBody is POST /queues/{queue_id}/members' body.
type annotatorBody struct {
	Email string `json:"email"`
}

// AnnotationBody is PUT .../annotation's body: the values by rubric field.
type AnnotationBody struct {
	Values  map[string]string `json:"values"`
	Comment string            `json:"comment,omitempty"`
}

// AdjudicationBody is PUT .../adjudication's body.
type AdjudicationBody struct {
	Field string `json:"field"`
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
}

// WriteBackBody is POST /writeback's body: the field whose consensus becomes the expected
// answer.
type WriteBackBody struct {
	Field   string `json:"field"`
	Message string `json:"message,omitempty"`
}

// queueOf loads a queue of the caller's project by id or name: 404 for another project's.
func (s *Server) queueOf(r *http.Request, c *call, ref string) (store.Queue, error) {
	q, err := s.store.GetQueue(r.Context(), c.project.ID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return store.Queue{}, errorf(http.StatusNotFound, codeNotFound, "no queue %q in project %s", ref, c.project.Slug)
	}
	return q, err
}

// pathQueue is the {queue_id} of the path.
func (s *Server) pathQueue(r *http.Request, c *call) (store.Queue, error) {
	return s.queueOf(r, c, r.PathValue("queue_id"))
}

// pathItem is the {item_id} of the path, checked to be an item of q.
func (s *Server) pathItem(r *http.Request, q store.Queue) (store.QueueItem, error) {
	ref := r.PathValue("item_id")
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id < 1 {
		return store.QueueItem{}, errorf(http.StatusNotFound, codeNotFound, "no item %q in queue %s: items are numbered from 1", ref, q.Name)
	}
	it, err := s.store.GetQueueItem(r.Context(), q.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.QueueItem{}, errorf(http.StatusNotFound, codeNotFound, "no item %d in queue %s", id, q.Name)
	}
	return it, err
}

// annotator is the user labelling in q: labels are people's, so an API key cannot label,
// and only the queue's annotators may.
func (s *Server) annotator(r *http.Request, c *call, q store.Queue) (string, error) {
	if c.user == nil {
		return "", errorf(http.StatusForbidden, codeForbidden, "labels are given by people: log in as a user (an API key cannot label)")
	}
	ms, err := s.store.QueueMembers(r.Context(), q.ID)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.UserID == c.user.ID {
			return c.user.ID, nil
		}
	}
	return "", errorf(http.StatusForbidden, codeForbidden, "you are not an annotator of queue %s: an editor adds annotators on the queue page", q.Name)
}

// author names the caller in guidelines and adjudications.
func author(c *call) string {
	if c.user != nil {
		return c.user.Email
	}
	if c.key != nil {
		return "key " + c.key.Prefix
	}
	return ""
}

// newQueue makes a queue from a spec: the one way in of the API and the UI.
func (s *Server) newQueue(r *http.Request, c *call, sp QueueSpec) (store.Queue, error) {
	if strings.TrimSpace(sp.Name) == "" {
		return store.Queue{}, fieldErr("name", "name is required")
	}
	if len(sp.Rubric) == 0 {
		return store.Queue{}, fieldErr("rubric", `rubric is required: {"fields": [{"name": "verdict", "kind": "boolean"}]}`)
	}
	src := []byte(sp.Rubric)
	var text string
	if json.Unmarshal(sp.Rubric, &text) == nil {
		src = []byte(text) // the rubric file's YAML or JSON, as a string
	}
	rb, err := review.ParseRubric(src)
	if err != nil {
		return store.Queue{}, fieldErr("rubric", "rubric: %v", err)
	}
	// Annotators are checked before anything is made.
	var users []store.User
	for _, email := range sp.Annotators {
		u, err := s.projectUser(r, c, email)
		if err != nil {
			return store.Queue{}, err
		}
		users = append(users, u)
	}
	ch := s.changes(c)
	q, err := queue.Create(r.Context(), ch, c.project.ID, queue.Spec{Name: sp.Name, Description: sp.Description,
		Dataset: sp.Dataset, Version: sp.Version, Run: sp.Run, Rubric: rb, Overlap: sp.Overlap,
		Guidelines: sp.Guidelines, Author: author(c)})
	if err != nil {
		return store.Queue{}, err
	}
	for _, u := range users {
		if _, err := ch.AddQueueMember(r.Context(), q.ID, u.ID); err != nil {
			return store.Queue{}, err
		}
	}
	return s.store.GetQueue(r.Context(), c.project.ID, q.ID)
}

// projectUser is the project member with this email: 404 for anyone else.
func (s *Server) projectUser(r *http.Request, c *call, email string) (store.User, error) {
	nf := errorf(http.StatusNotFound, codeNotFound, "no member of project %s has the email %q: add them to the project first", c.project.Slug, email)
	u, err := s.store.GetUserByEmail(r.Context(), strings.TrimSpace(email))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, nf
	}
	if err != nil {
		return store.User{}, err
	}
	if _, err := s.store.GetMembership(r.Context(), c.project.ID, u.ID); errors.Is(err, store.ErrNotFound) {
		return store.User{}, nf
	} else if err != nil {
		return store.User{}, err
	}
	return u, nil
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request, c *call) error {
	qs, err := s.store.ListQueues(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	if qs == nil {
		qs = []store.Queue{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": qs})
	return nil
}

func (s *Server) createQueue(w http.ResponseWriter, r *http.Request, c *call) error {
	var body QueueSpec
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	q, err := s.newQueue(r, c, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"queue": q})
	return nil
}

// newGuidelines stores the next version of q's guidelines.
func (s *Server) newGuidelines(r *http.Request, c *call, q store.Queue, body string) (store.Guidelines, error) {
	if strings.TrimSpace(body) == "" {
		return store.Guidelines{}, fieldErr("body", "body is required: the guidelines as Markdown")
	}
	return s.changes(c).AddGuidelines(r.Context(), q.ID, body, author(c))
}

// newAnnotator makes a project member an annotator of q.
func (s *Server) newAnnotator(r *http.Request, c *call, q store.Queue, email string) (store.QueueMember, error) {
	if strings.TrimSpace(email) == "" {
		return store.QueueMember{}, fieldErr("email", "email is required")
	}
	u, err := s.projectUser(r, c, email)
	if err != nil {
		return store.QueueMember{}, err
	}
	return s.changes(c).AddQueueMember(r.Context(), q.ID, u.ID)
}

func (s *Server) removeAnnotator(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := s.pathQueue(r, c)
	if err != nil {
		return err
	}
	err = s.changes(c).RemoveQueueMember(r.Context(), q.ID, r.PathValue("user_id"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no annotator %q in queue %s", r.PathValue("user_id"), q.Name)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// nextItem leases the caller the next item of q; ok is false when none is left for them.
func (s *Server) nextItem(r *http.Request, c *call, q store.Queue) (store.QueueItem, bool, error) {
	who, err := s.annotator(r, c, q)
	if err != nil {
		return store.QueueItem{}, false, err
	}
	return s.store.NextQueueItem(r.Context(), q.ID, who, queue.LeaseMinutes*time.Minute)
}

// annotate stores the caller's labels of an item of q (or a skip).
func (s *Server) annotate(r *http.Request, c *call, q store.Queue, itemID int64, body AnnotationBody, skip bool) (store.Annotation, error) {
	who, err := s.annotator(r, c, q)
	if err != nil {
		return store.Annotation{}, err
	}
	if skip {
		return queue.Skip(r.Context(), s.store, q, itemID, who)
	}
	if len(body.Values) == 0 {
		return store.Annotation{}, fieldErr("values", "values is required: an object of rubric field -> value")
	}
	return queue.Submit(r.Context(), s.store, q, itemID, who, body.Values, body.Comment)
}

// adjudicate stores a consensus value for an item of q.
func (s *Server) adjudicate(r *http.Request, c *call, q store.Queue, itemID int64, body AdjudicationBody) (store.Adjudication, error) {
	if strings.TrimSpace(body.Field) == "" {
		return store.Adjudication{}, fieldErr("field", "field is required")
	}
	if strings.TrimSpace(body.Value) == "" {
		return store.Adjudication{}, fieldErr("value", "value is required: the consensus value")
	}
	return queue.Adjudicate(r.Context(), s.changes(c), q, itemID, body.Field, body.Value, body.Note, author(c))
}

func (s *Server) runPanel(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("run_id")
	if err := s.projectRun(r, c, id); err != nil {
		return err
	}
	p, err := queue.RunPanel(r.Context(), s.store, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"panel": p})
	return nil
}

// noBody is the body of an endpoint that takes none.
type noBody struct{}

// onQueue is the shape of most queue endpoints: the path's queue, the JSON body (none when
// B is noBody), one call, and its result written as {name: result} with status.
func onQueue[B, R any](s *Server, status int, name string, do func(r *http.Request, c *call, q store.Queue, b B) (R, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		q, err := s.pathQueue(r, c)
		if err != nil {
			return err
		}
		var b B
		if _, none := any(b).(noBody); !none {
			if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
				return err
			}
		}
		res, err := do(r, c, q, b)
		if err != nil {
			return err
		}
		writeJSON(w, status, map[string]any{name: res})
		return nil
	}
}

// nonNil is s, or an empty list for nil: JSON lists are [], never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// onItem is onQueue for an endpoint of one item of the queue ({item_id}).
func onItem[B, R any](s *Server, status int, name string, do func(r *http.Request, c *call, q store.Queue, it store.QueueItem, b B) (R, error)) handlerFunc {
	return onQueue(s, status, name, func(r *http.Request, c *call, q store.Queue, b B) (R, error) {
		it, err := s.pathItem(r, q)
		if err != nil {
			var zero R
			return zero, err
		}
		return do(r, c, q, it, b)
	})
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := s.pathQueue(r, c)
	if err != nil {
		return err
	}
	ms, err := s.store.QueueMembers(r.Context(), q.ID)
	if err != nil {
		return err
	}
	g, err := s.store.GetGuidelines(r.Context(), q.ID, 0)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []store.QueueMember{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": q, "annotators": ms, "guidelines": g})
	return nil
}

func (s *Server) takeNext(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := s.pathQueue(r, c)
	if err != nil {
		return err
	}
	it, ok, err := s.nextItem(r, c, q)
	if err != nil {
		return err
	}
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"item": nil, "done": true})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"item": it, "done": false})
	return nil
}

// queueRoutes are the annotation queue endpoints (docs/queues.md).
func (s *Server) queueRoutes(p string) []route {
	q := p + "/queues/{queue_id}"
	item := q + "/items/{item_id}"
	return []route{
		{Method: "GET", Path: p + "/queues", Access: project, Role: store.RoleViewer, Handle: s.listQueues, Status: 200,
			Summary: "The project's annotation queues"},
		{Method: "POST", Path: p + "/queues", Access: project, Role: store.RoleEditor, Handle: s.createQueue, Status: 201, Body: "QueueCreate",
			Summary: "Create an annotation queue over a dataset version or a run's results, with a rubric, overlap and guidelines"},
		{Method: "GET", Path: q, Access: project, Role: store.RoleViewer, Handle: s.getQueue, Status: 200,
			Summary: "A queue with its annotators and latest guidelines"},
		{Method: "PATCH", Path: q, Access: project, Role: store.RoleEditor, Handle: onQueue(s, 200, "queue", func(r *http.Request, c *call, q store.Queue, b queueUpdateBody) (store.Queue, error) {
			return s.changes(c).UpdateQueue(r.Context(), q.ID, b)
		}), Status: 200, Body: "QueueUpdate",
			Summary: "Change a queue's description, overlap or status (open, closed)"},
		{Method: "GET", Path: q + "/guidelines", Access: project, Role: store.RoleViewer, Handle: onQueue(s, 200, "guidelines", func(r *http.Request, _ *call, q store.Queue, _ noBody) ([]store.Guidelines, error) {
			gs, err := s.store.ListGuidelines(r.Context(), q.ID)
			return nonNil(gs), err
		}), Status: 200,
			Summary: "Every version of a queue's guidelines, newest first"},
		{Method: "POST", Path: q + "/guidelines", Access: project, Role: store.RoleEditor, Handle: onQueue(s, 201, "guidelines", func(r *http.Request, c *call, q store.Queue, b guidelinesBody) (store.Guidelines, error) {
			return s.newGuidelines(r, c, q, b.Body)
		}), Status: 201, Body: "Guidelines",
			Summary: "Store a new version of a queue's guidelines (Markdown)"},
		{Method: "POST", Path: q + "/annotators", Access: project, Role: store.RoleEditor, Handle: onQueue(s, 201, "annotator", func(r *http.Request, c *call, q store.Queue, b annotatorBody) (store.QueueMember, error) {
			return s.newAnnotator(r, c, q, b.Email)
		}), Status: 201, Body: "Annotator",
			Summary: "Make a project member an annotator of the queue"},
		{Method: "DELETE", Path: q + "/annotators/{user_id}", Access: project, Role: store.RoleEditor, Handle: s.removeAnnotator, Status: 204,
			Summary: "Remove an annotator (their labels stay)"},
		{Method: "POST", Path: q + "/next", Access: project, Role: store.RoleViewer, Handle: s.takeNext, Status: 200,
			Summary: "Lease the caller (an annotator) the next item to label for 10 minutes; done when none is left"},
		{Method: "GET", Path: item, Access: project, Role: store.RoleViewer, Handle: onItem(s, 200, "item", func(_ *http.Request, _ *call, _ store.Queue, it store.QueueItem, _ noBody) (store.QueueItem, error) {
			return it, nil
		}), Status: 200,
			Summary: "One item of a queue with its label count"},
		{Method: "PUT", Path: item + "/annotation", Access: project, Role: store.RoleViewer, Handle: onItem(s, 200, "annotation", func(r *http.Request, c *call, q store.Queue, it store.QueueItem, b AnnotationBody) (store.Annotation, error) {
			return s.annotate(r, c, q, it.ID, b, false)
		}), Status: 200, Body: "Annotation",
			Summary: "Submit or revise the caller's labels of an item, checked against the rubric"},
		{Method: "POST", Path: item + "/skip", Access: project, Role: store.RoleViewer, Handle: onItem(s, 200, "annotation", func(r *http.Request, c *call, q store.Queue, it store.QueueItem, _ noBody) (store.Annotation, error) {
			return s.annotate(r, c, q, it.ID, AnnotationBody{}, true)
		}), Status: 200,
			Summary: "Skip an item: it is not offered to the caller again"},
		{Method: "PUT", Path: item + "/adjudication", Access: project, Role: store.RoleEditor, Handle: onItem(s, 200, "adjudication", func(r *http.Request, c *call, q store.Queue, it store.QueueItem, b AdjudicationBody) (store.Adjudication, error) {
			return s.adjudicate(r, c, q, it.ID, b)
		}), Status: 200, Body: "Adjudication",
			Summary: "Set the adjudicated consensus value of one field of an item"},
		{Method: "GET", Path: q + "/progress", Access: project, Role: store.RoleViewer, Handle: onQueue(s, 200, "progress", func(r *http.Request, _ *call, q store.Queue, _ noBody) (store.QueueProgress, error) {
			return s.store.QueueProgress(r.Context(), q.ID)
		}), Status: 200,
			Summary: "Items complete, labels, and each annotator's labels, skips and share"},
		{Method: "GET", Path: q + "/agreement", Access: project, Role: store.RoleViewer, Handle: onQueue(s, 200, "agreement", func(r *http.Request, _ *call, q store.Queue, _ noBody) (any, error) {
			rv, err := queue.Analyze(r.Context(), s.store, q)
			return rv.Agreement, err
		}), Status: 200,
			Summary: "Agreement per rubric field (Cohen's κ, Fleiss' κ, Krippendorff's α) with readings"},
		{Method: "GET", Path: q + "/disagreements", Access: project, Role: store.RoleViewer, Handle: onQueue(s, 200, "disagreements", func(r *http.Request, _ *call, q store.Queue, _ noBody) (any, error) {
			rv, err := queue.Analyze(r.Context(), s.store, q)
			return rv.Disagreements, err
		}), Status: 200,
			Summary: "Items whose labels disagree, with their adjudications"},
		{Method: "POST", Path: q + "/writeback", Access: project, Role: store.RoleEditor, Handle: onQueue(s, 200, "writeback", func(r *http.Request, c *call, q store.Queue, b WriteBackBody) (store.WriteBackResult, error) {
			return queue.WriteBack(r.Context(), s.changes(c), q, b.Field, b.Message)
		}), Status: 200, Body: "WriteBack",
			Summary: "Write each item's consensus of a field back to the dataset as its expected answer (a new dataset version)"},
		{Method: "GET", Path: p + "/runs/{run_id}/panel", Access: project, Role: store.RoleViewer, Handle: s.runPanel, Status: 200,
			Summary: "The human eval panel of a run: human verdicts by result and each model-graded assertion's agreement with them"},
	}
}

// queueSchemas are the request bodies of queueRoutes for the OpenAPI document.
func queueSchemas(object func([]string, map[string]any) map[string]any) map[string]any {
	str := map[string]any{"type": "string"}
	integer := map[string]any{"type": "integer"}
	strMap := map[string]any{"type": "object", "additionalProperties": str}
	return map[string]any{
		"QueueCreate": object([]string{"name", "rubric"}, map[string]any{"name": str, "description": str, "dataset": str,
			"version": integer, "run": str, "overlap": integer, "guidelines": str,
			"annotators": map[string]any{"type": "array", "items": str},
			"rubric":     map[string]any{"type": "object", "description": "{\"fields\": [{\"name\", \"kind\": categorical|ordinal|numeric|boolean|comment, \"options\", \"min\", \"max\", \"required\", \"help\"}]}"}}),
		"QueueUpdate": object([]string{}, map[string]any{"description": str, "overlap": integer,
			"status": map[string]any{"type": "string", "enum": []string{store.QueueOpen, store.QueueClosed}}}),
		"Guidelines":   object([]string{"body"}, map[string]any{"body": str}),
		"Annotator":    object([]string{"email"}, map[string]any{"email": str}),
		"Annotation":   object([]string{"values"}, map[string]any{"values": strMap, "comment": str}),
		"Adjudication": object([]string{"field", "value"}, map[string]any{"field": str, "value": str, "note": str}),
		"WriteBack":    object([]string{"field"}, map[string]any{"field": str, "message": str}),
	}
}
