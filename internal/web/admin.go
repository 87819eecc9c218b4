package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

var roles = []store.Role{store.RoleViewer, store.RoleEditor, store.RoleAdmin}

// projectURL is the path of a project page.
func projectURL(p store.Project, rest string) string {
	return "/p/" + url.PathEscape(p.Slug) + rest
}

// membersPage lists the project's members; admins also get the forms to add, change and
// remove them.
func (u *UI) membersPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	ms, err := u.store.ListMembers(r.Context(), c.Project.ID)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "members", &view{Caller: c, Title: "Members", Nav: "members", Data: map[string]any{
		"Members": ms, "Roles": roles,
	}})
	return nil
}

func (u *UI) memberAdd(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	_, err := u.srv.AddMember(r, c, strings.TrimSpace(r.PostFormValue("email")), store.Role(r.PostFormValue("role")))
	if err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/members"), http.StatusSeeOther)
	return nil
}

func (u *UI) memberRole(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	if _, err := u.srv.UpdateMember(r, c, r.PathValue("user"), store.Role(r.PostFormValue("role"))); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/members"), http.StatusSeeOther)
	return nil
}

func (u *UI) memberRemove(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	if err := u.srv.RemoveMember(r, c, r.PathValue("user")); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/members"), http.StatusSeeOther)
	return nil
}

// keysPage lists the project's API keys (never a secret: only hashes are stored).
func (u *UI) keysPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	return u.showKeys(w, r, c, http.StatusOK, nil, "")
}

func (u *UI) showKeys(w http.ResponseWriter, r *http.Request, c *server.Caller, status int, created *store.APIKey, secret string) error {
	ks, err := u.store.ListAPIKeys(r.Context(), c.Project.ID)
	if err != nil {
		return err
	}
	now := u.now()
	type keyRow struct {
		store.APIKey
		State string
	}
	rows := make([]keyRow, 0, len(ks))
	for _, k := range ks {
		state := "active"
		switch {
		case k.RevokedAt != nil:
			state = "revoked"
		case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
			state = "expired"
		}
		rows = append(rows, keyRow{k, state})
	}
	u.render(w, r, status, "keys", &view{Caller: c, Title: "API keys", Nav: "keys", Data: map[string]any{
		"Keys": rows, "Roles": roles, "Created": created, "Secret": secret,
	}})
	return nil
}

// keyCreate makes a key and shows its secret, this once.
func (u *UI) keyCreate(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	var expires *time.Time
	if v := strings.TrimSpace(r.PostFormValue("expires_days")); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 1 || days > 3650 {
			return badRequest("expires in %q days: use a whole number of days from 1 to 3650, or leave it empty for a key that does not expire", v)
		}
		t := u.now().Add(time.Duration(days) * 24 * time.Hour)
		expires = &t
	}
	k, secret, err := u.srv.CreateKey(r, c, strings.TrimSpace(r.PostFormValue("name")), store.Role(r.PostFormValue("role")), expires)
	if err != nil {
		return err
	}
	// The secret is in this response only: no redirect, and the page is not cached
	// (the server sends Cache-Control: no-store).
	return u.showKeys(w, r, c, http.StatusCreated, &k, secret)
}

func (u *UI) keyRevoke(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	if err := u.srv.RevokeKey(r, c, r.PathValue("key")); err != nil {
		return err
	}
	http.Redirect(w, r, projectURL(c.Project, "/keys"), http.StatusSeeOther)
	return nil
}

// auditPage shows the project's audit log, newest first, a page at a time.
func (u *UI) auditPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	page, next, err := u.store.ListAudit(r.Context(), c.Project.ID, r.URL.Query().Get("cursor"), 50)
	if err != nil {
		return err
	}
	// Name the actors: users by email, keys by prefix (a removed one by its id).
	names := map[string]string{}
	for _, e := range page {
		k := e.ActorType + ":" + e.ActorID
		if _, ok := names[k]; ok {
			continue
		}
		names[k] = e.ActorID
		switch e.ActorType {
		case store.ActorUser:
			if usr, err := u.store.GetUser(r.Context(), e.ActorID); err == nil {
				names[k] = usr.Email
			}
		case store.ActorSystem:
			names[k] = "system"
		}
	}
	nextURL := ""
	if next != "" {
		nextURL = "?cursor=" + url.QueryEscape(next)
	}
	u.render(w, r, http.StatusOK, "audit", &view{Caller: c, Title: "Audit log", Nav: "audit", Data: map[string]any{
		"Entries": page, "Names": names, "Next": nextURL,
	}})
	return nil
}
