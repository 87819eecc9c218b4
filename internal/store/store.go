// Package store keeps eval runs: one contract with two implementations, embedded SQLite (the
// zero-setup default, pure Go) and PostgreSQL (for several server instances sharing one
// database). Each has its own embedded, ordered migrations, applied in transactions and
// recorded in a schema_migrations table.
//
// A run is stored as one row in runs and one row per sample in results. The rows carry the
// columns that lists and filters need (suite, status, times, counts; provider, segment,
// pass/fail, ...), indexed for paging, and the exact JSON of the run header, the summary and
// every result, which is what GetRun returns. A report therefore round-trips through
// SaveRun and GetRun to the identical JSON report. Results are also read in pages
// (ListResults), by keyset on their position, so that a 100,000-result run is never loaded
// whole to show one screen of it.
//
// Since schema version 2 the store also keeps what `plumb serve` needs (Accounts, AuditLog):
// projects, which every run belongs to (the CLI's runs to the default project), users,
// memberships, sessions and API keys (as hashes only), and an append-only audit log.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/report"
)

// Store keeps eval runs. It is safe for concurrent use.
type Store interface {
	// SaveRun inserts the run, or replaces it entirely if its id exists (a resumed run is
	// saved again), in one transaction.
	SaveRun(ctx context.Context, r *report.Report) error
	// GetRun returns the full report, results in their original order, or ErrNotFound.
	GetRun(ctx context.Context, id string) (*report.Report, error)
	// GetRunHeader is a run without its results (Results is nil) and without the summary's
	// per-test rows (Summary.Tests and Summary.Flaky are nil; TestCounts and ListTests have
	// them): its header and the rest of its summary, read without touching the results, for
	// pages over runs of any size.
	GetRunHeader(ctx context.Context, id string) (*report.Report, error)
	// ListRuns returns the runs matching opt, newest first.
	ListRuns(ctx context.Context, opt ListOptions) ([]RunInfo, error)
	// DeleteRun deletes a run and its results, or returns ErrNotFound.
	DeleteRun(ctx context.Context, id string) error
	// ResolveRun turns an exact id, "latest" or a unique id prefix into a run id.
	ResolveRun(ctx context.Context, ref string) (string, error)
	// SchemaStatus reports the applied schema version and the newest one this binary has.
	SchemaStatus(ctx context.Context) (current, latest int, err error)
	// Migrate applies every pending migration.
	Migrate(ctx context.Context) error
	// Close releases the database connections.
	Close() error

	// SaveRunIn is SaveRun for a run uploaded into a project: a new run is stored in
	// projectID, a run of the same id in projectID is replaced, and a run of the same id in
	// another project is left alone and the call fails with ErrConflict. A missing project
	// is ErrNotFound.
	SaveRunIn(ctx context.Context, projectID string, r *report.Report) error
	// RunProject returns the id of the project a run belongs to, or ErrNotFound: what an
	// access check needs before GetRun, DeleteRun or ListResults.
	RunProject(ctx context.Context, runID string) (string, error)
	// ListResults returns one page of a run's results matching f, in report order, and the
	// cursor of the next page ("" after the last one). cursor is "" for the first page or
	// a value ListResults returned; limit <= 0 means DefaultPageSize and is capped at
	// MaxPageSize. A missing run is ErrNotFound; a malformed cursor is ErrInvalid.
	ListResults(ctx context.Context, runID string, f ResultFilter, cursor string, limit int) (page []report.Result, next string, err error)
	// TestCounts is how many rows the run's Summary.Tests and Summary.Flaky have, or
	// ErrNotFound.
	TestCounts(ctx context.Context, runID string) (tests, flaky int, err error)
	// ListTests returns one page of the run's Summary.Tests (Summary.Flaky if flaky), in
	// report order, and the cursor of the next page ("" after the last one); cursor and
	// limit work as ListResults' do. A missing run is ErrNotFound; a malformed cursor is
	// ErrInvalid.
	ListTests(ctx context.Context, runID string, flaky bool, cursor string, limit int) (page []report.TestStat, next string, err error)
	// CountResults is how many of a run's results match f (0 for a missing run).
	CountResults(ctx context.Context, runID string, f ResultFilter) (int, error)
	// ResultPositions returns the positions (from 0, in report order) of a run's results
	// matching f: what comparing two prompts or models within a run pairs, with
	// PairSamples. A missing run has none.
	ResultPositions(ctx context.Context, runID string, f ResultFilter) ([]int, error)
	// Breakdown counts a run's results by prompt, provider and segment (none for a
	// missing run).
	Breakdown(ctx context.Context, runID string) ([]Group, error)
	// PairSamples is what comparing the run needs of each result, one report.PairSample per
	// result in report order, read without its results (SaveRun stores them; migration 0004
	// computed them for older runs), or ErrNotFound.
	PairSamples(ctx context.Context, runID string) ([]report.PairSample, error)
	// ResultsAt returns the run's results at these positions (from 0, in report order), in
	// the order asked: the few results a comparison lists. A position the run does not have
	// (or a missing run) is ErrNotFound.
	ResultsAt(ctx context.Context, runID string, idx []int) ([]report.Result, error)

	// WithAudit returns a view of the store whose changes are audited: each change made
	// through it (SaveRun, SaveRunIn, DeleteRun, CreateProject, CreateUser, UpdateUser,
	// AddMember, UpdateMember, RemoveMember, CreateAPIKey, RevokeAPIKey, PushPrompt when it
	// creates a version, MovePromptLabel when it moves the label, SetDatasetPolicy, RevokeConsent,
	// PurgeDatasets when it deletes, RevokeSubjects: one dataset.revoke per dataset;
	// SetProtectedLabels, ForceMovePromptLabel, RollbackPromptLabel, RequestPromptReview,
	// CommentPromptReview, DecidePromptReview; CreateApproval, DecideApproval,
	// RecordApprovalOutcome, ExpireApprovals) appends its audit
	// entry, with actor as who made it, in the change's own transaction: the change and its
	// entry commit or roll back together, and a failed entry fails the change. The store
	// builds the entry (action, target, before and after, as listed in audited.go) from the
	// rows it reads and writes inside that transaction. Sessions and key or session touches
	// are not audited. The view shares the store's connections: close the store, not the
	// view.
	WithAudit(actor Actor) Store

	Accounts
	AuditLog
	Prompts
	Datasets
	DatasetPolicies
	Queues
	PromptReviews
	Traces
	Approvals
}

// ListOptions filters and bounds ListRuns. Zero values mean "no filter" and "no limit".
type ListOptions struct {
	Limit   int    // at most this many runs; <= 0 means all
	Project string // only runs of the project with this id
	Suite   string // only runs of this suite
	Status  string // only runs with this status (report.StatusComplete, report.StatusIncomplete)
	// Search, when set, keeps the runs whose id or git commit starts with it, or whose
	// suite, description or user contains it, in any letter case.
	Search string
	// After, when set, lists only the runs after this one in the list's order (newest
	// first): a keyset cursor. Give it the Key of the last run of the previous page, never
	// a key built from a report, whose times may be finer than the database keeps.
	After *RunKey
}

// RunKey is a run's position in ListRuns' order: its start time exactly as the database
// holds it (PostgreSQL keeps microseconds, SQLite the nanoseconds) and its id.
type RunKey struct {
	StartedAt time.Time
	ID        string
}

// RunInfo is one line of a run list: the run header and its headline numbers.
type RunInfo struct {
	report.Run
	Cases       int     `json:"cases"`
	Passed      int     `json:"passed"`
	Failed      int     `json:"failed"`
	Errors      int     `json:"errors"`
	PassRate    float64 `json:"pass_rate"`
	GatesPassed int     `json:"gates_passed"`
	GatesTotal  int     `json:"gates_total"`
	// Key is the run's position in the list as stored, set by ListRuns: the After of the
	// next page. It is not part of the JSON.
	Key RunKey `json:"-"`
}

// ErrNotFound is returned (wrapped, naming the run) when a run does not exist.
var ErrNotFound = errors.New("not found")

// ErrSchemaOutdated is returned (wrapped, with the versions and the fix) by Open when the
// database schema is older than this binary and migrating was not asked for.
var ErrSchemaOutdated = errors.New("database schema is outdated")

// AmbiguousError is returned by ResolveRun when a prefix matches several runs.
type AmbiguousError struct {
	Ref        string
	Candidates []string // newest first, at most maxCandidates
	More       bool     // more runs match than Candidates lists
}

func (e *AmbiguousError) Error() string {
	s := fmt.Sprintf("run %q is ambiguous: it matches %s", e.Ref, strings.Join(e.Candidates, ", "))
	if e.More {
		s += " and more"
	}
	return s + "; give more characters of the id"
}

// maxCandidates bounds how many ids an ambiguity error lists.
const maxCandidates = 10

// OpenOptions says how Open treats the database schema.
type OpenOptions struct {
	// Migrate applies pending migrations. Without it, a database whose schema is older than
	// this binary is refused (ErrSchemaOutdated). A new, empty database is always initialised.
	Migrate bool
	// SkipSchemaCheck opens the database whatever its schema version, so that
	// `plumb migrate --status` can report it; only SchemaStatus and Migrate are meaningful on
	// a store opened this way with an outdated schema.
	SkipSchemaCheck bool
	// SQLiteCacheKiB is the SQLite writer's page cache in KiB (0: DefaultSQLiteCacheKiB).
	// A process that only appends, such as the gateway writing traces, needs little.
	SQLiteCacheKiB int
	// Now is the clock for the times the store records (created_at, last_used_at, audit
	// times) and compares (session and key expiry); nil means time.Now.
	Now func() time.Time
}

// DefaultSQLiteCacheKiB is the SQLite writer's page cache, for reading and writing runs.
const DefaultSQLiteCacheKiB = 32000

// Driver names returned by ParseDSN.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// dsnForms is what ParseDSN accepts, for error messages.
const dsnForms = "sqlite:PATH, sqlite://PATH, a path ending in .db, or postgres://USER@HOST:PORT/DB (also postgresql://)"

// ParseDSN splits a --db value into a driver (DriverSQLite or DriverPostgres) and its target:
// the file path for SQLite, the whole URL for PostgreSQL.
func ParseDSN(dsn string) (driver, target string, err error) {
	s := strings.TrimSpace(dsn)
	switch {
	case s == "":
		return "", "", fmt.Errorf("empty database address: use %s", dsnForms)
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			// url's error quotes the whole address, which may hold a password.
			return "", "", fmt.Errorf("invalid PostgreSQL URL %s: use postgres://USER@HOST:PORT/DB", redact(s))
		}
		return DriverPostgres, s, nil
	case strings.HasPrefix(s, "sqlite://"):
		target = strings.TrimPrefix(s, "sqlite://")
	case strings.HasPrefix(s, "sqlite:"):
		target = strings.TrimPrefix(s, "sqlite:")
	case strings.HasSuffix(strings.ToLower(s), ".db") && !strings.Contains(s, "://"):
		target = s
	default:
		return "", "", fmt.Errorf("unsupported database address %s: use %s", redact(s), dsnForms)
	}
	switch {
	case target == "":
		return "", "", fmt.Errorf("database address %q has no file path: use sqlite:PATH, e.g. sqlite:.plumb/plumb.db", s)
	case target == ":memory:" || strings.HasPrefix(target, "file:"):
		return "", "", fmt.Errorf("database address %q: give SQLite a plain file path, e.g. sqlite:.plumb/plumb.db (in-memory and URI forms are not supported)", s)
	}
	return DriverSQLite, target, nil
}

// redact shows an address the user typed without anything that may be a password: the
// scheme and host only, or a placeholder.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		if i := strings.Index(s, "://"); i > 0 {
			return fmt.Sprintf("%q", s[:i]+"://...")
		}
		if len(s) > 40 || strings.ContainsAny(s, "@:") {
			return `"..."`
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q", u.Scheme+"://"+u.Host+"/...")
}

// Open connects to the database named by dsn (see ParseDSN), checks its schema version and,
// as opt says, migrates it. For SQLite it creates the file and its parent directory.
func Open(ctx context.Context, dsn string, opt OpenOptions) (Store, error) {
	return open(ctx, dsn, opt, nil)
}

// open is Open with a replaceable migration set, so that tests can stage a schema upgrade.
func open(ctx context.Context, dsn string, opt OpenOptions, migs fs.FS) (Store, error) {
	driver, target, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if migs == nil {
		if migs, err = embeddedMigrations(driver); err != nil {
			return nil, err
		}
	}
	ms, err := loadMigrations(migs)
	if err != nil {
		return nil, err
	}
	var s Store
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	if driver == DriverSQLite {
		cache := opt.SQLiteCacheKiB
		if cache <= 0 {
			cache = DefaultSQLiteCacheKiB
		}
		s, err = openSQLite(ctx, target, ms, now, cache)
	} else {
		s, err = openPostgres(ctx, target, ms, now)
	}
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, s, opt); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkSchema applies Open's schema policy.
func checkSchema(ctx context.Context, s Store, opt OpenOptions) error {
	if opt.SkipSchemaCheck {
		return nil
	}
	cur, latest, err := s.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	switch {
	case cur > latest:
		return fmt.Errorf("database schema is at version %d, newer than this plumb knows (%d): upgrade plumb", cur, latest)
	case cur == latest:
		return nil
	case cur == 0 || opt.Migrate:
		// An empty database has nothing that an upgrade could break, so it is initialised
		// without asking; that keeps the first `plumb eval` on a new machine zero-setup.
		return s.Migrate(ctx)
	default:
		return fmt.Errorf("%w: it is at version %d, this plumb needs version %d: run `plumb migrate` (with the same --db)", ErrSchemaOutdated, cur, latest)
	}
}

// notFound names the missing run.
func notFound(id string) error {
	return fmt.Errorf("run %q %w", id, ErrNotFound)
}
