package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/report"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBatch is how many results one INSERT statement carries. Per-statement overhead
// dominates single-row inserts; 14 columns x 128 rows stays far below SQLite's limit of
// 32,766 bound parameters.
const sqliteBatch = 128

// sqliteTestBatch is sqliteBatch for the summary's per-test rows, which have 4 columns.
const sqliteTestBatch = 512

// sqliteReaders is the size of the read pool: WAL lets readers run beside the writer.
const sqliteReaders = 4

// sqliteStore is the embedded store. All writes go through one connection, so that
// concurrent writers in this process queue in Go instead of failing with "database is
// locked"; reads use their own pool and see the last committed state (WAL).
type sqliteStore struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	migs   []migration
	// accounts serves projects, users, keys, the audit log and result pages, through the
	// writer for changes and the reader pool for queries.
	accounts
}

// openSQLite opens (creating if needed) the database file at path.
func openSQLite(ctx context.Context, path string, migs []migration, now func() time.Time, cacheKiB int) (*sqliteStore, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite database %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("sqlite database %s: create its directory: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("sqlite database %s is a directory; give a file path such as %s", path, filepath.Join(path, "plumb.db"))
	}
	// busy_timeout covers other processes (another plumb on the same file); _txlock=immediate
	// takes the write lock at BEGIN, so a transaction never fails half-way on lock upgrade.
	// synchronous=NORMAL is durable across application crashes in WAL mode. secure_delete
	// zeroes deleted content in the file, so that a dataset purge really removes it.
	writer, err := sql.Open("sqlite", sqliteDSN(abs,
		"_pragma=busy_timeout(10000)", "_pragma=foreign_keys(1)",
		"_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)", "_pragma=secure_delete(1)", fmt.Sprintf("_pragma=cache_size(-%d)", cacheKiB), "_pragma=temp_store(MEMORY)", "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite database %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to WAL, which the
	// readers then inherit.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite database %s: %w", path, err)
	}
	reader, err := sql.Open("sqlite", sqliteDSN(abs,
		"_pragma=busy_timeout(10000)", "_pragma=foreign_keys(1)", "_pragma=query_only(1)"))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite database %s: %w", path, err)
	}
	reader.SetMaxOpenConns(sqliteReaders)
	reader.SetMaxIdleConns(sqliteReaders)
	s := &sqliteStore{path: path, writer: writer, reader: reader, migs: migs}
	s.accounts = accounts{db: sqliteDB{writer: writer, reader: reader, stmts: &stmtCache{}}, now: now}
	return s, nil
}

// sqliteDSN builds a modernc.org/sqlite DSN. The "file:" URI form keeps a "?" or "#" in
// the path from being read as the start of the parameters.
func sqliteDSN(path string, params ...string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	return "file:" + p + "?" + strings.Join(params, "&")
}

// Close implements Store.
func (s *sqliteStore) Close() error {
	return errors.Join(s.accounts.db.(sqliteDB).stmts.close(), s.reader.Close(), s.writer.Close())
}

// SaveRun implements Store.
func (s *sqliteStore) SaveRun(ctx context.Context, r *report.Report) error {
	return s.saveRun(ctx, "", r)
}

// SaveRunIn implements Store.
func (s *sqliteStore) SaveRunIn(ctx context.Context, projectID string, r *report.Report) error {
	if projectID == "" {
		return fmt.Errorf("save run: %w: no project", ErrInvalid)
	}
	return s.saveRun(ctx, projectID, r)
}

// saveRun saves r in projectID, or, when projectID is "", as SaveRun does: a new run in the
// default project, an existing one in its own.
func (s *sqliteStore) saveRun(ctx context.Context, projectID string, r *report.Report) error {
	run, results, err := encodeReport(r)
	if err != nil {
		return err
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save run %s: %w", run.id, err)
	}
	defer tx.Rollback()
	before, err := s.runBefore(ctx, sqliteTx{tx: tx}, run.id)
	if err != nil {
		return err
	}
	args := []any{run.id, run.suite, run.status, run.startedAt.Format(sqliteTimeFormat),
		run.finishedAt.Format(sqliteTimeFormat), run.configHash, string(run.run), string(run.summary),
		run.cases, run.passed, run.failed, run.errors, run.passRate, run.gatesPassed, run.gatesTotal,
		run.testsCount, run.flakyCount}
	if projectID != "" {
		args = append(args, projectID)
	}
	res, err := tx.ExecContext(ctx, upsertRunSQL(projectID != "", func(n int) string { return "?" }), args...)
	if err != nil {
		if projectID != "" && isSQLiteConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return fmt.Errorf("save run %s: project %q %w", run.id, projectID, ErrNotFound)
		}
		return fmt.Errorf("save run %s: %w", run.id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("save run %s: %w", run.id, err)
	} else if n == 0 {
		return runConflict(run.id)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM test_stats WHERE run_id = ?`, run.id); err != nil {
		return fmt.Errorf("save run %s: replace summary tests: %w", run.id, err)
	}
	if err := insertSQLiteRows(ctx, tx, "test_stats", testStatColumns(), sqliteTestBatch, len(run.tests), func(args []any, i int) []any {
		t := &run.tests[i]
		// data as a string: a []byte would be a BLOB, which the STRICT TEXT column refuses.
		return append(args, run.id, t.flaky, t.position, string(t.data))
	}); err != nil {
		return fmt.Errorf("save run %s: insert summary tests: %w", run.id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM results WHERE run_id = ?`, run.id); err != nil {
		return fmt.Errorf("save run %s: replace results: %w", run.id, err)
	}
	if err := insertSQLiteResults(ctx, tx, run.id, results); err != nil {
		return fmt.Errorf("save run %s: insert results: %w", run.id, err)
	}
	if _, err := tx.ExecContext(ctx, savePairsSQL, run.id, run.pairs); err != nil {
		return fmt.Errorf("save run %s: pairing samples: %w", run.id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM result_groups WHERE run_id = ?`, run.id); err != nil {
		return fmt.Errorf("save run %s: replace result groups: %w", run.id, err)
	}
	if err := insertSQLiteRows(ctx, tx, "result_groups", groupColumns(), sqliteTestBatch, len(run.groups), func(args []any, i int) []any {
		return append(args, groupValues(run.id, &run.groups[i])...)
	}); err != nil {
		return fmt.Errorf("save run %s: insert result groups: %w", run.id, err)
	}
	if err := s.recordRunSave(ctx, sqliteTx{tx: tx}, &run, before); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save run %s: %w", run.id, err)
	}
	return nil
}

// RunProject implements Store.
func (s *sqliteStore) RunProject(ctx context.Context, runID string) (string, error) {
	var p string
	err := s.reader.QueryRowContext(ctx, `SELECT project_id FROM runs WHERE id = ?`, runID).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound(runID)
	}
	if err != nil {
		return "", fmt.Errorf("get run %s: %w", runID, err)
	}
	return p, nil
}

// insertSQLiteResults inserts results in multi-row statements of sqliteBatch rows.
func insertSQLiteResults(ctx context.Context, tx *sql.Tx, runID string, rows []resultRow) error {
	return insertSQLiteRows(ctx, tx, "results", resultColumns(), sqliteBatch, len(rows), func(args []any, i int) []any {
		// data is bound as a string: a []byte would be stored as a BLOB, which the
		// STRICT TEXT column refuses.
		v := rows[i].values(runID)
		v[len(v)-1] = string(rows[i].data)
		return append(args, v...)
	})
}

// insertSQLiteRows inserts n rows into table in multi-row statements of batch rows, the
// full ones through one prepared statement; row appends the values of row i, in cols
// order, to args.
func insertSQLiteRows(ctx context.Context, tx *sql.Tx, table string, cols []string, batch, n int, row func(args []any, i int) []any) error {
	var full *sql.Stmt
	args := make([]any, 0, min(batch, n)*len(cols))
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = row(args, i)
		}
		if end-start < batch {
			if _, err := tx.ExecContext(ctx, sqliteInsert(table, cols, end-start), args...); err != nil {
				return err
			}
			continue
		}
		if full == nil {
			var err error
			if full, err = tx.PrepareContext(ctx, sqliteInsert(table, cols, batch)); err != nil {
				return err
			}
			defer full.Close()
		}
		if _, err := full.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// sqliteInsert is an INSERT of n rows of cols into table.
func sqliteInsert(table string, cols []string, n int) string {
	row := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// GetRun implements Store.
// GetRunHeader implements Store.
func (s *sqliteStore) GetRunHeader(ctx context.Context, id string) (*report.Report, error) {
	var run, summary string
	err := s.reader.QueryRowContext(ctx, `SELECT run, summary FROM runs WHERE id = ?`, id).Scan(&run, &summary)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return decodeRun([]byte(run), []byte(summary))
}

// GetRun implements Store.
func (s *sqliteStore) GetRun(ctx context.Context, id string) (*report.Report, error) {
	// One read transaction, so that a concurrent re-save cannot pair this run header with
	// the results of another version of it.
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	defer tx.Rollback()
	var run, summary []byte
	var tests, flaky int
	err = tx.QueryRowContext(ctx, getRunSQL, id).Scan(&run, &summary, &tests, &flaky)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	rep, err := decodeRun(run, summary)
	if err != nil {
		return nil, err
	}
	if rep.Summary.Tests, rep.Summary.Flaky, err = readTestStats(ctx, sqliteTx{tx: tx}, id, tests, flaky); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT data FROM results WHERE run_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	defer rows.Close()
	rep.Results = []report.Result{}
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("get run %s: %w", id, err)
		}
		rep.Results = append(rep.Results, report.Result{})
		if err := decodeResult(data, &rep.Results[len(rep.Results)-1]); err != nil {
			return nil, fmt.Errorf("get run %s: result %d: %w", id, len(rep.Results)-1, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	if err := attachRunHuman(ctx, sqliteTx{tx: tx}, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// DeleteRun implements Store.
func (s *sqliteStore) DeleteRun(ctx context.Context, id string) error {
	return s.deleteRun(ctx, id)
}

// WithAudit implements Store. The view shares this store's connections.
func (s *sqliteStore) WithAudit(actor Actor) Store {
	v := *s
	v.accounts.actor = &actor
	return &v
}

// ResolveRun implements Store.
func (s *sqliteStore) ResolveRun(ctx context.Context, ref string) (string, error) {
	return resolveRun(ctx, s, ref)
}

func (s *sqliteStore) runExists(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.reader.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("resolve run: %w", err)
	}
	return true, nil
}

func (s *sqliteStore) latestRun(ctx context.Context) (string, error) {
	var id string
	err := s.reader.QueryRowContext(ctx, `SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("resolve run: %w", err)
	}
	return id, nil
}

func (s *sqliteStore) runsWithPrefix(ctx context.Context, prefix string, limit int) ([]string, error) {
	// substr rather than LIKE: SQLite's LIKE ignores ASCII case and treats % and _ as
	// wildcards, and run ids are case-sensitive strings that may contain either.
	rows, err := s.reader.QueryContext(ctx, `
		SELECT id FROM runs WHERE substr(id, 1, ?) = ?
		ORDER BY started_at DESC, id DESC LIMIT ?`, utf8.RuneCountInString(prefix), prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("resolve run: %w", err)
	}
	return scanIDs(rows)
}

// scanIDs reads a one-column result of ids.
func scanIDs(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("resolve run: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("resolve run: %w", err)
	}
	return ids, nil
}

// SchemaStatus implements Store.
func (s *sqliteStore) SchemaStatus(ctx context.Context) (current, latest int, err error) {
	current, err = sqliteSchemaVersion(ctx, s.reader)
	if err != nil {
		return 0, 0, fmt.Errorf("schema status of %s: %w", s.path, err)
	}
	return current, len(s.migs), nil
}

// sqliteQueryer is what reading the schema version needs: a pool or a transaction.
type sqliteQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqliteSchemaVersion is the highest applied migration, 0 on a new database.
func sqliteSchemaVersion(ctx context.Context, q sqliteQueryer) (int, error) {
	var v sql.NullInt64
	var n int
	if err := q.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	if err := q.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// Migrate implements Store. Each migration runs in its own IMMEDIATE transaction, which
// holds the database's write lock, and re-reads the version inside it, so two processes
// migrating at once apply each step exactly once.
func (s *sqliteStore) Migrate(ctx context.Context) error {
	for _, m := range s.migs {
		if err := s.applyMigration(ctx, m); err != nil {
			return fmt.Errorf("migrate %s to version %d (%s): %w", s.path, m.version, m.name, err)
		}
	}
	cur, latest, err := s.SchemaStatus(ctx)
	if err == nil && cur > latest {
		return fmt.Errorf("database schema is at version %d, newer than this plumb knows (%d): upgrade plumb", cur, latest)
	}
	return err
}

// applyMigration runs one migration with foreign keys off, as SQLite's procedure for
// rebuilding a table requires (the pragma is a no-op inside a transaction, hence the pinned
// connection), and checks every foreign key before committing.
func (s *sqliteStore) applyMigration(ctx context.Context, m migration) (err error) {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer func() {
		// Never hand the pool a connection without foreign keys: cascading deletes of
		// results depend on them. Discard it if they cannot be turned back on.
		if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); ferr != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, ferr)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		return err
	}
	cur, err := sqliteSchemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if cur >= m.version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if m.fill != nil {
		if err := m.fill(ctx, sqliteTx{tx: tx}); err != nil {
			return err
		}
	}
	if err := sqliteForeignKeyCheck(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UTC().Format(sqliteTimeFormat)); err != nil {
		return err
	}
	return tx.Commit()
}

// sqliteForeignKeyCheck fails if any row breaks a foreign key, which a migration run with
// foreign keys off could otherwise leave behind unnoticed.
func sqliteForeignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return err
		}
		return fmt.Errorf("foreign key check failed: a row of %s refers to a missing row of %s", table, parent)
	}
	return rows.Err()
}
