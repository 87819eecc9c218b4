// Package queue is the logic of annotation queues over the store: building a queue from a
// dataset version or a run's results, checking labels against the queue's rubric,
// agreement, disagreements and consensus (internal/review), writing the consensus back to
// the dataset, and human eval panels: how well each model-graded assertion of a run agrees
// with the human verdict. The server, the web UI and the CLI all go through it.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/store"
)

// LeaseMinutes is how long an annotator holds the item they were given.
const LeaseMinutes = 10

// Spec is what Create builds a queue from. Exactly one of Dataset and Run is set.
type Spec struct {
	Name        string
	Description string
	Dataset     string // a dataset's name or id
	Version     int    // the dataset version to pin; 0: the latest
	Run         string // a run's id
	Rubric      review.Rubric
	Overlap     int // 0: 1
	Guidelines  string
	Author      string
}

// invalid is a user's mistake, as the store reports its own.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", store.ErrInvalid, fmt.Sprintf(format, a...))
}

// Create checks the rubric and makes the queue with its items: every item of the pinned
// dataset version, or every result of the run that has an output (results whose call
// failed have nothing to judge).
func Create(ctx context.Context, st store.Store, projectID string, sp Spec) (store.Queue, error) {
	if err := sp.Rubric.Check(); err != nil {
		return store.Queue{}, invalid("rubric: %v", err)
	}
	if len(sp.Rubric.Fields) == 0 {
		return store.Queue{}, invalid("rubric: it has no fields: give at least one question")
	}
	if sp.Overlap == 0 {
		sp.Overlap = 1
	}
	rubric, err := json.Marshal(sp.Rubric)
	if err != nil {
		return store.Queue{}, err
	}
	nq := store.NewQueue{Name: sp.Name, Description: sp.Description, Rubric: rubric, Overlap: sp.Overlap,
		Guidelines: sp.Guidelines, Author: sp.Author}
	switch {
	case sp.Dataset != "" && sp.Run != "":
		return store.Queue{}, invalid("give a dataset or a run as the queue's source, not both")
	case sp.Dataset != "":
		ds, err := st.GetDataset(ctx, projectID, sp.Dataset)
		if err != nil {
			return store.Queue{}, err
		}
		v := sp.Version
		if v == 0 {
			v = ds.LatestVersion
		}
		if v == 0 {
			return store.Queue{}, invalid("dataset %s has no version yet: import items first (`plumb dataset import`)", ds.Name)
		}
		nq.Source = store.QueueSource{Kind: store.SourceDataset, DatasetID: ds.ID, DatasetVersion: v}
		cursor := ""
		for {
			page, next, err := st.ListItems(ctx, ds.ID, v, cursor, store.MaxPageSize)
			if err != nil {
				return store.Queue{}, err
			}
			for _, it := range page {
				nq.Items = append(nq.Items, store.NewQueueItem{SourceID: it.ID,
					Content: store.ItemContent{Vars: it.Vars, Expected: it.Expected}})
			}
			if next == "" || len(nq.Items) > store.MaxQueueItems {
				break
			}
			cursor = next
		}
	case sp.Run != "":
		p, err := st.RunProject(ctx, sp.Run)
		if err != nil || p != projectID {
			return store.Queue{}, fmt.Errorf("run %q %w", sp.Run, store.ErrNotFound)
		}
		nq.Source = store.QueueSource{Kind: store.SourceRun, RunID: sp.Run}
		cursor, pos := "", int64(0)
		for {
			page, next, err := st.ListResults(ctx, sp.Run, store.ResultFilter{}, cursor, store.MaxPageSize)
			if err != nil {
				return store.Queue{}, err
			}
			for _, r := range page {
				if r.Error == "" {
					nq.Items = append(nq.Items, store.NewQueueItem{SourceID: pos, Content: resultContent(r)})
				}
				pos++
			}
			if next == "" || len(nq.Items) > store.MaxQueueItems {
				break
			}
			cursor = next
		}
	default:
		return store.Queue{}, invalid("give the queue a source: a dataset (and version) or a run")
	}
	return st.CreateQueue(ctx, projectID, nq)
}

// resultContent is what a labelling page shows of a run's result.
func resultContent(r report.Result) store.ItemContent {
	passed, score := r.Passed, r.Score
	exp := ""
	if e, ok := r.Test.Vars["expected"].(string); ok {
		exp = e
	}
	return store.ItemContent{Vars: r.Test.Vars, Expected: exp, Description: r.Test.Description, Output: r.Output,
		Prompt: r.Prompt, Provider: r.Provider, Passed: &passed, Score: &score, Assertions: r.Assertions}
}

// RubricOf is a queue's rubric.
func RubricOf(q store.Queue) (review.Rubric, error) {
	var r review.Rubric
	if err := json.Unmarshal(q.Rubric, &r); err != nil {
		return r, fmt.Errorf("queue %s: stored rubric is corrupt: %w", q.Name, err)
	}
	return r, nil
}

// Normalize checks one annotation's values against the rubric and returns them in their
// canonical forms: every key a field, every value allowed for its field (comments are
// free text), every required field answered.
func Normalize(r review.Rubric, values map[string]string) (map[string]string, error) {
	out := map[string]string{}
	fields := map[string]review.Field{}
	for _, f := range r.Fields {
		fields[f.Name] = f
	}
	for k, v := range values {
		f, ok := fields[k]
		if !ok {
			names := make([]string, 0, len(r.Fields))
			for _, f := range r.Fields {
				names = append(names, f.Name)
			}
			return nil, invalid("field %q is not in the rubric: use %s", k, strings.Join(names, ", "))
		}
		if strings.TrimSpace(v) == "" {
			continue
		}
		if f.Kind == review.Comment {
			out[k] = strings.TrimSpace(v)
			continue
		}
		n, err := f.Normalize(v)
		if err != nil {
			return nil, invalid("%v", err)
		}
		out[k] = n
	}
	for _, f := range r.Fields {
		if f.Required && out[f.Name] == "" {
			return nil, invalid("field %q is required: answer it before submitting", f.Name)
		}
	}
	return out, nil
}

// Submit checks values against the queue's rubric and stores them as the annotator's
// labels of the item.
func Submit(ctx context.Context, st store.Store, q store.Queue, itemID int64, annotator string, values map[string]string, comment string) (store.Annotation, error) {
	r, err := RubricOf(q)
	if err != nil {
		return store.Annotation{}, err
	}
	vals, err := Normalize(r, values)
	if err != nil {
		return store.Annotation{}, err
	}
	return st.SaveAnnotation(ctx, store.Annotation{QueueID: q.ID, ItemID: itemID, Annotator: annotator, Values: vals, Comment: comment})
}

// itemKey is an item id as review labels name it.
func itemKey(id int64) string { return strconv.FormatInt(id, 10) }

// labels turns annotations into review labels (skips and empty values left out).
func labels(anns []store.Annotation) []review.Label {
	var out []review.Label
	for _, a := range anns {
		if a.Skipped {
			continue
		}
		for f, v := range a.Values {
			if v != "" {
				out = append(out, review.Label{Item: itemKey(a.ItemID), Annotator: a.Annotator, Field: f, Value: v})
			}
		}
	}
	return out
}

// Review is a queue's agreement, disagreements and consensus.
type Review struct {
	Agreement     []review.FieldAgreement `json:"agreement"`
	Disagreements []Disagreement          `json:"disagreements"`
	// Consensus is each item's consensus per field ("item id" -> field -> value): the
	// adjudicated value when there is one, else the labels' consensus when they have one.
	Consensus map[int64]map[string]Consensus `json:"consensus"`
}

// Consensus is one field's consensus value for one item.
type Consensus struct {
	Value       string `json:"value"`
	Adjudicated bool   `json:"adjudicated,omitempty"`
}

// Disagreement is an item whose labels of a field differ, with its adjudication if any.
type Disagreement struct {
	ItemID int64 `json:"item_id"`
	review.Disagreement
	Adjudicated *store.Adjudication `json:"adjudicated,omitempty"`
}

// Analyze computes a queue's agreement per field, its disagreements and every item's
// consensus.
func Analyze(ctx context.Context, st store.Store, q store.Queue) (Review, error) {
	r, err := RubricOf(q)
	if err != nil {
		return Review{}, err
	}
	anns, err := st.Annotations(ctx, q.ID)
	if err != nil {
		return Review{}, err
	}
	adjs, err := st.Adjudications(ctx, q.ID)
	if err != nil {
		return Review{}, err
	}
	ls := labels(anns)
	out := Review{Disagreements: []Disagreement{}, Consensus: map[int64]map[string]Consensus{}}
	if out.Agreement, err = review.RubricAgreement(r, ls); err != nil {
		return Review{}, err
	}
	if out.Agreement == nil {
		out.Agreement = []review.FieldAgreement{}
	}
	adjOf := map[string]*store.Adjudication{}
	for i := range adjs {
		adjOf[itemKey(adjs[i].ItemID)+"\x00"+adjs[i].Field] = &adjs[i]
	}
	// Values per item and field, for consensus.
	byItem := map[string]map[string][]string{}
	for _, l := range ls {
		if byItem[l.Item] == nil {
			byItem[l.Item] = map[string][]string{}
		}
		byItem[l.Item][l.Field] = append(byItem[l.Item][l.Field], l.Value)
	}
	set := func(item int64, field string, c Consensus) {
		if out.Consensus[item] == nil {
			out.Consensus[item] = map[string]Consensus{}
		}
		out.Consensus[item][field] = c
	}
	for _, f := range r.Fields {
		if f.Kind == review.Comment {
			continue
		}
		for _, d := range review.Disagreements(f, ls) {
			id, _ := strconv.ParseInt(d.Item, 10, 64)
			out.Disagreements = append(out.Disagreements, Disagreement{ItemID: id, Disagreement: d, Adjudicated: adjOf[d.Item+"\x00"+f.Name]})
		}
		for item, fields := range byItem {
			if vs := fields[f.Name]; len(vs) > 0 {
				if v, ok := review.Consensus(f, vs); ok {
					id, _ := strconv.ParseInt(item, 10, 64)
					set(id, f.Name, Consensus{Value: v})
				}
			}
		}
	}
	// Any field may be adjudicated, including one that is not in the rubric (the answer
	// written back to the dataset).
	for _, a := range adjs {
		set(a.ItemID, a.Field, Consensus{Value: a.Value, Adjudicated: true})
	}
	sort.SliceStable(out.Disagreements, func(i, j int) bool {
		if out.Disagreements[i].ItemID != out.Disagreements[j].ItemID {
			return out.Disagreements[i].ItemID < out.Disagreements[j].ItemID
		}
		return out.Disagreements[i].Field < out.Disagreements[j].Field
	})
	return out, nil
}

// Adjudicate checks a consensus value against the field (when the rubric has it) and
// stores it.
func Adjudicate(ctx context.Context, st store.Store, q store.Queue, itemID int64, field, value, note, adjudicator string) (store.Adjudication, error) {
	r, err := RubricOf(q)
	if err != nil {
		return store.Adjudication{}, err
	}
	if strings.TrimSpace(field) == "" {
		return store.Adjudication{}, invalid("field is required: name the rubric field (or the answer field) you adjudicate")
	}
	for _, f := range r.Fields {
		if f.Name == field && f.Kind != review.Comment {
			if value, err = f.Normalize(value); err != nil {
				return store.Adjudication{}, invalid("%v", err)
			}
		}
	}
	return st.Adjudicate(ctx, store.Adjudication{QueueID: q.ID, ItemID: itemID, Field: field, Value: value, Adjudicator: adjudicator, Note: note})
}

// WriteBack writes the consensus of one field of every item that has one back to the
// queue's dataset as the item's expected answer (a new dataset version).
func WriteBack(ctx context.Context, st store.Store, q store.Queue, field, message string) (store.WriteBackResult, error) {
	if q.Source.Kind != store.SourceDataset {
		return store.WriteBackResult{}, invalid("queue %s labels a run's results, not a dataset: there is nothing to write back to", q.Name)
	}
	if strings.TrimSpace(field) == "" {
		return store.WriteBackResult{}, invalid("field is required: name the field whose consensus becomes the expected answer")
	}
	rv, err := Analyze(ctx, st, q)
	if err != nil {
		return store.WriteBackResult{}, err
	}
	expected := map[int64]string{}
	for item, fields := range rv.Consensus {
		if c, ok := fields[field]; ok {
			expected[item] = c.Value
		}
	}
	if len(expected) == 0 {
		return store.WriteBackResult{}, invalid("no item of queue %s has a consensus for %q yet: label or adjudicate first", q.Name, field)
	}
	return st.WriteBack(ctx, q.ID, expected, message)
}

// VerdictField is the rubric field a human eval panel reads as the human verdict.
const VerdictField = "verdict"

// judgeTypes are the model-graded assertion types (internal/config's modelGraded, without
// is-refusal, whose report does not say whether a judge or the heuristics decided).
var judgeTypes = map[string]bool{"llm-rubric": true, "factuality": true, "context-faithfulness": true, "answer-relevance": true}

// IsJudge reports whether an assertion type (as written, perhaps not- prefixed) is graded
// by a model.
func IsJudge(typ string) bool { return judgeTypes[strings.TrimPrefix(typ, "not-")] }

// Passing reports whether a verdict value is a pass: "true" for a boolean field; for a
// categorical one, pass, yes, good, correct or acceptable.
func Passing(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "pass", "passed", "yes", "good", "correct", "acceptable":
		return true
	}
	return false
}

// Panel is the human eval panel of a run: the consensus human verdict of each result a
// panel queue labelled, and how each model-graded assertion agrees with it.
type Panel struct {
	Queues []store.Queue `json:"queues"`
	// Human is the human verdict by result position ("human" score: 1 pass, 0 fail).
	Human  map[int]HumanScore      `json:"human"`
	Judges []review.JudgeAgreement `json:"judges"`
	// Judged is how many results have a human verdict; HumanPassed how many of them pass.
	Judged      int    `json:"judged"`
	HumanPassed int    `json:"human_passed"`
	Note        string `json:"note,omitempty"`
}

// HumanScore is the human consensus on one result.
type HumanScore struct {
	Queue       string  `json:"queue"`
	Verdict     string  `json:"verdict"`
	Passed      bool    `json:"passed"`
	Score       float64 `json:"score"`
	Adjudicated bool    `json:"adjudicated,omitempty"`
	Labels      int     `json:"labels"`
}

// RunPanel reads the human verdicts of a run's panel queues (queues over its results whose
// rubric has a "verdict" field) and compares every model-graded assertion with them.
func RunPanel(ctx context.Context, st store.Store, runID string) (Panel, error) {
	qs, err := st.RunQueues(ctx, runID)
	if err != nil {
		return Panel{}, err
	}
	p := Panel{Queues: []store.Queue{}, Human: map[int]HumanScore{}, Judges: []review.JudgeAgreement{}}
	for _, q := range qs {
		r, err := RubricOf(q)
		if err != nil {
			return Panel{}, err
		}
		if !hasVerdict(r) {
			continue
		}
		p.Queues = append(p.Queues, q)
		rv, err := Analyze(ctx, st, q)
		if err != nil {
			return Panel{}, err
		}
		anns, err := st.Annotations(ctx, q.ID)
		if err != nil {
			return Panel{}, err
		}
		count := map[int64]int{}
		for _, a := range anns {
			if !a.Skipped && a.Values[VerdictField] != "" {
				count[a.ItemID]++
			}
		}
		cursor := ""
		for {
			items, next, err := st.ListQueueItems(ctx, q.ID, cursor, store.MaxPageSize)
			if err != nil {
				return Panel{}, err
			}
			for _, it := range items {
				c, ok := rv.Consensus[it.ID][VerdictField]
				if !ok {
					continue
				}
				hs := HumanScore{Queue: q.Name, Verdict: c.Value, Passed: Passing(c.Value), Adjudicated: c.Adjudicated, Labels: count[it.ID]}
				if hs.Passed {
					hs.Score = 1
				}
				p.Human[int(it.SourceID)] = hs
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	if len(p.Queues) == 0 {
		p.Note = `no panel yet: create a queue over this run's results with a "verdict" field`
		return p, nil
	}
	for _, h := range p.Human {
		p.Judged++
		if h.Passed {
			p.HumanPassed++
		}
	}
	if len(p.Human) == 0 {
		return p, nil
	}
	positions := make([]int, 0, len(p.Human))
	for pos := range p.Human {
		positions = append(positions, pos)
	}
	sort.Ints(positions)
	results, err := st.ResultsAt(ctx, runID, positions)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Panel{}, err
	}
	human := map[string]bool{}
	judges := map[string]map[string]bool{}
	var order []string
	for i, r := range results {
		key := strconv.Itoa(positions[i])
		human[key] = p.Human[positions[i]].Passed
		seen := map[string]int{}
		for _, a := range r.Assertions {
			if !IsJudge(a.Type) || a.Error {
				continue
			}
			name := a.Type
			if a.Metric != "" {
				name += " (" + a.Metric + ")"
			}
			seen[name]++
			if seen[name] > 1 {
				name += " #" + strconv.Itoa(seen[name])
			}
			if judges[name] == nil {
				judges[name] = map[string]bool{}
				order = append(order, name)
			}
			judges[name][key] = a.Passed
		}
	}
	for _, name := range order {
		p.Judges = append(p.Judges, review.CompareJudge(name, judges[name], human))
	}
	if len(order) == 0 {
		p.Note = "this run has no model-graded assertions (llm-rubric, factuality, context-faithfulness, answer-relevance) to compare with the humans"
	}
	return p, nil
}

func hasVerdict(r review.Rubric) bool {
	for _, f := range r.Fields {
		if f.Name == VerdictField && (f.Kind == review.Boolean || f.Kind == review.Categorical) {
			return true
		}
	}
	return false
}
