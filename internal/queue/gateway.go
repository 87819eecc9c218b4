package queue

import (
	"context"
	"encoding/json"
	"errors"
	"sort"

	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/store"
)

// DefaultGatewayQueue is the queue a review step's cases go to when its policy names none.
const DefaultGatewayQueue = "guard-review"

// The verdicts of GatewayRubric: was the refusal right?
const (
	VerdictCorrect       = "correct block"
	VerdictFalsePositive = "false positive"
	VerdictUnsure        = "unsure"
)

// GatewayRubric is the rubric of a gateway review queue made on its first case: the
// verdict (was the refusal right?), the harm the text holds (the Llama Guard 3 hazards,
// plus the gateway detectors' own kinds), and a note. Its verdicts give each policy step's
// precision (Precision).
func GatewayRubric() review.Rubric {
	return review.Rubric{Fields: []review.Field{
		{Name: VerdictField, Kind: review.Categorical, Required: true,
			Options: []string{VerdictCorrect, VerdictFalsePositive, VerdictUnsure},
			Help:    "correct block: the text should have been refused; false positive: it was harmless and the step was wrong"},
		{Name: "category", Kind: review.Categorical,
			Options: []string{"none", "privacy (PII)", "secret or credential", "prompt injection", "denied topic",
				"violent crimes", "non-violent crimes", "sex-related crimes", "child sexual exploitation", "defamation",
				"specialized advice", "intellectual property", "indiscriminate weapons", "hate", "suicide and self-harm",
				"sexual content", "elections", "code interpreter abuse", "other"},
			Help: "the harm the text holds, if any (Llama Guard 3 hazards, and the detectors' own kinds)"},
		{Name: "note", Kind: review.Comment},
	}}
}

// AddCase appends a case a review step held to the project's gateway queue named name
// ("" for DefaultGatewayQueue), making the queue with GatewayRubric on its first case.
// Cases of a project that does not exist go to the default project, as their traces do.
func AddCase(ctx context.Context, st store.Store, projectID, name string, c store.GuardCase) (store.Queue, store.QueueItem, error) {
	if name == "" {
		name = DefaultGatewayQueue
	}
	if projectID == "" {
		projectID = store.DefaultProjectID
	}
	rubric, err := json.Marshal(GatewayRubric())
	if err != nil {
		return store.Queue{}, store.QueueItem{}, err
	}
	nq := store.NewQueue{Name: name, Rubric: rubric, Overlap: 1,
		Description: "Calls the gateway refused because a guard policy's review step held them: was each refusal right?"}
	content := store.ItemContent{Case: &c}
	q, it, err := st.AddGatewayItem(ctx, projectID, nq, content)
	if errors.Is(err, store.ErrNotFound) && projectID != store.DefaultProjectID {
		if _, perr := st.GetProject(ctx, projectID); errors.Is(perr, store.ErrNotFound) {
			return st.AddGatewayItem(ctx, store.DefaultProjectID, nq, content)
		}
	}
	return q, it, err
}

// StepPrecision is how people judged one policy step's refusals in a gateway queue.
// Precision is Correct / (Correct + FalsePositive), nil until one of them is judged.
type StepPrecision struct {
	Policy        string   `json:"policy"`
	Step          string   `json:"step"`
	Cases         int      `json:"cases"`
	Judged        int      `json:"judged"` // cases with a consensus verdict
	Correct       int      `json:"correct"`
	FalsePositive int      `json:"false_positive"`
	Unsure        int      `json:"unsure"`
	Precision     *float64 `json:"precision,omitempty"`
}

// Precision counts, per policy step, a gateway queue's cases and their consensus verdicts
// (adjudicated, else the labels' consensus), by policy then step.
func Precision(ctx context.Context, st store.Store, q store.Queue) ([]StepPrecision, error) {
	if q.Source.Kind != store.SourceGateway {
		return nil, invalid("queue %s is not a gateway review queue: precision is counted on the cases guard policies' review steps held", q.Name)
	}
	rv, err := Analyze(ctx, st, q)
	if err != nil {
		return nil, err
	}
	by := map[[2]string]*StepPrecision{}
	cursor := ""
	for {
		items, next, err := st.ListQueueItems(ctx, q.ID, cursor, store.MaxPageSize)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			c := it.Content.Case
			if c == nil {
				continue
			}
			k := [2]string{c.Policy, c.Step}
			sp := by[k]
			if sp == nil {
				sp = &StepPrecision{Policy: c.Policy, Step: c.Step}
				by[k] = sp
			}
			sp.Cases++
			v, ok := rv.Consensus[it.ID][VerdictField]
			if !ok {
				continue
			}
			sp.Judged++
			switch v.Value {
			case VerdictCorrect:
				sp.Correct++
			case VerdictFalsePositive:
				sp.FalsePositive++
			default:
				sp.Unsure++
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	out := make([]StepPrecision, 0, len(by))
	for _, sp := range by {
		if n := sp.Correct + sp.FalsePositive; n > 0 {
			p := float64(sp.Correct) / float64(n)
			sp.Precision = &p
		}
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Policy != out[j].Policy {
			return out[i].Policy < out[j].Policy
		}
		return out[i].Step < out[j].Step
	})
	return out, nil
}
