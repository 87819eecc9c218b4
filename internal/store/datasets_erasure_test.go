package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/dataset"
)

// TestRevokeSubjectsAcrossProject: one erasure request covers every dataset of the project
// by each one's subject field, skips (and says so) a dataset without one, touches no other
// project, keeps only the subject's hash, and the next purge deletes the person's items,
// including one imported after the request.
func TestRevokeSubjectsAcrossProject(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		au := st.WithAudit(Actor{Type: ActorUser, ID: "u_1"})
		other, err := st.CreateProject(ctx, Project{Slug: "other", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		mk := func(project, name, field string, items ...dataset.Item) Dataset {
			t.Helper()
			ds, err := au.CreateDataset(ctx, project, name, "")
			if err != nil {
				t.Fatal(err)
			}
			if field != DefaultDatasetPolicy.SubjectField {
				if _, err := au.SetDatasetPolicy(ctx, ds.ID, DatasetPolicy{DropRevoked: true, SubjectField: field}); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := au.AddItems(ctx, ds.ID, items, "", false); err != nil {
				t.Fatal(err)
			}
			return ds
		}
		const who = "carol@example.com"
		golden := mk(DefaultProjectID, "golden", "metadata.subject_id", personItem("golden carol", who), personItem("golden dan", "dan"))
		chats := mk(DefaultProjectID, "chats", "vars.user",
			dataset.Item{Vars: map[string]any{"question": "chats carol", "user": who}},
			dataset.Item{Vars: map[string]any{"question": "chats erin", "user": "erin"}})
		anon := mk(DefaultProjectID, "anon", "", personItem("anon carol", who))
		elsewhere := mk(other.ID, "golden", "metadata.subject_id", personItem("other carol", who))

		if _, err := au.RevokeSubjects(ctx, DefaultProjectID, nil, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("no subjects = %v, want ErrInvalid", err)
		}
		if _, err := au.RevokeSubjects(ctx, DefaultProjectID, []string{"  "}, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("blank subject = %v, want ErrInvalid", err)
		}
		if _, err := au.RevokeSubjects(ctx, "p_missing", []string{who}, ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing project = %v, want ErrNotFound", err)
		}
		res, err := au.RevokeSubjects(ctx, DefaultProjectID, []string{who}, "erasure request 7")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]SubjectRevocation{}
		for _, r := range res {
			got[r.Dataset] = r
		}
		if len(res) != 3 || got["golden"].Matching != 1 || got["chats"].Matching != 1 || got["golden"].Recorded != 1 ||
			got["anon"].Skipped == "" || got["anon"].Recorded != 0 || !strings.Contains(got["anon"].Skipped, "--subject-field") {
			t.Fatalf("RevokeSubjects = %+v; want golden and chats covering 1 item each, anon skipped with the fix", res)
		}
		// An item of the same person imported afterwards is covered too.
		if _, _, err := au.AddItems(ctx, golden.ID, []dataset.Item{personItem("golden carol later", who)}, "", false); err != nil {
			t.Fatal(err)
		}
		purged, err := au.PurgeDatasets(ctx, DefaultProjectID, "", false)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, p := range purged {
			counts[p.Dataset] = p.Purged
		}
		if counts["golden"] != 2 || counts["chats"] != 1 || counts["anon"] != 0 {
			t.Errorf("purge = %+v; want golden 2, chats 1, anon 0", purged)
		}
		for _, c := range []struct {
			ds   Dataset
			want int
		}{{golden, 1}, {chats, 1}, {anon, 1}, {elsewhere, 1}} {
			if n := countRows(t, st, "SELECT count(*) FROM dataset_items WHERE dataset_id = ?", c.ds.ID); n != c.want {
				t.Errorf("dataset %s of %s keeps %d items, want %d", c.ds.Name, c.ds.ProjectID, n, c.want)
			}
		}
		if n := countRows(t, st, "SELECT count(*) FROM dataset_items WHERE CAST(vars AS text) LIKE '%' || ? || '%'", "golden carol"); n != 0 {
			t.Errorf("carol's golden items are still stored (%d)", n)
		}
		if n := countRows(t, st, "SELECT count(*) FROM dataset_revocations WHERE value LIKE '%' || ? || '%'", "carol"); n != 0 {
			t.Errorf("the revocation list holds the identifier (%d rows)", n)
		}
		revokes := 0
		for _, e := range allAudit(t, st) {
			if strings.Contains(string(e.After)+string(e.Before), "carol") {
				t.Errorf("audit entry %s holds the subject: %s", e.Action, e.After)
			}
			if e.Action == "dataset.revoke" && strings.Contains(string(e.After), SubjectHash(who)) {
				revokes++
			}
		}
		if revokes != 2 {
			t.Errorf("%d dataset.revoke entries with the subject's hash, want 2 (golden, chats)", revokes)
		}
	})
}

// TestAddItemsManyInParallel: items are prepared on several goroutines; they are stored in
// the order given, and of two bad items the error names the first.
func TestAddItemsManyInParallel(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		ds, err := st.CreateDataset(ctx, DefaultProjectID, "many", "")
		if err != nil {
			t.Fatal(err)
		}
		items := make([]dataset.Item, 5000)
		for i := range items {
			items[i] = dsItem(fmt.Sprintf("q%d", i), "a")
		}
		bad := slices.Clone(items)
		bad[4000].Expected = "\xff"
		bad[1200].Source = "\xfe"
		if _, _, err := st.AddItems(ctx, ds.ID, bad, "", false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "item 1201:") {
			t.Fatalf("two bad items = %v, want the first (item 1201) named", err)
		}
		if _, _, err := st.AddItems(ctx, ds.ID, items, "", false); err != nil {
			t.Fatal(err)
		}
		got, _, err := st.ListItems(ctx, ds.ID, 0, "4990", 100)
		if err != nil || len(got) != 10 || got[0].Vars["question"] != "q4990" || got[9].Vars["question"] != "q4999" {
			t.Fatalf("last items = %+v, %v", got, err)
		}
	})
}
