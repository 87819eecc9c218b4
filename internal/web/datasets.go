package web

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// datasetURL is the path of a dataset page; the name's slashes are escaped into one segment.
func datasetURL(p store.Project, name, rest string) string {
	return projectURL(p, "/datasets/"+url.PathEscape(name)+rest)
}

// datasetsPage lists the project's datasets.
func (u *UI) datasetsPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	list, err := u.store.ListDatasets(r.Context(), c.Project.ID)
	if err != nil {
		return err
	}
	type row struct {
		store.Dataset
		URL string
	}
	rows := make([]row, len(list))
	for i, ds := range list {
		rows[i] = row{ds, datasetURL(c.Project, ds.Name, "")}
	}
	u.render(w, r, http.StatusOK, "datasets", &view{Caller: c, Title: "Datasets", Nav: "datasets", Data: map[string]any{
		"Datasets": rows, "CanEdit": c.Role.AtLeast(store.RoleEditor), "CreateURL": projectURL(c.Project, "/datasets"),
	}})
	return nil
}

// datasetPage shows a dataset: its versions, a page of a version's items, and its policy
// (with the form to change it, for admins).
func (u *UI) datasetPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ds, err := u.srv.DatasetInProject(r, c, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	version := 0
	if v := q.Get("version"); v != "" {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			return badRequest("version %q: use a version number from 1", v)
		}
	}
	vs, err := u.store.DatasetVersions(r.Context(), ds.ID)
	if err != nil {
		return err
	}
	items, next, err := u.store.ListItems(r.Context(), ds.ID, version, q.Get("cursor"), 50)
	if err != nil {
		return err
	}
	p, err := u.store.DatasetPolicy(r.Context(), ds.ID)
	if err != nil {
		return err
	}
	shown := version
	if shown == 0 {
		shown = ds.LatestVersion
	}
	base := datasetURL(c.Project, ds.Name, "")
	nextURL := ""
	if next != "" {
		nextURL = base + "?" + url.Values{"version": {strconv.Itoa(shown)}, "cursor": {next}}.Encode()
	}
	type segment struct{ Field, Value string }
	type itemRow struct {
		ID       int64
		Vars     string
		Expected string
		Segments []segment
		Consent  bool
		Basis    string
		Source   string
	}
	rows := make([]itemRow, len(items))
	for i, it := range items {
		// As the store keeps them: compactJSON's HTML escaping would show < as \u003c (the
		// template escapes the text itself).
		vars, err := dataset.CanonicalJSON(it.Vars)
		if err != nil {
			vars = compactJSON(it.Vars)
		}
		row := itemRow{ID: it.ID, Vars: vars, Expected: it.Expected, Consent: it.Consent, Basis: it.ConsentBasis, Source: it.Source}
		for k, v := range it.Segment {
			row.Segments = append(row.Segments, segment{k, v})
		}
		rows[i] = row
	}
	revoked := int64(0)
	if v := q.Get("revoked"); v != "" {
		revoked, _ = strconv.ParseInt(v, 10, 64) // only a number is shown back
	}
	u.render(w, r, http.StatusOK, "dataset", &view{Caller: c, Title: ds.Name, Nav: "datasets", Data: map[string]any{
		"Dataset": ds, "Versions": vs, "Version": shown, "Items": rows, "Next": nextURL, "Policy": p,
		"URL": base, "AuditURL": datasetURL(c.Project, ds.Name, "/audit"), "PolicyURL": datasetURL(c.Project, ds.Name, "/policy"),
		"ImportURL": datasetURL(c.Project, ds.Name, "/import"), "RevokeURL": datasetURL(c.Project, ds.Name, "/revoke"),
		"PurgeURL": datasetURL(c.Project, ds.Name, "/purge"), "Revoked": revoked,
		"CanAdmin": c.Role.AtLeast(store.RoleAdmin), "CanEdit": c.Role.AtLeast(store.RoleEditor),
		"UploadMiB": u.srv.UploadLimit() >> 20,
	}})
	return nil
}

// datasetPolicySubmit changes the dataset's policy from the form.
func (u *UI) datasetPolicySubmit(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ds, err := u.srv.DatasetInProject(r, c, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	v := strings.TrimSpace(r.PostFormValue("retention_days"))
	days := 0
	if v != "" {
		if days, err = strconv.Atoi(v); err != nil {
			return badRequest("retention %q days: use a whole number of days, or 0 to keep items for ever", v)
		}
	}
	drop := r.PostFormValue("drop_revoked") == "on"
	subject := strings.TrimSpace(r.PostFormValue("subject_field"))
	if _, err := u.srv.SetDatasetPolicy(r, c, server.PolicyChange{RetentionDays: &days, DropRevoked: &drop, SubjectField: &subject}); err != nil {
		return err
	}
	http.Redirect(w, r, datasetURL(c.Project, ds.Name, ""), http.StatusSeeOther)
	return nil
}

// datasetAuditPage shows a version's audit report (?version, ?min_share, ?label).
func (u *UI) datasetAuditPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ds, err := u.srv.DatasetInProject(r, c, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	rep, err := u.srv.DatasetAudit(r, c)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "dataset_audit", &view{Caller: c, Title: "Audit of " + ds.Name, Nav: "datasets", Data: map[string]any{
		"Dataset": ds, "Report": rep, "URL": datasetURL(c.Project, ds.Name, ""),
		"MinSharePct": 100 * rep.MinShare,
	}})
	return nil
}

// datasetCreate creates a dataset from the datasets page's form and opens it.
func (u *UI) datasetCreate(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	ds, err := u.srv.CreateDataset(r, c, name, strings.TrimSpace(r.PostFormValue("description")))
	if err != nil {
		return err
	}
	http.Redirect(w, r, datasetURL(c.Project, ds.Name, ""), http.StatusSeeOther)
	return nil
}

// datasetImport imports the uploaded file as the next version and shows what it did, or
// the problems of the file by line (nothing imported).
func (u *UI) datasetImport(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ds, err := u.srv.DatasetInProject(r, c, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return badRequest("choose a file to upload (JSONL, CSV with a header row, or a JSON array)")
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return badRequest("the file could not be read: upload it again")
	}
	file := filepath.Base(strings.ReplaceAll(hdr.Filename, `\`, "/"))
	format := r.PostFormValue("format")
	if format == "auto" {
		format = ""
	}
	data2 := map[string]any{"Dataset": ds, "File": file, "URL": datasetURL(c.Project, ds.Name, "")}
	res, err := u.srv.ImportUpload(r, c, ds, file, data, format, strings.TrimSpace(r.PostFormValue("map")),
		strings.TrimSpace(r.PostFormValue("message")), r.PostFormValue("replace") == "on")
	status := http.StatusOK
	if err != nil {
		st, _, msg := u.srv.ClientError(r, err)
		if st >= 500 {
			return err
		}
		status = st
		data2["Problems"] = strings.Split(strings.TrimSpace(msg), "\n")
	} else {
		data2["Result"] = res
	}
	u.render(w, r, status, "dataset_import", &view{Caller: c, Title: "Import into " + ds.Name, Nav: "datasets", Data: data2})
	return nil
}

// datasetRevoke records the revocation of one item's consent from its row's form.
func (u *UI) datasetRevoke(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ds, err := u.srv.DatasetInProject(r, c, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	v := r.PostFormValue("item")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return badRequest("item %q: revoke from an item's row of the dataset page", v)
	}
	if _, err := u.srv.RevokeConsent(r, c, store.Revocation{ItemIDs: []int64{id}, Reason: strings.TrimSpace(r.PostFormValue("reason"))}); err != nil {
		return err
	}
	back := datasetURL(c.Project, ds.Name, "") + "?" + url.Values{"revoked": {strconv.FormatInt(id, 10)}}.Encode()
	if v := r.PostFormValue("version"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			back += "&version=" + strconv.Itoa(n)
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// datasetPurgePage previews a purge (a dry run: counts and item ids, never content) with
// the form that confirms it.
func (u *UI) datasetPurgePage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ds, err := u.srv.DatasetInProject(r, c, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	res, err := u.srv.PurgeDataset(r, c, true)
	if err != nil {
		return err
	}
	return u.showPurge(w, r, c, ds, res)
}

// datasetPurgeSubmit purges (audited) and shows what was deleted.
func (u *UI) datasetPurgeSubmit(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ds, err := u.srv.DatasetInProject(r, c, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	res, err := u.srv.PurgeDataset(r, c, false)
	if err != nil {
		return err
	}
	return u.showPurge(w, r, c, ds, res)
}

func (u *UI) showPurge(w http.ResponseWriter, r *http.Request, c *server.Caller, ds store.Dataset, res store.PurgeResult) error {
	const shown = 500
	ids := res.ItemIDs
	more := 0
	if len(ids) > shown {
		ids, more = ids[:shown], len(ids)-shown
	}
	u.render(w, r, http.StatusOK, "dataset_purge", &view{Caller: c, Title: "Purge " + ds.Name, Nav: "datasets", Data: map[string]any{
		"Dataset": ds, "Purge": res, "IDs": ids, "More": more,
		"URL": datasetURL(c.Project, ds.Name, ""), "PurgeURL": datasetURL(c.Project, ds.Name, "/purge"),
	}})
	return nil
}
