package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/plumbhq/plumb/internal/report"
)

// pagingReport is a run of n small results whose filter columns vary independently, so
// that every filter and combination selects a different, scattered subset.
func pagingReport(id string, n int) *report.Report {
	r := sampleReport(id, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), 0)
	for i := range n {
		res := report.Result{
			Test:     report.TestRef{Index: i / 4, Segment: []string{"billing", "refunds", "", "ünï"}[i%4]},
			Prompt:   []string{"v1", "v2"}[(i/3)%2],
			Provider: []string{"gpt", "claude", "llama"}[(i/2)%3],
			Repeat:   i % 4,
			Output:   fmt.Sprintf("output %d", i),
			Passed:   i%5 != 0 && i%7 != 3,
		}
		switch {
		case i%11 == 0:
			res.Error = "provider timeout"
		case i%13 == 0:
			res.Assertions = []report.Assertion{{Type: "llm-rubric", Error: true, Reason: "judge failed"}}
		}
		r.Results = append(r.Results, res)
	}
	return r
}

// matches is the meaning of a filter, computed from the report itself.
func matches(f ResultFilter, r *report.Result) bool {
	errored := r.Error != ""
	for _, a := range r.Assertions {
		errored = errored || a.Error
	}
	return (!f.FailedOnly || !r.Passed) && (!f.PassedOnly || r.Passed) && (!f.ErrorsOnly || errored) &&
		(f.Test == nil || r.Test.Index == *f.Test) && (f.Provider == "" || r.Provider == f.Provider) &&
		(f.Prompt == "" || r.Prompt == f.Prompt) && (f.Segment == "" || r.Test.Segment == f.Segment)
}

func intp(n int) *int { return &n }

func TestListResultsPaging(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		const n = 1000
		rep := pagingReport("big", n)
		if err := s.SaveRun(ctx, rep); err != nil {
			t.Fatal(err)
		}
		// Another run with the same labels, whose rows must never leak into big's pages.
		if err := s.SaveRun(ctx, pagingReport("other", 50)); err != nil {
			t.Fatal(err)
		}
		filters := []struct {
			name string
			f    ResultFilter
		}{
			{"all", ResultFilter{}},
			{"failed", ResultFilter{FailedOnly: true}},
			{"passed", ResultFilter{PassedOnly: true}},
			{"passed by provider", ResultFilter{PassedOnly: true, Provider: "llama"}},
			{"errors", ResultFilter{ErrorsOnly: true}},
			{"failed errors", ResultFilter{FailedOnly: true, ErrorsOnly: true}},
			{"test 0", ResultFilter{Test: intp(0)}},
			{"test 117", ResultFilter{Test: intp(117)}},
			{"provider", ResultFilter{Provider: "claude"}},
			{"prompt", ResultFilter{Prompt: "v1"}},
			{"segment", ResultFilter{Segment: "ünï"}},
			{"empty segment", ResultFilter{Segment: ""}}, // "" is no filter
			{"failed by provider", ResultFilter{FailedOnly: true, Provider: "llama"}},
			{"segment, prompt, failed", ResultFilter{Segment: "refunds", Prompt: "v2", FailedOnly: true}},
			{"no match", ResultFilter{Provider: "nope"}},
			{"test out of range", ResultFilter{Test: intp(9999)}},
		}
		for _, ft := range filters {
			var want []string
			for i := range rep.Results {
				if matches(ft.f, &rep.Results[i]) {
					want = append(want, rep.Results[i].Output)
				}
			}
			if ft.name != "no match" && ft.name != "test out of range" && len(want) == 0 {
				t.Fatalf("%s: the fixture selects nothing, so the test would prove nothing", ft.name)
			}
			count, err := s.CountResults(ctx, "big", ft.f)
			if err != nil || count != len(want) {
				t.Errorf("%s: CountResults = %d, %v; want %d", ft.name, count, err, len(want))
			}
			for _, limit := range []int{7, 100, 0, 5000} {
				t.Run(fmt.Sprintf("%s/limit %d", ft.name, limit), func(t *testing.T) {
					size := min(max(limit, 0), MaxPageSize)
					if limit <= 0 {
						size = DefaultPageSize
					}
					got := []string{}
					cursor := ""
					for pages := 0; ; pages++ {
						if pages > n {
							t.Fatal("paging never ended")
						}
						page, next, err := s.ListResults(ctx, "big", ft.f, cursor, limit)
						if err != nil {
							t.Fatal(err)
						}
						if len(page) > size || (next != "" && len(page) != size) {
							t.Fatalf("page %d has %d results (next %q); pages hold %d", pages, len(page), next, size)
						}
						for _, r := range page {
							got = append(got, r.Output)
						}
						if next == "" {
							break
						}
						cursor = next
					}
					if want == nil {
						want = []string{}
					}
					if !slices.Equal(got, want) {
						t.Errorf("pages hold %d results, want %d in report order:\n got %v\nwant %v", len(got), len(want), head(got), head(want))
					}
				})
			}
		}
		// A page returns whole results, exactly as stored.
		page, _, err := s.ListResults(ctx, "big", ResultFilter{Test: intp(3)}, "", 1)
		if err != nil || len(page) != 1 || page[0].Output != rep.Results[12].Output || page[0].Test.Segment != "billing" {
			t.Errorf("first result of test 3 = %+v, %v", page, err)
		}
		if _, _, err := s.ListResults(ctx, "missing", ResultFilter{}, "", 10); !errors.Is(err, ErrNotFound) {
			t.Errorf("ListResults of a missing run: err = %v, want ErrNotFound", err)
		}
		for _, cur := range []string{"x", "not base64!", encodeCursor(auditCursor, 5), encodeCursor(resultCursor, -2)} {
			if _, _, err := s.ListResults(ctx, "big", ResultFilter{}, cur, 10); !errors.Is(err, ErrInvalid) {
				t.Errorf("ListResults(cursor %q): err = %v, want ErrInvalid", cur, err)
			}
		}
	})
}

// head is the start of a long list, for failure messages.
func head(s []string) []string { return s[:min(len(s), 12)] }

// TestResultPageQueryPlans checks the promise that a page never reads a whole run: the
// query ListResults sends for each filter is a range scan of an index of 0001.
func TestResultPageQueryPlans(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		if err := s.SaveRun(ctx, pagingReport("r1", 200)); err != nil {
			t.Fatal(err)
		}
		pk := "sqlite_autoindex_results_1"
		if driver == DriverPostgres {
			pk = "results_pkey"
		}
		tests := []struct {
			name  string
			f     ResultFilter
			index string
		}{
			{"failed", ResultFilter{FailedOnly: true}, "results_failed"},
			{"errors", ResultFilter{ErrorsOnly: true}, "results_errored"},
			{"test", ResultFilter{Test: intp(3)}, "results_by_test"},
			{"provider", ResultFilter{Provider: "gpt"}, "results_by_provider"},
			{"segment", ResultFilter{Segment: "billing"}, "results_by_segment"},
			{"all, in idx order", ResultFilter{}, pk},
			{"prompt, in idx order", ResultFilter{Prompt: "v1"}, pk},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				q, args := resultsPageQuery(driver, "r1", tt.f, 40, 50)
				plan := explainArgs(t, s, q, args)
				if !strings.Contains(plan, tt.index) {
					t.Errorf("%s\nplan does not use %s:\n%s", q, tt.index, plan)
				}
				if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "Sort") {
					t.Errorf("plan sorts the run's rows instead of reading them in idx order:\n%s", plan)
				}
			})
		}
		// Runs of a project are listed from an index too.
		q, args := listQuery(ListOptions{Project: DefaultProjectID, Limit: 20}, func(int) string { return "?" })
		if plan := explainArgs(t, s, q, args); !strings.Contains(plan, "runs_by_project") {
			t.Errorf("%s\nplan does not use runs_by_project:\n%s", q, plan)
		}
	})
}

// explainArgs is explain for a query with ? placeholders and their values.
func explainArgs(t *testing.T, s Store, q string, args []any) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	switch s := s.(type) {
	case *sqliteStore:
		rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
	case *postgresStore:
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		// As in explain: a test table is tiny, where a sequential scan is rightly cheapest.
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+pgRebind(q), args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

func TestRunsInProjects(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		a, b := mustProject(t, s, "alpha"), mustProject(t, s, "beta")
		base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		if err := s.SaveRunIn(ctx, a.ID, sampleReport("shared-id", base, 3)); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveRunIn(ctx, b.ID, sampleReport("b-run", base.Add(time.Minute), 2)); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveRun(ctx, sampleReport("cli-run", base.Add(2*time.Minute), 1)); err != nil {
			t.Fatal(err)
		}
		// Project B cannot overwrite A's run by reusing its id.
		err := s.SaveRunIn(ctx, b.ID, sampleReport("shared-id", base, 9))
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "shared-id") {
			t.Errorf("saving another project's run id: err = %v, want ErrConflict naming the run", err)
		}
		if got, err := s.GetRun(ctx, "shared-id"); err != nil || len(got.Results) != 3 {
			t.Errorf("A's run after B's refused save: %v results, %v; want the 3 original", len(got.Results), err)
		}
		// Re-saving within the project replaces; the CLI's SaveRun keeps the project.
		if err := s.SaveRunIn(ctx, a.ID, sampleReport("shared-id", base, 4)); err != nil {
			t.Errorf("re-save in the same project: %v", err)
		}
		if err := s.SaveRun(ctx, sampleReport("shared-id", base, 5)); err != nil {
			t.Errorf("CLI re-save: %v", err)
		}
		if p, err := s.RunProject(ctx, "shared-id"); err != nil || p != a.ID {
			t.Errorf("RunProject after CLI re-save = %q, %v; want alpha %q", p, err, a.ID)
		}
		if n := resultRows(t, s, "shared-id"); n != 5 {
			t.Errorf("%d result rows, want 5", n)
		}
		for run, want := range map[string]string{"b-run": b.ID, "cli-run": DefaultProjectID} {
			if p, err := s.RunProject(ctx, run); err != nil || p != want {
				t.Errorf("RunProject(%s) = %q, %v; want %q", run, p, err, want)
			}
		}
		if _, err := s.RunProject(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RunProject(missing): err = %v, want ErrNotFound", err)
		}
		if err := s.SaveRunIn(ctx, "p_missing", sampleReport("orphan", base, 1)); !errors.Is(err, ErrNotFound) {
			t.Errorf("SaveRunIn a missing project: err = %v, want ErrNotFound", err)
		}
		if err := s.SaveRunIn(ctx, "", sampleReport("orphan", base, 1)); !errors.Is(err, ErrInvalid) {
			t.Errorf("SaveRunIn without a project: err = %v, want ErrInvalid", err)
		}
		tests := []struct {
			opt  ListOptions
			want []string
		}{
			{ListOptions{Project: a.ID}, []string{"shared-id"}},
			{ListOptions{Project: b.ID}, []string{"b-run"}},
			{ListOptions{Project: DefaultProjectID}, []string{"cli-run"}},
			{ListOptions{Project: b.ID, Suite: "nope"}, []string{}},
			{ListOptions{}, []string{"cli-run", "b-run", "shared-id"}},
		}
		for _, tt := range tests {
			runs, err := s.ListRuns(ctx, tt.opt)
			ids := []string{}
			for _, r := range runs {
				ids = append(ids, r.ID)
			}
			if err != nil || !slices.Equal(ids, tt.want) {
				t.Errorf("ListRuns(%+v) = %v, %v; want %v", tt.opt, ids, err, tt.want)
			}
		}
	})
}

// firstMigrations is the shipped migration set cut to its first n versions: a binary from
// before the later ones.
func firstMigrations(t *testing.T, driver string, n int) fstest.MapFS {
	t.Helper()
	shipped, err := embeddedMigrations(driver)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(shipped)
	if err != nil {
		t.Fatal(err)
	}
	set := fstest.MapFS{}
	for _, m := range ms[:n] {
		set[fmt.Sprintf("%04d_%s.sql", m.version, m.name)] = &fstest.MapFile{Data: []byte(m.sql)}
	}
	return set
}

func TestMigration0002KeepsRuns(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		old, err := open(ctx, dsn, OpenOptions{}, firstMigrations(t, driver, 1))
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		saved := map[string]*report.Report{}
		for i, id := range []string{"before-1", "before-2"} {
			r := sampleReport(id, base.Add(time.Duration(i)*time.Hour), 6+i)
			saveV1Run(t, old, r)
			saved[id] = r
		}
		old.Close()

		if _, err := Open(ctx, dsn, OpenOptions{}); !errors.Is(err, ErrSchemaOutdated) {
			t.Fatalf("Open on a version 1 database: err = %v, want ErrSchemaOutdated", err)
		}
		s := openStore(t, dsn)
		if cur, latest, err := s.SchemaStatus(ctx); err != nil || cur != latest || cur < 2 {
			t.Fatalf("SchemaStatus after migrating = %d, %d, %v", cur, latest, err)
		}
		for id, want := range saved {
			got, err := s.GetRun(ctx, id)
			if err != nil {
				t.Fatalf("run %s lost in migration 0002: %v", id, err)
			}
			sameJSON(t, got, want)
			if p, err := s.RunProject(ctx, id); err != nil || p != DefaultProjectID {
				t.Errorf("RunProject(%s) = %q, %v; want the default project", id, p, err)
			}
		}
		runs, err := s.ListRuns(ctx, ListOptions{Project: DefaultProjectID})
		if err != nil || len(runs) != 2 || runs[0].ID != "before-2" || runs[0].Cases != 7 {
			t.Errorf("ListRuns(default project) = %v, %v; want before-2, before-1 with their counts", summarize(runs), err)
		}
		if n, err := s.CountResults(ctx, "before-2", ResultFilter{}); err != nil || n != 7 {
			t.Errorf("CountResults after migration = %d, %v; want 7", n, err)
		}
		// Migration 0003 moved summary.tests and summary.flaky out of the summary.
		hdr, err := s.GetRunHeader(ctx, "before-2")
		if err != nil || hdr.Summary.Tests != nil || hdr.Summary.Flaky != nil || hdr.Summary.Cases != 7 {
			t.Errorf("GetRunHeader after migration 0003 = %+v, %v; want the summary without tests and flaky", hdr, err)
		}
		if tc, fc, err := s.TestCounts(ctx, "before-2"); err != nil || tc != 1 || fc != 1 {
			t.Errorf("TestCounts after migration 0003 = %d, %d, %v; want 1, 1", tc, fc, err)
		}
		if page, next, err := s.ListTests(ctx, "before-2", true, "", 10); err != nil || next != "" || len(page) != 1 || page[0].Provider != "gpt" {
			t.Errorf("ListTests(flaky) after migration 0003 = %+v, %q, %v", page, next, err)
		}
		// The rebuilt runs table still cascades deletes to results, and still enforces its
		// foreign keys.
		if err := s.DeleteRun(ctx, "before-1"); err != nil {
			t.Fatal(err)
		}
		if n := resultRows(t, s, "before-1"); n != 0 {
			t.Errorf("%d result rows left after deleting a migrated run: the cascade is lost", n)
		}
		if err := s.SaveRunIn(ctx, "p_missing", sampleReport("x", base, 1)); !errors.Is(err, ErrNotFound) {
			t.Errorf("the runs.project_id foreign key is not enforced: err = %v", err)
		}
		if err := rawExec(t, s, "INSERT INTO results (run_id, idx, test_index, prompt, provider, repeat, segment, passed, has_error, score, latency_ms, cost, tokens, data) VALUES ('no-such-run', 0, 0, '', '', 0, '', true, false, 0, 0, 0, 0, '{}')"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "foreign key") {
			t.Errorf("a result of a missing run: err = %v, want a foreign key violation", err)
		}
		if ss, ok := s.(*sqliteStore); ok {
			var fk int
			if err := ss.writer.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
				t.Errorf("writer foreign_keys = %d, %v after migrating; want 1", fk, err)
			}
		}
	})
}

// saveV1Run stores a run as the schema of 0001 and the code of that time did: the whole
// summary, tests and flaky included, in runs.summary.
func saveV1Run(t *testing.T, s Store, r *report.Report) {
	t.Helper()
	ctx := context.Background()
	run, results, err := encodeReport(r)
	if err != nil {
		t.Fatal(err)
	}
	summary, err := encodeJSON(r.Summary)
	if err != nil {
		t.Fatal(err)
	}
	const cols = "id, suite, status, started_at, finished_at, config_hash, run, summary, cases, passed, failed, errors, pass_rate, gates_passed, gates_total"
	switch s := s.(type) {
	case *sqliteStore:
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "INSERT INTO runs ("+cols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			run.id, run.suite, run.status, run.startedAt.Format(sqliteTimeFormat), run.finishedAt.Format(sqliteTimeFormat),
			run.configHash, string(run.run), string(summary), run.cases, run.passed, run.failed, run.errors,
			run.passRate, run.gatesPassed, run.gatesTotal); err != nil {
			t.Fatal(err)
		}
		if err := insertSQLiteResults(ctx, tx, run.id, results); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	case *postgresStore:
		if _, err := s.pool.Exec(ctx, "INSERT INTO runs ("+cols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
			run.id, run.suite, run.status, run.startedAt, run.finishedAt, run.configHash, run.run, summary,
			run.cases, run.passed, run.failed, run.errors, run.passRate, run.gatesPassed, run.gatesTotal); err != nil {
			t.Fatal(err)
		}
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"results"}, resultColumns(),
			pgx.CopyFromSlice(len(results), func(i int) ([]any, error) { return results[i].values(run.id), nil })); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown store %T", s)
	}
}

// TestListTests pages through a run's per-test rows on both dialects: every row once, in
// report order; the run header has none of them; a missing run is ErrNotFound and a
// cursor of another list is ErrInvalid.
func TestListTests(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		r := sampleReport("tests-1", time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), 4)
		r.Summary.Tests = nil
		for i := range 7 {
			r.Summary.Tests = append(r.Summary.Tests, report.TestStat{Test: i, Prompt: "v2", Provider: "gpt", Samples: 3, Passed: i % 4, PassRate: float64(i%4) / 3})
		}
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		hdr, err := s.GetRunHeader(ctx, "tests-1")
		if err != nil || hdr.Summary.Tests != nil || hdr.Summary.Flaky != nil || len(hdr.Summary.Gates) != len(r.Summary.Gates) {
			t.Fatalf("GetRunHeader = %+v, %v; want the summary without tests and flaky", hdr, err)
		}
		if tc, fc, err := s.TestCounts(ctx, "tests-1"); err != nil || tc != 7 || fc != 1 {
			t.Errorf("TestCounts = %d, %d, %v; want 7, 1", tc, fc, err)
		}
		for _, limit := range []int{1, 3, 7, 100} {
			var got []int
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 8 {
					t.Fatalf("limit %d: paging does not end", limit)
				}
				page, next, err := s.ListTests(ctx, "tests-1", false, cursor, limit)
				if err != nil {
					t.Fatal(err)
				}
				for _, ts := range page {
					got = append(got, ts.Test)
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6}) {
				t.Errorf("limit %d: tests %v, want 0..6 once each", limit, got)
			}
		}
		if page, next, err := s.ListTests(ctx, "tests-1", true, "", 0); err != nil || next != "" || len(page) != 1 {
			t.Errorf("ListTests(flaky) = %v, %q, %v; want the one flaky row", page, next, err)
		}
		if _, _, err := s.ListTests(ctx, "missing", false, "", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("ListTests(missing run): err = %v, want ErrNotFound", err)
		}
		if _, _, err := s.TestCounts(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("TestCounts(missing run): err = %v, want ErrNotFound", err)
		}
		if _, _, err := s.ListTests(ctx, "tests-1", false, encodeCursor(resultCursor, 2), 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("ListTests with a results cursor: err = %v, want ErrInvalid", err)
		}
		// Replacing the run replaces its rows; deleting it deletes them.
		r.Summary.Tests = r.Summary.Tests[:2]
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if page, _, err := s.ListTests(ctx, "tests-1", false, "", 0); err != nil || len(page) != 2 {
			t.Errorf("ListTests after re-saving with 2 tests = %d rows, %v", len(page), err)
		}
		if err := s.DeleteRun(ctx, "tests-1"); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "SELECT count(*) FROM test_stats WHERE run_id = ?", "tests-1"); n != 0 {
			t.Errorf("%d test_stats rows left after DeleteRun", n)
		}
	})
}

// TestResultPositions: the positions of the results a filter keeps are those of the report,
// on both databases.
func TestResultPositions(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		rep := sampleReport("pos", time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), 40)
		if err := s.SaveRun(ctx, rep); err != nil {
			t.Fatal(err)
		}
		filters := []ResultFilter{{}, {Provider: "claude"}, {Provider: "gpt", FailedOnly: true}, {Prompt: "v2", Provider: "gpt", PassedOnly: true}, {Provider: "none"},
			// These come from the positions stored with the result groups.
			{Prompt: "v2", Provider: "gpt"}, {Prompt: "v2", Provider: "claude", Segment: "billing"}, {Prompt: "v2", Provider: "none"}}
		check := func(stage string) {
			t.Helper()
			for _, f := range filters {
				want := []int{}
				for i := range rep.Results {
					if matches(f, &rep.Results[i]) {
						want = append(want, i)
					}
				}
				got, err := s.ResultPositions(ctx, "pos", f)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: ResultPositions(%+v) = %v, want %v", stage, f, got, want)
				}
			}
		}
		check("as saved")
		// Runs saved before migration 0007 have no stored positions: the results answer,
		// and the migration's Go step fills them in.
		execArgs(t, s, "UPDATE result_groups SET positions = NULL")
		check("without stored positions")
		var d db
		switch st := s.(type) {
		case *sqliteStore:
			d = st.accounts.db
		case *postgresStore:
			d = st.accounts.db
		}
		if err := backfillGroupPositions(ctx, d); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "SELECT count(*) FROM result_groups WHERE positions IS NULL AND run_id = ?", "pos"); n != 0 {
			t.Errorf("%d groups without positions after the backfill", n)
		}
		check("backfilled")
	})
}
