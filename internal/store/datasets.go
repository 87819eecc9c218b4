package store

import (
	"context"
	"time"

	"github.com/plumbhq/plumb/internal/dataset"
)

// Datasets keeps a project's datasets: items (dataset.Item: input vars, expected output,
// metadata, segment fields, provenance, consent) and immutable, numbered versions, each a
// set of items, so that an eval run can name the version it read and be re-run on it.
// Items are immutable too, and an exact duplicate (same dataset.ContentHash) is stored once
// per dataset.
//
// Methods taking a dataset id do not check its project: look the dataset up first with
// GetDataset, which does.
type Datasets interface {
	// CreateDataset stores a new, empty dataset (no version yet) in a project. A taken
	// name is ErrConflict, a bad name ErrInvalid, a missing project ErrNotFound.
	CreateDataset(ctx context.Context, projectID, name, description string) (Dataset, error)
	// GetDataset returns a project's dataset by name or id, or ErrNotFound.
	GetDataset(ctx context.Context, projectID, ref string) (Dataset, error)
	// ListDatasets returns a project's datasets, by name.
	ListDatasets(ctx context.Context, projectID string) ([]Dataset, error)
	// AddItems makes the next version of a dataset: the latest version's items and items
	// (replace false), or items alone (replace true), in one transaction. An item that is
	// an exact copy of an earlier one of items, or (replace false) of an item the latest
	// version has, is skipped and counted in AddStats.Duplicates; an item the dataset
	// stored before for an older version is reused, not stored again. When the new
	// version would hold the same items as the latest, no version is made: the latest is
	// returned with AddStats.Created false. A missing dataset is ErrNotFound, an item the
	// store cannot keep ErrInvalid (naming its line).
	AddItems(ctx context.Context, datasetID string, items []dataset.Item, message string, replace bool) (DatasetVersion, AddStats, error)
	// ListItems returns one page of a version's items (version 0: the latest), by id, and
	// the cursor of the next page ("" after the last); cursor and limit work as
	// ListResults' do. A missing dataset or version is ErrNotFound, a malformed cursor
	// ErrInvalid.
	ListItems(ctx context.Context, datasetID string, version int, cursor string, limit int) (page []dataset.Item, next string, err error)
	// DatasetVersions returns a dataset's versions, newest first, or ErrNotFound.
	DatasetVersions(ctx context.Context, datasetID string) ([]DatasetVersion, error)
}

// Dataset is one dataset of a project, with its latest version.
type Dataset struct {
	ID            string    `json:"id"`
	ProjectID     string    `json:"project_id"`
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	LatestVersion int       `json:"latest_version"` // 0: nothing imported yet
	ItemCount     int       `json:"item_count"`     // items of the latest version
}

// DatasetVersion is one immutable version of a dataset.
type DatasetVersion struct {
	Dataset   string    `json:"dataset"` // the dataset's name
	Version   int       `json:"version"` // 1, 2, 3, ...
	Message   string    `json:"message,omitempty"`
	ItemCount int       `json:"item_count"`
	CreatedAt time.Time `json:"created_at"`
}

// AddStats is what AddItems did.
type AddStats struct {
	Created    bool `json:"created"`    // a new version was made
	Added      int  `json:"added"`      // items in the new version that the previous one lacks
	Duplicates int  `json:"duplicates"` // items skipped as exact duplicates
	Removed    int  `json:"removed"`    // (replace) items of the previous version left out
	// NearGroups are the groups of two or more items given (exact duplicates left out)
	// whose normalized text is the same (dataset.NearHash), each as the items' numbers in
	// the list given, from 1 (a file's records, in order), in order: kept, for a person to
	// decide. Whether a version was made or not.
	NearGroups [][]int `json:"-"`
}

// CheckDatasetName reports whether name can name a dataset, saying how to fix it if not
// (ErrInvalid). Names follow the prompt registry's rule: path-like parts of letters,
// digits, -, _ and ., so they stay readable in URLs.
func CheckDatasetName(name string) error {
	if len(name) > 200 || !promptNameRe.MatchString(name) {
		return invalid("dataset name %q: use letters, digits, -, _ and ., with / between parts (e.g. support/golden), each part starting with a letter or digit, at most 200 characters", name)
	}
	return nil
}
