package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// forEachDriver runs fn once per implementation, each time on a fresh, isolated database.
func forEachDriver(t *testing.T, fn func(t *testing.T, driver, dsn string)) {
	t.Helper()
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			fn(t, driver, freshDSN(t, driver))
		})
	}
}

// freshDSN is an empty database for one test: a file in t.TempDir() for SQLite, a new
// schema (dropped at the end) for PostgreSQL.
func freshDSN(tb testing.TB, driver string) string {
	tb.Helper()
	if driver == DriverSQLite {
		return "sqlite:" + filepath.Join(tb.TempDir(), "plumb.db")
	}
	return storetest.FreshPostgres(tb)
}

// openStore opens dsn, migrating, and closes the store when the test ends.
func openStore(tb testing.TB, dsn string) Store {
	tb.Helper()
	s, err := Open(context.Background(), dsn, OpenOptions{Migrate: true})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// countRows runs a count(*) query with one argument, written with "?" as its placeholder.
func countRows(tb testing.TB, s Store, query string, arg any) int {
	tb.Helper()
	ctx := context.Background()
	var n int
	var err error
	switch s := s.(type) {
	case *sqliteStore:
		err = s.reader.QueryRowContext(ctx, query, arg).Scan(&n)
	case *postgresStore:
		err = s.pool.QueryRow(ctx, strings.Replace(query, "?", "$1", 1), arg).Scan(&n)
	default:
		tb.Fatalf("unknown store %T", s)
	}
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// resultRows is how many result rows the database holds for a run.
func resultRows(tb testing.TB, s Store, runID string) int {
	tb.Helper()
	return countRows(tb, s, "SELECT count(*) FROM results WHERE run_id = ?", runID)
}

// sampleReport is a run with n results exercising every field of the report format.
func sampleReport(id string, started time.Time, n int) *report.Report {
	ci := func(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }
	bound := 0.912
	r := &report.Report{
		Run: report.Run{
			ID:          id,
			Suite:       "support-bot",
			Status:      report.StatusComplete,
			StartedAt:   started,
			FinishedAt:  started.Add(90*time.Second + 123456789),
			ConfigHash:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Description: "nightly run — ünïcödé",
			Provenance: report.Provenance{
				PlumbVersion: "v0.1.0",
				ConfigPath:   "examples/support/plumb.yaml",
				GitCommit:    "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
				GitDirty:     true,
				User:         "ana",
				Host:         "laptop",
				Args:         []string{"eval", "-j", "8", "--repeat", "3"},
				Repeat:       3,
				Prompts:      []report.PromptRef{{Label: "v2", Hash: "a1b2c3d4e5f6", Text: "You are {{name}}'s assistant."}},
				Providers: []report.ProviderRef{
					{Label: "gpt", Type: "openai", Model: "gpt-4o-mini", Params: map[string]any{"temperature": 0.2, "max_tokens": 256.0, "stop": []any{"\n\n"}}},
					{Label: "claude", Type: "anthropic", Model: "claude-3-5-haiku"},
				},
				ResumedFrom: "prev-run",
			},
		},
		Summary: report.Summary{
			Cases: n, Passed: n - n/3, Failed: n / 3, Errors: 1,
			PassRate:   0.6667,
			PassRateCI: [2]float64{0.41, 0.86},
			Metrics: map[string]report.Metric{
				"accuracy":       {Value: 0.6667, CI: ci(0.41, 0.86), N: n, Kind: "rate"},
				"latency_p95_ms": {Value: 1834.5, N: n, Kind: "quantile"},
				"tone":           {Value: 0.81, CI: ci(0.7, 0.9), N: n, Kind: "mean"},
			},
			Gates: []report.Gate{
				{Metric: "pass_rate", Op: "min", Threshold: 0.9, Confidence: 0.95, Observed: 0.6667, CI: ci(0.41, 0.86), Bound: &bound, Passed: false, Reason: "lower bound 0.41 < 0.90"},
				{Metric: "latency_p95_ms", Op: "max", Threshold: 2000, Observed: 1834.5, Passed: true, Reason: "1834.5 <= 2000"},
			},
			Tests: []report.TestStat{{Key: "v2\x1fgpt\x1f0", Test: 0, Prompt: "v2", Provider: "gpt", Segment: "billing", Samples: 3, Passed: 2, PassRate: 0.667, PassAtK: true, MeanScore: 0.7}},
			Flaky: []report.TestStat{{Key: "v2\x1fgpt\x1f0", Test: 0, Prompt: "v2", Provider: "gpt", Samples: 3, Passed: 2, PassRate: 0.667, PassAtK: true}},
		},
	}
	outputs := []string{
		"Bonjour ! Voilà votre facture — 42 €. 日本語のテキスト 🚀 مرحبا",
		`<script>alert("x")</script> & "quotes" \ backslash`,
		"a NUL \x00 byte and a tab\tand\r\nCRLF",
		strings.Repeat("long output line with some words. ", 3000), // ~100 KB
	}
	segments := []string{"billing", "refunds", "", "ünïcödé"}
	for i := range n {
		res := report.Result{
			// Test indexes run backwards, so that results sorted by test would be in
			// the wrong order.
			Test: report.TestRef{
				Index:       n - 1 - i,
				Description: fmt.Sprintf("case %d", i),
				Vars:        map[string]any{"name": "Zoë", "n": float64(i), "nested": map[string]any{"list": []any{1.0, "two", true, nil}}},
				Segment:     segments[i%len(segments)],
				Metadata:    map[string]any{"segment": segments[i%len(segments)], "owner": "support"},
			},
			Prompt:     "v2",
			PromptHash: "a1b2c3d4e5f6",
			Provider:   []string{"gpt", "claude"}[i%2],
			Repeat:     i % 3,
			Rendered:   "You are Zoë's assistant.",
			Output:     outputs[i%len(outputs)],
			LatencyMS:  float64(100+i) + 0.25,
			Tokens:     report.Tokens{Prompt: 12 + i, Completion: 30, Total: 42 + i, Cached: i % 2},
			Cost:       0.000123 * float64(i+1),
			Cached:     i%2 == 0,
			Passed:     i%3 != 2,
			Score:      float64(i%4) / 4,
			Refusal:    i%5 == 4,
			Assertions: []report.Assertion{
				{Type: "contains", Weight: 1, Passed: true, Score: 1},
				{Type: "not-icontains", Metric: "tone", Weight: 0.5, Passed: i%3 != 2, Score: 0.5, Reason: "found « sorry »"},
			},
		}
		if i == 1 {
			res.Error = "provider gpt: 429 Too Many Requests after 5 attempts"
			res.Assertions = nil
		}
		if i == 2 {
			res.Assertions = append(res.Assertions, report.Assertion{Type: "llm-rubric", Weight: 1, Error: true, Reason: "judge answer is not JSON"})
		}
		r.Results = append(r.Results, res)
	}
	return r
}
