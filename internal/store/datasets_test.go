package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/dataset"
)

func dsItem(q, expected string) dataset.Item {
	return dataset.Item{Vars: map[string]any{"question": q}, Expected: expected}
}

// allItems reads every item of a version, page by page (small pages, to cross pages).
func allItems(t *testing.T, st Store, datasetID string, version int) []dataset.Item {
	t.Helper()
	var out []dataset.Item
	cursor := ""
	for {
		page, next, err := st.ListItems(context.Background(), datasetID, version, cursor, 2)
		if err != nil {
			t.Fatalf("ListItems(v%d): %v", version, err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

func questions(items []dataset.Item) []string {
	var qs []string
	for _, it := range items {
		qs = append(qs, fmt.Sprint(it.Vars["question"]))
	}
	return qs
}

// TestDatasetVersionsAndDedupe: each import is a new immutable version; pinned reads return
// the old set; exact duplicates are skipped; replace makes a version of the new items only.
func TestDatasetVersionsAndDedupe(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		ds, err := st.CreateDataset(ctx, DefaultProjectID, "support/golden", "refund questions")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateDataset(ctx, DefaultProjectID, "support/golden", ""); !errors.Is(err, ErrConflict) {
			t.Errorf("second create = %v, want ErrConflict", err)
		}
		if _, err := st.CreateDataset(ctx, DefaultProjectID, "bad name", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad name = %v, want ErrInvalid", err)
		}
		full := dataset.Item{Vars: map[string]any{"question": "a", "n": json.Number("1.50"), "tags": []any{"x", true}},
			Expected: "A", Metadata: map[string]any{"ticket": "T-1"}, Segment: map[string]string{"locale": "fr"},
			Source: "tickets.csv", Consent: true, ConsentBasis: "contract"}
		v1, stats, err := st.AddItems(ctx, ds.ID, []dataset.Item{full, dsItem("b", "B"), dsItem("b", "B")}, "first", false)
		if err != nil {
			t.Fatal(err)
		}
		if v1.Version != 1 || v1.ItemCount != 2 || !reflect.DeepEqual(stats, AddStats{Created: true, Added: 2, Duplicates: 1}) {
			t.Fatalf("v1 = %+v, %+v; want version 1 of 2 items, 1 duplicate", v1, stats)
		}
		// The second import repeats a and adds c: a is a duplicate of the version's item.
		v2, stats, err := st.AddItems(ctx, ds.ID, []dataset.Item{dsItem("c", "C"), full}, "more", false)
		if err != nil {
			t.Fatal(err)
		}
		if v2.Version != 2 || v2.ItemCount != 3 || !reflect.DeepEqual(stats, AddStats{Created: true, Added: 1, Duplicates: 1}) {
			t.Fatalf("v2 = %+v, %+v; want version 2 of 3 items", v2, stats)
		}
		// Nothing new: no empty version.
		same, stats, err := st.AddItems(ctx, ds.ID, []dataset.Item{dsItem("c", "C")}, "again", false)
		if err != nil || same.Version != 2 || stats.Created || stats.Duplicates != 1 {
			t.Fatalf("repeat import = %+v, %+v, %v; want version 2 unchanged", same, stats, err)
		}
		v3, stats, err := st.AddItems(ctx, ds.ID, []dataset.Item{dsItem("d", "D"), dsItem("b", "B")}, "replace", true)
		if err != nil {
			t.Fatal(err)
		}
		if v3.Version != 3 || v3.ItemCount != 2 || !reflect.DeepEqual(stats, AddStats{Created: true, Added: 1, Removed: 2}) {
			t.Fatalf("v3 = %+v, %+v; want version 3 of 2 items, 2 removed", v3, stats)
		}
		// Bringing a back after replace reuses the stored item (same id).
		v4, stats, err := st.AddItems(ctx, ds.ID, []dataset.Item{full}, "", false)
		if err != nil || v4.ItemCount != 3 || stats.Added != 1 {
			t.Fatalf("v4 = %+v, %+v, %v", v4, stats, err)
		}
		// Near-duplicates among the items given are grouped by line (an exact copy is not
		// one of them), kept, and reported even when they are in the dataset already.
		near := []dataset.Item{dsItem("Where is my refund?", "Soon"), dsItem("e", "E"), dsItem("where is my  refund", "soon."),
			dsItem("Where is my refund?", "Soon"), dsItem("d", "D")}
		for i := range near {
			near[i].Line = i + 1
		}
		nds, err := st.CreateDataset(ctx, DefaultProjectID, "support/near", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.AddItems(ctx, nds.ID, near[4:], "", false); err != nil {
			t.Fatal(err)
		}
		_, stats, err = st.AddItems(ctx, nds.ID, near, "", false)
		if err != nil || !reflect.DeepEqual(stats.NearGroups, [][]int{{1, 3}}) || stats.Added != 3 || stats.Duplicates != 2 {
			t.Fatalf("near-duplicates: %+v, %v; want lines 1 and 3 grouped, 3 added, 2 duplicates", stats, err)
		}

		for _, c := range []struct {
			version int
			want    []string
		}{{1, []string{"a", "b"}}, {2, []string{"a", "b", "c"}}, {3, []string{"b", "d"}}, {4, []string{"a", "b", "d"}}, {0, []string{"a", "b", "d"}}} {
			if got := questions(allItems(t, st, ds.ID, c.version)); !slices.Equal(got, c.want) {
				t.Errorf("version %d holds %v, want %v", c.version, got, c.want)
			}
		}
		got := allItems(t, st, ds.ID, 1)[0]
		if got.ID != 1 || got.Expected != "A" || got.Vars["n"] != json.Number("1.50") || got.Metadata["ticket"] != "T-1" ||
			got.Segment["locale"] != "fr" || got.Source != "tickets.csv" || !got.Consent || got.ConsentBasis != "contract" {
			t.Errorf("item read back = %+v", got)
		}
		if h, _ := dataset.ContentHash(full.Vars, full.Expected); got.ContentHash != h {
			t.Errorf("content hash = %s, want %s", got.ContentHash, h)
		}
		if n := countRows(t, st, "SELECT count(*) FROM dataset_items WHERE dataset_id = ?", ds.ID); n != 4 {
			t.Errorf("%d item rows, want 4 (a duplicate is stored once)", n)
		}

		vs, err := st.DatasetVersions(ctx, ds.ID)
		if err != nil || len(vs) != 4 || vs[0].Version != 4 || vs[3].Message != "first" {
			t.Errorf("versions = %+v, %v", vs, err)
		}
		got2, err := st.GetDataset(ctx, DefaultProjectID, "support/golden")
		if err != nil || got2.LatestVersion != 4 || got2.ItemCount != 3 {
			t.Errorf("GetDataset = %+v, %v", got2, err)
		}
		if _, _, err := st.ListItems(ctx, ds.ID, 9, "", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("version 9 = %v, want ErrNotFound", err)
		}
		if _, _, err := st.ListItems(ctx, ds.ID, 1, "x", 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad cursor = %v, want ErrInvalid", err)
		}
		// The schema refuses to rewrite a version's items.
		var exec func(string) error
		switch s := st.(type) {
		case *sqliteStore:
			exec = func(q string) error { _, err := s.writer.ExecContext(ctx, q); return err }
		case *postgresStore:
			exec = func(q string) error { _, err := s.pool.Exec(ctx, q); return err }
		}
		for _, q := range []string{`UPDATE dataset_items SET expected = 'X'`, `UPDATE dataset_versions SET item_count = 0`,
			`UPDATE dataset_version_items SET item_id = 1`} {
			if err := exec(q); err == nil {
				t.Errorf("%s succeeded; versions must be immutable", q)
			}
		}
	})
}

// TestDatasetProjectsIsolated: a dataset is found only in its own project, and names are
// per project.
func TestDatasetProjectsIsolated(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		other, err := st.CreateProject(ctx, Project{Slug: "other", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		a, err := st.CreateDataset(ctx, DefaultProjectID, "golden", "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := st.CreateDataset(ctx, other.ID, "golden", "")
		if err != nil {
			t.Fatalf("same name in another project: %v", err)
		}
		if _, _, err := st.AddItems(ctx, a.ID, []dataset.Item{dsItem("a", "A")}, "", false); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GetDataset(ctx, other.ID, a.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetDataset by id from another project = %v, want ErrNotFound", err)
		}
		if got, _ := st.GetDataset(ctx, other.ID, "golden"); got.ID != b.ID || got.ItemCount != 0 {
			t.Errorf("other project's golden = %+v", got)
		}
		list, _ := st.ListDatasets(ctx, other.ID)
		if len(list) != 1 || list[0].ID != b.ID {
			t.Errorf("ListDatasets(other) = %+v", list)
		}
		if items := allItems(t, st, b.ID, 0); len(items) != 0 {
			t.Errorf("other project's dataset has %d items", len(items))
		}
		if _, err := st.CreateDataset(ctx, "p_missing", "x", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing project = %v, want ErrNotFound", err)
		}
		if _, _, err := st.AddItems(ctx, "ds_missing", nil, "", false); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing dataset = %v, want ErrNotFound", err)
		}
	})
}

// TestDatasetAudit: creating a dataset and importing a version are audited, with counts and
// never the items; an import that changes nothing writes no entry.
func TestDatasetAudit(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		au := st.WithAudit(Actor{Type: ActorUser, ID: "u_1"})
		ds, err := au.CreateDataset(ctx, DefaultProjectID, "golden", "")
		if err != nil {
			t.Fatal(err)
		}
		secret := "secret-item-text"
		if _, _, err := au.AddItems(ctx, ds.ID, []dataset.Item{dsItem(secret, "A")}, "m1", false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := au.AddItems(ctx, ds.ID, []dataset.Item{dsItem(secret, "A")}, "m2", false); err != nil {
			t.Fatal(err)
		}
		es := allAudit(t, st)
		var got []string
		for _, e := range es {
			got = append(got, e.Action)
			if e.TargetID != ds.ID || e.ProjectID != DefaultProjectID || e.ActorID != "u_1" {
				t.Errorf("entry %s = %+v", e.Action, e)
			}
			if strings.Contains(string(e.Before)+string(e.After), secret) {
				t.Errorf("entry %s holds the item's text: %s", e.Action, e.After)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"dataset.create", "dataset.import"}) {
			t.Fatalf("actions = %v, want dataset.create and one dataset.import", got)
		}
		for _, e := range es {
			if e.Action == "dataset.import" {
				var after map[string]any
				json.Unmarshal(e.After, &after)
				checkField(t, "after", after, "version", 1.0)
				checkField(t, "after", after, "item_count", 1.0)
				checkField(t, "after", after, "added", 1.0)
			}
		}
	})
}
