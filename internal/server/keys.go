package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

// keyBody is POST /keys' body.
type keyBody struct {
	Name      string     `json:"name"`
	Role      store.Role `json:"role"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// listKeys lists the project's keys, without secrets (the store has only hashes).
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	ks, err := s.store.ListAPIKeys(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	if ks == nil {
		ks = []store.APIKey{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": ks})
	return nil
}

// createKey makes a key and returns its secret, the only time it is shown.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var body keyBody
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Name) == "" {
		return fieldErr("name", "name is required: say what the key is for, e.g. \"CI uploads\"")
	}
	if err := checkRole(body.Role); err != nil {
		return err
	}
	if body.ExpiresAt != nil && !body.ExpiresAt.After(s.now()) {
		return fieldErr("expires_at", "expires_at %s is not in the future", body.ExpiresAt.Format(time.RFC3339))
	}
	secret, shown := auth.NewAPIKey()
	k := store.APIKey{ProjectID: c.project.ID, Name: body.Name, Role: body.Role, Prefix: shown,
		KeyHash: store.HashToken(secret), ExpiresAt: body.ExpiresAt}
	if c.user != nil {
		k.CreatedBy = c.user.ID
	}
	k, err := s.changes(c).CreateAPIKey(r.Context(), k)
	if errors.Is(err, store.ErrInvalid) {
		return fieldErr("name", "%v", err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": k, "secret": secret})
	return nil
}

// revokeKey revokes a key of the project; a key of another project is 404.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("key_id")
	_, err := s.changes(c).RevokeAPIKey(r.Context(), c.project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no API key %q in project %s", id, c.project.Slug)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
