package store

import (
	"context"
	"fmt"

	"github.com/plumbhq/plumb/internal/dataset"
)

// AddFailed makes the next version of a dataset from the failed cases of a stored run: one
// item per failed test (dataset.FromFailed), added to the latest version's items;
// duplicates (a test already in the dataset) are skipped. The run and the dataset must
// belong to the same project: check it first (RunProject, GetDataset). It returns the
// version, what AddItems did, and how many items the failed results made. A run without
// failures is ErrInvalid.
func AddFailed(ctx context.Context, st Store, datasetID, runID, message string) (DatasetVersion, AddStats, int, error) {
	var failed []dataset.Item
	cursor := ""
	for {
		page, next, err := st.ListResults(ctx, runID, ResultFilter{FailedOnly: true}, cursor, MaxPageSize)
		if err != nil {
			return DatasetVersion{}, AddStats{}, 0, err
		}
		failed = append(failed, dataset.FromFailed(runID, page)...)
		if next == "" {
			break
		}
		cursor = next
	}
	// A test's results may span pages: keep its first item.
	items := make([]dataset.Item, 0, len(failed))
	seen := map[string]bool{}
	for _, it := range failed {
		if !seen[it.Source] {
			seen[it.Source] = true
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return DatasetVersion{}, AddStats{}, 0, invalid("run %s has no failed cases: nothing to add", runID)
	}
	if message == "" {
		message = fmt.Sprintf("failed cases of run %s", runID)
	}
	v, st2, err := st.AddItems(ctx, datasetID, items, message, false)
	return v, st2, len(items), err
}
