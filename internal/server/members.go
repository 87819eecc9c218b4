package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/plumbhq/plumb/internal/store"
)

// memberBody is POST /members' body.
type memberBody struct {
	Email string     `json:"email"`
	Role  store.Role `json:"role"`
}

// memberUpdate is PATCH /members/{user_id}'s body.
type memberUpdate struct {
	Role store.Role `json:"role"`
}

// checkRole validates a role in a body.
func checkRole(r store.Role) error {
	if !r.Valid() {
		return fieldErr("role", "role %q: use viewer, editor or admin", r)
	}
	return nil
}

// listMembers lists a project's members.
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	ms, err := s.store.ListMembers(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []store.Member{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": ms})
	return nil
}

// addMember gives an existing user a role in the project.
func (s *Server) addMember(w http.ResponseWriter, r *http.Request, c *call) error {
	var body memberBody
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	m, err := s.newMember(r, c, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"member": m})
	return nil
}

// newMember gives the user with body's email body's role in the caller's project: the one
// way in of the API and the web UI.
func (s *Server) newMember(r *http.Request, c *call, body memberBody) (store.Member, error) {
	if strings.TrimSpace(body.Email) == "" {
		return store.Member{}, fieldErr("email", "email is required")
	}
	if err := checkRole(body.Role); err != nil {
		return store.Member{}, err
	}
	u, err := s.store.GetUserByEmail(r.Context(), body.Email)
	if errors.Is(err, store.ErrNotFound) {
		return store.Member{}, errorf(http.StatusNotFound, codeNotFound, "no user has the email %q: create the account first (`plumb user create`)", body.Email)
	}
	if err != nil {
		return store.Member{}, err
	}
	m, err := s.changes(c).AddMember(r.Context(), store.Member{ProjectID: c.project.ID, UserID: u.ID, Role: body.Role})
	if errors.Is(err, store.ErrConflict) {
		return store.Member{}, errorf(http.StatusConflict, codeConflict, "%s is already a member of %s: change their role instead", body.Email, c.project.Slug)
	}
	return m, err
}

// membership loads a user's membership of the caller's project: 404 for a user who is not
// a member of it, whatever other projects they belong to.
func (s *Server) membership(r *http.Request, c *call, id string) (store.Member, error) {
	m, err := s.store.GetMembership(r.Context(), c.project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return m, errorf(http.StatusNotFound, codeNotFound, "no member %q in project %s", id, c.project.Slug)
	}
	return m, err
}

// updateMember changes a member's role.
func (s *Server) updateMember(w http.ResponseWriter, r *http.Request, c *call) error {
	var body memberUpdate
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	after, err := s.changeMember(r, c, r.PathValue("user_id"), body.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"member": after})
	return nil
}

// changeMember gives a member of the caller's project another role.
func (s *Server) changeMember(r *http.Request, c *call, userID string, role store.Role) (store.Member, error) {
	if err := checkRole(role); err != nil {
		return store.Member{}, err
	}
	before, err := s.membership(r, c, userID)
	if err != nil {
		return store.Member{}, err
	}
	after, err := s.changes(c).UpdateMember(r.Context(), c.project.ID, before.UserID, role)
	if errors.Is(err, store.ErrLastAdmin) {
		return store.Member{}, lastAdmin(before, c)
	}
	return after, err
}

// removeMember ends a membership.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.dropMember(r, c, r.PathValue("user_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// dropMember ends a membership of the caller's project.
func (s *Server) dropMember(r *http.Request, c *call, userID string) error {
	before, err := s.membership(r, c, userID)
	if err != nil {
		return err
	}
	if err := s.changes(c).RemoveMember(r.Context(), c.project.ID, before.UserID); errors.Is(err, store.ErrLastAdmin) {
		return lastAdmin(before, c)
	} else if err != nil {
		return err
	}
	return nil
}

// lastAdmin is the answer to removing or demoting a project's only admin member, which
// would leave nobody but an instance admin able to manage the project.
func lastAdmin(m store.Member, c *call) error {
	return errorf(http.StatusConflict, codeConflict,
		"%s is the last admin of project %s: make another member admin first, then remove or demote them", m.Email, c.project.Slug)
}
