package queue

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/review"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// forEachStore runs fn on a fresh SQLite store and a fresh PostgreSQL schema.
func forEachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, driver := range []string{store.DriverSQLite, store.DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "plumb.db")
			if driver == store.DriverPostgres {
				dsn = storetest.FreshPostgres(t)
			}
			st, err := store.Open(context.Background(), dsn, store.OpenOptions{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			fn(t, st)
		})
	}
}

// fixture is a project with three member users.
type fixture struct {
	st      store.Store
	project store.Project
	users   []store.User
}

func newFixture(t *testing.T, st store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: st}
	var err error
	if f.project, err = st.CreateProject(ctx, store.Project{Slug: "qa", Name: "QA"}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ann@example.com", "ben@example.com", "cal@example.com"} {
		u, err := st.CreateUser(ctx, store.User{Email: email, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddMember(ctx, store.Member{ProjectID: f.project.ID, UserID: u.ID, Role: store.RoleViewer}); err != nil {
			t.Fatal(err)
		}
		f.users = append(f.users, u)
	}
	return f
}

func (f *fixture) members(t *testing.T, q store.Queue) {
	t.Helper()
	for _, u := range f.users {
		if _, err := f.st.AddQueueMember(context.Background(), q.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRubric(t *testing.T, src string) review.Rubric {
	t.Helper()
	r, err := review.ParseRubric([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNormalize(t *testing.T) {
	r := mustRubric(t, `{"fields":[{"name":"verdict","kind":"boolean","required":true},
		{"name":"tone","kind":"ordinal","options":["rude","neutral","warm"]},
		{"name":"score","kind":"numeric","min":0,"max":10},{"name":"notes","kind":"comment"}]}`)
	for _, tc := range []struct {
		name string
		in   map[string]string
		want map[string]string
		err  string // part of the error; "" for none
	}{
		{"canonical forms", map[string]string{"verdict": " Yes ", "tone": "WARM", "score": "3.0", "notes": "  fine  "},
			map[string]string{"verdict": "true", "tone": "warm", "score": "3", "notes": "fine"}, ""},
		{"empty values are no label", map[string]string{"verdict": "no", "tone": "  ", "notes": ""},
			map[string]string{"verdict": "false"}, ""},
		{"unknown field names the rubric's", map[string]string{"verdict": "yes", "tonе": "warm"}, nil,
			`field "tonе" is not in the rubric: use verdict, tone, score, notes`},
		{"value outside the options", map[string]string{"verdict": "yes", "tone": "angry"}, nil, "tone"},
		{"out of range", map[string]string{"verdict": "yes", "score": "11"}, nil, "score"},
		{"required field missing", map[string]string{"tone": "warm"}, nil, `field "verdict" is required`},
		{"not a boolean", map[string]string{"verdict": "maybe"}, nil, "verdict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(r, tc.in)
			if tc.err != "" {
				if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Normalize = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestPassing(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "Pass": true, "acceptable": true, " good ": true,
		"false": false, "fail": false, "bad": false, "": false} {
		if Passing(v) != want {
			t.Errorf("Passing(%q) = %v, want %v", v, !want, want)
		}
	}
}

// TestConsensusAndWriteBack labels a dataset queue of 3 items with overlap 3 and checks
// each item's consensus (adjudication winning over the labels) and the write-back mapping.
func TestConsensusAndWriteBack(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		ds, err := st.CreateDataset(ctx, f.project.ID, "golden", "")
		if err != nil {
			t.Fatal(err)
		}
		items := []dataset.Item{{Vars: map[string]any{"q": "a"}, Expected: "A"}, {Vars: map[string]any{"q": "b"}, Expected: "B"}, {Vars: map[string]any{"q": "c"}, Expected: "C"}}
		if _, _, err := st.AddItems(ctx, ds.ID, items, "v1", false); err != nil {
			t.Fatal(err)
		}
		q, err := Create(ctx, st, f.project.ID, Spec{Name: "golden/answers", Dataset: "golden", Overlap: 3,
			Rubric: mustRubric(t, `{"fields":[{"name":"answer","kind":"categorical","options":["A","B","C","X"]},{"name":"why","kind":"comment"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if q.Items != 3 || q.Source.DatasetVersion != 1 {
			t.Fatalf("queue = %d items of version %d, want 3 of version 1", q.Items, q.Source.DatasetVersion)
		}
		f.members(t, q)
		label := func(user int, item int64, v string) {
			t.Helper()
			if _, err := Submit(ctx, st, q, item, f.users[user].ID, map[string]string{"answer": v, "why": "<b>x</b>"}, ""); err != nil {
				t.Fatal(err)
			}
		}
		// Item 1: X, X, A: consensus X (2 of 3). Item 2: A, B: no consensus, adjudicated C.
		// Item 3: C, C, C: consensus C, adjudicated A (adjudication wins).
		label(0, 1, "x")
		label(1, 1, "X")
		label(2, 1, "A")
		label(0, 2, "A")
		label(1, 2, "B")
		label(0, 3, "C")
		label(1, 3, "C")
		label(2, 3, "C")
		if _, err := Adjudicate(ctx, st, q, 2, "answer", "c", "both wrong", "lead"); err != nil {
			t.Fatal(err)
		}
		if _, err := Adjudicate(ctx, st, q, 3, "answer", "A", "", "lead"); err != nil {
			t.Fatal(err)
		}
		if _, err := Adjudicate(ctx, st, q, 1, "answer", "Z", "", "lead"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("adjudicating a value outside the options: err = %v, want ErrInvalid", err)
		}
		rv, err := Analyze(ctx, st, q)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]map[string]Consensus{
			1: {"answer": {Value: "X"}},
			2: {"answer": {Value: "C", Adjudicated: true}},
			3: {"answer": {Value: "A", Adjudicated: true}},
		}
		if !reflect.DeepEqual(rv.Consensus, want) {
			t.Errorf("consensus = %v, want %v", rv.Consensus, want)
		}
		// Disagreements: items 1 and 2 (item 3's labels agree, whatever its adjudication).
		if len(rv.Disagreements) != 2 || rv.Disagreements[0].ItemID != 1 || rv.Disagreements[1].ItemID != 2 ||
			rv.Disagreements[1].Adjudicated == nil || rv.Disagreements[1].Adjudicated.Value != "C" {
			t.Errorf("disagreements = %+v, want items 1 and 2, item 2 adjudicated C", rv.Disagreements)
		}
		res, err := WriteBack(ctx, st, q, "answer", "from review")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || res.Version.Version != 2 || len(res.Changed) != 3 {
			t.Fatalf("write-back = %+v, want version 2 with 3 changes", res)
		}
		v1, _, err := st.ListItems(ctx, ds.ID, 1, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		v2, _, err := st.ListItems(ctx, ds.ID, 2, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		now := map[int64]string{}
		for _, it := range v2 {
			now[it.ID] = it.Expected
		}
		for i, c := range res.Changed {
			wantExp := []string{"X", "C", "A"}[i]
			if c.QueueItem != int64(i+1) || c.From != v1[i].ID || c.Expected != wantExp || now[c.To] != wantExp {
				t.Errorf("change %d = %+v (new item's answer %q), want queue item %d from %d to an item answering %q",
					i, c, now[c.To], i+1, v1[i].ID, wantExp)
			}
		}
		if _, err := WriteBack(ctx, st, q, "why", ""); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("write-back of a comment field (no consensus): err = %v, want ErrInvalid", err)
		}
	})
}

// panelRun is a run of 7 results: 0-4 judged by llm-rubric and factuality, 5 failed (no
// output: not in the panel), 6 never labelled. Verdicts by position:
//
//	llm-rubric  P P F F P . P
//	factuality  P F F P P . .
var panelRun = func() *report.Report {
	llm := []bool{true, true, false, false, true}
	fact := []bool{true, false, false, true, true}
	r := &report.Report{Run: report.Run{ID: "run-panel", Status: report.StatusComplete,
		StartedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), FinishedAt: time.Date(2026, 11, 26, 9, 1, 0, 0, time.UTC)},
		Summary: report.Summary{Cases: 7}}
	for i := range 7 {
		res := report.Result{Test: report.TestRef{Index: i, Vars: map[string]any{"q": "<script>alert(1)</script>"}},
			Prompt: "p", Provider: "fake", Output: "answer " + string(rune('a'+i)), Passed: true, Score: 1,
			Assertions: []report.Assertion{{Type: "contains", Passed: true, Score: 1, Weight: 1}}}
		switch {
		case i < 5:
			res.Assertions = append(res.Assertions, report.Assertion{Type: "llm-rubric", Passed: llm[i], Weight: 1},
				report.Assertion{Type: "factuality", Passed: fact[i], Weight: 1})
			if i == 0 {
				res.Assertions = append(res.Assertions, report.Assertion{Type: "answer-relevance", Error: true, Weight: 1})
			}
		case i == 5:
			res.Output, res.Error, res.Passed, res.Assertions = "", "HTTP 500", false, nil
		default:
			res.Assertions = append(res.Assertions, report.Assertion{Type: "llm-rubric", Passed: true, Weight: 1})
		}
		r.Results = append(r.Results, res)
	}
	return r
}

func near(got, want float64) bool { return math.Abs(got-want) < 5e-5 }

// TestRunPanel labels the panel by hand and checks every number against a hand count:
//
//	position  labels (ann, ben, cal)  adjudicated  human
//	0         yes yes no               -            pass (2 of 3)
//	1         no no                    -            fail
//	2         no yes                   false        fail (no consensus; adjudicated)
//	3         yes                      -            pass (1 of 1)
//	4         yes yes yes              false        fail (adjudication wins)
//
// Human pass rate 2/5 = 40%, Wilson 95% [0.1176, 0.7693].
// llm-rubric vs humans: both pass 1 (0), both fail 1 (2), judge pass/humans fail 2 (1, 4),
// judge fail/humans pass 1 (3): agreement 2/5; pₑ = 3/5·2/5 + 2/5·3/5 = 0.48,
// κ = (0.4 − 0.48)/0.52 = −0.1538, poor.
// factuality: both pass 2 (0, 3), both fail 2 (1, 2), judge pass/humans fail 1 (4):
// agreement 4/5, κ = (0.8 − 0.48)/0.52 = 0.6154, substantial.
func TestRunPanel(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		if err := st.SaveRunIn(ctx, f.project.ID, panelRun()); err != nil {
			t.Fatal(err)
		}
		p, err := RunPanel(ctx, st, "run-panel")
		if err != nil || len(p.Queues) != 0 || p.Judged != 0 || p.Note == "" {
			t.Fatalf("panel before any queue = %+v, %v; want none with a note", p, err)
		}
		q, err := Create(ctx, st, f.project.ID, Spec{Name: "panel", Run: "run-panel", Overlap: 3,
			Rubric: mustRubric(t, `{"fields":[{"name":"verdict","kind":"boolean"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if q.Items != 6 {
			t.Fatalf("panel queue has %d items, want 6 (the failed result left out)", q.Items)
		}
		f.members(t, q)
		// Items are numbered in result order without the failed one: item 1 = position 0,
		// ..., item 5 = position 4, item 6 = position 6.
		for _, l := range []struct {
			user int
			item int64
			v    string
		}{{0, 1, "yes"}, {1, 1, "yes"}, {2, 1, "no"}, {0, 2, "no"}, {1, 2, "no"}, {0, 3, "no"}, {1, 3, "yes"},
			{0, 4, "yes"}, {0, 5, "yes"}, {1, 5, "yes"}, {2, 5, "yes"}} {
			if _, err := Submit(ctx, st, q, l.item, f.users[l.user].ID, map[string]string{"verdict": l.v}, ""); err != nil {
				t.Fatal(err)
			}
		}
		hs, err := st.HumanScores(ctx, "run-panel")
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 4 || !hs[0].Passed || hs[1].Passed || !hs[3].Passed || !hs[4].Passed || hs[0].Labels != 3 {
			t.Fatalf("human scores before adjudication = %+v, want positions 0 pass (3 labels), 1 fail, 3 pass, 4 pass", hs)
		}
		for _, item := range []int64{3, 5} {
			if _, err := Adjudicate(ctx, st, q, item, VerdictField, "false", "", "lead"); err != nil {
				t.Fatal(err)
			}
		}
		p, err = RunPanel(ctx, st, "run-panel")
		if err != nil {
			t.Fatal(err)
		}
		if p.Judged != 5 || p.Passed != 2 || !near(p.PassRate, 0.4) || !near(p.PassRateCI[0], 0.1176) || !near(p.PassRateCI[1], 0.7693) {
			t.Errorf("human pass rate = %d of %d, %.4f [%.4f, %.4f]; want 2 of 5, 0.4 [0.1176, 0.7693]",
				p.Passed, p.Judged, p.PassRate, p.PassRateCI[0], p.PassRateCI[1])
		}
		if h := p.Human[4]; h.Passed || !h.Adjudicated || h.Verdict != "false" || h.Labels != 3 || h.Score != 0 || h.Queue != "panel" || h.Item != 5 {
			t.Errorf("human score of position 4 = %+v, want an adjudicated fail with 3 labels from item 5 of panel", h)
		}
		if len(p.Judges) != 2 {
			t.Fatalf("judges = %+v, want llm-rubric and factuality (the errored answer-relevance left out)", p.Judges)
		}
		type counts struct{ n, agree, bp, bf, jphf, jfhp int }
		for i, want := range []struct {
			name    string
			c       counts
			kappa   float64
			reading string
		}{
			{"llm-rubric", counts{5, 2, 1, 1, 2, 1}, -0.1538, "poor"},
			{"factuality", counts{5, 4, 2, 2, 1, 0}, 0.6154, "substantial"},
		} {
			j := p.Judges[i]
			got := counts{j.N, j.Agree, j.BothPass, j.BothFail, j.JudgePassHumanFail, j.JudgeFailHumanPass}
			if j.Assertion != want.name || got != want.c || j.Kappa == nil || !near(j.Kappa.Value, want.kappa) || j.Kappa.Reading != want.reading {
				t.Errorf("judge %d = %+v (κ %+v), want %s %+v κ %.4f %s", i, j, j.Kappa, want.name, want.c, want.kappa, want.reading)
			}
		}

		// The stored scores travel with the results: ListResults, ResultsAt, GetRun.
		page, _, err := st.ListResults(ctx, "run-panel", store.ResultFilter{}, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range page {
			if has := r.Human != nil; has != (i < 5) {
				t.Errorf("ListResults: result %d human = %+v, want one only at positions 0-4", i, r.Human)
			}
		}
		if page[3].Human == nil || !page[3].Human.Passed || page[3].Human.Score != 1 {
			t.Errorf("ListResults: result 3 human = %+v, want a pass scored 1", page[3].Human)
		}
		rep, err := st.GetRun(ctx, "run-panel")
		if err != nil {
			t.Fatal(err)
		}
		if rep.Summary.Human == nil || rep.Summary.Human.Judged != 5 || rep.Summary.Human.Passed != 2 || len(rep.Summary.Human.Judges) != 2 {
			t.Errorf("GetRun summary human = %+v, want the same panel", rep.Summary.Human)
		}
		if rep.Results[6].Human != nil || rep.Results[1].Human == nil || rep.Results[1].Human.Passed {
			t.Errorf("GetRun results 1, 6 human = %+v, %+v; want a fail and none", rep.Results[1].Human, rep.Results[6].Human)
		}

		// Ann skips item 4 (position 3): her label goes, position 3 has no consensus any
		// more, and its human score is removed.
		if _, err := Skip(ctx, st, q, 4, f.users[0].ID); err != nil {
			t.Fatal(err)
		}
		at, err := st.ResultsAt(ctx, "run-panel", []int{3, 0})
		if err != nil {
			t.Fatal(err)
		}
		if at[0].Human != nil || at[1].Human == nil {
			t.Errorf("ResultsAt(3, 0) human = %+v, %+v; want none for 3 after the skip, and 0's", at[0].Human, at[1].Human)
		}
		if p, _ := RunPanel(ctx, st, "run-panel"); p.Judged != 4 || p.Passed != 1 {
			t.Errorf("after the skip: %d of %d pass, want 1 of 4", p.Passed, p.Judged)
		}

		// Publish rebuilds the same scores from the labels (for panels labelled before
		// scores were stored), and refuses a queue that is not a panel.
		if err := st.SetHumanScore(ctx, q.ID, 1, func([]store.Annotation, []store.Adjudication) *report.Human { return nil }); err != nil {
			t.Fatal(err)
		}
		n, err := Publish(ctx, st, q)
		if err != nil || n != 4 {
			t.Errorf("Publish = %d, %v; want 4 results scored", n, err)
		}
		if hs, _ := st.HumanScores(ctx, "run-panel"); len(hs) != 4 || !hs[0].Passed {
			t.Errorf("after Publish: %+v, want 4 scores with position 0 a pass", hs)
		}
		other, err := Create(ctx, st, f.project.ID, Spec{Name: "tone", Run: "run-panel",
			Rubric: mustRubric(t, `{"fields":[{"name":"tone","kind":"categorical","options":["ok","rude"]}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Publish(ctx, st, other); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Publish of a queue without a verdict field: err = %v, want ErrInvalid", err)
		}

		// A second, later panel over the same run supersedes the first where it judged.
		q2, err := Create(ctx, st, f.project.ID, Spec{Name: "panel-2", Run: "run-panel",
			Rubric: mustRubric(t, `{"fields":[{"name":"verdict","kind":"categorical","options":["pass","fail"]}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		f.members(t, q2)
		if _, err := Submit(ctx, st, q2, 2, f.users[2].ID, map[string]string{"verdict": "pass"}, ""); err != nil {
			t.Fatal(err)
		}
		if hs, _ := st.HumanScores(ctx, "run-panel"); !hs[1].Passed || hs[1].Queue != "panel-2" || hs[1].Verdict != "pass" {
			t.Errorf("position 1 after the second panel = %+v, want panel-2's pass", hs[1])
		}
	})
}

// TestConcurrentLabelsKeepScores: three annotators label every item of a panel at the same
// time; each human score is computed inside the transaction that stores it, so the scores
// left behind are those of the final labels (what Publish recomputes from scratch), never
// a score computed from an older set of labels.
func TestConcurrentLabelsKeepScores(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		if err := st.SaveRunIn(ctx, f.project.ID, panelRun()); err != nil {
			t.Fatal(err)
		}
		q, err := Create(ctx, st, f.project.ID, Spec{Name: "panel", Run: "run-panel", Overlap: 3,
			Rubric: mustRubric(t, `{"fields":[{"name":"verdict","kind":"boolean"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		f.members(t, q)
		// Annotator u says yes on item i when (i+u) is even: items get 2-1 or 1-2 splits.
		var wg sync.WaitGroup
		errs := make(chan error, 3*q.Items)
		for u := range f.users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int64(1); i <= int64(q.Items); i++ {
					v := "no"
					if (int(i)+u)%2 == 0 {
						v = "yes"
					}
					if _, err := Submit(ctx, st, q, i, f.users[u].ID, map[string]string{"verdict": v}, ""); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, err := st.HumanScores(ctx, "run-panel")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Publish(ctx, st, q); err != nil {
			t.Fatal(err)
		}
		want, err := st.HumanScores(ctx, "run-panel")
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != q.Items {
			t.Fatalf("%d scores after Publish, want one per item (%d)", len(want), q.Items)
		}
		for pos, w := range want {
			if g, ok := got[pos]; !ok || g.Passed != w.Passed || g.Labels != 3 {
				t.Errorf("position %d: stored while labelling %+v, recomputed %+v", pos, g, w)
			}
		}
	})
}
