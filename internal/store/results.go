package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/report"
)

// ResultFilter selects results of a run for ListResults and CountResults. Zero values mean
// "no filter"; set filters combine with AND.
type ResultFilter struct {
	FailedOnly bool   `json:"failed_only,omitempty"` // only results that did not pass
	PassedOnly bool   `json:"passed_only,omitempty"` // only results that passed (the majority: no index of its own)
	ErrorsOnly bool   `json:"errors_only,omitempty"` // only results whose call or an assertion errored
	Test       *int   `json:"test,omitempty"`        // only results of this test index
	Provider   string `json:"provider,omitempty"`    // only results of this provider label
	Prompt     string `json:"prompt,omitempty"`      // only results of this prompt label
	Segment    string `json:"segment,omitempty"`     // only results of this segment
}

// Cursor kinds, so that a cursor of one list is refused by another.
const (
	resultCursor = "r"
	testCursor   = "t"
	auditCursor  = "a"
)

// encodeCursor makes an opaque cursor: the position after which the next page starts.
func encodeCursor(kind string, pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(pos, 10)))
}

// decodeCursor reads a cursor of this kind; "" is the start, 0.
func decodeCursor(kind, cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	k, num, ok := strings.Cut(string(b), ":")
	pos, perr := strconv.ParseInt(num, 10, 64)
	if err != nil || !ok || k != kind || perr != nil || pos < 0 {
		return 0, invalid("cursor %q is not one this list returned: start again without a cursor", cursor)
	}
	return pos, nil
}

// resultWhere is the condition of a run's results matching f, with ? placeholders. The
// failed and errored predicates are written exactly as the partial indexes of 0001 are,
// which is what lets the planners use them.
func resultWhere(driver, runID string, f ResultFilter) (string, []any) {
	where := []string{"run_id = ?"}
	args := []any{runID}
	if f.FailedOnly {
		if driver == DriverPostgres {
			where = append(where, "NOT passed")
		} else {
			where = append(where, "passed = 0")
		}
	}
	if f.PassedOnly {
		if driver == DriverPostgres {
			where = append(where, "passed")
		} else {
			where = append(where, "passed = 1")
		}
	}
	if f.ErrorsOnly {
		if driver == DriverPostgres {
			where = append(where, "has_error")
		} else {
			where = append(where, "has_error = 1")
		}
	}
	if f.Test != nil {
		where, args = append(where, "test_index = ?"), append(args, *f.Test)
	}
	if f.Provider != "" {
		where, args = append(where, "provider = ?"), append(args, text(f.Provider))
	}
	if f.Prompt != "" {
		where, args = append(where, "prompt = ?"), append(args, text(f.Prompt))
	}
	if f.Segment != "" {
		where, args = append(where, "segment = ?"), append(args, text(f.Segment))
	}
	return strings.Join(where, " AND "), args
}

// resultsPageQuery is ListResults' query: a range scan after the cursor, in idx order,
// fetching one row more than the page to know whether another page follows. The cursor is
// the idx of the page's last row; "idx > ?" is always present (-1 for the first page) so
// that every page is the same statement.
func resultsPageQuery(driver, runID string, f ResultFilter, after int64, limit int) (string, []any) {
	where, args := resultWhere(driver, runID, f)
	return "SELECT idx, data FROM results WHERE " + where + " AND idx > ? ORDER BY idx LIMIT ?",
		append(args, after, limit+1)
}

// ListResults implements Store.
func (a *accounts) ListResults(ctx context.Context, runID string, f ResultFilter, cursor string, limit int) ([]report.Result, string, error) {
	after := int64(-1)
	if cursor != "" {
		pos, err := decodeCursor(resultCursor, cursor)
		if err != nil {
			return nil, "", err
		}
		after = pos
	}
	var one int
	err := a.db.queryRow(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one)
	if errors.Is(err, errNoRows) {
		return nil, "", notFound(runID)
	}
	if err != nil {
		return nil, "", fmt.Errorf("list results of run %s: %w", runID, err)
	}
	n := pageSize(limit)
	q, args := resultsPageQuery(a.db.driver(), runID, f, after, n)
	rows, err := a.db.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list results of run %s: %w", runID, err)
	}
	defer rows.Close()
	page := make([]report.Result, 0, n)
	var idxs []int
	var last int64
	more := false
	for rows.Next() {
		if len(page) == n {
			more = true
			break
		}
		var idx int64
		var data []byte
		if err := rows.Scan(&idx, &data); err != nil {
			return nil, "", fmt.Errorf("list results of run %s: %w", runID, err)
		}
		page = append(page, report.Result{})
		if err := decodeResult(data, &page[len(page)-1]); err != nil {
			return nil, "", fmt.Errorf("run %s: result %d: %w", runID, idx, err)
		}
		last = idx
		idxs = append(idxs, int(idx))
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list results of run %s: %w", runID, err)
	}
	rows.Close()
	if err := attachHuman(ctx, a.db, runID, page, idxs); err != nil {
		return nil, "", err
	}
	if !more {
		return page, "", nil
	}
	return page, encodeCursor(resultCursor, last), nil
}

// CountResults implements Store.
func (a *accounts) CountResults(ctx context.Context, runID string, f ResultFilter) (int, error) {
	where, args := resultWhere(a.db.driver(), runID, f)
	var n int
	if err := a.db.queryRow(ctx, "SELECT count(*) FROM results WHERE "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count results of run %s: %w", runID, err)
	}
	return n, nil
}

// ResultPositions implements Store: for a prompt × provider (and segment), from the
// positions stored with the run's result groups; otherwise the positions alone, from the
// filters' indexes where they have one, never the results' JSON.
func (a *accounts) ResultPositions(ctx context.Context, runID string, f ResultFilter) ([]int, error) {
	if pos, ok, err := a.groupPositions(ctx, runID, f); ok || err != nil {
		return pos, err
	}
	where, args := resultWhere(a.db.driver(), runID, f)
	rows, err := a.db.query(ctx, "SELECT idx FROM results WHERE "+where+" ORDER BY idx", args...)
	if err != nil {
		return nil, fmt.Errorf("positions of results of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []int{}
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, fmt.Errorf("positions of results of run %s: %w", runID, err)
		}
		out = append(out, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("positions of results of run %s: %w", runID, err)
	}
	return out, nil
}

// TestCounts implements Store.
func (a *accounts) TestCounts(ctx context.Context, runID string) (tests, flaky int, err error) {
	err = a.db.queryRow(ctx, `SELECT tests_count, flaky_count FROM runs WHERE id = ?`, runID).Scan(&tests, &flaky)
	if errors.Is(err, errNoRows) {
		return 0, 0, notFound(runID)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("count tests of run %s: %w", runID, err)
	}
	return tests, flaky, nil
}

// testsPageQuery is ListTests' query: a range scan of test_stats' primary key from the
// cursor's position, fetching one row more than the page to know whether another follows.
// The cursor is the position the next page starts at (the number of rows before it), as it
// was when a page was cut from one JSON value per run, so that cursors handed out then
// still work.
func testsPageQuery(runID string, flaky bool, from int64, limit int) (string, []any) {
	return `SELECT position, data FROM test_stats WHERE run_id = ? AND flaky = ? AND position >= ? ORDER BY position LIMIT ?`,
		[]any{runID, flaky, from, limit + 1}
}

// ListTests implements Store: one row per per-test entry (test_stats), read from the
// cursor's position on, so a page costs the same at the start and the end of a run of any
// size and decodes only its own rows.
func (a *accounts) ListTests(ctx context.Context, runID string, flaky bool, cursor string, limit int) ([]report.TestStat, string, error) {
	from, err := decodeCursor(testCursor, cursor)
	if err != nil {
		return nil, "", err
	}
	n := pageSize(limit)
	q, args := testsPageQuery(runID, flaky, from, n)
	rows, err := a.db.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list tests of run %s: %w", runID, err)
	}
	defer rows.Close()
	page := make([]report.TestStat, 0, n)
	var last int64
	more := false
	for rows.Next() {
		if len(page) == n {
			more = true
			break
		}
		var data []byte
		if err := rows.Scan(&last, &data); err != nil {
			return nil, "", fmt.Errorf("list tests of run %s: %w", runID, err)
		}
		page = append(page, report.TestStat{})
		if err := decodeTestStat(runID, flaky, int(last), data, &page[len(page)-1]); err != nil {
			return nil, "", err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list tests of run %s: %w", runID, err)
	}
	rows.Close()
	if len(page) == 0 {
		// No rows: a run without any, a cursor past the end, or no such run, which is the
		// one that is an error. A page with rows needs no such check.
		var one int
		err := a.db.queryRow(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one)
		if errors.Is(err, errNoRows) {
			return nil, "", notFound(runID)
		}
		if err != nil {
			return nil, "", fmt.Errorf("list tests of run %s: %w", runID, err)
		}
	}
	if !more {
		return page, "", nil
	}
	return page, encodeCursor(testCursor, last+1), nil
}

// readTestStats reads a run's Summary.Tests and Summary.Flaky back from test_stats, in
// report order, for GetRun; tests and flaky are their counts (runs.tests_count and
// flaky_count), to size them. No rows is nil, as an empty list was saved (the report's
// JSON omits both when empty).
func readTestStats(ctx context.Context, d db, runID string, tests, flaky int) ([]report.TestStat, []report.TestStat, error) {
	var out [2][]report.TestStat
	if tests > 0 {
		out[0] = make([]report.TestStat, 0, tests)
	}
	if flaky > 0 {
		out[1] = make([]report.TestStat, 0, flaky)
	}
	rows, err := d.query(ctx, `SELECT flaky, position, data FROM test_stats WHERE run_id = ? ORDER BY flaky, position`, runID)
	if err != nil {
		return nil, nil, fmt.Errorf("get run %s: summary tests: %w", runID, err)
	}
	defer rows.Close()
	var data []byte
	for rows.Next() {
		var isFlaky bool
		var position int
		if err := rows.Scan(&isFlaky, &position, &data); err != nil {
			return nil, nil, fmt.Errorf("get run %s: summary tests: %w", runID, err)
		}
		l := &out[0]
		if isFlaky {
			l = &out[1]
		}
		if position != len(*l) {
			return nil, nil, fmt.Errorf("stored summary %s of run %s are corrupt: row %d follows %d rows", testListName(isFlaky), runID, position, len(*l))
		}
		*l = append(*l, report.TestStat{})
		if err := decodeTestStat(runID, isFlaky, position, data, &(*l)[position]); err != nil {
			return nil, nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("get run %s: summary tests: %w", runID, err)
	}
	return out[0], out[1], nil
}
