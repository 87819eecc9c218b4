package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDatasets: the client's dataset methods against a real server, end to end.
func TestDatasets(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	c := ts.client(t, ts.keyA)
	const name = "support/golden"
	if _, err := c.CreateDataset(ctx, "alpha", name, "refunds"); err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"question":"Where is my refund?","expected":"In 5 days.","metadata":{"subject_id":"c-1"},"segment":{"locale":"en"},"consent":true}
{"question":"Cancel","expected":"Done.","segment":{"locale":"fr"}}
`)
	res, err := c.ImportDataset(ctx, "alpha", name, data, ImportOptions{Format: "jsonl", Message: "first"})
	if err != nil || res.Read != 2 || res.Stats.Added != 2 || res.Version.Version != 1 {
		t.Fatalf("ImportDataset = %+v, %v", res, err)
	}
	_, err = c.ImportDataset(ctx, "alpha", name, []byte("{bad\n"), ImportOptions{Format: "jsonl"})
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Message, "body:1:") {
		t.Errorf("bad import = %v", err)
	}
	list, err := c.Datasets(ctx, "alpha")
	if err != nil || len(list) != 1 || list[0].ItemCount != 2 {
		t.Errorf("Datasets = %+v, %v", list, err)
	}
	ds, vs, p, err := c.Dataset(ctx, "alpha", name)
	if err != nil || ds.Name != name || len(vs) != 1 || !p.DropRevoked {
		t.Errorf("Dataset = %+v %+v %+v, %v", ds, vs, p, err)
	}
	items, next, err := c.DatasetItems(ctx, "alpha", name, 1, "", 1)
	if err != nil || len(items) != 1 || next == "" || items[0].Vars["question"] != "Where is my refund?" {
		t.Errorf("DatasetItems = %+v, %q, %v", items, next, err)
	}
	csv, err := c.ExportDataset(ctx, "alpha", name, 0, "csv")
	if err != nil || !strings.HasPrefix(string(csv), "question,expected") {
		t.Errorf("ExportDataset = %q, %v", csv, err)
	}
	rep, err := c.DatasetAudit(ctx, "alpha", name, 0, 0.6, "")
	if err != nil || rep.Items != 2 || rep.WithoutConsent.Count != 1 || len(rep.Segments) != 1 || !rep.Segments[0].Values[0].Under {
		t.Errorf("DatasetAudit = %+v, %v", rep, err)
	}
	rv, err := c.RevokeConsent(ctx, "alpha", name, Revocation{Subjects: []string{"c-1"}})
	if err != nil || rv.Matching != 1 {
		t.Errorf("RevokeConsent = %+v, %v", rv, err)
	}
	all, err := c.RevokeSubjects(ctx, "alpha", []string{"c-1"}, "erasure")
	if err != nil || len(all) != 1 || all[0].Dataset != name || all[0].Matching != 1 || all[0].Recorded != 0 {
		t.Errorf("RevokeSubjects = %+v, %v; want the dataset, already revoked, 1 item", all, err)
	}
	if _, err := c.RevokeSubjects(ctx, "alpha", nil, ""); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Errorf("RevokeSubjects without subjects = %v, want 400", err)
	}
	// Policy and purge need a project admin: the editor key is refused.
	days := 7
	if _, err := c.SetDatasetPolicy(ctx, "alpha", name, PolicyChange{RetentionDays: &days}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Errorf("editor SetDatasetPolicy = %v, want 403", err)
	}
	admin := ts.login(t, "root@example.com", password)
	pol, err := admin.SetDatasetPolicy(ctx, "alpha", name, PolicyChange{RetentionDays: &days})
	if err != nil || pol.RetentionDays != 7 || !pol.DropRevoked {
		t.Errorf("SetDatasetPolicy = %+v, %v", pol, err)
	}
	if got, err := c.DatasetPolicy(ctx, "alpha", name); err != nil || got != pol {
		t.Errorf("DatasetPolicy = %+v, %v", got, err)
	}
	pr, err := admin.PurgeDataset(ctx, "alpha", name, true)
	if err != nil || pr.Purged != 1 || !pr.DryRun {
		t.Errorf("dry PurgeDataset = %+v, %v", pr, err)
	}
	if pr, err = admin.PurgeDataset(ctx, "alpha", name, false); err != nil || pr.Purged != 1 || pr.DryRun {
		t.Errorf("PurgeDataset = %+v, %v", pr, err)
	}
	// A run of A with a failure becomes items.
	alpha, _ := ts.st.GetProject(ctx, "alpha")
	if err := ts.st.SaveRunIn(ctx, alpha.ID, sampleReport("run-f", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 1)); err != nil {
		t.Fatal(err)
	}
	v, st, n, err := c.AddFailed(ctx, "alpha", name, "run-f", "")
	if err != nil || n != 1 || st.Added != 1 || v.Version != 2 {
		t.Errorf("AddFailed = %+v %+v %d, %v", v, st, n, err)
	}
	if _, _, _, err := ts.client(t, ts.keyB).Dataset(ctx, "alpha", name); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("B's key reading A's dataset = %v, want 404", err)
	}
}
