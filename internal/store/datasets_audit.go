package store

import (
	"context"

	"github.com/plumbhq/plumb/internal/dataset"
)

// AuditDataset reads every item of a version of ds (0: the latest) and audits them
// (dataset.Audit). A missing version is ErrNotFound, bad options ErrInvalid.
func AuditDataset(ctx context.Context, st Store, ds Dataset, version int, opt dataset.AuditOptions) (*dataset.AuditReport, error) {
	var items []dataset.Item
	cursor := ""
	for {
		page, next, err := st.ListItems(ctx, ds.ID, version, cursor, MaxPageSize)
		if err != nil {
			return nil, err
		}
		items = append(items, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	r, err := dataset.Audit(items, opt)
	if err != nil {
		return nil, invalid("%v", err)
	}
	r.Dataset, r.Version = ds.Name, version
	if version == 0 {
		r.Version = ds.LatestVersion
	}
	return r, nil
}
