package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/store"
)

// Dataset is a dataset of a project, with its latest version.
type Dataset = store.Dataset

// DatasetVersion is one version of a dataset.
type DatasetVersion = store.DatasetVersion

// DatasetItem is one item of a dataset.
type DatasetItem = dataset.Item

// DatasetPolicy is a dataset's retention and consent policy.
type DatasetPolicy = store.DatasetPolicy

// PolicyChange changes the fields of a policy it sets (nil fields stay as they are).
type PolicyChange struct {
	RetentionDays *int    `json:"retention_days,omitempty"`
	DropRevoked   *bool   `json:"drop_revoked,omitempty"`
	SubjectField  *string `json:"subject_field,omitempty"`
}

// Revocation names items (by id) and subjects whose consent is revoked.
type Revocation = store.Revocation

// RevokeResult is what a revocation recorded.
type RevokeResult = store.RevokeResult

// PurgeResult is what a purge deleted (or would delete).
type PurgeResult = store.PurgeResult

// AuditReport is a dataset version's audit report.
type AuditReport = dataset.AuditReport

// ImportResult is what an import did.
type ImportResult struct {
	Read       int            `json:"read"`
	Version    DatasetVersion `json:"version"`
	Stats      AddStats       `json:"stats"`
	NearGroups [][]int        `json:"near_duplicate_lines"` // lines of the file, per group
	// NearRecords are the groups' record numbers in the file, from 1 (a JSON array's
	// elements, JSONL's items, CSV's data rows), and NearText says each for people
	// ("records 1, 2" for a JSON array, "lines 2, 3" for JSONL and CSV).
	NearRecords [][]int  `json:"near_duplicate_records"`
	NearText    []string `json:"near_duplicates"`
}

// AddStats is what adding items to a dataset did.
type AddStats = store.AddStats

// ImportOptions says how the server reads an import.
type ImportOptions struct {
	Format  string // jsonl, csv or json (required)
	Map     string // the column mapping, TARGET=FIELD,... (docs/datasets.md)
	Message string
	Replace bool // the version holds these items only
}

// datasetPath is the path of a dataset; its name's slashes are escaped into one segment.
func datasetPath(project, name string) string {
	return projectPath(project) + "/datasets/" + url.PathEscape(name)
}

// versionQuery is ?version=N, or none for the latest (0).
func versionQuery(version int) url.Values {
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.Itoa(version))
	}
	return q
}

// Datasets lists the project's datasets.
func (c *Client) Datasets(ctx context.Context, project string) ([]Dataset, error) {
	var out struct {
		Datasets []Dataset `json:"datasets"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/datasets", nil, nil, &out)
	return out.Datasets, err
}

// CreateDataset creates an empty dataset.
func (c *Client) CreateDataset(ctx context.Context, project, name, description string) (Dataset, error) {
	var out struct {
		Dataset Dataset `json:"dataset"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/datasets", map[string]string{"name": name, "description": description}, &out)
	return out.Dataset, err
}

// Dataset returns a dataset with its versions (newest first) and policy.
func (c *Client) Dataset(ctx context.Context, project, name string) (Dataset, []DatasetVersion, DatasetPolicy, error) {
	var out struct {
		Dataset  Dataset          `json:"dataset"`
		Versions []DatasetVersion `json:"versions"`
		Policy   DatasetPolicy    `json:"policy"`
	}
	err := c.do(ctx, http.MethodGet, datasetPath(project, name), nil, nil, &out)
	return out.Dataset, out.Versions, out.Policy, err
}

// DatasetItems returns one page of a version's items (0: the latest) and the cursor of the
// next page ("" after the last).
func (c *Client) DatasetItems(ctx context.Context, project, name string, version int, cursor string, limit int) ([]DatasetItem, string, error) {
	q := versionQuery(version)
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Items []DatasetItem `json:"items"`
		Next  string        `json:"next_cursor"`
	}
	err := c.do(ctx, http.MethodGet, datasetPath(project, name)+"/items", q, nil, &out)
	return out.Items, out.Next, err
}

// ImportDataset sends a file's content as the next version of a dataset.
func (c *Client) ImportDataset(ctx context.Context, project, name string, data []byte, opt ImportOptions) (ImportResult, error) {
	q := url.Values{"format": {opt.Format}}
	if opt.Map != "" {
		q.Set("map", opt.Map)
	}
	if opt.Message != "" {
		q.Set("message", opt.Message)
	}
	if opt.Replace {
		q.Set("replace", "true")
	}
	var out ImportResult
	err := c.do(ctx, http.MethodPost, datasetPath(project, name)+"/import", q, data, &out)
	return out, err
}

// ExportDataset returns a version's items (0: the latest) as jsonl, csv or json.
func (c *Client) ExportDataset(ctx context.Context, project, name string, version int, format string) ([]byte, error) {
	q := versionQuery(version)
	q.Set("format", format)
	req, err := c.request(ctx, http.MethodGet, datasetPath(project, name)+"/export", q, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, decodeError(res)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("export dataset %s: %w", name, err)
	}
	return b, nil
}

// DatasetPolicy returns a dataset's retention and consent policy.
func (c *Client) DatasetPolicy(ctx context.Context, project, name string) (DatasetPolicy, error) {
	var out struct {
		Policy DatasetPolicy `json:"policy"`
	}
	err := c.do(ctx, http.MethodGet, datasetPath(project, name)+"/policy", nil, nil, &out)
	return out.Policy, err
}

// SetDatasetPolicy changes a dataset's policy (project admins) and returns it.
func (c *Client) SetDatasetPolicy(ctx context.Context, project, name string, ch PolicyChange) (DatasetPolicy, error) {
	var out struct {
		Policy DatasetPolicy `json:"policy"`
	}
	err := c.doJSON(ctx, http.MethodPatch, datasetPath(project, name)+"/policy", ch, &out)
	return out.Policy, err
}

// RevokeConsent records revocations of consent; the next purge deletes the items.
func (c *Client) RevokeConsent(ctx context.Context, project, name string, rv Revocation) (RevokeResult, error) {
	var out struct {
		Revocation RevokeResult `json:"revocation"`
	}
	err := c.doJSON(ctx, http.MethodPost, datasetPath(project, name)+"/revocations", rv, &out)
	return out.Revocation, err
}

// SubjectRevocation is what a project-wide revocation did to one dataset.
type SubjectRevocation = store.SubjectRevocation

// RevokeSubjects revokes consent for subjects in every dataset of the project (an erasure
// request; project editors), each dataset by its subject field; datasets without one come
// back with Skipped set. The next purge deletes the items.
func (c *Client) RevokeSubjects(ctx context.Context, project string, subjects []string, reason string) ([]SubjectRevocation, error) {
	var out struct {
		Datasets []SubjectRevocation `json:"datasets"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/revocations",
		map[string]any{"subjects": subjects, "reason": reason}, &out)
	return out.Datasets, err
}

// PurgeDataset applies a dataset's policy (project admins); dryRun only counts.
func (c *Client) PurgeDataset(ctx context.Context, project, name string, dryRun bool) (PurgeResult, error) {
	var out struct {
		Purge PurgeResult `json:"purge"`
	}
	err := c.do(ctx, http.MethodPost, datasetPath(project, name)+"/purge", url.Values{"dry_run": {strconv.FormatBool(dryRun)}}, nil, &out)
	return out.Purge, err
}

// DatasetAudit returns the audit report of a version (0: the latest); minShare 0 and
// label "" take the defaults.
func (c *Client) DatasetAudit(ctx context.Context, project, name string, version int, minShare float64, label string) (*AuditReport, error) {
	q := versionQuery(version)
	if minShare > 0 {
		q.Set("min_share", strconv.FormatFloat(minShare, 'g', -1, 64))
	}
	if label != "" {
		q.Set("label", label)
	}
	var out struct {
		Audit *AuditReport `json:"audit"`
	}
	err := c.do(ctx, http.MethodGet, datasetPath(project, name)+"/audit", q, nil, &out)
	return out.Audit, err
}

// AddFailed adds the failed cases of a run of the project to a dataset as its next version,
// and returns it with what was added and how many failed cases there were.
func (c *Client) AddFailed(ctx context.Context, project, name, runID, message string) (DatasetVersion, AddStats, int, error) {
	var out struct {
		Version DatasetVersion `json:"version"`
		Stats   AddStats       `json:"stats"`
		Failed  int            `json:"failed_cases"`
	}
	err := c.doJSON(ctx, http.MethodPost, datasetPath(project, name)+"/failed", map[string]string{"run": runID, "message": message}, &out)
	return out.Version, out.Stats, out.Failed, err
}
