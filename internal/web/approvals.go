package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// approvalPages are the approval queue's pages (docs/approvals.md).
func (u *UI) approvalPages(p string) []page {
	return []page{
		{Method: "GET", Path: p + "/approvals", Access: project, Role: store.RoleViewer, Handle: u.approvalsPage},
		{Method: "GET", Path: p + "/approvals/{approval}", Access: project, Role: store.RoleViewer, Handle: u.approvalPage},
		{Method: "POST", Path: p + "/approvals/{approval}/decide", Access: project, Role: store.RoleEditor, Handle: u.approvalDecide},
	}
}

func (u *UI) approvalsPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status == "" {
		status = store.ApprovalPending
	}
	f := store.ApprovalFilter{Status: status, Tool: q.Get("tool"), Limit: store.MaxPageSize}
	as, err := u.store.ListApprovals(r.Context(), c.Project.ID, f)
	if errors.Is(err, store.ErrInvalid) {
		return badRequest("status %q: use pending, approved, rejected, expired or all", status)
	}
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "approvals", &view{Caller: c, Title: "Approvals", Nav: "approvals", Data: map[string]any{
		"Approvals": as, "Status": status, "Tool": f.Tool, "Statuses": []string{"pending", "approved", "rejected", "expired", "all"},
	}})
	return nil
}

func pageApprovalID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("approval"), 10, 64)
	if err != nil || id < 1 {
		return 0, notFound("no approval %q", r.PathValue("approval"))
	}
	return id, nil
}

func (u *UI) approvalPage(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	id, err := pageApprovalID(r)
	if err != nil {
		return err
	}
	a, err := u.store.GetApproval(r.Context(), c.Project.ID, id)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "approval", &view{Caller: c, Title: fmt.Sprintf("Approval #%d", id), Nav: "approvals", Data: map[string]any{
		"A": a, "Args": indentJSON(a.Args), "Approved": indentJSON(a.ApprovedArgs), "You": c.ApprovalRights(a),
		"Remaining": a.ExpiresAt.Sub(u.now()).Round(1e9).String(),
	}})
	return nil
}

// indentJSON lays out JSON for reading without changing a character of its values: a
// number stays the digits that were hashed (no float64 round trip to 1e+21), and <, > and &
// are not turned into \u003c escapes.
func indentJSON(s string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(s), "", "  ") != nil {
		return s
	}
	return b.String()
}

func (u *UI) approvalDecide(w http.ResponseWriter, r *http.Request, c *server.Caller) error {
	id, err := pageApprovalID(r)
	if err != nil {
		return err
	}
	b := server.ApprovalDecisionBody{Decision: r.PostFormValue("decision"), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	if b.Decision == store.DecisionEdit {
		b.Arguments = json.RawMessage(strconv.Quote(r.PostFormValue("arguments")))
	}
	if _, err := u.srv.DecideApprovalAs(r.Context(), c, id, b); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/p/%s/approvals/%d", c.Project.Slug, id), http.StatusSeeOther)
	return nil
}
