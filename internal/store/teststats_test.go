package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/report"
)

// The summary's per-test rows (Summary.Tests and Summary.Flaky), one row each in
// test_stats since migration 0005.

// testStats is n per-test rows whose fields all vary with their position, from test
// index first: the values are what a report holds, including text and numbers that a
// JSON layer could alter (NUL, U+2028, HTML, invalid UTF-8, floats of 17 digits, and the
// text of JSON escapes after a backslash, which migration 0005 swaps on PostgreSQL).
func testStats(n, first int) []report.TestStat {
	descs := []string{
		"refund policy",
		"a NUL \x00 and U+2028 \u2028 here",
		`<b>"bold"</b> & \ backslash`,
		"ünïcödé 日本語 🚀",
		"bad utf8 \xff",
		"",
		`typed: \u0000, \\u0000, \/ and \\/`,
		"\\/\x00\x00/\\\x00",
	}
	out := make([]report.TestStat, n)
	for i := range out {
		k := first + i
		out[i] = report.TestStat{
			Test:        k,
			Description: descs[k%len(descs)],
			Prompt:      []string{"v1", "v2"}[k%2],
			Provider:    []string{"gpt", "claude", "llama"}[k%3],
			Segment:     []string{"billing", "", "refunds"}[k%3],
			Samples:     3 + k%4,
			Passed:      k % 4,
			PassRate:    float64(k%4) / float64(3+k%4),
			PassAtK:     k%4 > 0,
			PassHatK:    k%7 == 0,
			MeanScore:   []float64{1.0 / 3, 1e-7, 0.1 + 0.2, 123456789.125, math.SmallestNonzeroFloat64}[k%5],
		}
	}
	return out
}

// testStatsJSON is rows as the report's JSON has them, to compare lists that must be the
// same (Key is not part of the format).
func testStatsJSON(t *testing.T, rows []report.TestStat) string {
	t.Helper()
	if len(rows) == 0 {
		return "[]" // nil and empty lists alike: the report's JSON omits both
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	// Read back once, as sameJSON does: invalid UTF-8 is written as \ufffd but read as U+FFFD.
	var canon []report.TestStat
	if err := json.Unmarshal(b, &canon); err != nil {
		t.Fatal(err)
	}
	if b, err = json.Marshal(canon); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// allTests pages through a run's tests (or flaky rows) with this limit and returns every
// row, failing if a page is empty before the last or paging does not end.
func allTests(t *testing.T, s Store, runID string, flaky bool, limit int) []report.TestStat {
	t.Helper()
	var got []report.TestStat
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatalf("limit %d: paging does not end", limit)
		}
		page, next, err := s.ListTests(context.Background(), runID, flaky, cursor, limit)
		if err != nil {
			t.Fatalf("ListTests(%s, flaky=%v, limit %d, page %d): %v", runID, flaky, limit, pages, err)
		}
		if len(page) > pageSize(limit) || (next != "" && len(page) != pageSize(limit)) {
			t.Fatalf("limit %d: page %d has %d rows and next %q", limit, pages, len(page), next)
		}
		got = append(got, page...)
		if cursor = next; cursor == "" {
			return got
		}
	}
}

// TestTestStatsRoundTrip: a report with tests and flaky rows, either alone, or none, comes
// back from GetRun exactly as saved, and re-saving it replaces its rows.
func TestTestStatsRoundTrip(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		started := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
		cases := []struct {
			name         string
			tests, flaky []report.TestStat
		}{
			{"both", testStats(40, 0), testStats(9, 100)},
			{"tests only", testStats(12, 0), nil},
			{"flaky only", nil, testStats(5, 7)},
			{"none", nil, nil},
			{"empty lists", []report.TestStat{}, []report.TestStat{}}, // the JSON omits them as it does nil
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want := sampleReport(fmt.Sprintf("rt-%d", i), started.Add(time.Duration(i)*time.Minute), 5)
				want.Summary.Tests, want.Summary.Flaky = c.tests, c.flaky
				if err := s.SaveRun(ctx, want); err != nil {
					t.Fatal(err)
				}
				got, err := s.GetRun(ctx, want.Run.ID)
				if err != nil {
					t.Fatal(err)
				}
				sameJSON(t, got, want)
				if len(got.Summary.Tests) != len(c.tests) || len(got.Summary.Flaky) != len(c.flaky) {
					t.Errorf("GetRun has %d tests and %d flaky rows, want %d and %d", len(got.Summary.Tests), len(got.Summary.Flaky), len(c.tests), len(c.flaky))
				}
				if tc, fc, err := s.TestCounts(ctx, want.Run.ID); err != nil || tc != len(c.tests) || fc != len(c.flaky) {
					t.Errorf("TestCounts = %d, %d, %v; want %d, %d", tc, fc, err, len(c.tests), len(c.flaky))
				}
				for _, flaky := range []bool{false, true} {
					wantRows := c.tests
					if flaky {
						wantRows = c.flaky
					}
					page, next, err := s.ListTests(ctx, want.Run.ID, flaky, "", MaxPageSize)
					if err != nil || next != "" || testStatsJSON(t, page) != testStatsJSON(t, wantRows) {
						t.Errorf("ListTests(flaky=%v) = %d rows, %q, %v; want the %d saved", flaky, len(page), next, err, len(wantRows))
					}
				}
			})
		}
		// A re-save with other rows leaves none of the old ones, in either list.
		r := sampleReport("rt-0", started, 5)
		r.Summary.Tests, r.Summary.Flaky = testStats(3, 50), nil
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRun(ctx, "rt-0")
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, got, r)
		if n := countRows(t, s, "SELECT count(*) FROM test_stats WHERE run_id = ?", "rt-0"); n != 3 {
			t.Errorf("%d test_stats rows after re-saving with 3, want 3", n)
		}
	})
}

// TestListTestsPagesThousands pages through the tests and flaky rows of a run with a few
// thousand of them, beside another run's: every row exactly once, in report order, with
// any page size; a cursor made before 0005 (the position the next page starts at) still
// starts there.
func TestListTestsPagesThousands(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		r := sampleReport("many", time.Date(2025, 4, 2, 9, 0, 0, 0, time.UTC), 3)
		r.Summary.Tests, r.Summary.Flaky = testStats(3000, 0), testStats(1200, 5000)
		other := sampleReport("other", time.Date(2025, 4, 2, 8, 0, 0, 0, time.UTC), 3)
		other.Summary.Tests, other.Summary.Flaky = testStats(700, 9000), testStats(30, 9500)
		for _, rep := range []*report.Report{other, r} {
			if err := s.SaveRun(ctx, rep); err != nil {
				t.Fatal(err)
			}
		}
		for _, flaky := range []bool{false, true} {
			want := r.Summary.Tests
			if flaky {
				want = r.Summary.Flaky
			}
			for _, limit := range []int{1, 13, 0, MaxPageSize, MaxPageSize + 1} {
				if limit == 1 && !flaky {
					continue // 3,000 requests add nothing to the flaky list's 1,200
				}
				got := allTests(t, s, "many", flaky, limit)
				if len(got) != len(want) {
					t.Fatalf("flaky=%v limit %d: %d rows, want %d", flaky, limit, len(got), len(want))
				}
				for i := range got {
					if got[i].Test != want[i].Test {
						t.Fatalf("flaky=%v limit %d: row %d is test %d, want %d (a row lost, repeated or out of order)", flaky, limit, i, got[i].Test, want[i].Test)
					}
				}
				if testStatsJSON(t, got) != testStatsJSON(t, want) {
					t.Errorf("flaky=%v limit %d: rows differ from the saved ones", flaky, limit)
				}
			}
		}
		// A cursor from before 0005 is the position the next page starts at.
		page, next, err := s.ListTests(ctx, "many", false, encodeCursor(testCursor, 2990), 4)
		if err != nil || len(page) != 4 || page[0].Test != 2990 || next != encodeCursor(testCursor, 2994) {
			t.Errorf("ListTests from an old cursor at 2990 = %d rows from test %v, next %q, %v", len(page), testIndexes(page), next, err)
		}
		page, next, err = s.ListTests(ctx, "many", false, encodeCursor(testCursor, 2996), 4)
		if err != nil || len(page) != 4 || page[3].Test != 2999 || next != "" {
			t.Errorf("the last page = tests %v, next %q, %v; want 2996..2999 and no next", testIndexes(page), next, err)
		}
		if page, next, err := s.ListTests(ctx, "many", true, encodeCursor(testCursor, 5000), 10); err != nil || len(page) != 0 || next != "" {
			t.Errorf("a cursor past the end = %d rows, %q, %v; want an empty last page", len(page), next, err)
		}
		// A run without rows has empty pages; a missing run is not found, cursor or not.
		r0 := sampleReport("no-tests", time.Date(2025, 4, 2, 7, 0, 0, 0, time.UTC), 1)
		r0.Summary.Tests, r0.Summary.Flaky = nil, nil
		if err := s.SaveRun(ctx, r0); err != nil {
			t.Fatal(err)
		}
		if page, next, err := s.ListTests(ctx, "no-tests", false, "", 10); err != nil || len(page) != 0 || next != "" {
			t.Errorf("ListTests of a run without tests = %d rows, %q, %v", len(page), next, err)
		}
		if _, _, err := s.ListTests(ctx, "missing", true, encodeCursor(testCursor, 3), 10); !errors.Is(err, ErrNotFound) {
			t.Errorf("ListTests(missing run, with a cursor): err = %v, want ErrNotFound", err)
		}
	})
}

// testIndexes is the test indexes of rows, for failure messages.
func testIndexes(rows []report.TestStat) []int {
	out := []int{}
	for _, r := range rows {
		out = append(out, r.Test)
	}
	return out
}

// TestListTestsQueryPlan checks that a page of per-test rows is a range scan of the primary
// key in position order: it never reads or sorts the run's other rows.
func TestListTestsQueryPlan(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		r := sampleReport("plan", time.Now(), 2)
		r.Summary.Tests, r.Summary.Flaky = testStats(300, 0), testStats(40, 0)
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		want := "USING PRIMARY KEY (run_id=? AND flaky=? AND position>?)"
		if driver == DriverPostgres {
			want = "Index Scan using test_stats_pkey"
		}
		for _, flaky := range []bool{false, true} {
			q, args := testsPageQuery("plan", flaky, 120, 50)
			plan := explainArgs(t, s, q, args)
			if !strings.Contains(plan, want) {
				t.Errorf("%s\nplan does not contain %q:\n%s", q, want, plan)
			}
			if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "Sort") {
				t.Errorf("plan sorts the run's rows instead of reading them in position order:\n%s", plan)
			}
		}
	})
}

// execArgs runs a statement with ? placeholders directly on the store's database.
func execArgs(t *testing.T, s Store, q string, args ...any) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch s := s.(type) {
	case *sqliteStore:
		_, err = s.writer.ExecContext(ctx, q, args...)
	case *postgresStore:
		_, err = s.pool.Exec(ctx, pgRebind(q), args...)
	default:
		t.Fatalf("unknown store %T", s)
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// saveV4Run stores a run as the schema and code of versions 3 and 4 did: the summary
// without tests and flaky, which are one JSON value in run_tests, keys omitted when empty.
// withRow false leaves the run without a run_tests row.
func saveV4Run(t *testing.T, s Store, r *report.Report, withRow bool) {
	t.Helper()
	saveV1Run(t, s, r)
	head := r.Summary
	head.Tests, head.Flaky = nil, nil
	summary, err := encodeJSON(head)
	if err != nil {
		t.Fatal(err)
	}
	execArgs(t, s, "UPDATE runs SET summary = ?, tests_count = ?, flaky_count = ? WHERE id = ?",
		string(summary), len(r.Summary.Tests), len(r.Summary.Flaky), r.Run.ID)
	if !withRow {
		return
	}
	tests, err := encodeJSON(struct {
		Tests []report.TestStat `json:"tests,omitempty"`
		Flaky []report.TestStat `json:"flaky,omitempty"`
	}{r.Summary.Tests, r.Summary.Flaky})
	if err != nil {
		t.Fatal(err)
	}
	execArgs(t, s, "INSERT INTO run_tests (run_id, tests) VALUES (?, ?)", r.Run.ID, string(tests))
}

// TestMigration0005BackfillsTestStats: runs stored before 0005 — by the code of versions 3
// and 4 (one JSON value per run), and before 0003 (in the summary itself, which 0003 moved
// with a null for a missing list) — have their per-test rows as rows after migrating:
// GetRun gives back the saved report, pages list every row once in order, counts agree, and
// deleting a run deletes its rows.
func TestMigration0005BackfillsTestStats(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		saved := map[string]*report.Report{}
		newReport := func(id string, tests, flaky []report.TestStat) *report.Report {
			r := sampleReport(id, base.Add(time.Duration(len(saved))*time.Minute), 4)
			r.Summary.Tests, r.Summary.Flaky = tests, flaky
			saved[id] = r
			return r
		}

		// Version 2: the whole summary in runs.summary, NULs included (0003 on PostgreSQL
		// swaps them around its json functions, which refuse a \u0000).
		v2, err := open(ctx, dsn, OpenOptions{}, firstMigrations(t, driver, 2))
		if err != nil {
			t.Fatal(err)
		}
		saveV1Run(t, v2, newReport("v1-tests-only", testStats(30, 0), nil))
		saveV1Run(t, v2, newReport("v1-flaky-only", nil, testStats(4, 10)))
		saveV1Run(t, v2, newReport("v1-none", nil, nil))
		v2.Close()

		// Version 4: one JSON value per run in run_tests.
		v4, err := open(ctx, dsn, OpenOptions{Migrate: true}, firstMigrations(t, driver, 4))
		if err != nil {
			t.Fatal(err)
		}
		if cur, _, err := v4.SchemaStatus(ctx); err != nil || cur != 4 {
			t.Fatalf("SchemaStatus = %d, %v; want 4", cur, err)
		}
		saveV4Run(t, v4, newReport("v4-both", testStats(2500, 0), testStats(300, 3000)), true)
		saveV4Run(t, v4, newReport("v4-tests-only", testStats(7, 0), nil), true)
		saveV4Run(t, v4, newReport("v4-none", nil, nil), true)
		saveV4Run(t, v4, newReport("v4-no-row", nil, nil), false)
		v4.Close()

		if _, err := Open(ctx, dsn, OpenOptions{}); !errors.Is(err, ErrSchemaOutdated) {
			t.Fatalf("Open on a version 4 database: err = %v, want ErrSchemaOutdated", err)
		}
		s := openStore(t, dsn)
		if cur, latest, err := s.SchemaStatus(ctx); err != nil || cur != latest || cur < 5 {
			t.Fatalf("SchemaStatus after migrating = %d, %d, %v", cur, latest, err)
		}
		for id, want := range saved {
			got, err := s.GetRun(ctx, id)
			if err != nil {
				t.Fatalf("GetRun(%s) after migration 0005: %v", id, err)
			}
			sameJSON(t, got, want)
			if tc, fc, err := s.TestCounts(ctx, id); err != nil || tc != len(want.Summary.Tests) || fc != len(want.Summary.Flaky) {
				t.Errorf("TestCounts(%s) = %d, %d, %v; want %d, %d", id, tc, fc, err, len(want.Summary.Tests), len(want.Summary.Flaky))
			}
			for _, flaky := range []bool{false, true} {
				rows := want.Summary.Tests
				if flaky {
					rows = want.Summary.Flaky
				}
				if got := allTests(t, s, id, flaky, 97); testStatsJSON(t, got) != testStatsJSON(t, rows) {
					t.Errorf("run %s: ListTests(flaky=%v) pages = %d rows, want the %d saved, in order", id, flaky, len(got), len(rows))
				}
			}
		}
		if n := countRows(t, s, "SELECT count(*) FROM test_stats WHERE position >= ?", 0); n != 30+4+2500+300+7 {
			t.Errorf("test_stats has %d rows after the backfill, want %d", n, 30+4+2500+300+7)
		}
		if err := rawExec(t, s, "SELECT count(*) FROM run_tests"); err == nil {
			t.Errorf("run_tests still exists after migration 0005")
		}
		// The new table cascades deletes and enforces its foreign key.
		if err := s.DeleteRun(ctx, "v4-both"); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "SELECT count(*) FROM test_stats WHERE run_id = ?", "v4-both"); n != 0 {
			t.Errorf("%d test_stats rows left after deleting a migrated run", n)
		}
		if err := rawExec(t, s, "INSERT INTO test_stats (run_id, flaky, position, data) VALUES ('no-such-run', false, 0, '{}')"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "foreign key") {
			t.Errorf("a per-test row of a missing run: err = %v, want a foreign key violation", err)
		}
	})
}

// TestDeleteRunDeletesTestStats: deleting a run deletes its per-test rows and no other
// run's.
func TestDeleteRunDeletesTestStats(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		for i, id := range []string{"gone", "kept"} {
			r := sampleReport(id, time.Date(2025, 4, 3, 9, i, 0, 0, time.UTC), 2)
			r.Summary.Tests, r.Summary.Flaky = testStats(600, 0), testStats(90, 0)
			if err := s.SaveRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteRun(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "SELECT count(*) FROM test_stats WHERE run_id = ?", "gone"); n != 0 {
			t.Errorf("%d test_stats rows left after DeleteRun", n)
		}
		if n := countRows(t, s, "SELECT count(*) FROM test_stats WHERE run_id = ?", "kept"); n != 690 {
			t.Errorf("the other run has %d test_stats rows, want 690", n)
		}
		if _, _, err := s.ListTests(ctx, "gone", false, "", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("ListTests of a deleted run: err = %v, want ErrNotFound", err)
		}
	})
}
