package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

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
	u.render(w, r, http.StatusOK, "datasets", &view{Caller: c, Title: "Datasets", Nav: "datasets", Data: map[string]any{"Datasets": rows}})
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
		row := itemRow{ID: it.ID, Vars: compactJSON(it.Vars), Expected: it.Expected, Consent: it.Consent, Basis: it.ConsentBasis, Source: it.Source}
		for k, v := range it.Segment {
			row.Segments = append(row.Segments, segment{k, v})
		}
		rows[i] = row
	}
	u.render(w, r, http.StatusOK, "dataset", &view{Caller: c, Title: ds.Name, Nav: "datasets", Data: map[string]any{
		"Dataset": ds, "Versions": vs, "Version": shown, "Items": rows, "Next": nextURL, "Policy": p,
		"URL": base, "AuditURL": datasetURL(c.Project, ds.Name, "/audit"), "PolicyURL": datasetURL(c.Project, ds.Name, "/policy"),
		"CanAdmin": c.Role.AtLeast(store.RoleAdmin),
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
