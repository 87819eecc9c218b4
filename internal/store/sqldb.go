package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// db is what the account, audit and result-page queries need from a database, so that each
// is written once for both dialects. Statements use ? placeholders, which the PostgreSQL
// side numbers; times are bound as time.Time and read back with a timeCol.
type db interface {
	// exec runs a change and returns how many rows it affected.
	exec(ctx context.Context, q string, args ...any) (int64, error)
	// queryRow runs a query for one row; its Scan returns errNoRows when there is none.
	queryRow(ctx context.Context, q string, args ...any) rowScanner
	// writeRow runs a change that returns one row (INSERT ... RETURNING).
	writeRow(ctx context.Context, q string, args ...any) rowScanner
	// query runs a query for many rows.
	query(ctx context.Context, q string, args ...any) (rowsIter, error)
	// driver is DriverSQLite or DriverPostgres, for the few predicates that differ.
	driver() string
	// isUnique and isForeignKey classify constraint violations.
	isUnique(err error) bool
	isForeignKey(err error) bool
	// inTx runs fn in one transaction, committed when fn returns nil; within it, every
	// statement fn sends through its db (reads included) is part of the transaction. On a
	// db that is already a transaction, fn joins it.
	inTx(ctx context.Context, fn func(db) error) error
}

// rowScanner is one row of a query.
type rowScanner interface {
	Scan(dest ...any) error
}

// rowsIter is the rows of a query.
type rowsIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// errNoRows is queryRow's "no row", whichever the driver.
var errNoRows = errors.New("no rows")

// sqliteDB sends changes to the single writer connection and queries to the reader pool.
type sqliteDB struct {
	writer, reader *sql.DB
	// stmts keeps the writer's statements that run over and over (nil: none kept).
	stmts *stmtCache
}

// stmtCache keeps prepared statements of the writer for the few large statements the store
// runs over and over (the trace recorder's full chunk of rows), whose parsing would
// otherwise cost about as much as running them.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// prepare makes sure q is prepared on writer. It must be called outside the writer's
// transactions: preparing takes the writer's one connection.
func (c *stmtCache) prepare(ctx context.Context, writer *sql.DB, q string) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[q] != nil {
		return nil
	}
	st, err := writer.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return nil
}

// get is q's prepared statement, or nil.
func (c *stmtCache) get(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

// sqliteArgs binds times in the fixed-width text format the schema stores.
// sqliteTime is t as the schema stores it.
func sqliteTime(t time.Time) string { return t.UTC().Format(sqliteTimeFormat) }

func sqliteArgs(args []any) []any {
	if !slices.ContainsFunc(args, func(a any) bool { _, ok := a.(time.Time); return ok }) {
		return args // nothing to convert (the trace recorder binds thousands a second)
	}
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			out[i] = sqliteTime(v)
		default:
			out[i] = a
		}
	}
	return out
}

func (d sqliteDB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := d.writer.ExecContext(ctx, q, sqliteArgs(args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d sqliteDB) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return sqliteRow{d.reader.QueryRowContext(ctx, q, sqliteArgs(args)...)}
}

func (d sqliteDB) writeRow(ctx context.Context, q string, args ...any) rowScanner {
	return sqliteRow{d.writer.QueryRowContext(ctx, q, sqliteArgs(args)...)}
}

func (d sqliteDB) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	rows, err := d.reader.QueryContext(ctx, q, sqliteArgs(args)...)
	if err != nil {
		return nil, err
	}
	return sqliteRows{rows}, nil
}

func (sqliteDB) driver() string { return DriverSQLite }

func (sqliteDB) isUnique(err error) bool {
	return isSQLiteConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) ||
		isSQLiteConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func (sqliteDB) isForeignKey(err error) bool {
	return isSQLiteConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

func (d sqliteDB) inTx(ctx context.Context, fn func(db) error) error {
	// The writer's transactions are IMMEDIATE (_txlock): this one holds the database's
	// write lock from its first statement, so what fn reads cannot change under it.
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(sqliteTx{tx: tx, stmts: d.stmts}); err != nil {
		return err
	}
	return tx.Commit()
}

// sqliteTx is a transaction on the writer connection.
type sqliteTx struct {
	tx    *sql.Tx
	stmts *stmtCache // the writer's kept statements (nil: none)
}

func (t sqliteTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := t.stmts.get(q); st != nil {
		res, err = t.tx.StmtContext(ctx, st).ExecContext(ctx, sqliteArgs(args)...)
	} else {
		res, err = t.tx.ExecContext(ctx, q, sqliteArgs(args)...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t sqliteTx) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return sqliteRow{t.tx.QueryRowContext(ctx, q, sqliteArgs(args)...)}
}

func (t sqliteTx) writeRow(ctx context.Context, q string, args ...any) rowScanner {
	return t.queryRow(ctx, q, args...)
}

func (t sqliteTx) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	rows, err := t.tx.QueryContext(ctx, q, sqliteArgs(args)...)
	if err != nil {
		return nil, err
	}
	return sqliteRows{rows}, nil
}

func (sqliteTx) driver() string                                    { return DriverSQLite }
func (sqliteTx) isUnique(err error) bool                           { return sqliteDB{}.isUnique(err) }
func (sqliteTx) isForeignKey(err error) bool                       { return sqliteDB{}.isForeignKey(err) }
func (t sqliteTx) inTx(_ context.Context, fn func(db) error) error { return fn(t) }

// isSQLiteConstraint reports whether err is the SQLite extended result code.
func isSQLiteConstraint(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

type sqliteRow struct{ *sql.Row }

func (r sqliteRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	return err
}

type sqliteRows struct{ *sql.Rows }

func (r sqliteRows) Close() { r.Rows.Close() }

// pgDB runs statements on the pgx pool.
type pgDB struct {
	pool *pgxpool.Pool
}

// pgRebind numbers the ? placeholders of q. The statements passed here hold no ? inside
// literals or operators.
func pgRebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d pgDB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, pgRebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (d pgDB) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return pgRow{d.pool.QueryRow(ctx, pgRebind(q), args...)}
}

func (d pgDB) writeRow(ctx context.Context, q string, args ...any) rowScanner {
	return d.queryRow(ctx, q, args...)
}

func (d pgDB) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	rows, err := d.pool.Query(ctx, pgRebind(q), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (pgDB) driver() string { return DriverPostgres }

func (d pgDB) inTx(ctx context.Context, fn func(db) error) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(pgTx{tx}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// pgTx is a transaction on one pooled connection.
type pgTx struct {
	tx pgx.Tx
}

func (t pgTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, pgRebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (t pgTx) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return pgRow{t.tx.QueryRow(ctx, pgRebind(q), args...)}
}

func (t pgTx) writeRow(ctx context.Context, q string, args ...any) rowScanner {
	return t.queryRow(ctx, q, args...)
}

func (t pgTx) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	rows, err := t.tx.Query(ctx, pgRebind(q), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (pgTx) driver() string                                    { return DriverPostgres }
func (pgTx) isUnique(err error) bool                           { return isPgCode(err, pgUniqueViolation) }
func (pgTx) isForeignKey(err error) bool                       { return isPgCode(err, pgForeignKeyViolation) }
func (t pgTx) inTx(_ context.Context, fn func(db) error) error { return fn(t) }

// PostgreSQL error codes (SQLSTATE) the store tells apart.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

func (pgDB) isUnique(err error) bool     { return isPgCode(err, pgUniqueViolation) }
func (pgDB) isForeignKey(err error) bool { return isPgCode(err, pgForeignKeyViolation) }

// isPgCode reports whether err is a PostgreSQL error with this SQLSTATE.
func isPgCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

type pgRow struct{ pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

// timeCol reads a time column of either dialect: timestamptz from PostgreSQL, fixed-width
// text from SQLite; NULL leaves Valid false.
type timeCol struct {
	T     time.Time
	Valid bool
}

// Scan implements sql.Scanner (which pgx honours too).
func (c *timeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		c.T, c.Valid = time.Time{}, false
		return nil
	case time.Time:
		c.T, c.Valid = x.UTC(), true
		return nil
	case string:
		return c.parse(x)
	case []byte:
		return c.parse(string(x))
	}
	return fmt.Errorf("time column holds %T", v)
}

func (c *timeCol) parse(s string) error {
	t, err := time.Parse(sqliteTimeFormat, s)
	if err != nil {
		return fmt.Errorf("stored time %q is corrupt: %w", s, err)
	}
	c.T, c.Valid = t.UTC(), true
	return nil
}

// ptr is the time as an optional value.
func (c timeCol) ptr() *time.Time {
	if !c.Valid {
		return nil
	}
	t := c.T
	return &t
}

// textCol reads an optional text or JSON column of either dialect.
type textCol struct {
	S     string
	Valid bool
}

// Scan implements sql.Scanner.
func (c *textCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		c.S, c.Valid = "", false
	case string:
		c.S, c.Valid = x, true
	case []byte:
		c.S, c.Valid = string(x), true
	default:
		return fmt.Errorf("text column holds %T", v)
	}
	return nil
}

// nullable binds "" as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullTime binds a nil time as NULL.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}
