package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestResultFilterIndexes checks the schema's promise to the server: each results filter it
// pages through (failed, errored, by test, provider, segment; a cursor on idx) is an index
// range scan, not a scan of the run's rows.
func TestResultFilterIndexes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		if err := s.SaveRun(ctx, sampleReport("r1", time.Now(), 20)); err != nil {
			t.Fatal(err)
		}
		failed, errored := "passed = 0", "has_error = 1"
		if driver == DriverPostgres {
			failed, errored = "NOT passed", "has_error"
		}
		tests := []struct {
			filter, index string
		}{
			{failed, "results_failed"},
			{errored, "results_errored"},
			{"test_index = 3", "results_by_test"},
			{"provider = 'gpt'", "results_by_provider"},
			{"segment = 'billing'", "results_by_segment"},
		}
		for _, tt := range tests {
			t.Run(tt.index, func(t *testing.T) {
				q := "SELECT data FROM results WHERE run_id = 'r1' AND " + tt.filter + " AND idx > 2 ORDER BY idx LIMIT 50"
				plan := explain(t, s, q)
				if !strings.Contains(plan, tt.index) {
					t.Errorf("%s\nplan does not use %s:\n%s", q, tt.index, plan)
				}
			})
		}
	})
}

// explain returns the query plan of q as text.
func explain(t *testing.T, s Store, q string) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	switch s := s.(type) {
	case *sqliteStore:
		rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q)
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
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	case *postgresStore:
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		// A test table is tiny, where a sequential scan is rightly cheapest; forbid it to
		// see which index the planner would take on a big one.
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+q)
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
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(lines, "\n")
}
