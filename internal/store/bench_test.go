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
// three assertions.
func benchReport(id string, n int) *report.Report {
	r := sampleReport(id, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	r.Summary.Cases = n
	output := strings.Repeat("Thanks for reaching out. Your refund is on its way. ", 8)
	for i := range n {
		r.Results = append(r.Results, report.Result{
			Test: report.TestRef{
				Index:    i / 3,
				Vars:     map[string]any{"question": fmt.Sprintf("Where is my refund for order %d?", i), "name": "Sam"},
				Segment:  []string{"billing", "refunds", "shipping"}[i%3],
				Metadata: map[string]any{"segment": []string{"billing", "refunds", "shipping"}[i%3]},
			},
			Prompt:     "v2",
			PromptHash: "a1b2c3d4e5f6",
			Provider:   "gpt",
			Repeat:     i % 3,
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

// BenchmarkSaveRun10000 saves a 10,000-result run (target: under 1 s).
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
