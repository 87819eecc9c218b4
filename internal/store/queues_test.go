package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/dataset"
)

// queueFixture is a project with a dataset of 3 items and three users who are members.
type queueFixture struct {
	st      Store
	clk     *clock
	project Project
	ds      Dataset
	items   []dataset.Item
	ann     []User // three annotators
}

func newQueueFixture(t *testing.T, dsn string) *queueFixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	st := openStoreAt(t, dsn, clk)
	f := &queueFixture{st: st, clk: clk}
	var err error
	if f.project, err = st.CreateProject(ctx, Project{Slug: "qa", Name: "QA"}); err != nil {
		t.Fatal(err)
	}
	if f.ds, err = st.CreateDataset(ctx, f.project.ID, "support/golden", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddItems(ctx, f.ds.ID, []dataset.Item{dsItem("a", "A"), dsItem("b", "B"), dsItem("c", "C")}, "v1", false); err != nil {
		t.Fatal(err)
	}
	if f.items, _, err = st.ListItems(ctx, f.ds.ID, 1, "", 0); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ann@example.com", "ben@example.com", "cal@example.com"} {
		u, err := st.CreateUser(ctx, User{Email: email, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddMember(ctx, Member{ProjectID: f.project.ID, UserID: u.ID, Role: RoleViewer}); err != nil {
			t.Fatal(err)
		}
		f.ann = append(f.ann, u)
	}
	return f
}

const verdictRubric = `{"fields":[{"name":"verdict","kind":"boolean"},{"name":"note","kind":"comment"}]}`

func (f *queueFixture) datasetQueue(t *testing.T, st Store, overlap int) Queue {
	t.Helper()
	var items []NewQueueItem
	for _, it := range f.items {
		items = append(items, NewQueueItem{SourceID: it.ID, Content: ItemContent{Vars: it.Vars, Expected: it.Expected}})
	}
	q, err := st.CreateQueue(context.Background(), f.project.ID, NewQueue{Name: "golden/review", Overlap: overlap,
		Source: QueueSource{Kind: SourceDataset, DatasetID: f.ds.ID, DatasetVersion: 1}, Rubric: json.RawMessage(verdictRubric),
		Guidelines: "# Rules\n\nSay yes when right.", Author: "lead", Items: items})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range f.ann {
		if _, err := st.AddQueueMember(context.Background(), q.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	q, err = st.GetQueue(context.Background(), f.project.ID, q.Name)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestQueueLeaseHeld: labelling an item directly, without asking for it, cannot take a
// slot another annotator holds a live lease on; once the lease expires it can.
func TestQueueLeaseHeld(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		f := newQueueFixture(t, dsn)
		st := f.st
		q := f.datasetQueue(t, st, 1)
		ann, ben := f.ann[0].ID, f.ann[1].ID
		label := func(who string, item int64) error {
			_, err := st.SaveAnnotation(ctx, Annotation{QueueID: q.ID, ItemID: item, Annotator: who, Values: map[string]string{"verdict": "true"}})
			return err
		}
		if it, _, err := st.NextQueueItem(ctx, q.ID, ann, 10*time.Minute); err != nil || it.ID != 1 {
			t.Fatalf("ann's item = %d, %v", it.ID, err)
		}
		if err := label(ben, 1); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "another annotator") {
			t.Errorf("ben labels the item ann holds = %v, want ErrConflict", err)
		}
		if err := label(ann, 1); err != nil {
			t.Errorf("ann labels her item = %v", err)
		}
		if it, _, err := st.NextQueueItem(ctx, q.ID, ben, 10*time.Minute); err != nil || it.ID != 2 {
			t.Fatalf("ben's item = %d, %v", it.ID, err)
		}
		f.clk.advance(11 * time.Minute)
		if err := label(ann, 2); err != nil {
			t.Errorf("ann labels item 2 after ben's lease expired = %v", err)
		}
		p, err := st.QueueProgress(ctx, q.ID)
		if err != nil || p.Labels != 2 || p.Complete != 2 {
			t.Errorf("progress = %+v, %v: want 2 labels on 2 complete items (k = 1)", p, err)
		}
	})
}

// TestQueueAssignment: each item goes to k distinct annotators; a lease keeps a slot for
// its holder until it expires; a full item refuses a new label; an annotator revises their
// own; skips do not count; progress per annotator.
func TestQueueAssignment(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		f := newQueueFixture(t, dsn)
		st := f.st
		q := f.datasetQueue(t, st, 2)
		if q.Items != 3 || q.Members != 3 || q.GuidelineVersion != 1 || q.Status != QueueOpen || q.Source.Dataset != "support/golden" {
			t.Fatalf("queue = %+v", q)
		}
		ann, ben, cal := f.ann[0].ID, f.ann[1].ID, f.ann[2].ID
		next := func(who string) (QueueItem, bool) {
			t.Helper()
			it, ok, err := st.NextQueueItem(ctx, q.ID, who, 10*time.Minute)
			if err != nil {
				t.Fatalf("next for %s: %v", who, err)
			}
			return it, ok
		}
		label := func(who string, item int64, v string) error {
			_, err := st.SaveAnnotation(ctx, Annotation{QueueID: q.ID, ItemID: item, Annotator: who, Values: map[string]string{"verdict": v}})
			return err
		}
		// ann and ben both get item 1 (k = 2); cal, with both slots leased, gets item 2.
		a1, _ := next(ann)
		b1, _ := next(ben)
		c1, _ := next(cal)
		if a1.ID != 1 || b1.ID != 1 || c1.ID != 2 || a1.Content.Expected != "A" || a1.LeaseExpires == nil {
			t.Fatalf("first items: ann %d ben %d cal %d (%+v)", a1.ID, b1.ID, c1.ID, a1)
		}
		// Asking again returns the held item, not a new one.
		if again, _ := next(ann); again.ID != 1 {
			t.Errorf("ann asked twice: item %d, want her lease on 1", again.ID)
		}
		if err := label(ann, 1, "true"); err != nil {
			t.Fatal(err)
		}
		// cal's lease on 2 expires: ann can take item 2's slot, and 1 is done for her.
		f.clk.advance(11 * time.Minute)
		if a2, _ := next(ann); a2.ID != 2 {
			t.Errorf("ann's second item = %d, want 2", a2.ID)
		}
		if err := label(ben, 1, "false"); err != nil {
			t.Fatal(err)
		}
		// Item 1 is full: cal may not label it (no lease).
		if err := label(cal, 1, "true"); !errors.Is(err, ErrConflict) {
			t.Errorf("third label on a full item = %v, want ErrConflict", err)
		}
		// ann revises her label of item 1.
		if err := label(ann, 1, "false"); err != nil {
			t.Errorf("revising = %v", err)
		}
		// cal skips item 3; it is not offered again and not counted.
		c2, _ := next(cal)
		if c2.ID != 2 {
			t.Fatalf("cal's item = %d, want 2 (ann holds one slot, one is free)", c2.ID)
		}
		if _, err := st.SaveAnnotation(ctx, Annotation{QueueID: q.ID, ItemID: 2, Annotator: cal, Skipped: true}); err != nil {
			t.Fatal(err)
		}
		if c3, _ := next(cal); c3.ID != 3 {
			t.Errorf("after a skip cal gets %d, want 3", c3.ID)
		}
		// Not an annotator: refused.
		if _, _, err := st.NextQueueItem(ctx, q.ID, "u_nobody", time.Minute); !errors.Is(err, ErrInvalid) {
			t.Errorf("stranger = %v, want ErrInvalid", err)
		}
		p, err := st.QueueProgress(ctx, q.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Items != 3 || p.Complete != 1 || p.Labels != 2 || p.Wanted != 6 || len(p.Annotators) != 3 {
			t.Fatalf("progress = %+v", p)
		}
		got := map[string][2]int{}
		for _, ap := range p.Annotators {
			got[ap.Email] = [2]int{ap.Labelled, ap.Skipped}
			if ap.Target != 2 || !ap.Member {
				t.Errorf("%s: target %d member %v, want 2 and true", ap.Email, ap.Target, ap.Member)
			}
		}
		if got["ann@example.com"] != [2]int{1, 0} || got["ben@example.com"] != [2]int{1, 0} || got["cal@example.com"] != [2]int{0, 1} {
			t.Errorf("per annotator = %v", got)
		}
		anns, err := st.Annotations(ctx, q.ID)
		if err != nil || len(anns) != 3 || anns[0].Values["verdict"] != "false" || anns[1].Values["verdict"] != "false" || anns[0].GuidelineVersion != 1 {
			t.Fatalf("annotations = %+v, %v", anns, err)
		}
		// A new guidelines version is what later labels record; an unchanged body is no version.
		g, err := st.AddGuidelines(ctx, q.ID, "# Rules v2\n<script>alert(1)</script>", "lead")
		if err != nil || g.Version != 2 {
			t.Fatalf("guidelines v2 = %+v, %v", g, err)
		}
		if g2, _ := st.AddGuidelines(ctx, q.ID, "# Rules v2\n<script>alert(1)</script>", "lead"); g2.Version != 2 {
			t.Errorf("same body made version %d", g2.Version)
		}
		if err := label(ben, 1, "true"); err != nil {
			t.Fatal(err)
		}
		anns, _ = st.Annotations(ctx, q.ID)
		for _, an := range anns {
			if an.ItemID == 1 && an.Annotator == ben && (an.GuidelineVersion != 2 || an.Values["verdict"] != "true") {
				t.Errorf("ben's revision = %+v, want guideline version 2", an)
			}
		}
		if old, err := st.GetGuidelines(ctx, q.ID, 1); err != nil || !strings.Contains(old.Body, "Say yes") {
			t.Errorf("guidelines v1 = %+v, %v", old, err)
		}
		// Closed queues take no labels.
		closed := QueueClosed
		if _, err := st.UpdateQueue(ctx, q.ID, QueueUpdate{Status: &closed}); err != nil {
			t.Fatal(err)
		}
		if err := label(ann, 3, "true"); !errors.Is(err, ErrInvalid) {
			t.Errorf("label in a closed queue = %v, want ErrInvalid", err)
		}
	})
}

// TestQueueWriteBackAndAudit: adjudications are audited; writing back makes a dataset
// version with the new expected answers, naming the changed item ids; a run queue has
// nothing to write back to; another project's dataset is not a source.
func TestQueueWriteBackAndAudit(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		f := newQueueFixture(t, dsn)
		lead := f.ann[0]
		st := f.st.WithAudit(Actor{Type: ActorUser, ID: lead.ID})
		q := f.datasetQueue(t, st, 1)
		if _, err := st.CreateQueue(ctx, f.project.ID, NewQueue{Name: "golden/review", Overlap: 1, Rubric: json.RawMessage(verdictRubric),
			Source: QueueSource{Kind: SourceDataset, DatasetID: f.ds.ID, DatasetVersion: 1}, Items: []NewQueueItem{{SourceID: 1}}}); !errors.Is(err, ErrConflict) {
			t.Errorf("same name = %v, want ErrConflict", err)
		}
		other, err := f.st.CreateProject(ctx, Project{Slug: "other", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateQueue(ctx, other.ID, NewQueue{Name: "steal", Overlap: 1, Rubric: json.RawMessage(verdictRubric),
			Source: QueueSource{Kind: SourceDataset, DatasetID: f.ds.ID, DatasetVersion: 1}, Items: []NewQueueItem{{SourceID: 1}}}); !errors.Is(err, ErrNotFound) {
			t.Errorf("queue over another project's dataset = %v, want ErrNotFound", err)
		}
		if _, err := st.Adjudicate(ctx, Adjudication{QueueID: q.ID, ItemID: 2, Field: "answer", Value: "B, adjudicated", Adjudicator: lead.ID, Note: "two said so"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Adjudicate(ctx, Adjudication{QueueID: q.ID, ItemID: 9, Field: "answer", Value: "x", Adjudicator: lead.ID}); !errors.Is(err, ErrNotFound) {
			t.Errorf("adjudicating a missing item = %v, want ErrNotFound", err)
		}
		adjs, err := st.Adjudications(ctx, q.ID)
		if err != nil || len(adjs) != 1 || adjs[0].Value != "B, adjudicated" {
			t.Fatalf("adjudications = %+v, %v", adjs, err)
		}
		// Item 1 keeps "A" (unchanged), item 2 gets a new answer.
		wb, err := st.WriteBack(ctx, q.ID, map[int64]string{1: "A", 2: "B, adjudicated"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if !wb.Created || wb.Version.Version != 2 || wb.Version.ItemCount != 3 || len(wb.Changed) != 1 ||
			wb.Changed[0].QueueItem != 2 || wb.Changed[0].From != f.items[1].ID || wb.Changed[0].To <= 3 {
			t.Fatalf("write back = %+v", wb)
		}
		v2 := allItems(t, f.st, f.ds.ID, 2)
		var expected []string
		for _, it := range v2 {
			expected = append(expected, it.Expected)
		}
		if !slices.Contains(expected, "B, adjudicated") || slices.Contains(expected, "B") || len(v2) != 3 {
			t.Errorf("version 2 answers = %q", expected)
		}
		// Nothing new: no version.
		if wb, err := st.WriteBack(ctx, q.ID, map[int64]string{2: "B, adjudicated"}, ""); err != nil || wb.Created || wb.Version.Version != 2 {
			t.Errorf("second write back = %+v, %v", wb, err)
		}
		page, _, err := f.st.ListAudit(ctx, f.project.ID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range page {
			actions = append(actions, e.Action)
			if e.Action == "queue.writeback" && !strings.Contains(string(e.After), `"version":2`) {
				t.Errorf("writeback entry = %s", e.After)
			}
			if strings.HasPrefix(e.Action, "queue.") && e.ActorID != lead.ID {
				t.Errorf("%s by %q, want the lead", e.Action, e.ActorID)
			}
		}
		for _, want := range []string{"queue.create", "queue.member.add", "queue.adjudicate", "queue.writeback", "dataset.import"} {
			if !slices.Contains(actions, want) {
				t.Errorf("audit lacks %s: %v", want, actions)
			}
		}
		// A run queue cannot be written back.
		if err := f.st.SaveRunIn(ctx, f.project.ID, sampleReport("run-q", time.Now(), 2)); err != nil {
			t.Fatal(err)
		}
		rq, err := st.CreateQueue(ctx, f.project.ID, NewQueue{Name: "panel", Overlap: 1, Rubric: json.RawMessage(verdictRubric),
			Source: QueueSource{Kind: SourceRun, RunID: "run-q"}, Items: []NewQueueItem{{SourceID: 0, Content: ItemContent{Output: "hi"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.WriteBack(ctx, rq.ID, map[int64]string{1: "x"}, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("write back of a run queue = %v, want ErrInvalid", err)
		}
		if qs, err := f.st.RunQueues(ctx, "run-q"); err != nil || len(qs) != 1 || qs[0].ID != rq.ID {
			t.Errorf("RunQueues = %+v, %v", qs, err)
		}
	})
}
