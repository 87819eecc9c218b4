package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/plumbhq/plumb/internal/dataset"
)

// Rows per multi-row INSERT when adding items: per-statement overhead dominates small
// statements, and 12 columns x 200 rows stays far below both dialects' parameter limits.
const (
	datasetItemBatch    = 200
	datasetVersionBatch = 1000
	datasetLookupBatch  = 500
)

// datasetAuditVersion is a version as an audit entry names it: counts, never items.
type datasetAuditVersion struct {
	Name       string `json:"name"`
	Version    int    `json:"version"`
	ItemCount  int    `json:"item_count"`
	Added      int    `json:"added,omitempty"`
	Duplicates int    `json:"duplicates,omitempty"`
	Removed    int    `json:"removed,omitempty"`
	Replace    bool   `json:"replace,omitempty"`
	Message    string `json:"message,omitempty"`
}

func datasetNotFound(ref string) error {
	return fmt.Errorf("dataset %q %w", ref, ErrNotFound)
}

const datasetCols = `d.id, d.project_id, d.name, d.description, d.created_at,
	COALESCE(v.version, 0), COALESCE(v.item_count, 0)`

// datasetFrom joins each dataset to its latest version.
const datasetFrom = ` FROM datasets d LEFT JOIN dataset_versions v ON v.dataset_id = d.id
	AND v.version = (SELECT max(version) FROM dataset_versions WHERE dataset_id = d.id)`

func scanDataset(r rowScanner) (Dataset, error) {
	var ds Dataset
	var at timeCol
	err := r.Scan(&ds.ID, &ds.ProjectID, &ds.Name, &ds.Description, &at, &ds.LatestVersion, &ds.ItemCount)
	ds.CreatedAt = at.T
	return ds, err
}

// CreateDataset implements Datasets.
func (a *accounts) CreateDataset(ctx context.Context, projectID, name, description string) (Dataset, error) {
	if err := CheckDatasetName(name); err != nil {
		return Dataset{}, err
	}
	if description != "" {
		if err := checkText("description", description, 10000); err != nil {
			return Dataset{}, err
		}
	}
	out := Dataset{ID: newID("ds"), ProjectID: projectID, Name: name, Description: description, CreatedAt: a.stamp()}
	err := a.db.inTx(ctx, func(d db) error {
		_, err := d.exec(ctx, `INSERT INTO datasets (id, project_id, name, description, created_at) VALUES (?, ?, ?, ?, ?)`,
			out.ID, projectID, name, description, out.CreatedAt)
		switch {
		case d.isUnique(err):
			return fmt.Errorf("dataset %q %w", name, ErrConflict)
		case d.isForeignKey(err):
			return fmt.Errorf("project %q %w", projectID, ErrNotFound)
		case err != nil:
			return fmt.Errorf("create dataset %s: %w", name, err)
		}
		return a.record(ctx, d, projectID, "dataset.create", "dataset", out.ID, nil, out)
	})
	if err != nil {
		return Dataset{}, err
	}
	return out, nil
}

// GetDataset implements Datasets.
func (a *accounts) GetDataset(ctx context.Context, projectID, ref string) (Dataset, error) {
	ds, err := scanDataset(a.db.queryRow(ctx, `SELECT `+datasetCols+datasetFrom+`
		WHERE d.project_id = ? AND (d.name = ? OR d.id = ?)`, projectID, ref, ref))
	if errors.Is(err, errNoRows) {
		return Dataset{}, datasetNotFound(ref)
	}
	if err != nil {
		return Dataset{}, fmt.Errorf("get dataset %s: %w", ref, err)
	}
	return ds, nil
}

// ListDatasets implements Datasets.
func (a *accounts) ListDatasets(ctx context.Context, projectID string) ([]Dataset, error) {
	rows, err := a.db.query(ctx, `SELECT `+datasetCols+datasetFrom+` WHERE d.project_id = ? ORDER BY d.name`, projectID)
	if err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	return collect(rows, "list datasets", scanDataset)
}

// itemRow is an item as AddItems writes it.
type itemRow struct {
	it                      dataset.Item
	vars, metadata, segment string
	contentHash, nearHash   string
	id                      int64
}

// prepareItem checks an item and computes its stored columns.
func prepareItem(it dataset.Item, n int) (itemRow, error) {
	where := func() string {
		if w := it.Where(); w != "" && it.Record != n {
			return fmt.Sprintf("item %d (%s)", n, w)
		}
		return fmt.Sprintf("item %d", n)
	}
	for _, f := range [...]struct{ what, s string }{{"expected", it.Expected}, {"source", it.Source}, {"consent_basis", it.ConsentBasis}} {
		if !utf8.ValidString(f.s) || strings.ContainsRune(f.s, 0) {
			return itemRow{}, invalid("%s: %s must be valid UTF-8 text without NUL bytes", where(), f.what)
		}
	}
	r := itemRow{it: it}
	var err error
	for _, c := range [...]struct {
		dst *string
		v   any
		nil bool
	}{{&r.vars, it.Vars, it.Vars == nil}, {&r.metadata, it.Metadata, it.Metadata == nil}, {&r.segment, it.Segment, it.Segment == nil}} {
		if c.nil {
			*c.dst = "{}"
			continue
		}
		if *c.dst, err = dataset.CanonicalJSON(c.v); err != nil {
			return itemRow{}, invalid("%s: %v", where(), err)
		}
		if !utf8.ValidString(*c.dst) {
			return itemRow{}, invalid("%s: values must be valid UTF-8 text", where())
		}
	}
	r.contentHash = dataset.ContentHashOf(r.vars, it.Expected)
	r.nearHash = dataset.NearHash(it.Vars, it.Expected)
	return r, nil
}

// AddItems implements Datasets.
func (a *accounts) AddItems(ctx context.Context, datasetID string, items []dataset.Item, message string, replace bool) (DatasetVersion, AddStats, error) {
	if message != "" {
		if err := checkText("message", message, 10000); err != nil {
			return DatasetVersion{}, AddStats{}, err
		}
	}
	var st AddStats
	prepared, err := prepareItems(items)
	if err != nil {
		return DatasetVersion{}, AddStats{}, err
	}
	// Exact duplicates within items go first, without the database.
	rows := prepared[:0]
	seen := make(map[string]bool, len(prepared))
	near := map[string][]int{}
	var nearOrder []string
	for i, r := range prepared {
		if seen[r.contentHash] {
			st.Duplicates++
			continue
		}
		seen[r.contentHash] = true
		rows = append(rows, r)
		if _, ok := near[r.nearHash]; !ok {
			nearOrder = append(nearOrder, r.nearHash)
		}
		near[r.nearHash] = append(near[r.nearHash], i+1)
	}
	for _, h := range nearOrder {
		if g := near[h]; len(g) > 1 {
			st.NearGroups = append(st.NearGroups, g)
		}
	}
	var out DatasetVersion
	err = a.db.inTx(ctx, func(d db) error {
		q := `SELECT project_id, name FROM datasets WHERE id = ?`
		if d.driver() == DriverPostgres {
			q += ` FOR UPDATE` // serialises imports into one dataset
		}
		var projectID, name string
		if err := d.queryRow(ctx, q, datasetID).Scan(&projectID, &name); errors.Is(err, errNoRows) {
			return datasetNotFound(datasetID)
		} else if err != nil {
			return fmt.Errorf("add items to dataset %s: %w", datasetID, err)
		}
		fail := func(err error) error { return fmt.Errorf("add items to dataset %s: %w", name, err) }
		var prev DatasetVersion
		var prevAt timeCol
		err := d.queryRow(ctx, `SELECT version, message, item_count, created_at FROM dataset_versions
			WHERE dataset_id = ? ORDER BY version DESC LIMIT 1`, datasetID).Scan(&prev.Version, &prev.Message, &prev.ItemCount, &prevAt)
		if err != nil && !errors.Is(err, errNoRows) {
			return fail(err)
		}
		prev.Dataset, prev.CreatedAt = name, prevAt.T
		var nextID int64
		if err := d.queryRow(ctx, `SELECT COALESCE(max(id), 0) FROM dataset_items WHERE dataset_id = ?`, datasetID).Scan(&nextID); err != nil {
			return fail(err)
		}
		// Which items the dataset has already, and whether the latest version holds them.
		type stored struct {
			id     int64
			inPrev bool
		}
		have := map[string]stored{}
		for start := 0; start < len(rows); start += datasetLookupBatch {
			chunk := rows[start:min(start+datasetLookupBatch, len(rows))]
			args := []any{prev.Version, datasetID}
			for _, r := range chunk {
				args = append(args, r.contentHash)
			}
			rs, err := d.query(ctx, `SELECT i.id, i.content_hash, v.item_id IS NOT NULL FROM dataset_items i
				LEFT JOIN dataset_version_items v ON v.dataset_id = i.dataset_id AND v.version = ? AND v.item_id = i.id
				WHERE i.dataset_id = ? AND i.content_hash IN (`+placeholders(len(chunk))+`)`, args...)
			if err != nil {
				return fail(err)
			}
			type hit struct {
				hash string
				s    stored
			}
			hits, err := collect(rs, "add items to dataset "+name, func(r rowScanner) (hit, error) {
				var h hit
				return h, r.Scan(&h.s.id, &h.hash, &h.s.inPrev)
			})
			if err != nil {
				return err
			}
			for _, h := range hits {
				have[h.hash] = h.s
			}
		}
		fresh := make([]*itemRow, 0, len(rows)) // to insert
		members := make([]int64, 0, len(rows))  // to add to the version besides the previous version's items
		kept := 0                               // (replace) items of the previous version that stay
		now := a.stamp()
		for i := range rows {
			r := &rows[i]
			s, ok := have[r.contentHash]
			switch {
			case ok && s.inPrev && !replace:
				st.Duplicates++
			case ok && s.inPrev:
				kept++
				members = append(members, s.id)
			case ok:
				st.Added++
				members = append(members, s.id)
			default:
				nextID++
				r.id = nextID
				fresh = append(fresh, r)
				members = append(members, r.id)
				st.Added++
			}
		}
		count := prev.ItemCount + st.Added
		if replace {
			st.Removed = prev.ItemCount - kept
			count = len(members)
		}
		if prev.Version > 0 && st.Added == 0 && st.Removed == 0 {
			out = prev
			return nil
		}
		if err := insertItems(ctx, d, datasetID, fresh, now); err != nil {
			return fail(err)
		}
		out = DatasetVersion{Dataset: name, Version: prev.Version + 1, Message: message, ItemCount: count, CreatedAt: now}
		if _, err := d.exec(ctx, `INSERT INTO dataset_versions (dataset_id, version, message, item_count, created_at)
			VALUES (?, ?, ?, ?, ?)`, datasetID, out.Version, message, count, now); err != nil {
			return fail(err)
		}
		if !replace && prev.Version > 0 {
			if _, err := d.exec(ctx, `INSERT INTO dataset_version_items (dataset_id, version, item_id)
				SELECT dataset_id, CAST(? AS integer), item_id FROM dataset_version_items WHERE dataset_id = ? AND version = ?`,
				out.Version, datasetID, prev.Version); err != nil {
				return fail(err)
			}
		}
		if err := insertMembers(ctx, d, datasetID, out.Version, members); err != nil {
			return fail(err)
		}
		st.Created = true
		var before any
		if prev.Version > 0 {
			before = datasetAuditVersion{Name: name, Version: prev.Version, ItemCount: prev.ItemCount}
		}
		return a.record(ctx, d, projectID, "dataset.import", "dataset", datasetID, before,
			datasetAuditVersion{Name: name, Version: out.Version, ItemCount: count, Added: st.Added,
				Duplicates: st.Duplicates, Removed: st.Removed, Replace: replace, Message: message})
	})
	if err != nil {
		return DatasetVersion{}, AddStats{}, err
	}
	return out, st, nil
}

// itemCols are the columns insertItems writes, in its order.
var itemCols = []string{"dataset_id", "id", "vars", "expected", "metadata", "segment", "source",
	"consent", "consent_basis", "content_hash", "near_hash", "created_at"}

// insertItems inserts new items: on PostgreSQL with COPY, on SQLite in multi-row INSERTs
// through one prepared statement per transaction (parsing a statement of 2,400
// placeholders cost more than binding it).
func insertItems(ctx context.Context, d db, datasetID string, rows []*itemRow, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	if t, ok := d.(pgTx); ok {
		_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"dataset_items"}, itemCols,
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				r := rows[i]
				return []any{datasetID, r.id, []byte(r.vars), r.it.Expected, []byte(r.metadata), []byte(r.segment),
					r.it.Source, r.it.Consent, r.it.ConsentBasis, r.contentHash, r.nearHash, now}, nil
			}))
		return err
	}
	at := now.UTC().Format(sqliteTimeFormat)
	cols := len(itemCols)
	return inBatches(ctx, d, `INSERT INTO dataset_items (`+strings.Join(itemCols, ", ")+`) VALUES `, cols, datasetItemBatch, len(rows),
		func(args []any, start, end int) []any {
			for _, r := range rows[start:end] {
				args = append(args, datasetID, r.id, r.vars, r.it.Expected, r.metadata, r.segment, r.it.Source,
					r.it.Consent, r.it.ConsentBasis, r.contentHash, r.nearHash, at)
			}
			return args
		})
}

// insertMembers adds items to a version: COPY on PostgreSQL, prepared multi-row INSERTs
// on SQLite.
func insertMembers(ctx context.Context, d db, datasetID string, version int, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if t, ok := d.(pgTx); ok {
		_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"dataset_version_items"}, []string{"dataset_id", "version", "item_id"},
			pgx.CopyFromSlice(len(ids), func(i int) ([]any, error) {
				return []any{datasetID, version, ids[i]}, nil
			}))
		return err
	}
	return inBatches(ctx, d, `INSERT INTO dataset_version_items (dataset_id, version, item_id) VALUES `, 3, datasetVersionBatch, len(ids),
		func(args []any, start, end int) []any {
			for _, id := range ids[start:end] {
				args = append(args, datasetID, version, id)
			}
			return args
		})
}

// inBatches runs insert (a multi-row INSERT up to VALUES) over n rows of cols columns,
// batch rows per statement: full batches through one statement prepared once (inside a
// SQLite transaction), the rest in one statement of its own. fill appends the arguments
// of rows [start, end) to args.
func inBatches(ctx context.Context, d db, insert string, cols, batch, n int, fill func(args []any, start, end int) []any) error {
	args := make([]any, 0, cols*batch)
	var full *sql.Stmt
	if t, ok := d.(sqliteTx); ok && n >= batch {
		stmt, err := t.tx.PrepareContext(ctx, insert+rowsOf(cols, batch))
		if err != nil {
			return err
		}
		defer stmt.Close()
		full = stmt
	}
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		args = fill(args[:0], start, end)
		var err error
		if full != nil && end-start == batch {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = d.exec(ctx, insert+rowsOf(cols, end-start), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prepareItems runs prepareItem over items, on every core: encoding and hashing are
// about a third of an import's time.
func prepareItems(items []dataset.Item) ([]itemRow, error) {
	out := make([]itemRow, len(items))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(items)/1000))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	per := (len(items) + workers - 1) / max(workers, 1)
	for w := range workers {
		start, end := w*per, min((w+1)*per, len(items))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i++ {
				r, err := prepareItem(items[i], i+1)
				if err != nil {
					errs[w] = err // the first of this worker's part, hence of the file's
					return
				}
				out[i] = r
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// placeholders is n comma-separated ?.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rowsOf is the VALUES list of n rows of cols placeholders.
func rowsOf(cols, n int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// datasetVersion resolves version 0 to the latest and checks that it exists.
func (a *accounts) datasetVersion(ctx context.Context, datasetID string, version int) (int, error) {
	var name string
	if err := a.db.queryRow(ctx, `SELECT name FROM datasets WHERE id = ?`, datasetID).Scan(&name); errors.Is(err, errNoRows) {
		return 0, datasetNotFound(datasetID)
	} else if err != nil {
		return 0, fmt.Errorf("get dataset %s: %w", datasetID, err)
	}
	var n int
	q, args := `SELECT version FROM dataset_versions WHERE dataset_id = ? AND version = ?`, []any{datasetID, version}
	if version == 0 {
		q, args = `SELECT COALESCE(max(version), 0) FROM dataset_versions WHERE dataset_id = ?`, args[:1]
	}
	err := a.db.queryRow(ctx, q, args...).Scan(&n)
	switch {
	case errors.Is(err, errNoRows) || (err == nil && n == 0 && version != 0):
		return 0, fmt.Errorf("dataset %q version %d %w (see its versions with `plumb dataset show %s`)", name, version, ErrNotFound, name)
	case err != nil:
		return 0, fmt.Errorf("get dataset %s version %d: %w", name, version, err)
	}
	return n, nil
}

// ListItems implements Datasets.
func (a *accounts) ListItems(ctx context.Context, datasetID string, version int, cursor string, limit int) ([]dataset.Item, string, error) {
	v, err := a.datasetVersion(ctx, datasetID, version)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if cursor != "" {
		if after, err = strconv.ParseInt(cursor, 10, 64); err != nil || after < 0 {
			return nil, "", invalid("cursor %q: pass back the next cursor a page returned", cursor)
		}
	}
	if v == 0 { // nothing imported yet
		return []dataset.Item{}, "", nil
	}
	n := pageSize(limit)
	rows, err := a.db.query(ctx, `SELECT i.id, i.vars, i.expected, i.metadata, i.segment, i.source, i.consent,
		i.consent_basis, i.content_hash, i.created_at FROM dataset_version_items m
		JOIN dataset_items i ON i.dataset_id = m.dataset_id AND i.id = m.item_id
		WHERE m.dataset_id = ? AND m.version = ? AND m.item_id > ? ORDER BY m.item_id LIMIT ?`,
		datasetID, v, after, n+1)
	if err != nil {
		return nil, "", fmt.Errorf("list items of dataset %s: %w", datasetID, err)
	}
	items, err := collect(rows, "list items of dataset "+datasetID, scanItem)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > n {
		items = items[:n]
		next = strconv.FormatInt(items[n-1].ID, 10)
	}
	return items, next, nil
}

func scanItem(r rowScanner) (dataset.Item, error) {
	var it dataset.Item
	var vars, metadata, segment textCol
	var at timeCol
	if err := r.Scan(&it.ID, &vars, &it.Expected, &metadata, &segment, &it.Source, &it.Consent,
		&it.ConsentBasis, &it.ContentHash, &at); err != nil {
		return it, err
	}
	it.CreatedAt = at.T
	if err := decodeJSONObject(vars.S, &it.Vars); err != nil {
		return it, fmt.Errorf("item %d: stored vars are corrupt: %w", it.ID, err)
	}
	if it.Vars == nil {
		it.Vars = map[string]any{}
	}
	if err := decodeJSONObject(metadata.S, &it.Metadata); err != nil {
		return it, fmt.Errorf("item %d: stored metadata is corrupt: %w", it.ID, err)
	}
	if err := decodeJSONObject(segment.S, &it.Segment); err != nil {
		return it, fmt.Errorf("item %d: stored segment is corrupt: %w", it.ID, err)
	}
	if len(it.Metadata) == 0 {
		it.Metadata = nil
	}
	if len(it.Segment) == 0 {
		it.Segment = nil
	}
	return it, nil
}

// decodeJSONObject reads stored JSON, keeping numbers exactly as written.
func decodeJSONObject(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(v)
}

// DatasetVersions implements Datasets.
func (a *accounts) DatasetVersions(ctx context.Context, datasetID string) ([]DatasetVersion, error) {
	var name string
	if err := a.db.queryRow(ctx, `SELECT name FROM datasets WHERE id = ?`, datasetID).Scan(&name); errors.Is(err, errNoRows) {
		return nil, datasetNotFound(datasetID)
	} else if err != nil {
		return nil, fmt.Errorf("get dataset %s: %w", datasetID, err)
	}
	rows, err := a.db.query(ctx, `SELECT version, message, item_count, created_at FROM dataset_versions
		WHERE dataset_id = ? ORDER BY version DESC`, datasetID)
	if err != nil {
		return nil, fmt.Errorf("versions of dataset %s: %w", name, err)
	}
	return collect(rows, "versions of dataset "+name, func(r rowScanner) (DatasetVersion, error) {
		v := DatasetVersion{Dataset: name}
		var at timeCol
		err := r.Scan(&v.Version, &v.Message, &v.ItemCount, &at)
		v.CreatedAt = at.T
		return v, err
	})
}
