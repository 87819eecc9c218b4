package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// table is the page table: every page of the UI, with its access rule.
func (u *UI) table() []page {
	const p = "/p/{project}"
	return append([]page{
		{Method: "GET", Path: "/login", Access: public, Handle: u.loginPage},
		{Method: "POST", Path: "/login", Access: public, Handle: u.loginSubmit},
		{Method: "POST", Path: "/logout", Access: user, Handle: u.logoutSubmit},
		{Method: "GET", Path: "/{$}", Access: user, Handle: u.projectsPage},
		{Method: "POST", Path: "/projects", Access: user, Handle: u.projectCreate}, // instance admins: checked by the server

		{Method: "GET", Path: p, Access: project, Role: store.RoleViewer, Handle: u.overviewPage},
		{Method: "GET", Path: p + "/runs", Access: project, Role: store.RoleViewer, Handle: u.runsPage},
		{Method: "GET", Path: p + "/runs/{run}", Access: project, Role: store.RoleViewer, Handle: u.runPage},
		{Method: "GET", Path: p + "/runs/{run}/cases/{test}", Access: project, Role: store.RoleViewer, Handle: u.casePage},
		{Method: "GET", Path: p + "/compare", Access: project, Role: store.RoleViewer, Handle: u.comparePage},

		{Method: "GET", Path: p + "/members", Access: project, Role: store.RoleViewer, Handle: u.membersPage},
		{Method: "POST", Path: p + "/members", Access: project, Role: store.RoleAdmin, Handle: u.memberAdd},
		{Method: "POST", Path: p + "/members/{user}/role", Access: project, Role: store.RoleAdmin, Handle: u.memberRole},
		{Method: "POST", Path: p + "/members/{user}/remove", Access: project, Role: store.RoleAdmin, Handle: u.memberRemove},
		{Method: "GET", Path: p + "/keys", Access: project, Role: store.RoleAdmin, Handle: u.keysPage},
		{Method: "POST", Path: p + "/keys", Access: project, Role: store.RoleAdmin, Handle: u.keyCreate},
		{Method: "POST", Path: p + "/keys/{key}/revoke", Access: project, Role: store.RoleAdmin, Handle: u.keyRevoke},
		{Method: "GET", Path: p + "/audit", Access: project, Role: store.RoleAdmin, Handle: u.auditPage},

		{Method: "GET", Path: p + "/datasets", Access: project, Role: store.RoleViewer, Handle: u.datasetsPage},
		{Method: "GET", Path: p + "/datasets/{dataset}", Access: project, Role: store.RoleViewer, Handle: u.datasetPage},
		{Method: "POST", Path: p + "/datasets/{dataset}/policy", Access: project, Role: store.RoleAdmin, Handle: u.datasetPolicySubmit},
		{Method: "GET", Path: p + "/datasets/{dataset}/audit", Access: project, Role: store.RoleViewer, Handle: u.datasetAuditPage},
		{Method: "POST", Path: p + "/datasets", Access: project, Role: store.RoleEditor, Handle: u.datasetCreate},
		{Method: "POST", Path: p + "/datasets/{dataset}/import", Access: project, Role: store.RoleEditor, Handle: u.datasetImport, Upload: true},
		{Method: "POST", Path: p + "/datasets/{dataset}/revoke", Access: project, Role: store.RoleEditor, Handle: u.datasetRevoke},
		{Method: "GET", Path: p + "/datasets/{dataset}/purge", Access: project, Role: store.RoleAdmin, Handle: u.datasetPurgePage},
		{Method: "POST", Path: p + "/datasets/{dataset}/purge", Access: project, Role: store.RoleAdmin, Handle: u.datasetPurgeSubmit},

		// The prompt registry (prompts.go): prompt names have slashes, so they end the path.
		{Method: "GET", Path: p + "/prompts", Access: project, Role: store.RoleViewer, Handle: u.promptsPage},
		{Method: "GET", Path: p + "/prompts/{name...}", Access: project, Role: store.RoleViewer, Handle: u.promptPage},
		{Method: "GET", Path: p + "/prompt-version/{version}/{name...}", Access: project, Role: store.RoleViewer, Handle: u.promptVersionPage},
		{Method: "GET", Path: p + "/prompt-diff/{name...}", Access: project, Role: store.RoleViewer, Handle: u.promptDiffPage},
		{Method: "GET", Path: p + "/prompt-rollback/{name...}", Access: project, Role: store.RoleEditor, Handle: u.promptRollbackConfirm},
		{Method: "POST", Path: p + "/prompt-rollback/{name...}", Access: project, Role: store.RoleEditor, Handle: u.promptRollback},
		{Method: "GET", Path: p + "/reviews", Access: project, Role: store.RoleViewer, Handle: u.reviewsPage},
		{Method: "POST", Path: p + "/reviews", Access: project, Role: store.RoleEditor, Handle: u.reviewCreate},
		{Method: "GET", Path: p + "/reviews/{review}", Access: project, Role: store.RoleViewer, Handle: u.reviewPage},
		{Method: "POST", Path: p + "/reviews/{review}/comment", Access: project, Role: store.RoleEditor, Handle: u.reviewComment},
		{Method: "POST", Path: p + "/reviews/{review}/approve", Access: project, Role: store.RoleEditor, Handle: u.reviewApprove},
		{Method: "POST", Path: p + "/reviews/{review}/reject", Access: project, Role: store.RoleEditor, Handle: u.reviewReject},
		{Method: "POST", Path: p + "/prompt-settings", Access: project, Role: store.RoleAdmin, Handle: u.promptSettings},

		// The gateway's traffic and trace log (traces.go).
		{Method: "GET", Path: p + "/traffic", Access: project, Role: store.RoleViewer, Handle: u.trafficPage},
		{Method: "GET", Path: p + "/traces", Access: project, Role: store.RoleViewer, Handle: u.tracesPage},
		{Method: "GET", Path: p + "/traces/{trace}", Access: project, Role: store.RoleViewer, Handle: u.tracePageView},
		{Method: "GET", Path: p + "/shadow", Access: project, Role: store.RoleViewer, Handle: u.shadowPage}, // shadow.go
		// Red-team runs (redteam.go).
		{Method: "GET", Path: p + "/redteam/{run}", Access: project, Role: store.RoleViewer, Handle: u.redteamPage},
		{Method: "GET", Path: p + "/redteam/{run}/report.md", Access: project, Role: store.RoleViewer, Handle: u.redteamMarkdown},
		{Method: "GET", Path: p + "/redteam-compare", Access: project, Role: store.RoleViewer, Handle: u.redteamComparePage},
	},
		append(u.queuePages(p), // annotation queues (queues.go)
			u.approvalPages(p)...)..., // tool approvals (approvals.go)
	)
}

// loginPage shows the login form, or, on a server with no user yet, how to create the
// first one.
func (u *UI) loginPage(w http.ResponseWriter, r *http.Request, _ *server.Caller) error {
	if _, err := u.srv.Authenticate(r); err == nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	return u.showLogin(w, r, http.StatusOK, "")
}

func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	n, err := u.store.CountUsers(r.Context())
	if err != nil {
		return err
	}
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	u.render(w, r, status, "login", &view{Title: "Log in", Data: map[string]any{
		"NoUsers": n == 0, "Next": localPath(next), "Error": msg, "Email": r.PostFormValue("email"),
	}})
	return nil
}

// loginSubmit checks the form with the API's login (rate limits included) and goes on to
// the page the visitor came for.
func (u *UI) loginSubmit(w http.ResponseWriter, r *http.Request, _ *server.Caller) error {
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	if email == "" || password == "" {
		return u.showLogin(w, r, http.StatusBadRequest, "Enter your email and password.")
	}
	if _, err := u.srv.Login(w, r, email, password); err != nil {
		status, _, msg := u.srv.ClientError(r, err)
		if status >= 500 {
			return err
		}
		return u.showLogin(w, r, status, msg)
	}
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

// logoutSubmit ends the session.
func (u *UI) logoutSubmit(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	if err := u.srv.Logout(w, r, c); err != nil {
		return err
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// localPath keeps a "next" page on this server: a path, never another site ("//evil",
// "https://evil", "/\evil", "/<tab>/evil": browsers drop tabs and newlines from URLs and read
// a backslash as a slash, so any control character or backslash is refused).
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
		return "/"
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return p
}

// projectRow is one project of the projects page.
type projectRow struct {
	Project store.Project
	Role    store.Role
}

// projectsPage lists the projects the caller may see.
func (u *UI) projectsPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	var rows []projectRow
	if c.Key != nil {
		p, err := u.store.GetProject(r.Context(), c.Key.ProjectID)
		if err != nil {
			return err
		}
		rows = append(rows, projectRow{p, c.Key.Role})
	} else {
		ps, err := u.store.ListProjects(r.Context(), c.User.ID)
		if err != nil {
			return err
		}
		for _, p := range ps {
			role := store.RoleAdmin
			if !c.User.IsAdmin {
				m, err := u.store.GetMembership(r.Context(), p.ID, c.User.ID)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				role = m.Role
			}
			rows = append(rows, projectRow{p, role})
		}
	}
	u.render(w, r, http.StatusOK, "projects", &view{Caller: c, Title: "Projects", Data: map[string]any{
		"Projects": rows, "CanCreate": c.User != nil && c.User.IsAdmin,
	}})
	return nil
}

// projectCreate creates a project (instance admins) and opens it.
func (u *UI) projectCreate(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	p, err := u.srv.CreateProject(r, c, strings.TrimSpace(r.PostFormValue("slug")), strings.TrimSpace(r.PostFormValue("name")))
	if err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(p, ""), http.StatusSeeOther)
	return nil
}
