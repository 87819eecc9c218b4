package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/dataset"
)

// personItem is an item of one person, whose text carries a marker to look for in the
// database afterwards.
func personItem(q, subject string) dataset.Item {
	return dataset.Item{Vars: map[string]any{"question": q}, Expected: "answer to " + q,
		Metadata: map[string]any{"subject_id": subject}, Consent: true, ConsentBasis: "contract"}
}

// TestDatasetPolicyAndRevocation: a dataset starts with the default policy; a policy is
// checked and audited; consent is revoked by item id and by subject, with clear errors.
func TestDatasetPolicyAndRevocation(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		st := openStore(t, dsn)
		au := st.WithAudit(Actor{Type: ActorUser, ID: "u_1"})
		ds, err := au.CreateDataset(ctx, DefaultProjectID, "golden", "")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := st.DatasetPolicy(ctx, ds.ID); err != nil || p != DefaultDatasetPolicy {
			t.Fatalf("new dataset's policy = %+v, %v; want %+v", p, err, DefaultDatasetPolicy)
		}
		for _, bad := range []DatasetPolicy{{RetentionDays: -1}, {RetentionDays: MaxRetentionDays + 1},
			{SubjectField: "metadata"}, {SubjectField: "expected.x"}, {SubjectField: "vars."}} {
			if _, err := au.SetDatasetPolicy(ctx, ds.ID, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("SetDatasetPolicy(%+v) = %v, want ErrInvalid", bad, err)
			}
		}
		want := DatasetPolicy{RetentionDays: 30, DropRevoked: true, SubjectField: "vars.user"}
		if _, err := au.SetDatasetPolicy(ctx, ds.ID, want); err != nil {
			t.Fatal(err)
		}
		if p, _ := st.DatasetPolicy(ctx, ds.ID); p != want {
			t.Errorf("policy read back = %+v, want %+v", p, want)
		}
		if _, err := st.DatasetPolicy(ctx, "ds_missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing dataset's policy = %v, want ErrNotFound", err)
		}

		items := []dataset.Item{
			{Vars: map[string]any{"question": "a", "user": "alice@example.com"}},
			{Vars: map[string]any{"question": "b", "user": "bob@example.com"}},
			{Vars: map[string]any{"question": "c", "user": json.Number("42")}},
		}
		if _, _, err := au.AddItems(ctx, ds.ID, items, "", false); err != nil {
			t.Fatal(err)
		}
		if _, err := au.RevokeConsent(ctx, ds.ID, Revocation{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("empty revocation = %v, want ErrInvalid", err)
		}
		if _, err := au.RevokeConsent(ctx, ds.ID, Revocation{ItemIDs: []int64{2, 99}}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "99") {
			t.Errorf("revoking a missing item = %v, want ErrInvalid naming 99", err)
		}
		res, err := au.RevokeConsent(ctx, ds.ID, Revocation{Subjects: []string{"alice@example.com", "42"}, Reason: "erasure request"})
		if err != nil || res.Recorded != 2 || res.Matching != 2 || !res.DropRevoked {
			t.Fatalf("revoke by subject = %+v, %v; want 2 recorded, items 1 and 3 matching", res, err)
		}
		// Again, plus item 2: only item 2 is new.
		res, err = au.RevokeConsent(ctx, ds.ID, Revocation{ItemIDs: []int64{2, 2}, Subjects: []string{" alice@example.com "}})
		if err != nil || res.Recorded != 1 || res.Matching != 3 {
			t.Fatalf("second revoke = %+v, %v; want 1 recorded, 3 matching", res, err)
		}
		// The revocation list and the audit keep hashes, never the identifier.
		if n := countRows(t, st, "SELECT count(*) FROM dataset_revocations WHERE value LIKE '%' || ? || '%'", "alice"); n != 0 {
			t.Errorf("the revocation list holds the subject identifier in %d rows", n)
		}
		var kinds []string
		for _, e := range allAudit(t, st) {
			kinds = append(kinds, e.Action)
			if strings.Contains(string(e.After)+string(e.Before), "alice@example.com") {
				t.Errorf("audit entry %s holds the subject identifier: %s", e.Action, e.After)
			}
			if e.Action == "dataset.policy" {
				var before, after map[string]any
				json.Unmarshal(e.Before, &before)
				json.Unmarshal(e.After, &after)
				checkField(t, "before", before, "retention_days", 0.0)
				checkField(t, "after", after, "retention_days", 30.0)
				checkField(t, "after", after, "subject_field", "vars.user")
			}
		}
		for _, a := range []string{"dataset.policy", "dataset.revoke"} {
			if !slices.Contains(kinds, a) {
				t.Errorf("no %s audit entry in %v", a, kinds)
			}
		}
		// Without a subject field, revoking by subject says how to set one.
		if _, err := au.SetDatasetPolicy(ctx, ds.ID, DatasetPolicy{DropRevoked: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := au.RevokeConsent(ctx, ds.ID, Revocation{Subjects: []string{"x"}}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--subject-field") {
			t.Errorf("revoke by subject without a subject field = %v", err)
		}
	})
}

// TestDatasetPurge: a purge deletes items older than the retention period and items whose
// consent was revoked, from every version; versions stay with lower counts; a dry run
// changes nothing; the content is gone from the tables (and, on SQLite, from the file);
// the audit entry has counts and ids, never content; a subject's item imported after the
// revocation is purged too.
func TestDatasetPurge(t *testing.T) {
	ctx := context.Background()
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
		st := openStoreAt(t, dsn, c)
		au := st.WithAudit(Actor{Type: ActorSystem})
		ds, err := au.CreateDataset(ctx, DefaultProjectID, "support/golden", "")
		if err != nil {
			t.Fatal(err)
		}
		const oldMarker, revokedMarker = "zq-old-ticket-7781", "zq-revoked-ticket-4410"
		// Version 1 (day 0): two items; version 2 (day 20): two more.
		if _, _, err := au.AddItems(ctx, ds.ID, []dataset.Item{personItem(oldMarker, "s-1"), personItem("old too", "s-2")}, "v1", false); err != nil {
			t.Fatal(err)
		}
		c.advance(20 * 24 * time.Hour)
		if _, _, err := au.AddItems(ctx, ds.ID, []dataset.Item{personItem(revokedMarker, "s-3"), personItem("new", "s-4")}, "v2", false); err != nil {
			t.Fatal(err)
		}
		// Version 3 replaces: only the revoked item and the new one.
		if _, _, err := au.AddItems(ctx, ds.ID, []dataset.Item{personItem(revokedMarker, "s-3"), personItem("new", "s-4")}, "v3", true); err != nil {
			t.Fatal(err)
		}
		if _, err := au.SetDatasetPolicy(ctx, ds.ID, DatasetPolicy{RetentionDays: 10, DropRevoked: true, SubjectField: "metadata.subject_id"}); err != nil {
			t.Fatal(err)
		}
		if _, err := au.RevokeConsent(ctx, ds.ID, Revocation{Subjects: []string{"s-3"}}); err != nil {
			t.Fatal(err)
		}
		// Retention purges items 1 and 2 (day 0, older than 10 days), revocation item 3.
		auditBefore := len(allAudit(t, st))
		dry, err := au.PurgeDatasets(ctx, DefaultProjectID, "", true)
		if err != nil {
			t.Fatal(err)
		}
		if len(dry) != 1 || dry[0].Purged != 3 || dry[0].Retention != 2 || dry[0].Revoked != 1 || dry[0].Versions != 3 ||
			!slices.Equal(dry[0].ItemIDs, []int64{1, 2, 3}) || !dry[0].DryRun {
			t.Fatalf("dry run = %+v; want items 1, 2 (retention) and 3 (revoked) from 3 versions", dry)
		}
		if n := countRows(t, st, "SELECT count(*) FROM dataset_items WHERE dataset_id = ?", ds.ID); n != 4 {
			t.Errorf("after a dry run %d items remain, want 4", n)
		}
		if n := len(allAudit(t, st)); n != auditBefore {
			t.Errorf("a dry run wrote %d audit entries", n-auditBefore)
		}

		got, err := au.PurgeDatasets(ctx, DefaultProjectID, ds.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Purged != 3 || got[0].DryRun || got[0].Dataset != "support/golden" {
			t.Fatalf("purge = %+v", got)
		}
		for _, c := range []struct {
			version int
			want    []string
		}{{1, nil}, {2, []string{"new"}}, {3, []string{"new"}}} {
			if got := questions(allItems(t, st, ds.ID, c.version)); !slices.Equal(got, c.want) {
				t.Errorf("version %d holds %v after the purge, want %v", c.version, got, c.want)
			}
		}
		vs, err := st.DatasetVersions(ctx, ds.ID)
		if err != nil || len(vs) != 3 || vs[0].ItemCount != 1 || vs[1].ItemCount != 1 || vs[2].ItemCount != 0 {
			t.Errorf("versions after the purge = %+v, %v; want 3 versions of 1, 1 and 0 items", vs, err)
		}
		// Really gone: no row holds the content, in any table.
		for _, q := range []string{
			"SELECT count(*) FROM dataset_items WHERE vars LIKE '%' || ? || '%' OR expected LIKE '%' || ? || '%'",
		} {
			for _, m := range []string{oldMarker, revokedMarker} {
				var n int
				switch s := st.(type) {
				case *sqliteStore:
					s.reader.QueryRowContext(ctx, q, m, m).Scan(&n)
				case *postgresStore:
					s.pool.QueryRow(ctx, strings.NewReplacer("vars LIKE", "vars::text LIKE").Replace(
						strings.Replace(strings.Replace(q, "?", "$1", 1), "?", "$2", 1)), m, m).Scan(&n)
				}
				if n != 0 {
					t.Errorf("%d item rows still hold %q", n, m)
				}
			}
		}
		if n := countRows(t, st, "SELECT count(*) FROM dataset_version_items WHERE dataset_id = ?", ds.ID); n != 2 {
			t.Errorf("%d version rows remain, want 2 (item 4 in versions 2 and 3)", n)
		}
		// The audit entry has counts and ids, never content.
		var purge *AuditEntry
		for _, e := range allAudit(t, st) {
			for _, m := range []string{oldMarker, revokedMarker, "answer to"} {
				if strings.Contains(string(e.Before)+string(e.After), m) {
					t.Errorf("audit entry %s holds item content %q", e.Action, m)
				}
			}
			if e.Action == "dataset.purge" {
				e := e
				purge = &e
			}
		}
		if purge == nil {
			t.Fatal("no dataset.purge audit entry")
		}
		var after map[string]any
		json.Unmarshal(purge.After, &after)
		checkField(t, "after", after, "purged", 3.0)
		checkField(t, "after", after, "retention", 2.0)
		checkField(t, "after", after, "revoked", 1.0)
		if ids, _ := after["item_ids"].([]any); len(ids) != 3 {
			t.Errorf("purge entry item_ids = %v", after["item_ids"])
		}
		if purge.ActorType != ActorSystem {
			t.Errorf("purge actor = %s", purge.ActorType)
		}
		// On SQLite the bytes are gone from the file too (secure_delete, WAL checkpoint).
		if s, ok := st.(*sqliteStore); ok {
			for _, f := range []string{s.path, s.path + "-wal"} {
				b, err := os.ReadFile(strings.TrimPrefix(f, "sqlite:"))
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				for _, m := range []string{oldMarker, revokedMarker} {
					if bytes.Contains(b, []byte(m)) {
						t.Errorf("%s still holds %q after the purge", f, m)
					}
				}
			}
		}
		// Nothing left to purge: a second purge deletes nothing and writes no entry.
		n := len(allAudit(t, st))
		again, err := au.PurgeDatasets(ctx, "", "", false)
		if err != nil || len(again) != 1 || again[0].Purged != 0 {
			t.Errorf("second purge = %+v, %v", again, err)
		}
		if len(allAudit(t, st)) != n {
			t.Error("a purge that deleted nothing was audited")
		}
		// The subject's consent stays revoked: their item imported again is purged again.
		if _, _, err := au.AddItems(ctx, ds.ID, []dataset.Item{personItem("again", "s-3")}, "v4", false); err != nil {
			t.Fatal(err)
		}
		again, err = au.PurgeDatasets(ctx, DefaultProjectID, ds.ID, false)
		if err != nil || len(again) != 1 || again[0].Revoked != 1 || again[0].Retention != 0 {
			t.Errorf("purge after re-import = %+v, %v; want the subject's item revoked", again, err)
		}
		if _, err := au.PurgeDatasets(ctx, DefaultProjectID, "ds_missing", false); !errors.Is(err, ErrNotFound) {
			t.Errorf("purge of a missing dataset = %v, want ErrNotFound", err)
		}
		// Only a recount may change a version.
		for _, q := range []string{`UPDATE dataset_versions SET item_count = item_count + 1`, `UPDATE dataset_versions SET message = 'x'`} {
			if err := rawExec(t, st, q); err == nil {
				t.Errorf("%s succeeded; versions must be immutable", q)
			}
		}
	})
}
