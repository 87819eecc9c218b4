package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/plumbhq/plumb/internal/dataset"
)

// BenchmarkDatasetImport is `plumb dataset import` of a 100,000-item JSONL file: parse it
// with the default mapping and store it as a new version of a fresh dataset (AddItems
// drops exact duplicates and groups near-duplicates, as the command does). It reports
// items/s (the target: over 20,000 items/s on SQLite).
func BenchmarkDatasetImport(b *testing.B) {
	const n = 100_000
	var file bytes.Buffer
	for i := range n {
		fmt.Fprintf(&file, `{"question":"Where is my refund for order %d? I paid with my card last week.","name":"Sam","expected":"Your refund for order %d is on its way and should arrive within 5 business days.","metadata.ticket":"T-%d","segment.locale":"%s","source":"zendesk","consent":true,"consent_basis":"contract"}`+"\n",
			i, i, i, []string{"en", "fr", "de"}[i%3])
	}
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		b.Run(driver, func(b *testing.B) {
			st := openStore(b, freshDSN(b, driver))
			ctx := context.Background()
			b.SetBytes(int64(file.Len()))
			i := 0
			for b.Loop() {
				items, err := dataset.Read(bytes.NewReader(file.Bytes()), "bench.jsonl", dataset.FormatJSONL, dataset.Mapping{})
				if err != nil {
					b.Fatal(err)
				}
				i++
				ds, err := st.CreateDataset(ctx, DefaultProjectID, fmt.Sprintf("bench-%d", i), "")
				if err != nil {
					b.Fatal(err)
				}
				if _, st, err := st.AddItems(ctx, ds.ID, items, "", false); err != nil || st.Added != n {
					b.Fatalf("AddItems: %+v, %v", st, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
