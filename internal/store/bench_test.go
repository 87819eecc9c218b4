package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/report"
)

// benchReport is a run of n results shaped like a real one: a paragraph of output, vars,
// three assertions, each test repeated 3 times, and the summary's per-test rows.
func benchReport(id string, n int) *report.Report { return benchReportRepeats(id, n, 3) }

// benchReportRepeats is benchReport with each test repeated this many times: the summary
// has one per-test row per n/repeats results, and a flaky row for each test whose repeats
// disagree.
func benchReportRepeats(id string, n, repeats int) *report.Report {
	r := sampleReport(id, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	r.Summary.Cases = n
	r.Summary.Tests, r.Summary.Flaky = nil, nil
	output := strings.Repeat("Thanks for reaching out. Your refund is on its way. ", 8)
	for i := range n {
		segment := []string{"billing", "refunds", "shipping"}[(i/repeats)%3]
		r.Results = append(r.Results, report.Result{
			Test: report.TestRef{
				Index:       i / repeats,
				Description: fmt.Sprintf("refund question %d", i/repeats),
				Vars:        map[string]any{"question": fmt.Sprintf("Where is my refund for order %d?", i), "name": "Sam"},
				Segment:     segment,
				Metadata:    map[string]any{"segment": segment},
			},
			Prompt:     "v2",
			PromptHash: "a1b2c3d4e5f6",
			Provider:   "gpt",
			Repeat:     i % repeats,
			Output:     output,
			LatencyMS:  50.5,
			Tokens:     report.Tokens{Prompt: 40, Completion: 80, Total: 120},
			Cost:       0.00012,
			Passed:     i%7 != 0,
			Score:      1,
			Assertions: []report.Assertion{
				{Type: "contains", Weight: 1, Passed: true, Score: 1},
				{Type: "not-icontains", Weight: 1, Passed: true, Score: 1},
				{Type: "regex", Weight: 1, Passed: i%7 != 0, Score: 1, Reason: "pattern `refund` matched"},
			},
		})
	}
	for start := 0; start < n; start += repeats {
		res := r.Results[start]
		ts := report.TestStat{Test: res.Test.Index, Description: res.Test.Description, Prompt: res.Prompt,
			Provider: res.Provider, Segment: res.Test.Segment}
		for _, s := range r.Results[start:min(start+repeats, n)] {
			ts.Samples++
			if s.Passed {
				ts.Passed++
			}
			ts.MeanScore += s.Score
		}
		ts.PassRate = float64(ts.Passed) / float64(ts.Samples)
		ts.MeanScore /= float64(ts.Samples)
		ts.PassAtK, ts.PassHatK = ts.Passed > 0, ts.Passed == ts.Samples
		r.Summary.Tests = append(r.Summary.Tests, ts)
		if ts.PassAtK && !ts.PassHatK {
			r.Summary.Flaky = append(r.Summary.Flaky, ts)
		}
	}
	return r
}

func benchmarkSaveRun(b *testing.B, n int) {
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		b.Run(driver, func(b *testing.B) {
			s := openStore(b, freshDSN(b, driver))
			ctx := context.Background()
			r := benchReport("", n)
			i := 0
			for b.Loop() {
				r.Run.ID = fmt.Sprintf("bench-%d", i)
				i++
				if err := s.SaveRun(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSaveRun1000 saves a 1,000-result run (target: well under 100 ms on SQLite).
func BenchmarkSaveRun1000(b *testing.B) { benchmarkSaveRun(b, 1000) }

// BenchmarkSaveRun10000 saves a 10,000-result run with its 3,334 per-test rows (target:
// under 1 s).
func BenchmarkSaveRun10000(b *testing.B) { benchmarkSaveRun(b, 10000) }

// BenchmarkGetRun1000 reads a 1,000-result run back.
func BenchmarkGetRun1000(b *testing.B) {
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		b.Run(driver, func(b *testing.B) {
			s := openStore(b, freshDSN(b, driver))
			ctx := context.Background()
			if err := s.SaveRun(ctx, benchReport("read-me", 1000)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.GetRun(ctx, "read-me"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListTests100000 reads one page of the per-test rows of a 100,000-result run
// with 2 repeats per test (50,000 rows, ~14,000 of them flaky), as GET …/runs/{run}/tests
// and the run page's flaky view do: the first page, one deep in, and the first of the
// flaky rows (target: like a results page, a few ms whatever the page).
func BenchmarkListTests100000(b *testing.B) {
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		b.Run(driver, func(b *testing.B) {
			s := openStore(b, freshDSN(b, driver))
			ctx := context.Background()
			r := benchReportRepeats("big", 100_000, 2)
			if err := s.SaveRun(ctx, r); err != nil {
				b.Fatal(err)
			}
			pages := []struct {
				name   string
				flaky  bool
				cursor string
			}{
				{"first", false, ""},
				{"after-40000", false, encodeCursor(testCursor, 40_000)},
				{"flaky-first", true, ""},
			}
			for _, p := range pages {
				b.Run(p.name, func(b *testing.B) {
					for b.Loop() {
						page, _, err := s.ListTests(ctx, "big", p.flaky, p.cursor, DefaultPageSize)
						if err != nil || len(page) != DefaultPageSize {
							b.Fatalf("ListTests = %d rows, %v", len(page), err)
						}
					}
				})
			}
		})
	}
}
