package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/store"
)

// The datasets of a project: list, create, versions, items, import, export, retention and
// consent policy, consent revocations, purges, the audit report and failed cases of runs.

// projectDataset is the {dataset} of the path (a name or id) in the caller's project: a
// dataset of another project is 404, exactly like a missing one.
func (s *Server) projectDataset(r *http.Request, c *call) (store.Dataset, error) {
	ref := r.PathValue("dataset")
	ds, err := s.store.GetDataset(r.Context(), c.project.ID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return ds, errorf(http.StatusNotFound, codeNotFound, "no dataset %q in project %s", ref, c.project.Slug)
	}
	return ds, err
}

// queryVersion reads ?version: a version number, or absent for the latest (0).
func queryVersion(q url.Values) (int, error) {
	v := q.Get("version")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, codeBadRequest, "version %q: use a version number from 1, or leave it out for the latest", v)
	}
	return n, nil
}

func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request, c *call) error {
	list, err := s.store.ListDatasets(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"datasets": list})
	return nil
}

type datasetBody struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (s *Server) createDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	var b datasetBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	if err := store.CheckDatasetName(b.Name); err != nil {
		return fieldErr("name", "%v", err)
	}
	ds, err := s.changes(c).CreateDataset(r.Context(), c.project.ID, b.Name, b.Description)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"dataset": ds})
	return nil
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return err
	}
	vs, err := s.store.DatasetVersions(r.Context(), ds.ID)
	if err != nil {
		return err
	}
	p, err := s.store.DatasetPolicy(r.Context(), ds.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"dataset": ds, "versions": vs, "policy": p})
	return nil
}

func (s *Server) listDatasetItems(w http.ResponseWriter, r *http.Request, c *call) error {
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	version, err := queryVersion(q)
	if err != nil {
		return err
	}
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	items, next, err := s.store.ListItems(r.Context(), ds.ID, version, q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

// importFormat is the format of an import body: ?format, else its Content-Type.
func importFormat(r *http.Request) (string, error) {
	if f := r.URL.Query().Get("format"); f != "" {
		if err := dataset.CheckFormat(f); err != nil {
			return "", errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
		}
		return f, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		return dataset.FormatJSON, nil
	case "text/csv":
		return dataset.FormatCSV, nil
	case "application/x-ndjson", "application/jsonl", "application/x-jsonlines":
		return dataset.FormatJSONL, nil
	}
	return "", errorf(http.StatusUnsupportedMediaType, codeMediaType,
		"say the body's format with ?format=jsonl|csv|json or Content-Type application/x-ndjson, text/csv or application/json")
}

// ImportResult is what an import did. Each near-duplicate group is given three ways: the
// records' numbers in the body (from 1: a JSON array's elements, JSONL's items, CSV's data
// rows), the lines where they start, and a phrase for people ("records 1, 2" for a JSON
// array, "lines 2, 3" for JSONL and CSV, whose lines say where).
type ImportResult struct {
	Read        int                  `json:"read"`
	Version     store.DatasetVersion `json:"version"`
	Stats       store.AddStats       `json:"stats"`
	NearGroups  [][]int              `json:"near_duplicate_lines"`   // lines of the body, per group
	NearRecords [][]int              `json:"near_duplicate_records"` // records of the body, per group
	NearText    []string             `json:"near_duplicates"`        // "records 1, 2", per group
}

func (s *Server) importDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return err
	}
	format, err := importFormat(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	m, err := dataset.ParseMapping(q.Get("map"))
	if err != nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "the query parameter map: %v", err)
	}
	m.Via = "the query parameter map="
	replace, err := queryBool(q, "replace")
	if err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxUpload))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "the body is larger than the limit of %d bytes: split the file", mbe.Limit)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "the body could not be read: send it again")
	}
	res, err := s.importItems(r, c, ds, "body", data, format, m, q.Get("message"), replace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// importItems parses data (named file in errors) and adds its items as the next version
// of ds.
func (s *Server) importItems(r *http.Request, c *call, ds store.Dataset, file string, data []byte, format string, m dataset.Mapping, message string, replace bool) (ImportResult, error) {
	items, err := dataset.Read(bytes.NewReader(data), file, format, m)
	if err != nil {
		return ImportResult{}, errorf(http.StatusBadRequest, codeBadRequest, "%v\nnothing was imported", err)
	}
	// AddItems drops exact duplicates (the first kept) and finds near-duplicates.
	v, stats, err := s.changes(c).AddItems(r.Context(), ds.ID, items, message, replace)
	if err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{Read: len(items), Version: v, Stats: stats, NearGroups: [][]int{}, NearRecords: [][]int{}, NearText: []string{}}
	for _, g := range stats.NearGroups {
		lines := make([]int, len(g))
		for i, n := range g {
			lines[i] = items[n-1].Line
		}
		res.NearGroups, res.NearRecords = append(res.NearGroups, lines), append(res.NearRecords, g)
		res.NearText = append(res.NearText, dataset.Places(items, g))
	}
	return res, nil
}

// exportTypes are the Content-Types of exports.
var exportTypes = map[string]string{dataset.FormatJSONL: "application/x-ndjson", dataset.FormatCSV: "text/csv; charset=utf-8",
	dataset.FormatJSON: "application/json"}

func (s *Server) exportDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	version, err := queryVersion(q)
	if err != nil {
		return err
	}
	format := q.Get("format")
	if format == "" {
		format = dataset.FormatJSONL
	}
	if err := dataset.CheckFormat(format); err != nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	var items []dataset.Item
	cursor := ""
	for {
		page, next, err := s.store.ListItems(r.Context(), ds.ID, version, cursor, store.MaxPageSize)
		if err != nil {
			return err
		}
		items = append(items, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	var b bytes.Buffer
	if err := dataset.Write(&b, format, items); err != nil {
		return fmt.Errorf("export dataset %s: %w", ds.Name, err)
	}
	w.Header().Set("Content-Type", exportTypes[format])
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="dataset.%s"`, format))
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
	return nil
}

func (s *Server) getDatasetPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return err
	}
	p, err := s.store.DatasetPolicy(r.Context(), ds.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"policy": p})
	return nil
}

// PolicyChange is a change of a dataset's policy: the fields given replace the current
// ones, the others stay.
type PolicyChange struct {
	RetentionDays *int    `json:"retention_days,omitempty"`
	DropRevoked   *bool   `json:"drop_revoked,omitempty"`
	SubjectField  *string `json:"subject_field,omitempty"`
}

func (s *Server) setDatasetPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	var b PolicyChange
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	p, err := s.changePolicy(r, c, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"policy": p})
	return nil
}

func (s *Server) changePolicy(r *http.Request, c *call, b PolicyChange) (store.DatasetPolicy, error) {
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return store.DatasetPolicy{}, err
	}
	p, err := s.store.DatasetPolicy(r.Context(), ds.ID)
	if err != nil {
		return p, err
	}
	if b.RetentionDays != nil {
		p.RetentionDays = *b.RetentionDays
	}
	if b.DropRevoked != nil {
		p.DropRevoked = *b.DropRevoked
	}
	if b.SubjectField != nil {
		p.SubjectField = *b.SubjectField
	}
	return s.changes(c).SetDatasetPolicy(r.Context(), ds.ID, p)
}

func (s *Server) revokeConsent(w http.ResponseWriter, r *http.Request, c *call) error {
	var b store.Revocation
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return err
	}
	res, err := s.changes(c).RevokeConsent(r.Context(), ds.ID, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"revocation": res})
	return nil
}

type subjectRevocationBody struct {
	Subjects []string `json:"subjects"`
	Reason   string   `json:"reason"`
}

// revokeSubjects revokes subjects in every dataset of the project.
func (s *Server) revokeSubjects(w http.ResponseWriter, r *http.Request, c *call) error {
	var b subjectRevocationBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	if len(b.Subjects) == 0 {
		return fieldErr("subjects", "subjects is required: the identifiers of the people whose consent is revoked")
	}
	res, err := s.changes(c).RevokeSubjects(r.Context(), c.project.ID, b.Subjects, b.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"datasets": res})
	return nil
}

func (s *Server) purgeDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	dry, err := queryBool(r.URL.Query(), "dry_run")
	if err != nil {
		return err
	}
	res, err := s.purge(r, c, dry)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"purge": res})
	return nil
}

func (s *Server) purge(r *http.Request, c *call, dry bool) (store.PurgeResult, error) {
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return store.PurgeResult{}, err
	}
	res, err := s.changes(c).PurgeDatasets(r.Context(), c.project.ID, ds.ID, dry)
	if err != nil || len(res) != 1 {
		return store.PurgeResult{}, err
	}
	return res[0], nil
}

func (s *Server) auditDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && format != "json" && format != "md" {
		return errorf(http.StatusBadRequest, codeBadRequest, "format %q: use json or md", format)
	}
	rep, err := s.datasetAudit(r, c)
	if err != nil {
		return err
	}
	if format == "md" {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, rep.Markdown())
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"audit": rep})
	return nil
}

// datasetAudit is the audit report of the {dataset} of the path, with the options of the
// query (version, min_share, label).
func (s *Server) datasetAudit(r *http.Request, c *call) (*dataset.AuditReport, error) {
	q := r.URL.Query()
	version, err := queryVersion(q)
	if err != nil {
		return nil, err
	}
	opt := dataset.AuditOptions{LabelField: q.Get("label")}
	if v := q.Get("min_share"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f >= 1 {
			return nil, errorf(http.StatusBadRequest, codeBadRequest, "min_share %q: use a fraction between 0 and 1, such as 0.05 for 5%%", v)
		}
		opt.MinShare = f
	}
	if err := dataset.CheckLabelField(opt.LabelField); err != nil {
		return nil, errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return nil, err
	}
	return store.AuditDataset(r.Context(), s.store, ds, version, opt)
}

type addFailedBody struct {
	Run     string `json:"run"`
	Message string `json:"message"`
}

func (s *Server) addFailed(w http.ResponseWriter, r *http.Request, c *call) error {
	var b addFailedBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	if b.Run == "" {
		return fieldErr("run", "run is required: the id of a run of this project")
	}
	ds, err := s.projectDataset(r, c)
	if err != nil {
		return err
	}
	if err := s.projectRun(r, c, b.Run); err != nil {
		return err
	}
	v, stats, n, err := store.AddFailed(r.Context(), s.changes(c), ds.ID, b.Run, b.Message)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": v, "stats": stats, "failed_cases": n})
	return nil
}

// The web UI's surface for datasets (see caller.go).

// DatasetInProject is the dataset ref names in c.Project, or a 404 error.
func (s *Server) DatasetInProject(r *http.Request, c *Caller, ref string) (store.Dataset, error) {
	ds, err := s.store.GetDataset(r.Context(), c.Project.ID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return ds, errorf(http.StatusNotFound, codeNotFound, "no dataset %q in project %s", ref, c.Project.Slug)
	}
	return ds, err
}

// SetDatasetPolicy changes the policy of the {dataset} of r's path in c.Project (audited).
func (s *Server) SetDatasetPolicy(r *http.Request, c *Caller, b PolicyChange) (store.DatasetPolicy, error) {
	return s.changePolicy(r, c.c, b)
}

// PurgeDataset purges the {dataset} of r's path in c.Project (audited unless dry).
func (s *Server) PurgeDataset(r *http.Request, c *Caller, dry bool) (store.PurgeResult, error) {
	return s.purge(r, c.c, dry)
}

// DatasetAudit is the audit report of the {dataset} of r's path in c.Project, with the
// query's version, min_share and label.
func (s *Server) DatasetAudit(r *http.Request, c *Caller) (*dataset.AuditReport, error) {
	return s.datasetAudit(r, c.c)
}

// CreateDataset creates an empty dataset in c.Project (audited).
func (s *Server) CreateDataset(r *http.Request, c *Caller, name, description string) (store.Dataset, error) {
	if err := store.CheckDatasetName(name); err != nil {
		return store.Dataset{}, fieldErr("name", "%v", err)
	}
	return s.changes(c.c).CreateDataset(r.Context(), c.Project.ID, name, description)
}

// UploadLimit is the largest dataset file the server imports, in bytes.
func (s *Server) UploadLimit() int64 { return s.maxUpload }

// ImportUpload imports data (the file named file, in format, read with the mapping rules
// of mapping as --map writes them) as the next version of ds (audited). Errors name the
// file's lines.
func (s *Server) ImportUpload(r *http.Request, c *Caller, ds store.Dataset, file string, data []byte, format, mapping, message string, replace bool) (ImportResult, error) {
	m, err := dataset.ParseMapping(mapping)
	if err != nil {
		return ImportResult{}, errorf(http.StatusBadRequest, codeBadRequest, "mapping: %v", err)
	}
	m.Via = "the mapping "
	if format == "" {
		if format, err = dataset.DetectFormat(file); err != nil {
			return ImportResult{}, errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
		}
	} else if err := dataset.CheckFormat(format); err != nil {
		return ImportResult{}, errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	return s.importItems(r, c.c, ds, file, data, format, m, message, replace)
}

// RevokeConsent records a revocation in the {dataset} of r's path in c.Project (audited).
func (s *Server) RevokeConsent(r *http.Request, c *Caller, rv store.Revocation) (store.RevokeResult, error) {
	ds, err := s.projectDataset(r, c.c)
	if err != nil {
		return store.RevokeResult{}, err
	}
	return s.changes(c.c).RevokeConsent(r.Context(), ds.ID, rv)
}
