package client

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

// TestPanelScores: a human panel (its name has a slash) labels a run's results through the
// client; the results come back with the human score beside the automatic ones, and the
// panel compares the LLM judge with the humans.
func TestPanelScores(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t)
	a, err := ts.st.GetProject(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.st.AddMember(ctx, store.Member{ProjectID: a.ID, UserID: ts.admin.ID, Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	rep := &report.Report{Run: report.Run{ID: "run-p", Status: report.StatusComplete, StartedAt: time.Now().Add(-time.Minute), FinishedAt: time.Now()},
		Summary: report.Summary{Cases: 2}}
	for i, judge := range []bool{true, true} {
		rep.Results = append(rep.Results, report.Result{Test: report.TestRef{Index: i}, Prompt: "p", Provider: "x", Output: "out",
			Passed: judge, Score: 1, Assertions: []report.Assertion{{Type: "llm-rubric", Passed: judge, Weight: 1, Score: 1}}})
	}
	if err := ts.st.SaveRunIn(ctx, a.ID, rep); err != nil {
		t.Fatal(err)
	}
	c := ts.login(t, "root@example.com", password)
	if _, err := c.CreateQueue(ctx, "alpha", QueueSpec{Name: "panels/judge", Run: "run-p", Annotators: []string{"root@example.com"},
		Rubric: json.RawMessage(`{"fields":[{"name":"verdict","kind":"boolean"}]}`)}); err != nil {
		t.Fatal(err)
	}
	// The humans pass the first result and fail the second, which the judge passed.
	for _, v := range []string{"yes", "no"} {
		it, ok, err := c.NextItem(ctx, "alpha", "panels/judge")
		if err != nil || !ok {
			t.Fatalf("NextItem = %v, %v", ok, err)
		}
		if _, err := c.Annotate(ctx, "alpha", "panels/judge", it.ID, map[string]string{"verdict": v}, ""); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.Results(ctx, "alpha", "run-p", ResultsOptions{})
	if err != nil || len(page.Results) != 2 {
		t.Fatalf("Results = %+v, %v", page, err)
	}
	if h := page.Results[0].Human; h == nil || !h.Passed || h.Score != 1 || h.Queue != "panels/judge" {
		t.Errorf("result 0 human = %+v, want a pass scored 1 from panels/judge", h)
	}
	if h := page.Results[1].Human; h == nil || h.Passed || h.Score != 0 {
		t.Errorf("result 1 human = %+v, want a fail scored 0", h)
	}
	p, err := c.RunPanel(ctx, "alpha", "run-p")
	if err != nil || p.Judged != 2 || p.Passed != 1 || len(p.Judges) != 1 || p.Judges[0].JudgePassHumanFail != 1 || p.Judges[0].BothPass != 1 {
		t.Errorf("RunPanel = %+v, %v; want 1 of 2 human passes, llm-rubric both pass 1 and judge pass/humans fail 1", p, err)
	}
}
