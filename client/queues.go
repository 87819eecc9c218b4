package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// Annotation queues (docs/queues.md): the wire types, aliased like the others.
type (
	Queue             = store.Queue           // an annotation queue with its counts
	QueueSpec         = server.QueueSpec      // what CreateQueue sends
	QueueUpdate       = store.QueueUpdate     // a change of description, overlap or status
	QueueItem         = store.QueueItem       // one item to label
	QueueMember       = store.QueueMember     // an annotator of a queue
	Guidelines        = store.Guidelines      // one version of a queue's guidelines
	Annotation        = store.Annotation      // one annotator's labels of one item
	QueueProgress     = store.QueueProgress   // items complete and each annotator's work
	Adjudication      = store.Adjudication    // an adjudicated consensus value
	WriteBackResult   = store.WriteBackResult // the dataset version a write-back made
	FieldAgreement    = review.FieldAgreement // agreement of one rubric field, with readings
	QueueDisagreement = queue.Disagreement    // an item whose labels differ
	Panel             = queue.Panel           // the human eval panel of a run
	Rubric            = review.Rubric         // a queue's questions
	RubricField       = review.Field          // one question of a rubric
	JudgeAgreement    = review.JudgeAgreement // how an LLM judge agrees with the humans
)

func queuePath(project, q string) string {
	return projectPath(project) + "/queues/" + url.PathEscape(q)
}

// Queues returns a project's annotation queues, by name.
func (c *Client) Queues(ctx context.Context, project string) ([]Queue, error) {
	var out struct {
		Queues []Queue `json:"queues"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/queues", nil, nil, &out)
	return out.Queues, err
}

// CreateQueue creates an annotation queue over a dataset version or a run's results
// (editor role).
func (c *Client) CreateQueue(ctx context.Context, project string, spec QueueSpec) (Queue, error) {
	var out struct {
		Queue Queue `json:"queue"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/queues", spec, &out)
	return out.Queue, err
}

// QueueDetail is a queue with its annotators and latest guidelines.
type QueueDetail struct {
	Queue      Queue         `json:"queue"`
	Annotators []QueueMember `json:"annotators"`
	Guidelines Guidelines    `json:"guidelines"`
}

// GetQueue returns a queue by name or id.
func (c *Client) GetQueue(ctx context.Context, project, q string) (QueueDetail, error) {
	var out QueueDetail
	err := c.do(ctx, http.MethodGet, queuePath(project, q), nil, nil, &out)
	return out, err
}

// UpdateQueue changes a queue's description, overlap or status (editor role).
func (c *Client) UpdateQueue(ctx context.Context, project, q string, upd QueueUpdate) (Queue, error) {
	var out struct {
		Queue Queue `json:"queue"`
	}
	err := c.doJSON(ctx, http.MethodPatch, queuePath(project, q), upd, &out)
	return out.Queue, err
}

// AddGuidelines stores a new version of a queue's guidelines (editor role).
func (c *Client) AddGuidelines(ctx context.Context, project, q, markdown string) (Guidelines, error) {
	var out struct {
		Guidelines Guidelines `json:"guidelines"`
	}
	err := c.doJSON(ctx, http.MethodPost, queuePath(project, q)+"/guidelines", map[string]string{"body": markdown}, &out)
	return out.Guidelines, err
}

// GuidelineVersions returns every version of a queue's guidelines, newest first.
func (c *Client) GuidelineVersions(ctx context.Context, project, q string) ([]Guidelines, error) {
	var out struct {
		Guidelines []Guidelines `json:"guidelines"`
	}
	err := c.do(ctx, http.MethodGet, queuePath(project, q)+"/guidelines", nil, nil, &out)
	return out.Guidelines, err
}

// AddAnnotator makes the project member with email an annotator of the queue (editor role).
func (c *Client) AddAnnotator(ctx context.Context, project, q, email string) (QueueMember, error) {
	var out struct {
		Annotator QueueMember `json:"annotator"`
	}
	err := c.doJSON(ctx, http.MethodPost, queuePath(project, q)+"/annotators", map[string]string{"email": email}, &out)
	return out.Annotator, err
}

// RemoveAnnotator removes an annotator of the queue; their labels stay (editor role).
func (c *Client) RemoveAnnotator(ctx context.Context, project, q, userID string) error {
	return c.do(ctx, http.MethodDelete, queuePath(project, q)+"/annotators/"+url.PathEscape(userID), nil, nil, nil)
}

// NextItem leases the caller (a logged-in annotator) the next item to label; ok is false
// when nothing is left for them.
func (c *Client) NextItem(ctx context.Context, project, q string) (item QueueItem, ok bool, err error) {
	var out struct {
		Item *QueueItem `json:"item"`
		Done bool       `json:"done"`
	}
	if err := c.doJSON(ctx, http.MethodPost, queuePath(project, q)+"/next", nil, &out); err != nil {
		return QueueItem{}, false, err
	}
	if out.Done || out.Item == nil {
		return QueueItem{}, false, nil
	}
	return *out.Item, true, nil
}

func itemPath(project, q string, item int64) string {
	return fmt.Sprintf("%s/items/%d", queuePath(project, q), item)
}

// Annotate submits or revises the caller's labels of an item (field -> value).
func (c *Client) Annotate(ctx context.Context, project, q string, item int64, values map[string]string, comment string) (Annotation, error) {
	var out struct {
		Annotation Annotation `json:"annotation"`
	}
	err := c.doJSON(ctx, http.MethodPut, itemPath(project, q, item)+"/annotation",
		map[string]any{"values": values, "comment": comment}, &out)
	return out.Annotation, err
}

// Skip skips an item: it is not offered to the caller again.
func (c *Client) Skip(ctx context.Context, project, q string, item int64) error {
	return c.doJSON(ctx, http.MethodPost, itemPath(project, q, item)+"/skip", nil, nil)
}

// Progress returns a queue's progress per annotator.
func (c *Client) Progress(ctx context.Context, project, q string) (QueueProgress, error) {
	var out struct {
		Progress QueueProgress `json:"progress"`
	}
	err := c.do(ctx, http.MethodGet, queuePath(project, q)+"/progress", nil, nil, &out)
	return out.Progress, err
}

// Agreement returns a queue's agreement per rubric field, with readings.
func (c *Client) Agreement(ctx context.Context, project, q string) ([]FieldAgreement, error) {
	var out struct {
		Agreement []FieldAgreement `json:"agreement"`
	}
	err := c.do(ctx, http.MethodGet, queuePath(project, q)+"/agreement", nil, nil, &out)
	return out.Agreement, err
}

// Disagreements returns the items whose labels differ, for adjudication. Values are keyed
// by annotator email; UserIDs maps each email to its user id.
func (c *Client) Disagreements(ctx context.Context, project, q string) ([]QueueDisagreement, error) {
	var out struct {
		Disagreements []QueueDisagreement `json:"disagreements"`
	}
	err := c.do(ctx, http.MethodGet, queuePath(project, q)+"/disagreements", nil, nil, &out)
	return out.Disagreements, err
}

// Adjudicate sets the consensus value of one field of an item (editor role).
func (c *Client) Adjudicate(ctx context.Context, project, q string, item int64, field, value, note string) (Adjudication, error) {
	var out struct {
		Adjudication Adjudication `json:"adjudication"`
	}
	err := c.doJSON(ctx, http.MethodPut, itemPath(project, q, item)+"/adjudication",
		map[string]string{"field": field, "value": value, "note": note}, &out)
	return out.Adjudication, err
}

// WriteBack writes each item's consensus of field back to the queue's dataset as its
// expected answer, in a new dataset version (editor role).
func (c *Client) WriteBack(ctx context.Context, project, q, field, message string) (WriteBackResult, error) {
	var out struct {
		WriteBack WriteBackResult `json:"writeback"`
	}
	err := c.doJSON(ctx, http.MethodPost, queuePath(project, q)+"/writeback", map[string]string{"field": field, "message": message}, &out)
	return out.WriteBack, err
}

// RunPanel returns the human eval panel of a run: human verdicts and how each model-graded
// assertion agrees with them.
func (c *Client) RunPanel(ctx context.Context, project, runID string) (Panel, error) {
	var out struct {
		Panel Panel `json:"panel"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/runs/"+url.PathEscape(runID)+"/panel", nil, nil, &out)
	return out.Panel, err
}
