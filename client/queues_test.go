package client

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/store"
)

// TestQueueLifecycle: a logged-in annotator labels a dataset queue through the client; the
// consensus goes back to the dataset; a key of another project sees nothing.
func TestQueueLifecycle(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t)
	a, err := ts.st.GetProject(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.st.AddMember(ctx, store.Member{ProjectID: a.ID, UserID: ts.admin.ID, Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	ds, err := ts.st.CreateDataset(ctx, a.ID, "golden", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.st.AddItems(ctx, ds.ID, []dataset.Item{{Vars: map[string]any{"q": "1"}, Expected: "old"}, {Vars: map[string]any{"q": "2"}, Expected: "two"}}, "", false); err != nil {
		t.Fatal(err)
	}
	c := ts.login(t, "root@example.com", password)
	q, err := c.CreateQueue(ctx, "alpha", QueueSpec{Name: "answers", Dataset: "golden", Annotators: []string{"root@example.com"},
		Rubric: json.RawMessage(`{"fields":[{"name":"answer","kind":"comment"},{"name":"ok","kind":"boolean","required":true}]}`)})
	if err != nil || q.Items != 2 || q.Members != 1 || q.Source.DatasetVersion != 1 {
		t.Fatalf("CreateQueue = %+v, %v", q, err)
	}
	if _, err := c.AddGuidelines(ctx, "alpha", "answers", "# Be kind"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		it, ok, err := c.NextItem(ctx, "alpha", "answers")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		n++
		if n == 2 {
			if err := c.Skip(ctx, "alpha", "answers", it.ID); err != nil {
				t.Fatal(err)
			}
			continue
		}
		a, err := c.Annotate(ctx, "alpha", "answers", it.ID, map[string]string{"ok": "Yes"}, "")
		if err != nil || a.Values["ok"] != "true" || a.GuidelineVersion != 1 {
			t.Fatalf("Annotate = %+v, %v", a, err)
		}
	}
	if _, err := c.Annotate(ctx, "alpha", "answers", 1, map[string]string{"answer": "x"}, ""); !IsCode(err, CodeBadRequest) {
		t.Errorf("a required field left out = %v, want bad_request", err)
	}
	p, err := c.Progress(ctx, "alpha", "answers")
	if err != nil || n != 2 || p.Labels != 1 || len(p.Annotators) != 1 || p.Annotators[0].Skipped != 1 {
		t.Fatalf("Progress = %+v, %v (items seen %d)", p, err, n)
	}
	if ag, err := c.Agreement(ctx, "alpha", "answers"); err != nil || len(ag) != 1 || ag[0].Field != "ok" {
		t.Errorf("Agreement = %+v, %v", ag, err)
	}
	if _, err := c.Adjudicate(ctx, "alpha", "answers", 1, "answer", "new answer", "from review"); err != nil {
		t.Fatal(err)
	}
	wb, err := c.WriteBack(ctx, "alpha", "answers", "answer", "")
	if err != nil || !wb.Created || len(wb.Changed) != 1 || wb.Changed[0].Expected != "new answer" || wb.Version.Version != 2 {
		t.Fatalf("WriteBack = %+v, %v", wb, err)
	}
	if _, err := ts.client(t, ts.keyB).GetQueue(ctx, "alpha", "answers"); !IsCode(err, CodeNotFound) {
		t.Errorf("another project's key = %v, want not_found", err)
	}
}
