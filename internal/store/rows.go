package store

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/report"
)

// runRow is a run as both dialects store it.
type runRow struct {
	id, suite, status, configHash string
	startedAt, finishedAt         time.Time
	run, summary                  []byte        // exact JSON; summary without tests and flaky
	tests                         []testStatRow // the summary's tests and flaky, for test_stats
	pairs                         []byte        // the results' report.PairSample, for run_pairs (pairs.go)
	groups                        []Group       // the results counted by prompt, provider and segment, for result_groups
	testsCount, flakyCount        int
	cases, passed, failed, errors int
	passRate                      float64
	gatesPassed, gatesTotal       int
}

// resultRow is one result as both dialects store it.
type resultRow struct {
	idx, testIndex         int
	prompt, provider       string
	repeat                 int
	segment                string
	passed, hasError       bool
	score, latencyMS, cost float64
	tokens                 int
	data                   []byte // exact JSON
}

// resultColumns is the column order of resultRow.values.
func resultColumns() []string {
	return []string{
		"run_id", "idx", "test_index", "prompt", "provider", "repeat", "segment",
		"passed", "has_error", "score", "latency_ms", "cost", "tokens", "data",
	}
}

// values lists the row's columns in resultColumns order.
func (r *resultRow) values(runID string) []any {
	return []any{
		runID, r.idx, r.testIndex, r.prompt, r.provider, r.repeat, r.segment,
		r.passed, r.hasError, r.score, r.latencyMS, r.cost, r.tokens, r.data,
	}
}

// testStatRow is one row of the summary's tests or flaky as both dialects store it.
type testStatRow struct {
	flaky    bool // a row of Summary.Flaky, not Summary.Tests
	position int  // in that list, from 0
	data     []byte
}

// testStatColumns is the column order of testStatRow.values.
func testStatColumns() []string { return []string{"run_id", "flaky", "position", "data"} }

// values lists the row's columns in testStatColumns order.
func (r *testStatRow) values(runID string) []any {
	return []any{runID, r.flaky, r.position, r.data}
}

// encodeReport turns a report into rows, checking what the database would otherwise reject
// with a less helpful message.
func encodeReport(r *report.Report) (runRow, []resultRow, error) {
	if r == nil {
		return runRow{}, nil, errors.New("save run: no report")
	}
	if strings.TrimSpace(r.Run.ID) == "" {
		return runRow{}, nil, errors.New("save run: the run has no id")
	}
	if !utf8.ValidString(r.Run.ID) || strings.ContainsRune(r.Run.ID, 0) {
		return runRow{}, nil, fmt.Errorf("save run: run id %q is not valid text", r.Run.ID)
	}
	run, err := encodeJSON(r.Run)
	if err != nil {
		return runRow{}, nil, fmt.Errorf("save run %s: encode run: %w", r.Run.ID, err)
	}
	// The per-test rows are stored apart from the summary, one row each: a run of 100,000
	// results has ~50,000 of them (~10 MB), which the run page would otherwise decode on
	// every request, and which are read a page at a time.
	head := r.Summary
	head.Tests, head.Flaky = nil, nil
	summary, err := encodeJSON(head)
	if err != nil {
		return runRow{}, nil, fmt.Errorf("save run %s: encode summary: %w", r.Run.ID, err)
	}
	tests := make([]testStatRow, 0, len(r.Summary.Tests)+len(r.Summary.Flaky))
	for _, l := range []struct {
		flaky bool
		rows  []report.TestStat
	}{{false, r.Summary.Tests}, {true, r.Summary.Flaky}} {
		for i := range l.rows {
			data, err := encodeJSON(&l.rows[i])
			if err != nil {
				return runRow{}, nil, fmt.Errorf("save run %s: encode summary %s row %d: %w", r.Run.ID, testListName(l.flaky), i, err)
			}
			tests = append(tests, testStatRow{flaky: l.flaky, position: i, data: data})
		}
	}
	rr := runRow{
		id:         r.Run.ID,
		suite:      text(r.Run.Suite),
		status:     text(r.Run.Status),
		configHash: text(r.Run.ConfigHash),
		startedAt:  r.Run.StartedAt.UTC(),
		finishedAt: r.Run.FinishedAt.UTC(),
		run:        run,
		summary:    summary,
		tests:      tests,
		testsCount: len(r.Summary.Tests),
		flakyCount: len(r.Summary.Flaky),
		cases:      r.Summary.Cases,
		passed:     r.Summary.Passed,
		failed:     r.Summary.Failed,
		errors:     r.Summary.Errors,
		passRate:   r.Summary.PassRate,
		gatesTotal: len(r.Summary.Gates),
	}
	for _, g := range r.Summary.Gates {
		if g.Passed {
			rr.gatesPassed++
		}
	}
	rows := make([]resultRow, len(r.Results))
	samples := make([]report.PairSample, len(r.Results))
	for i := range r.Results {
		res := &r.Results[i]
		samples[i] = res.PairSample()
		data, err := encodeJSON(res)
		if err != nil {
			return runRow{}, nil, fmt.Errorf("save run %s: encode result %d: %w", r.Run.ID, i, err)
		}
		hasError := res.Error != ""
		for _, a := range res.Assertions {
			hasError = hasError || a.Error
		}
		rows[i] = resultRow{
			idx:       i,
			testIndex: res.Test.Index,
			prompt:    text(res.Prompt),
			provider:  text(res.Provider),
			repeat:    res.Repeat,
			segment:   text(res.Test.Segment),
			passed:    res.Passed,
			hasError:  hasError,
			score:     res.Score,
			latencyMS: res.LatencyMS,
			cost:      res.Cost,
			tokens:    res.Tokens.Total,
			data:      data,
		}
	}
	rr.pairs = encodePairs(samples)
	rr.groups = groupResults(rows)
	return rr, rows, nil
}

// groupResults counts results by prompt, provider and segment, ordered by them: the rows of
// result_groups (Breakdown).
func groupResults(rows []resultRow) []Group {
	index := map[[3]string]int{}
	var out []Group
	for i := range rows {
		r := &rows[i]
		k := [3]string{r.prompt, r.provider, r.segment}
		j, ok := index[k]
		if !ok {
			j = len(out)
			index[k] = j
			out = append(out, Group{Prompt: r.prompt, Provider: r.provider, Segment: r.segment})
		}
		g := &out[j]
		g.Samples++
		if r.passed {
			g.Passed++
		}
		if r.hasError {
			g.Errors++
		}
		g.Cost += r.cost
		g.LatencyMS += r.latencyMS
		g.Tokens += int64(r.tokens)
		g.positions = append(g.positions, r.idx)
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(strings.Compare(a.Prompt, b.Prompt), strings.Compare(a.Provider, b.Provider), strings.Compare(a.Segment, b.Segment))
	})
	return out
}

// groupColumns is the column order of groupValues.
func groupColumns() []string {
	return []string{"run_id", "prompt", "provider", "segment", "samples", "passed", "errors", "cost", "latency_ms", "tokens", "positions"}
}

// groupValues lists a group's columns in groupColumns order.
func groupValues(runID string, g *Group) []any {
	return []any{runID, g.Prompt, g.Provider, g.Segment, g.Samples, g.Passed, g.Errors, g.Cost, g.LatencyMS, g.Tokens, encodePositions(g.positions)}
}

// text makes a copied column value storable in a text column: PostgreSQL rejects NUL and
// invalid UTF-8. The exact value stays in the JSON; these copies only serve filters.
func text(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// encodeJSON is json.Marshal without HTML escaping: stored JSON is read by programs, and
// "<" kept as is keeps model output readable for someone querying the database by hand.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// testListName names a list of per-test rows in messages, as the report's JSON does.
func testListName(flaky bool) string {
	if flaky {
		return "flaky"
	}
	return "tests"
}

// decodeTestStat reads one stored row of test_stats.
func decodeTestStat(runID string, flaky bool, position int, data []byte, ts *report.TestStat) error {
	if err := json.Unmarshal(data, ts); err != nil {
		return fmt.Errorf("stored summary %s row %d of run %s is corrupt: %w", testListName(flaky), position, runID, err)
	}
	return nil
}

// decodeRun rebuilds a report from its stored JSON parts, without the summary's tests and
// flaky (stored apart).
func decodeRun(run, summary []byte) (*report.Report, error) {
	rep := &report.Report{}
	if err := json.Unmarshal(run, &rep.Run); err != nil {
		return nil, fmt.Errorf("stored run is corrupt: %w", err)
	}
	if summary != nil {
		if err := json.Unmarshal(summary, &rep.Summary); err != nil {
			return nil, fmt.Errorf("stored summary of run %s is corrupt: %w", rep.Run.ID, err)
		}
	}
	return rep, nil
}

// sqliteTimeFormat is fixed width so that SQLite's text order is time order (RFC 3339 with
// trimmed fractions is not: ".5Z" sorts before "Z").
const sqliteTimeFormat = "2006-01-02T15:04:05.000000000Z"

// scanRunInfo reads one row of listQuery. The key's time is the column's own value, so
// that a cursor made from it compares equal to the row it came from.
func scanRunInfo(r rowScanner) (RunInfo, error) {
	var rr runRow
	var started timeCol
	if err := r.Scan(&rr.id, &started, &rr.run, &rr.cases, &rr.passed, &rr.failed, &rr.errors,
		&rr.passRate, &rr.gatesPassed, &rr.gatesTotal); err != nil {
		return RunInfo{}, fmt.Errorf("list runs: %w", err)
	}
	ri, err := runInfo(&rr)
	if err != nil {
		return RunInfo{}, err
	}
	ri.Key = RunKey{StartedAt: started.T, ID: rr.id}
	return ri, nil
}

// runInfo builds a list line from the stored run JSON and counts.
func runInfo(rr *runRow) (RunInfo, error) {
	var ri RunInfo
	if err := json.Unmarshal(rr.run, &ri.Run); err != nil {
		return RunInfo{}, fmt.Errorf("stored run %s is corrupt: %w", rr.id, err)
	}
	ri.Cases, ri.Passed, ri.Failed, ri.Errors = rr.cases, rr.passed, rr.failed, rr.errors
	ri.PassRate = rr.passRate
	ri.GatesPassed, ri.GatesTotal = rr.gatesPassed, rr.gatesTotal
	return ri, nil
}

// decodeResult reads one stored result.
func decodeResult(data []byte, r *report.Result) error {
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("stored result is corrupt: %w", err)
	}
	return nil
}

// listQuery builds ListRuns' query; placeholder renders the n-th (from 1) bound parameter in
// the dialect's syntax. Rows scan as id, started_at, run, cases, passed, failed, errors,
// pass_rate, gates_passed, gates_total (scanRunInfo).
func listQuery(opt ListOptions, placeholder func(n int) string) (string, []any) {
	var where []string
	var args []any
	if opt.Suite != "" {
		args = append(args, opt.Suite)
		where = append(where, "suite = "+placeholder(len(args)))
	}
	if opt.Status != "" {
		args = append(args, opt.Status)
		where = append(where, "status = "+placeholder(len(args)))
	}
	if opt.Project != "" {
		args = append(args, opt.Project)
		where = append(where, "project_id = "+placeholder(len(args)))
	}
	if q := strings.TrimSpace(opt.Search); q != "" {
		// LIKE with ESCAPE, so that a % or _ typed in a search is literal; lower() on both
		// sides because PostgreSQL's LIKE is case-sensitive and SQLite's only for ASCII.
		// ->> reads a JSON field in both dialects (SQLite since 3.38).
		esc := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q))
		var or []string
		for _, c := range []struct{ expr, pattern string }{
			{"id", esc + "%"},
			{"suite", "%" + esc + "%"},
			{"run->>'description'", "%" + esc + "%"},
			{"run->'provenance'->>'git_commit'", esc + "%"},
			{"run->'provenance'->>'user'", "%" + esc + "%"},
		} {
			args = append(args, c.pattern)
			or = append(or, fmt.Sprintf(`lower(COALESCE(%s, '')) LIKE %s ESCAPE '\'`, c.expr, placeholder(len(args))))
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if opt.After != nil {
		// The key's time is bound as time.Time; the SQLite store turns it into the stored
		// text form, which is exact because the key was read from that column.
		args = append(args, opt.After.StartedAt, opt.After.StartedAt, opt.After.ID)
		n := len(args)
		where = append(where, fmt.Sprintf("(started_at < %s OR (started_at = %s AND id < %s))",
			placeholder(n-2), placeholder(n-1), placeholder(n)))
	}
	q := "SELECT id, started_at, run, cases, passed, failed, errors, pass_rate, gates_passed, gates_total FROM runs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_at DESC, id DESC"
	if opt.Limit > 0 {
		args = append(args, opt.Limit)
		q += " LIMIT " + placeholder(len(args))
	}
	return q, args
}

// upsertRunSQL is the statement that saves a run row; placeholder renders the n-th bound
// parameter. Without a project the run's project column is left alone: a new run takes the
// column default (the default project) and a re-saved one stays where it is. With a
// project, the 18th parameter, a run of the same id is replaced only within that project,
// so a run of another project affects no row, which the caller reports as a conflict.
func upsertRunSQL(inProject bool, placeholder func(n int) string) string {
	cols := "id, suite, status, started_at, finished_at, config_hash, run, summary, " +
		"cases, passed, failed, errors, pass_rate, gates_passed, gates_total, " +
		"tests_count, flaky_count"
	n := 17
	if inProject {
		cols += ", project_id"
		n = 18
	}
	ps := make([]string, n)
	for i := range ps {
		ps[i] = placeholder(i + 1)
	}
	q := "INSERT INTO runs (" + cols + ") VALUES (" + strings.Join(ps, ", ") + `)
		ON CONFLICT (id) DO UPDATE SET
			suite = excluded.suite, status = excluded.status, started_at = excluded.started_at,
			finished_at = excluded.finished_at, config_hash = excluded.config_hash,
			run = excluded.run, summary = excluded.summary, cases = excluded.cases,
			passed = excluded.passed, failed = excluded.failed, errors = excluded.errors,
			pass_rate = excluded.pass_rate, gates_passed = excluded.gates_passed,
			gates_total = excluded.gates_total,
			tests_count = excluded.tests_count, flaky_count = excluded.flaky_count`
	if inProject {
		q += " WHERE runs.project_id = excluded.project_id"
	}
	return q
}

// runConflict says that a run id is taken by another project.
func runConflict(id string) error {
	return fmt.Errorf("save run %s: run %q %w in another project", id, id, ErrConflict)
}

// getRunSQL reads a run's JSON parts and how many per-test rows it has; ? placeholder.
const getRunSQL = `SELECT run, summary, tests_count, flaky_count FROM runs WHERE id = ?`
