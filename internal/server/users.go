package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

// userBody is POST /users' body.
type userBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	IsAdmin  bool   `json:"is_admin"`
}

// userUpdate is PATCH /users/{user_id}'s body: absent fields stay as they are.
type userUpdate struct {
	Disabled *bool `json:"disabled"`
	IsAdmin  *bool `json:"is_admin"`
}

// passwordBody is PUT /me/password's body.
type passwordBody struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// listUsers lists every account, oldest first (never a password hash: store.User does
// not serialise it).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ *call) error {
	us, err := s.store.ListUsers(r.Context())
	if err != nil {
		return err
	}
	if us == nil {
		us = []store.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
	return nil
}

// createUser creates an account with the password rules of `plumb user create`.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c *call) error {
	var body userBody
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Email) == "" {
		return fieldErr("email", "email is required")
	}
	if err := auth.CheckPassword(body.Password); err != nil {
		return fieldErr("password", "%v", err)
	}
	hash, err := auth.HashPassword(body.Password, s.password)
	if err != nil {
		return err
	}
	u, err := s.changes(c).CreateUser(r.Context(), store.User{Email: body.Email, PasswordHash: hash, IsAdmin: body.IsAdmin})
	switch {
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, codeConflict, "a user with the email %q exists (emails ignore letter case)", body.Email)
	case errors.Is(err, store.ErrInvalid):
		return fieldErr("email", "%v", err) // the email is the one thing the store checks here
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": u})
	return nil
}

// updateUser disables, enables, promotes or demotes an account. Disabling ends the user's
// sessions (in the store's transaction); the last enabled instance admin is kept.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, c *call) error {
	var body userUpdate
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	id := r.PathValue("user_id")
	before, err := s.store.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no user %q", id)
	}
	if err != nil {
		return err
	}
	u, err := s.changes(c).UpdateUser(r.Context(), id, store.UserUpdate{Disabled: body.Disabled, IsAdmin: body.IsAdmin})
	switch {
	case errors.Is(err, store.ErrLastAdmin):
		return errorf(http.StatusConflict, codeConflict,
			"%s is the last enabled instance admin: make another user an instance admin first (\"is_admin\": true), then disable or demote them", before.Email)
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "no user %q", id)
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
	return nil
}

// changePassword sets the caller's password after checking the current one, within the
// login rate limits (it is a password check like a login), and ends the caller's other
// sessions: whoever else was logged in as them is out.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.user == nil || c.session == nil {
		return errorf(http.StatusForbidden, codeForbidden, "an API key has no password: log in as the user to change theirs")
	}
	var body passwordBody
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	if body.CurrentPassword == "" {
		return fieldErr("current_password", "current_password is required")
	}
	if err := auth.CheckPassword(body.NewPassword); err != nil {
		return fieldErr("new_password", "%v", err)
	}
	if ok, wait := s.limiter.Allow(strings.ToLower(c.user.Email), clientAddr(r)); !ok {
		e := errorf(http.StatusTooManyRequests, codeRateLimited, "too many password attempts: wait %s and try again", wait)
		e.RetryAfter = wait
		return e
	}
	if err := auth.VerifyPassword(c.user.PasswordHash, body.CurrentPassword); errors.Is(err, auth.ErrMismatch) {
		return fieldErr("current_password", "current_password is not your password")
	} else if err != nil {
		return err
	}
	if body.NewPassword == body.CurrentPassword {
		return fieldErr("new_password", "new_password is the current password: choose another")
	}
	hash, err := auth.HashPassword(body.NewPassword, s.password)
	if err != nil {
		return err
	}
	if _, err := s.changes(c).SetPassword(r.Context(), c.user.ID, hash, c.session.IDHash); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
