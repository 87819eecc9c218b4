package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/plumbhq/plumb/internal/report"
)

// Queues keeps annotation queues: items to be labelled by people (from a pinned dataset
// version or a run's results), a rubric, an overlap k (each item goes to k distinct
// annotators among the queue's members), guidelines as versioned Markdown, leases that
// keep two annotators off the same slot, annotations, and adjudicated consensus values
// that can be written back to the dataset as its expected answers.
//
// The store keeps the rubric as the JSON it is given and the values as they are given:
// checking them against the rubric (internal/review) is the caller's. Methods taking a
// queue id do not check its project: look the queue up first with GetQueue, which does.
type Queues interface {
	// CreateQueue stores a queue with its items (and its first guidelines version when
	// NewQueue.Guidelines is set). A taken name is ErrConflict; a bad name, overlap, item
	// list or source ErrInvalid; a missing project, dataset or run ErrNotFound.
	CreateQueue(ctx context.Context, projectID string, q NewQueue) (Queue, error)
	// GetQueue returns a project's queue by name or id, or ErrNotFound.
	GetQueue(ctx context.Context, projectID, ref string) (Queue, error)
	// ListQueues returns a project's queues, by name.
	ListQueues(ctx context.Context, projectID string) ([]Queue, error)
	// RunQueues returns the queues whose items are a run's results (human eval panels).
	RunQueues(ctx context.Context, runID string) ([]Queue, error)
	// UpdateQueue changes a queue's description, overlap or status, or ErrNotFound.
	UpdateQueue(ctx context.Context, queueID string, upd QueueUpdate) (Queue, error)

	// AddGuidelines stores the next version of a queue's guidelines (Markdown).
	AddGuidelines(ctx context.Context, queueID, body, author string) (Guidelines, error)
	// GetGuidelines returns a version of a queue's guidelines (0: the latest); a queue
	// without guidelines returns version 0 and an empty body; a missing version ErrNotFound.
	GetGuidelines(ctx context.Context, queueID string, version int) (Guidelines, error)
	// ListGuidelines returns every version of a queue's guidelines, newest first.
	ListGuidelines(ctx context.Context, queueID string) ([]Guidelines, error)

	// AddQueueMember makes a user an annotator of a queue (ErrConflict if they are one).
	AddQueueMember(ctx context.Context, queueID, userID string) (QueueMember, error)
	// RemoveQueueMember removes an annotator; their annotations stay.
	RemoveQueueMember(ctx context.Context, queueID, userID string) error
	// QueueMembers returns a queue's annotators, by email.
	QueueMembers(ctx context.Context, queueID string) ([]QueueMember, error)

	// NextQueueItem leases an annotator the next item they have not labelled or skipped
	// whose labels and live leases are fewer than the overlap, for lease; an annotator
	// holding a live lease gets that item again (renewed). ok is false when nothing is
	// left for them. A closed queue or a user who is not an annotator is ErrInvalid.
	NextQueueItem(ctx context.Context, queueID, annotator string, lease time.Duration) (item QueueItem, ok bool, err error)
	// GetQueueItem returns one item with its label count, or ErrNotFound.
	GetQueueItem(ctx context.Context, queueID string, itemID int64) (QueueItem, error)
	// ListQueueItems returns one page of a queue's items by id; cursor and limit work as
	// ListResults' do.
	ListQueueItems(ctx context.Context, queueID, cursor string, limit int) ([]QueueItem, string, error)
	// SaveAnnotation stores an annotator's labels of an item (or a skip), replacing their
	// earlier ones, under the latest guidelines version, and ends their lease. A new label
	// on an item that has its k labels (and no lease of the annotator) is ErrConflict; a
	// closed queue or a user who is not an annotator ErrInvalid; a missing item ErrNotFound.
	SaveAnnotation(ctx context.Context, a Annotation) (Annotation, error)
	// Annotations returns every annotation of a queue (skips included), by item then
	// annotator.
	Annotations(ctx context.Context, queueID string) ([]Annotation, error)
	// QueueProgress counts a queue's items, labels and each annotator's work.
	QueueProgress(ctx context.Context, queueID string) (QueueProgress, error)

	// Adjudicate stores the consensus value of one field of one item, replacing an earlier
	// one; a missing item is ErrNotFound.
	Adjudicate(ctx context.Context, a Adjudication) (Adjudication, error)
	// Adjudications returns a queue's adjudications by item and field.
	Adjudications(ctx context.Context, queueID string) ([]Adjudication, error)
	// WriteBack makes a new version of a dataset queue's dataset: its latest version with
	// the expected answer of each item in expected (queue item id -> answer) replaced, in
	// one transaction with its audit entries. Items the latest version no longer holds are
	// listed in WriteBackResult.Missing. A run queue is ErrInvalid.
	WriteBack(ctx context.Context, queueID string, expected map[int64]string, message string) (WriteBackResult, error)

	// ItemAnnotations returns one item's annotations (skips included), by annotator.
	ItemAnnotations(ctx context.Context, queueID string, itemID int64) ([]Annotation, error)
	// SetHumanScore stores the consensus human verdict of a run queue's item as the human
	// score of the result it holds: verdict is given the item's annotations and the queue's
	// adjudications as they are inside the transaction, with the queue locked, and returns
	// the verdict (nil: the item has no consensus, its score is removed). Concurrent labels
	// therefore never leave a score computed from an older set of labels. ListResults,
	// ResultsAt and GetRun carry it in report.Result.Human. A dataset queue is ErrInvalid; a
	// missing item ErrNotFound.
	SetHumanScore(ctx context.Context, queueID string, itemID int64, verdict func([]Annotation, []Adjudication) *report.Human) error
	// HumanScores returns a run's human scores by result position. When two panel queues
	// judged a result, the latest-created queue's verdict counts.
	HumanScores(ctx context.Context, runID string) (map[int]report.Human, error)

	// AddGatewayItem appends one case to the project's gateway queue named nq.Name, making
	// the queue from nq (its rubric, overlap and description; its source is SourceGateway,
	// and nq.Items is ignored) when the project has no queue of that name yet. The item's
	// SourceID is its own id. A queue of that name over a dataset or a run is ErrConflict;
	// a queue holding MaxQueueItems items ErrInvalid; a missing project ErrNotFound. A
	// closed queue still takes the case (it waits there until the queue is reopened).
	AddGatewayItem(ctx context.Context, projectID string, nq NewQueue, content ItemContent) (Queue, QueueItem, error)
}

// Queue sources.
const (
	SourceDataset = "dataset"
	SourceRun     = "run"
	// SourceGateway is a queue of the cases guard policies' review steps held in the
	// gateway: it grows as cases come (AddGatewayItem).
	SourceGateway = "gateway"
)

// Queue statuses.
const (
	QueueOpen   = "open"
	QueueClosed = "closed"
)

// QueueSource is where a queue's items come from: a pinned dataset version, a run, or the
// gateway's held cases.
type QueueSource struct {
	Kind           string `json:"kind"` // SourceDataset, SourceRun or SourceGateway
	DatasetID      string `json:"dataset_id,omitempty"`
	Dataset        string `json:"dataset,omitempty"` // the dataset's name (read only)
	DatasetVersion int    `json:"dataset_version,omitempty"`
	RunID          string `json:"run_id,omitempty"`
}

// NewQueue is what CreateQueue stores.
type NewQueue struct {
	Name        string
	Description string
	Source      QueueSource
	Rubric      json.RawMessage // a review.Rubric, checked by the caller
	Overlap     int             // k: labels wanted per item, 1 to MaxOverlap
	Guidelines  string          // Markdown; "" for none yet
	Author      string          // who wrote the guidelines
	Items       []NewQueueItem
}

// NewQueueItem is one item of a new queue.
type NewQueueItem struct {
	SourceID int64 // the dataset item's id, or the result's position in its run
	Content  ItemContent
}

// MaxOverlap bounds a queue's overlap; MaxQueueItems its items.
const (
	MaxOverlap    = 20
	MaxQueueItems = 50000
)

// Queue is one annotation queue with its counts.
type Queue struct {
	ID               string          `json:"id"`
	ProjectID        string          `json:"project_id"`
	Name             string          `json:"name"`
	Description      string          `json:"description,omitempty"`
	Source           QueueSource     `json:"source"`
	Rubric           json.RawMessage `json:"rubric"`
	Overlap          int             `json:"overlap"`
	Status           string          `json:"status"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	Items            int             `json:"items"`
	Members          int             `json:"members"`
	GuidelineVersion int             `json:"guideline_version"` // 0: none yet
}

// QueueUpdate is a change of a queue; nil fields stay.
type QueueUpdate struct {
	Description *string `json:"description,omitempty"`
	Overlap     *int    `json:"overlap,omitempty"`
	Status      *string `json:"status,omitempty"`
}

// ItemContent is what the labelling page shows of an item: the inputs and expected
// answer, for a run's result the output and its automatic scores, and for a gateway
// queue's item the case a review step held.
type ItemContent struct {
	Vars        map[string]any     `json:"vars,omitempty"`
	Expected    string             `json:"expected,omitempty"`
	Description string             `json:"description,omitempty"`
	Output      string             `json:"output,omitempty"`
	Prompt      string             `json:"prompt,omitempty"`
	Provider    string             `json:"provider,omitempty"`
	Passed      *bool              `json:"passed,omitempty"`
	Score       *float64           `json:"score,omitempty"`
	Assertions  []report.Assertion `json:"assertions,omitempty"`
	Case        *GuardCase         `json:"case,omitempty"`
}

// GuardCase is a call a guard policy's review step refused in the gateway, as a gateway
// queue's item holds it. Text is redacted as the call's trace bodies are.
type GuardCase struct {
	TraceID  string         `json:"trace_id"`
	Route    string         `json:"route,omitempty"`
	Key      string         `json:"key,omitempty"`
	Stage    string         `json:"stage"` // input or output
	Policy   string         `json:"policy"`
	Step     string         `json:"step"`
	Text     string         `json:"text"`
	Findings []GuardFinding `json:"findings"`
	At       time.Time      `json:"at"`
}

// GuardFinding is one finding of a held case: which step and detector found what, where
// in Text (byte offsets), how sure it is and why. It never holds the value found.
type GuardFinding struct {
	Step     string  `json:"step"`
	Action   string  `json:"action"`
	Detector string  `json:"detector"`
	Type     string  `json:"type"`
	Start    int     `json:"start"`
	End      int     `json:"end"`
	Score    float64 `json:"score"`
	Reason   string  `json:"reason,omitempty"`
}

// QueueItem is one item of a queue.
type QueueItem struct {
	ID       int64       `json:"id"`
	SourceID int64       `json:"source_id"`
	Content  ItemContent `json:"content"`
	Labels   int         `json:"labels"` // annotations that are not skips
	// LeaseExpires is set by NextQueueItem: the annotator holds the item until then.
	LeaseExpires *time.Time `json:"lease_expires,omitempty"`
}

// Guidelines is one version of a queue's guidelines.
type Guidelines struct {
	Version   int       `json:"version"` // 0: none yet
	Body      string    `json:"body"`
	Author    string    `json:"author,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// QueueMember is an annotator of a queue.
type QueueMember struct {
	UserID  string    `json:"user_id"`
	Email   string    `json:"email"`
	AddedAt time.Time `json:"added_at"`
}

// Annotation is one annotator's labels of one item.
type Annotation struct {
	QueueID          string            `json:"-"`
	ItemID           int64             `json:"item_id"`
	Annotator        string            `json:"annotator"` // a user id
	Values           map[string]string `json:"values"`    // field -> normalized value
	Comment          string            `json:"comment,omitempty"`
	Skipped          bool              `json:"skipped,omitempty"`
	GuidelineVersion int               `json:"guideline_version"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
}

// QueueProgress is how far a queue is.
type QueueProgress struct {
	Items      int                 `json:"items"`
	Complete   int                 `json:"complete"` // items with k labels
	Labels     int                 `json:"labels"`
	Wanted     int                 `json:"wanted"` // items × k
	Annotators []AnnotatorProgress `json:"annotators"`
}

// AnnotatorProgress is one annotator's work in a queue. Target is their fair share of the
// labels wanted (items × k / annotators, rounded up, at most the items).
type AnnotatorProgress struct {
	UserID   string     `json:"user_id"`
	Email    string     `json:"email"`
	Member   bool       `json:"member"` // still an annotator of the queue
	Labelled int        `json:"labelled"`
	Skipped  int        `json:"skipped"`
	Target   int        `json:"target"`
	LastAt   *time.Time `json:"last_at,omitempty"`
}

// Adjudication is the consensus value of one field of one item, decided by a person.
type Adjudication struct {
	QueueID     string    `json:"-"`
	ItemID      int64     `json:"item_id"`
	Field       string    `json:"field"`
	Value       string    `json:"value"`
	Adjudicator string    `json:"adjudicator"`
	Note        string    `json:"note,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// WriteBackResult is what WriteBack did.
type WriteBackResult struct {
	Dataset string         `json:"dataset"`
	Version DatasetVersion `json:"version"`
	Created bool           `json:"created"` // false: every answer was already the expected one
	Changed []ChangedItem  `json:"changed"`
	Missing []int64        `json:"missing,omitempty"` // queue items whose dataset item the latest version lacks
}

// ChangedItem is one dataset item whose expected answer a write-back replaced: items are
// immutable, so the new answer is a new item.
type ChangedItem struct {
	QueueItem int64  `json:"queue_item"`
	From      int64  `json:"from"` // the dataset item id before
	To        int64  `json:"to"`   // the dataset item id in the new version
	Expected  string `json:"expected"`
}

// CheckQueueName reports whether name can name a queue (ErrInvalid saying how to fix it).
func CheckQueueName(name string) error {
	if len(name) > 200 || !promptNameRe.MatchString(name) {
		return invalid("queue name %q: use letters, digits, -, _ and ., with / between parts (e.g. support/tone), each part starting with a letter or digit, at most 200 characters", name)
	}
	return nil
}
