package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DatasetPolicies keeps each dataset's retention and consent policy, the consent
// revocations, and purges: the items a policy no longer allows are deleted for good, from
// every version that held them. Versions are immutable except for purges: a purge lowers
// the item counts of the versions it took items from.
//
// Methods taking a dataset id do not check its project: look the dataset up first with
// GetDataset, which does.
type DatasetPolicies interface {
	// DatasetPolicy returns a dataset's policy, or ErrNotFound.
	DatasetPolicy(ctx context.Context, datasetID string) (DatasetPolicy, error)
	// SetDatasetPolicy replaces a dataset's policy (audited as dataset.policy) and returns
	// it. A field the store cannot accept is ErrInvalid, a missing dataset ErrNotFound.
	SetDatasetPolicy(ctx context.Context, datasetID string, p DatasetPolicy) (DatasetPolicy, error)
	// RevokeConsent records revocations of consent (audited as dataset.revoke): for items by
	// id, and for every item, now or imported later, whose subject field holds one of
	// subjects. It does not delete: a purge does (when the policy drops revoked items). An
	// item id the dataset does not have is ErrInvalid, a missing dataset ErrNotFound.
	RevokeConsent(ctx context.Context, datasetID string, rv Revocation) (RevokeResult, error)
	// RevokeSubjects revokes consent for subjects in every dataset of a project at once (a
	// person's erasure request), in one transaction: each dataset with a subject field
	// records the revocations (audited as dataset.revoke, with subject hashes only); a
	// dataset without one is listed as skipped. The next purge deletes the items. A
	// missing project is ErrNotFound, a bad subject or reason ErrInvalid.
	RevokeSubjects(ctx context.Context, projectID string, subjects []string, reason string) ([]SubjectRevocation, error)
	// PurgeDatasets applies the policies: of one dataset (datasetID), of every dataset of a
	// project (datasetID ""), or of every dataset (projectID and datasetID ""). With dryRun
	// it only counts. Each dataset is purged in its own transaction with its audit entry
	// (dataset.purge: counts, reasons and item ids, never an item's content). A missing
	// dataset is ErrNotFound.
	PurgeDatasets(ctx context.Context, projectID, datasetID string, dryRun bool) ([]PurgeResult, error)
}

// DatasetPolicy is what a dataset keeps.
type DatasetPolicy struct {
	// RetentionDays: items created more than this many days ago are purged; 0 keeps them.
	RetentionDays int `json:"retention_days"`
	// DropRevoked: items whose consent was revoked are purged.
	DropRevoked bool `json:"drop_revoked"`
	// SubjectField is the item field that identifies the person an item comes from, which
	// a revocation by subject matches: metadata.NAME, vars.NAME, segment.NAME or source; ""
	// turns revocation by subject off.
	SubjectField string `json:"subject_field"`
}

// DefaultDatasetPolicy is a new dataset's policy: keep items for ever, drop revoked ones,
// subjects in metadata.subject_id.
var DefaultDatasetPolicy = DatasetPolicy{DropRevoked: true, SubjectField: "metadata.subject_id"}

// MaxRetentionDays bounds RetentionDays (100 years).
const MaxRetentionDays = 36500

// Check reports whether the policy can be kept, saying how to fix it if not (ErrInvalid).
func (p DatasetPolicy) Check() error {
	if p.RetentionDays < 0 || p.RetentionDays > MaxRetentionDays {
		return invalid("retention_days %d: use a number of days from 1 to %d, or 0 to keep items for ever", p.RetentionDays, MaxRetentionDays)
	}
	return CheckSubjectField(p.SubjectField)
}

// CheckSubjectField reports whether f can name an item's subject field (ErrInvalid).
func CheckSubjectField(f string) error {
	if f == "" || f == "source" {
		return nil
	}
	kind, name, ok := strings.Cut(f, ".")
	if !ok || name == "" || len(f) > 200 || !utf8.ValidString(f) || strings.ContainsRune(f, 0) ||
		(kind != "metadata" && kind != "vars" && kind != "segment") {
		return invalid("subject_field %q: use metadata.NAME, vars.NAME, segment.NAME or source (or empty to turn revocation by subject off)", f)
	}
	return nil
}

// Revocation is what RevokeConsent records.
type Revocation struct {
	ItemIDs  []int64  `json:"item_ids,omitempty"`
	Subjects []string `json:"subjects,omitempty"`
	Reason   string   `json:"reason,omitempty"`
}

// RevokeResult is what RevokeConsent did.
type RevokeResult struct {
	Recorded int `json:"recorded"` // revocations recorded (a repeated one counts once)
	Matching int `json:"matching"` // items of the dataset the revocations now cover
	// DropRevoked is the policy's: when false, no purge will delete them.
	DropRevoked bool `json:"drop_revoked"`
}

// PurgeResult is what a purge did (or, dry run, would do) to one dataset.
type PurgeResult struct {
	DatasetID string `json:"dataset_id"`
	Dataset   string `json:"dataset"`
	ProjectID string `json:"project_id"`
	DryRun    bool   `json:"dry_run"`
	Purged    int    `json:"purged"`    // items deleted (or to delete)
	Retention int    `json:"retention"` // of which older than the retention period
	Revoked   int    `json:"revoked"`   // of which with consent revoked (and not already counted)
	// Versions is how many versions lost items.
	Versions int `json:"versions"`
	// ItemIDs are the purged items' ids, in order (never their content).
	ItemIDs []int64 `json:"item_ids,omitempty"`
}

// maxRevocation bounds one RevokeConsent call.
const maxRevocation = 10000

// SubjectHash is how a revocation by subject keeps the identifier: its hex SHA-256 (after
// trimming space), so that the revocation list does not itself hold the identifier.
func SubjectHash(subject string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(subject)))
	return hex.EncodeToString(sum[:])
}

// DatasetPolicy implements DatasetPolicies.
func (a *accounts) DatasetPolicy(ctx context.Context, datasetID string) (DatasetPolicy, error) {
	_, _, p, err := readPolicy(ctx, a.db, datasetID)
	return p, err
}

// readPolicy reads a dataset's project, name and policy inside d.
func readPolicy(ctx context.Context, d db, datasetID string) (projectID, name string, p DatasetPolicy, err error) {
	err = d.queryRow(ctx, `SELECT project_id, name, retention_days, drop_revoked, subject_field FROM datasets WHERE id = ?`,
		datasetID).Scan(&projectID, &name, &p.RetentionDays, &p.DropRevoked, &p.SubjectField)
	if errors.Is(err, errNoRows) {
		return "", "", p, datasetNotFound(datasetID)
	}
	if err != nil {
		return "", "", p, fmt.Errorf("get the policy of dataset %s: %w", datasetID, err)
	}
	return projectID, name, p, nil
}

// datasetAuditPolicy is a policy as an audit entry names it.
type datasetAuditPolicy struct {
	Name string `json:"name"`
	DatasetPolicy
}

// SetDatasetPolicy implements DatasetPolicies.
func (a *accounts) SetDatasetPolicy(ctx context.Context, datasetID string, p DatasetPolicy) (DatasetPolicy, error) {
	if err := p.Check(); err != nil {
		return DatasetPolicy{}, err
	}
	err := a.db.inTx(ctx, func(d db) error {
		projectID, name, before, err := readPolicy(ctx, d, datasetID)
		if err != nil {
			return err
		}
		if _, err := d.exec(ctx, `UPDATE datasets SET retention_days = ?, drop_revoked = ?, subject_field = ? WHERE id = ?`,
			p.RetentionDays, p.DropRevoked, p.SubjectField, datasetID); err != nil {
			return fmt.Errorf("set the policy of dataset %s: %w", name, err)
		}
		return a.record(ctx, d, projectID, "dataset.policy", "dataset", datasetID,
			datasetAuditPolicy{name, before}, datasetAuditPolicy{name, p})
	})
	if err != nil {
		return DatasetPolicy{}, err
	}
	return p, nil
}

// datasetAuditRevoke is a revocation as an audit entry names it: item ids and subject
// hashes, never a subject identifier.
type datasetAuditRevoke struct {
	Name          string   `json:"name"`
	ItemIDs       []int64  `json:"item_ids,omitempty"`
	SubjectHashes []string `json:"subject_hashes,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	Matching      int      `json:"matching"`
}

// RevokeConsent implements DatasetPolicies.
func (a *accounts) RevokeConsent(ctx context.Context, datasetID string, rv Revocation) (RevokeResult, error) {
	if len(rv.ItemIDs) == 0 && len(rv.Subjects) == 0 {
		return RevokeResult{}, invalid("name the items (by id) or the subjects whose consent is revoked")
	}
	if len(rv.ItemIDs)+len(rv.Subjects) > maxRevocation {
		return RevokeResult{}, invalid("at most %d items and subjects at once: split the revocation", maxRevocation)
	}
	if rv.Reason != "" {
		if err := checkText("reason", rv.Reason, 2000); err != nil {
			return RevokeResult{}, err
		}
	}
	hashes, err := checkSubjects(rv.Subjects)
	if err != nil {
		return RevokeResult{}, err
	}
	var out RevokeResult
	err = a.db.inTx(ctx, func(d db) error {
		var err error
		out, err = a.revokeIn(ctx, d, datasetID, rv, hashes)
		return err
	})
	if err != nil {
		return RevokeResult{}, err
	}
	return out, nil
}

// checkSubjects checks subject identifiers and returns their hashes.
func checkSubjects(subjects []string) ([]string, error) {
	var hashes []string
	for i, s := range subjects {
		if strings.TrimSpace(s) == "" || !utf8.ValidString(s) || len(s) > 1000 {
			return nil, invalid("subject %d is empty or not text of at most 1000 bytes", i+1)
		}
		hashes = append(hashes, SubjectHash(s))
	}
	return hashes, nil
}

// revokeIn records a revocation in d (a transaction), hashes being rv.Subjects' hashes.
func (a *accounts) revokeIn(ctx context.Context, d db, datasetID string, rv Revocation, hashes []string) (RevokeResult, error) {
	var out RevokeResult
	projectID, name, p, err := readPolicy(ctx, d, datasetID)
	if err != nil {
		return out, err
	}
	if len(hashes) > 0 && p.SubjectField == "" {
		return out, invalid("dataset %s has no subject field, so consent cannot be revoked by subject: set one (e.g. `plumb dataset policy %s --subject-field metadata.subject_id`) or revoke by item id", name, name)
	}
	ids := uniqueIDs(rv.ItemIDs)
	for start := 0; start < len(ids); start += datasetLookupBatch {
		chunk := ids[start:min(start+datasetLookupBatch, len(ids))]
		args := []any{datasetID}
		for _, id := range chunk {
			args = append(args, id)
		}
		var n int
		if err := d.queryRow(ctx, `SELECT count(*) FROM dataset_items WHERE dataset_id = ? AND id IN (`+placeholders(len(chunk))+`)`,
			args...).Scan(&n); err != nil {
			return out, fmt.Errorf("revoke consent in dataset %s: %w", name, err)
		}
		if n != len(chunk) {
			return out, invalid("dataset %s has no item with some of the ids %s: list the item ids with `plumb dataset show %s --items 0`", name, joinIDs(chunk, 20), name)
		}
	}
	now := a.stamp()
	add := func(kind, value string) error {
		// A repeated revocation is kept once, with its first reason and time.
		var n int
		if err := d.queryRow(ctx, `SELECT count(*) FROM dataset_revocations WHERE dataset_id = ? AND kind = ? AND value = ?`,
			datasetID, kind, value).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := d.exec(ctx, `INSERT INTO dataset_revocations (dataset_id, kind, value, reason, created_at) VALUES (?, ?, ?, ?, ?)`,
			datasetID, kind, value, rv.Reason, now); err != nil {
			return err
		}
		out.Recorded++
		return nil
	}
	for _, id := range ids {
		if err := add("item", strconv.FormatInt(id, 10)); err != nil {
			return out, fmt.Errorf("revoke consent in dataset %s: %w", name, err)
		}
	}
	for _, h := range uniqueStrings(hashes) {
		if err := add("subject", h); err != nil {
			return out, fmt.Errorf("revoke consent in dataset %s: %w", name, err)
		}
	}
	revoked, err := revokedItems(ctx, d, datasetID, p)
	if err != nil {
		return out, fmt.Errorf("revoke consent in dataset %s: %w", name, err)
	}
	out.Matching, out.DropRevoked = len(revoked), p.DropRevoked
	return out, a.record(ctx, d, projectID, "dataset.revoke", "dataset", datasetID, nil,
		datasetAuditRevoke{Name: name, ItemIDs: ids, SubjectHashes: uniqueStrings(hashes), Reason: rv.Reason, Matching: out.Matching})
}

// SubjectRevocation is what RevokeSubjects did to one dataset of the project.
type SubjectRevocation struct {
	DatasetID string `json:"dataset_id"`
	Dataset   string `json:"dataset"`
	// SubjectField is the field the dataset's items name their subject in ("" when the
	// dataset has none, and so was not covered: Skipped says why).
	SubjectField string `json:"subject_field"`
	RevokeResult
	Skipped string `json:"skipped,omitempty"`
}

// RevokeSubjects implements DatasetPolicies.
func (a *accounts) RevokeSubjects(ctx context.Context, projectID string, subjects []string, reason string) ([]SubjectRevocation, error) {
	if len(subjects) == 0 {
		return nil, invalid("name the subjects whose consent is revoked")
	}
	if len(subjects) > maxRevocation {
		return nil, invalid("at most %d subjects at once: split the revocation", maxRevocation)
	}
	if reason != "" {
		if err := checkText("reason", reason, 2000); err != nil {
			return nil, err
		}
	}
	hashes, err := checkSubjects(subjects)
	if err != nil {
		return nil, err
	}
	out := []SubjectRevocation{}
	err = a.db.inTx(ctx, func(d db) error {
		out = out[:0]
		var n int
		if err := d.queryRow(ctx, `SELECT count(*) FROM projects WHERE id = ?`, projectID).Scan(&n); err != nil {
			return fmt.Errorf("revoke consent in project %s: %w", projectID, err)
		}
		if n == 0 {
			return fmt.Errorf("project %q %w", projectID, ErrNotFound)
		}
		rows, err := d.query(ctx, `SELECT id, name, subject_field FROM datasets WHERE project_id = ? ORDER BY name`, projectID)
		if err != nil {
			return fmt.Errorf("revoke consent in project %s: %w", projectID, err)
		}
		list, err := collect(rows, "revoke consent in project "+projectID, func(r rowScanner) (SubjectRevocation, error) {
			var sr SubjectRevocation
			return sr, r.Scan(&sr.DatasetID, &sr.Dataset, &sr.SubjectField)
		})
		if err != nil {
			return err
		}
		for _, sr := range list {
			if sr.SubjectField == "" {
				sr.Skipped = "no subject field: set one with `plumb dataset policy " + sr.Dataset + " --subject-field FIELD`, or revoke its items by id"
				out = append(out, sr)
				continue
			}
			if sr.RevokeResult, err = a.revokeIn(ctx, d, sr.DatasetID, Revocation{Subjects: subjects, Reason: reason}, hashes); err != nil {
				return err
			}
			out = append(out, sr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func uniqueIDs(ids []int64) []int64 {
	out := append([]int64(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	n := 0
	for i, id := range out {
		if i == 0 || id != out[n-1] {
			out[n] = id
			n++
		}
	}
	return out[:n]
}

func uniqueStrings(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	n := 0
	for i, s := range out {
		if i == 0 || s != out[n-1] {
			out[n] = s
			n++
		}
	}
	return out[:n]
}

// joinIDs lists at most max ids.
func joinIDs(ids []int64, max int) string {
	var parts []string
	for i, id := range ids {
		if i == max {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, strconv.FormatInt(id, 10))
	}
	return strings.Join(parts, ", ")
}

// revokedItems is the set of the dataset's item ids whose consent is revoked, by item or by
// subject (through the policy's subject field).
func revokedItems(ctx context.Context, d db, datasetID string, p DatasetPolicy) (map[int64]bool, error) {
	rows, err := d.query(ctx, `SELECT kind, value FROM dataset_revocations WHERE dataset_id = ?`, datasetID)
	if err != nil {
		return nil, err
	}
	type rev struct{ kind, value string }
	revs, err := collect(rows, "revocations", func(r rowScanner) (rev, error) {
		var v rev
		return v, r.Scan(&v.kind, &v.value)
	})
	if err != nil {
		return nil, err
	}
	out := map[int64]bool{}
	subjects := map[string]bool{}
	for _, r := range revs {
		if r.kind == "item" {
			if id, err := strconv.ParseInt(r.value, 10, 64); err == nil {
				out[id] = true
			}
		} else {
			subjects[r.value] = true
		}
	}
	if len(subjects) == 0 || p.SubjectField == "" {
		// Item revocations of purged items are deleted with them; drop any stale id.
		return existing(ctx, d, datasetID, out)
	}
	col, key := "source", ""
	if p.SubjectField != "source" {
		col, key, _ = strings.Cut(p.SubjectField, ".")
	}
	rows, err = d.query(ctx, `SELECT id, `+col+` FROM dataset_items WHERE dataset_id = ?`, datasetID)
	if err != nil {
		return nil, err
	}
	type subj struct {
		id   int64
		text string
	}
	items, err := collect(rows, "item subjects", func(r rowScanner) (subj, error) {
		var s subj
		var t textCol
		err := r.Scan(&s.id, &t)
		s.text = t.S
		return s, err
	})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		v := it.text
		if key != "" {
			var obj map[string]any
			if err := decodeJSONObject(it.text, &obj); err != nil {
				return nil, fmt.Errorf("item %d: stored %s is corrupt: %w", it.id, col, err)
			}
			var ok bool
			if v, ok = subjectText(obj[key]); !ok {
				continue
			}
		}
		if strings.TrimSpace(v) != "" && subjects[SubjectHash(v)] {
			out[it.id] = true
		}
	}
	return existing(ctx, d, datasetID, out)
}

// subjectText is a field's value as a subject identifier: text as it is, a number as
// written; anything else (absent, an object) names no subject.
func subjectText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case fmt.Stringer: // json.Number
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// existing keeps the ids of ids that the dataset still has.
func existing(ctx context.Context, d db, datasetID string, ids map[int64]bool) (map[int64]bool, error) {
	if len(ids) == 0 {
		return ids, nil
	}
	list := make([]int64, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	out := map[int64]bool{}
	for start := 0; start < len(list); start += datasetLookupBatch {
		chunk := list[start:min(start+datasetLookupBatch, len(list))]
		args := []any{datasetID}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := d.query(ctx, `SELECT id FROM dataset_items WHERE dataset_id = ? AND id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		found, err := collect(rows, "items", func(r rowScanner) (int64, error) {
			var id int64
			return id, r.Scan(&id)
		})
		if err != nil {
			return nil, err
		}
		for _, id := range found {
			out[id] = true
		}
	}
	return out, nil
}

// PurgeDatasets implements DatasetPolicies.
func (a *accounts) PurgeDatasets(ctx context.Context, projectID, datasetID string, dryRun bool) ([]PurgeResult, error) {
	var ids []string
	if datasetID != "" {
		ids = []string{datasetID}
	} else {
		q, args := `SELECT id FROM datasets ORDER BY project_id, name`, []any{}
		if projectID != "" {
			q, args = `SELECT id FROM datasets WHERE project_id = ? ORDER BY name`, []any{projectID}
		}
		rows, err := a.db.query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("list datasets to purge: %w", err)
		}
		if ids, err = collect(rows, "list datasets to purge", func(r rowScanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		}); err != nil {
			return nil, err
		}
	}
	out := []PurgeResult{}
	deleted := false
	for _, id := range ids {
		res, err := a.purgeDataset(ctx, id, dryRun)
		if err != nil {
			return out, err
		}
		deleted = deleted || (!dryRun && res.Purged > 0)
		out = append(out, res)
	}
	if deleted {
		a.afterPurge(ctx)
	}
	return out, nil
}

// afterPurge moves SQLite's write-ahead log into the database file and empties it, so
// that the pages the purge overwrote (secure_delete zeroes deleted content in the file)
// do not linger as older copies in the log. It is best effort: a reader still reading an
// old snapshot keeps its frames until the next checkpoint.
func (a *accounts) afterPurge(ctx context.Context) {
	if s, ok := a.db.(sqliteDB); ok {
		s.writer.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
}

// datasetAuditPurge is a purge as an audit entry names it: counts, reasons and item ids.
type datasetAuditPurge struct {
	Name      string        `json:"name"`
	Purged    int           `json:"purged"`
	Retention int           `json:"retention,omitempty"`
	Revoked   int           `json:"revoked,omitempty"`
	Versions  int           `json:"versions"`
	ItemIDs   []int64       `json:"item_ids"`
	Policy    DatasetPolicy `json:"policy"`
}

// purgeDataset purges one dataset in one transaction.
func (a *accounts) purgeDataset(ctx context.Context, datasetID string, dryRun bool) (PurgeResult, error) {
	var out PurgeResult
	err := a.db.inTx(ctx, func(d db) error {
		projectID, name, p, err := readPolicy(ctx, d, datasetID)
		if err != nil {
			return err
		}
		out = PurgeResult{DatasetID: datasetID, Dataset: name, ProjectID: projectID, DryRun: dryRun}
		fail := func(err error) error { return fmt.Errorf("purge dataset %s: %w", name, err) }
		purge := map[int64]bool{}
		if p.RetentionDays > 0 {
			cutoff := a.stamp().Add(-time.Duration(p.RetentionDays) * 24 * time.Hour)
			rows, err := d.query(ctx, `SELECT id FROM dataset_items WHERE dataset_id = ? AND created_at < ?`, datasetID, cutoff)
			if err != nil {
				return fail(err)
			}
			old, err := collect(rows, "purge dataset "+name, func(r rowScanner) (int64, error) {
				var id int64
				return id, r.Scan(&id)
			})
			if err != nil {
				return err
			}
			for _, id := range old {
				purge[id] = true
			}
			out.Retention = len(old)
		}
		if p.DropRevoked {
			revoked, err := revokedItems(ctx, d, datasetID, p)
			if err != nil {
				return fail(err)
			}
			for id := range revoked {
				if !purge[id] {
					purge[id] = true
					out.Revoked++
				}
			}
		}
		for id := range purge {
			out.ItemIDs = append(out.ItemIDs, id)
		}
		sort.Slice(out.ItemIDs, func(i, j int) bool { return out.ItemIDs[i] < out.ItemIDs[j] })
		out.Purged = len(out.ItemIDs)
		if out.Purged == 0 {
			return nil
		}
		// The versions that held them, whose counts go down.
		versions, err := versionsHolding(ctx, d, datasetID, out.ItemIDs)
		if err != nil {
			return fail(err)
		}
		out.Versions = len(versions)
		if dryRun {
			return nil
		}
		for start := 0; start < len(out.ItemIDs); start += datasetLookupBatch {
			chunk := out.ItemIDs[start:min(start+datasetLookupBatch, len(out.ItemIDs))]
			args := []any{datasetID}
			vals := []any{datasetID}
			for _, id := range chunk {
				args = append(args, id)
				vals = append(vals, strconv.FormatInt(id, 10))
			}
			// The version rows go first (explicitly, not only by cascade), then the items.
			if _, err := d.exec(ctx, `DELETE FROM dataset_version_items WHERE dataset_id = ? AND item_id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
				return fail(err)
			}
			if _, err := d.exec(ctx, `DELETE FROM dataset_items WHERE dataset_id = ? AND id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
				return fail(err)
			}
			if _, err := d.exec(ctx, `DELETE FROM dataset_revocations WHERE dataset_id = ? AND kind = 'item' AND value IN (`+placeholders(len(chunk))+`)`, vals...); err != nil {
				return fail(err)
			}
		}
		for _, v := range versions {
			if _, err := d.exec(ctx, `UPDATE dataset_versions SET item_count = (SELECT count(*) FROM dataset_version_items m
				WHERE m.dataset_id = ? AND m.version = ?) WHERE dataset_id = ? AND version = ?`, datasetID, v, datasetID, v); err != nil {
				return fail(err)
			}
		}
		return a.record(ctx, d, projectID, "dataset.purge", "dataset", datasetID, nil,
			datasetAuditPurge{Name: name, Purged: out.Purged, Retention: out.Retention, Revoked: out.Revoked,
				Versions: out.Versions, ItemIDs: out.ItemIDs, Policy: p})
	})
	if err != nil {
		return PurgeResult{}, err
	}
	return out, nil
}

// versionsHolding is the versions of a dataset that hold any of ids.
func versionsHolding(ctx context.Context, d db, datasetID string, ids []int64) ([]int, error) {
	set := map[int]bool{}
	for start := 0; start < len(ids); start += datasetLookupBatch {
		chunk := ids[start:min(start+datasetLookupBatch, len(ids))]
		args := []any{datasetID}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := d.query(ctx, `SELECT DISTINCT version FROM dataset_version_items WHERE dataset_id = ? AND item_id IN (`+
			placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		vs, err := collect(rows, "versions", func(r rowScanner) (int, error) {
			var v int
			return v, r.Scan(&v)
		})
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			set[v] = true
		}
	}
	out := make([]int, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Ints(out)
	return out, nil
}
