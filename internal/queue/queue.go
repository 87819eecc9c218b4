// Package queue is the logic of annotation queues over the store: building a queue from a
// dataset version or a run's results, checking labels against the queue's rubric,
// agreement, disagreements and consensus (internal/review), writing the consensus back to
// the dataset, and human eval panels: how well each model-graded assertion of a run agrees
// with the human verdict. The server, the web UI and the CLI all go through it.
package queue

import (
	"context"
	"encoding/json"
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
	a, err := st.SaveAnnotation(ctx, store.Annotation{QueueID: q.ID, ItemID: itemID, Annotator: annotator, Values: vals, Comment: comment})
	if err != nil {
		return a, err
	}
	return a, syncHuman(ctx, st, q, itemID)
}

// Skip marks an item as seen by the annotator without a label (replacing their labels of
// it, if any).
func Skip(ctx context.Context, st store.Store, q store.Queue, itemID int64, annotator string) (store.Annotation, error) {
	a, err := st.SaveAnnotation(ctx, store.Annotation{QueueID: q.ID, ItemID: itemID, Annotator: annotator, Skipped: true})
	if err != nil {
		return a, err
	}
	return a, syncHuman(ctx, st, q, itemID)
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
// Values is keyed by the annotators' emails, as progress and the UI name them; UserIDs
// gives each email's user id.
type Disagreement struct {
	ItemID int64 `json:"item_id"`
	review.Disagreement
	UserIDs     map[string]string   `json:"user_ids"` // email -> user id
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
	// Annotators are named by email (a deleted user by their id), as in progress.
	prog, err := st.QueueProgress(ctx, q.ID)
	if err != nil {
		return Review{}, err
	}
	email := map[string]string{}
	for _, a := range prog.Annotators {
		email[a.UserID] = a.Email
	}
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
			byEmail, ids := make(map[string]string, len(d.Values)), make(map[string]string, len(d.Values))
			for who, v := range d.Values {
				name := email[who]
				if name == "" {
					name = who
				}
				byEmail[name], ids[name] = v, who
			}
			d.Values = byEmail
			out.Disagreements = append(out.Disagreements, Disagreement{ItemID: id, Disagreement: d, UserIDs: ids, Adjudicated: adjOf[d.Item+"\x00"+f.Name]})
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
	a, err := st.Adjudicate(ctx, store.Adjudication{QueueID: q.ID, ItemID: itemID, Field: field, Value: value, Adjudicator: adjudicator, Note: note})
	if err != nil || field != VerdictField {
		return a, err
	}
	return a, syncHuman(ctx, st, q, itemID)
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

// Passing reports whether a verdict value is a pass: "true" for a boolean field; for a
// categorical one, pass, yes, good, correct or acceptable.
func Passing(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "pass", "passed", "yes", "good", "correct", "acceptable":
		return true
	}
	return false
}

// IsPanel reports whether q is a human eval panel: a queue over a run's results whose
// rubric has a boolean or categorical "verdict" field.
func IsPanel(q store.Queue) bool {
	if q.Source.Kind != store.SourceRun {
		return false
	}
	r, err := RubricOf(q)
	if err != nil {
		return false
	}
	_, ok := verdictField(r)
	return ok
}

func verdictField(r review.Rubric) (review.Field, bool) {
	for _, f := range r.Fields {
		if f.Name == VerdictField && (f.Kind == review.Boolean || f.Kind == review.Categorical) {
			return f, true
		}
	}
	return review.Field{}, false
}

// HumanVerdict is the consensus human verdict of one item of a panel queue, or nil when it
// has none: the adjudicated verdict, else the verdict labels' consensus (review.Consensus).
func HumanVerdict(q store.Queue, r review.Rubric, anns []store.Annotation, adjs []store.Adjudication, itemID int64) *report.Human {
	f, ok := verdictField(r)
	if !ok {
		return nil
	}
	var values []string
	for _, a := range anns {
		if a.ItemID == itemID && !a.Skipped && a.Values[VerdictField] != "" {
			values = append(values, a.Values[VerdictField])
		}
	}
	h := &report.Human{Queue: q.Name, Item: itemID, Labels: len(values)}
	adjudicated := false
	for _, a := range adjs {
		if a.ItemID == itemID && a.Field == VerdictField {
			h.Verdict, h.Adjudicated, adjudicated = a.Value, true, true
		}
	}
	if !adjudicated {
		v, ok := review.Consensus(f, values)
		if len(values) == 0 || !ok {
			return nil
		}
		h.Verdict = v
	}
	h.Passed = Passing(h.Verdict)
	if h.Passed {
		h.Score = 1
	}
	return h
}

// syncHuman stores the consensus verdict of an item of a panel queue as the human score of
// its result (or removes it when the item has no consensus): called whenever its labels or
// adjudications change, so that the run's stored human scores follow its panel.
func syncHuman(ctx context.Context, st store.Store, q store.Queue, itemID int64) error {
	if !IsPanel(q) {
		return nil
	}
	r, err := RubricOf(q)
	if err != nil {
		return err
	}
	return st.SetHumanScore(ctx, q.ID, itemID, func(anns []store.Annotation, adjs []store.Adjudication) *report.Human {
		return HumanVerdict(q, r, anns, adjs, itemID)
	})
}

// Publish rewrites the human scores of every item of a panel queue from its labels and
// adjudications (the same scores labelling writes as it goes): for panels labelled before
// human scores were stored. It returns how many results have a human score.
func Publish(ctx context.Context, st store.Store, q store.Queue) (int, error) {
	if !IsPanel(q) {
		return 0, invalid("queue %s is not a human eval panel: it needs a run as its source and a boolean or categorical %q field", q.Name, VerdictField)
	}
	r, err := RubricOf(q)
	if err != nil {
		return 0, err
	}
	n, cursor := 0, ""
	for {
		items, next, err := st.ListQueueItems(ctx, q.ID, cursor, store.MaxPageSize)
		if err != nil {
			return 0, err
		}
		for _, it := range items {
			if err := st.SetHumanScore(ctx, q.ID, it.ID, func(anns []store.Annotation, adjs []store.Adjudication) *report.Human {
				h := HumanVerdict(q, r, anns, adjs, it.ID)
				if h != nil {
					n++
				}
				return h
			}); err != nil {
				return 0, err
			}
		}
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}

// Panel is the human eval panel of a run: its panel queues, the stored human score of each
// result they judged (by result position), and the human pass rate and judge agreement
// computed from them (report.Panel).
type Panel struct {
	Queues []store.Queue        `json:"queues"`
	Human  map[int]report.Human `json:"human"`
	report.HumanPanel
}

// RunPanel reads the stored human scores of a run and compares every model-graded
// assertion of the judged results with them.
func RunPanel(ctx context.Context, st store.Store, runID string) (Panel, error) {
	qs, err := st.RunQueues(ctx, runID)
	if err != nil {
		return Panel{}, err
	}
	p := Panel{Queues: []store.Queue{}, Human: map[int]report.Human{}, HumanPanel: report.HumanPanel{Judges: []review.JudgeAgreement{}}}
	for _, q := range qs {
		if IsPanel(q) {
			p.Queues = append(p.Queues, q)
		}
	}
	if len(p.Queues) == 0 {
		p.Note = `no panel yet: create a queue over this run's results with a "verdict" field`
		return p, nil
	}
	if p.Human, err = st.HumanScores(ctx, runID); err != nil {
		return Panel{}, err
	}
	if len(p.Human) == 0 {
		p.Note = "no result has a human verdict yet: label the panel's items"
		return p, nil
	}
	positions := make([]int, 0, len(p.Human))
	for pos := range p.Human {
		positions = append(positions, pos)
	}
	sort.Ints(positions)
	results, err := st.ResultsAt(ctx, runID, positions)
	if err != nil {
		return Panel{}, err
	}
	if hp := report.Panel(results); hp != nil {
		p.HumanPanel = *hp
	}
	return p, nil
}
