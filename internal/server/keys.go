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
	k, secret, err := s.newKey(r, c, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": k, "secret": secret})
	return nil
}

// newKey checks and stores a key of the caller's project, and returns it with its secret:
// the one key creation of the API and the web UI.
func (s *Server) newKey(r *http.Request, c *call, body keyBody) (store.APIKey, string, error) {
	if strings.TrimSpace(body.Name) == "" {
		return store.APIKey{}, "", fieldErr("name", "name is required: say what the key is for, e.g. \"CI uploads\"")
	}
	if err := checkRole(body.Role); err != nil {
		return store.APIKey{}, "", err
	}
	if body.ExpiresAt != nil && !body.ExpiresAt.After(s.now()) {
		return store.APIKey{}, "", fieldErr("expires_at", "expires_at %s is not in the future", body.ExpiresAt.Format(time.RFC3339))
	}
	secret, shown := auth.NewAPIKey()
	k := store.APIKey{ProjectID: c.project.ID, Name: body.Name, Role: body.Role, Prefix: shown,
		KeyHash: store.HashToken(secret), ExpiresAt: body.ExpiresAt}
	if c.user != nil {
		k.CreatedBy = c.user.ID
	}
	k, err := s.changes(c).CreateAPIKey(r.Context(), k)
	if errors.Is(err, store.ErrInvalid) {
		return store.APIKey{}, "", fieldErr("name", "%v", err)
	}
	if err != nil {
		return store.APIKey{}, "", err
	}
	return k, secret, nil
}

// revokeKey revokes a key of the project; a key of another project is 404.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.dropKey(r, c, r.PathValue("key_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// dropKey revokes a key of the caller's project: the one revocation of the API and the UI.
func (s *Server) dropKey(r *http.Request, c *call, id string) error {
	_, err := s.changes(c).RevokeAPIKey(r.Context(), c.project.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no API key %q in project %s", id, c.project.Slug)
	}
	return err
}
