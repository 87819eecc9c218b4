package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/plumbhq/plumb/internal/report"
)

// pgConnectTimeout bounds connecting when the URL sets no connect_timeout, so that an
// unreachable server fails in seconds rather than hanging on the operating system's TCP
// timeout.
const pgConnectTimeout = 5 * time.Second

// postgresStore is the PostgreSQL store. It uses pgx's own pool rather than database/sql:
// the two stores share no SQL code path, and pgx's native interface gives COPY for saving
// thousands of results in one round trip, plus native timestamptz, boolean and json types.
//
// Tables are unqualified, so they live in the first schema of the connection's search_path
// (settable in the URL as ?search_path=NAME).
type postgresStore struct {
	pool *pgxpool.Pool
	migs []migration
	// accounts serves projects, users, keys, the audit log and result pages.
	accounts
}

// openPostgres connects to the database at url.
func openPostgres(ctx context.Context, url string, migs []migration, now func() time.Time) (*postgresStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to PostgreSQL at %s:%d (database %q): %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return &postgresStore{pool: pool, migs: migs, accounts: accounts{db: pgDB{pool: pool}, now: now}}, nil
}

// Close implements Store.
func (s *postgresStore) Close() error {
	s.pool.Close()
	return nil
}

// SaveRun implements Store. The run row is upserted rather than deleted and inserted, so
// that two sessions saving the same new id queue on its row lock instead of one failing on
// the primary key.
func (s *postgresStore) SaveRun(ctx context.Context, r *report.Report) error {
	return s.saveRun(ctx, "", r)
}

// SaveRunIn implements Store.
func (s *postgresStore) SaveRunIn(ctx context.Context, projectID string, r *report.Report) error {
	if projectID == "" {
		return fmt.Errorf("save run: %w: no project", ErrInvalid)
	}
	return s.saveRun(ctx, projectID, r)
}

// saveRun saves r in projectID, or, when projectID is "", as SaveRun does: a new run in the
// default project, an existing one in its own.
func (s *postgresStore) saveRun(ctx context.Context, projectID string, r *report.Report) error {
	run, results, err := encodeReport(r)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("save run %s: %w", run.id, err)
	}
	defer tx.Rollback(ctx)
	before, err := s.runBefore(ctx, pgTx{tx}, run.id)
	if err != nil {
		return err
	}
	args := []any{run.id, run.suite, run.status, run.startedAt, run.finishedAt, run.configHash, run.run,
		run.summary, run.cases, run.passed, run.failed, run.errors, run.passRate, run.gatesPassed,
		run.gatesTotal, run.testsCount, run.flakyCount}
	if projectID != "" {
		args = append(args, projectID)
	}
	tag, err := tx.Exec(ctx, upsertRunSQL(projectID != "", func(n int) string { return fmt.Sprintf("$%d", n) }), args...)
	if err != nil {
		if projectID != "" && isPgCode(err, pgForeignKeyViolation) {
			return fmt.Errorf("save run %s: project %q %w", run.id, projectID, ErrNotFound)
		}
		return fmt.Errorf("save run %s: %w", run.id, err)
	}
	if tag.RowsAffected() == 0 {
		return runConflict(run.id)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM test_stats WHERE run_id = $1`, run.id); err != nil {
		return fmt.Errorf("save run %s: replace summary tests: %w", run.id, err)
	}
	if len(run.tests) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"test_stats"}, testStatColumns(),
			pgx.CopyFromSlice(len(run.tests), func(i int) ([]any, error) {
				return run.tests[i].values(run.id), nil
			})); err != nil {
			return fmt.Errorf("save run %s: insert summary tests: %w", run.id, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM results WHERE run_id = $1`, run.id); err != nil {
		return fmt.Errorf("save run %s: replace results: %w", run.id, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"results"}, resultColumns(),
		pgx.CopyFromSlice(len(results), func(i int) ([]any, error) {
			return results[i].values(run.id), nil
		})); err != nil {
		return fmt.Errorf("save run %s: insert results: %w", run.id, err)
	}
	if _, err := tx.Exec(ctx, pgRebind(savePairsSQL), run.id, run.pairs); err != nil {
		return fmt.Errorf("save run %s: pairing samples: %w", run.id, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM result_groups WHERE run_id = $1`, run.id); err != nil {
		return fmt.Errorf("save run %s: replace result groups: %w", run.id, err)
	}
	if len(run.groups) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"result_groups"}, groupColumns(),
			pgx.CopyFromSlice(len(run.groups), func(i int) ([]any, error) {
				return groupValues(run.id, &run.groups[i]), nil
			})); err != nil {
			return fmt.Errorf("save run %s: insert result groups: %w", run.id, err)
		}
	}
	if err := s.recordRunSave(ctx, pgTx{tx}, &run, before); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("save run %s: %w", run.id, err)
	}
	return nil
}

// RunProject implements Store.
func (s *postgresStore) RunProject(ctx context.Context, runID string) (string, error) {
	var p string
	err := s.pool.QueryRow(ctx, `SELECT project_id FROM runs WHERE id = $1`, runID).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", notFound(runID)
	}
	if err != nil {
		return "", fmt.Errorf("get run %s: %w", runID, err)
	}
	return p, nil
}

// GetRun implements Store.
// GetRunHeader implements Store.
func (s *postgresStore) GetRunHeader(ctx context.Context, id string) (*report.Report, error) {
	var run, summary []byte
	err := s.pool.QueryRow(ctx, `SELECT run, summary FROM runs WHERE id = $1`, id).Scan(&run, &summary)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return decodeRun(run, summary)
}

// GetRun implements Store.
func (s *postgresStore) GetRun(ctx context.Context, id string) (*report.Report, error) {
	// One repeatable-read snapshot, so that a concurrent re-save cannot pair this run header
	// with the results of another version of it.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	defer tx.Rollback(ctx)
	var run, summary []byte
	var tests, flaky int
	err = tx.QueryRow(ctx, pgRebind(getRunSQL), id).Scan(&run, &summary, &tests, &flaky)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	rep, err := decodeRun(run, summary)
	if err != nil {
		return nil, err
	}
	if rep.Summary.Tests, rep.Summary.Flaky, err = readTestStats(ctx, pgTx{tx}, id, tests, flaky); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT data FROM results WHERE run_id = $1 ORDER BY idx`, id)
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
	if err := attachRunHuman(ctx, pgTx{tx}, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// DeleteRun implements Store.
func (s *postgresStore) DeleteRun(ctx context.Context, id string) error {
	return s.deleteRun(ctx, id)
}

// WithAudit implements Store. The view shares this store's connections.
func (s *postgresStore) WithAudit(actor Actor) Store {
	v := *s
	v.accounts.actor = &actor
	return &v
}

// ResolveRun implements Store.
func (s *postgresStore) ResolveRun(ctx context.Context, ref string) (string, error) {
	return resolveRun(ctx, s, ref)
}

func (s *postgresStore) runExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("resolve run: %w", err)
	}
	return ok, nil
}

func (s *postgresStore) latestRun(ctx context.Context) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("resolve run: %w", err)
	}
	return id, nil
}

func (s *postgresStore) runsWithPrefix(ctx context.Context, prefix string, limit int) ([]string, error) {
	// starts_with rather than LIKE, so that % and _ in an id are not wildcards.
	rows, err := s.pool.Query(ctx, `
		SELECT id FROM runs WHERE starts_with(id, $1)
		ORDER BY started_at DESC, id DESC LIMIT $2`, prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("resolve run: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("resolve run: %w", err)
	}
	return ids, nil
}

// pgQueryer is what reading the schema version needs: a pool or a transaction.
type pgQueryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgSchemaVersion is the highest applied migration, 0 on a new database (or schema).
func pgSchemaVersion(ctx context.Context, q pgQueryer) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v *int
	if err := q.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// SchemaStatus implements Store.
func (s *postgresStore) SchemaStatus(ctx context.Context) (current, latest int, err error) {
	current, err = pgSchemaVersion(ctx, s.pool)
	if err != nil {
		return 0, 0, fmt.Errorf("schema status: %w", err)
	}
	return current, len(s.migs), nil
}

// Migrate implements Store. Each migration runs in its own transaction under an advisory
// lock on the schema and re-reads the version inside it, so that several server instances
// starting at once apply each step exactly once.
func (s *postgresStore) Migrate(ctx context.Context) error {
	for _, m := range s.migs {
		if err := s.applyMigration(ctx, m); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
	}
	cur, latest, err := s.SchemaStatus(ctx)
	if err == nil && cur > latest {
		return fmt.Errorf("database schema is at version %d, newer than this plumb knows (%d): upgrade plumb", cur, latest)
	}
	return err
}

func (s *postgresStore) applyMigration(ctx context.Context, m migration) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || '.plumb.schema_migrations'))`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return err
	}
	cur, err := pgSchemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if cur >= m.version {
		return nil
	}
	// No arguments: pgx sends the file with the simple protocol, which runs every
	// statement in it.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	if m.fill != nil {
		if err := m.fill(ctx, pgTx{tx}); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
