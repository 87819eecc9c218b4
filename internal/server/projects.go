package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/plumbhq/plumb/internal/store"
)

// projectBody is POST /projects' body.
type projectBody struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// listProjects lists the projects the caller may see.
func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c *call) error {
	var ps []store.Project
	if c.key != nil {
		p, err := s.store.GetProject(r.Context(), c.key.ProjectID)
		if err != nil {
			return err
		}
		ps = []store.Project{p}
	} else {
		var err error
		if ps, err = s.store.ListProjects(r.Context(), c.user.ID); err != nil {
			return err
		}
	}
	if ps == nil {
		ps = []store.Project{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": ps})
	return nil
}

// createProject creates a project.
func (s *Server) createProject(w http.ResponseWriter, r *http.Request, c *call) error {
	var body projectBody
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	p, err := s.newProject(r, c, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"project": p})
	return nil
}

// newProject checks and creates a project: the one creation of the API and the web UI.
// The caller's access rule (instance admin) is checked before.
func (s *Server) newProject(r *http.Request, c *call, body projectBody) (store.Project, error) {
	if body.Slug == "" {
		return store.Project{}, fieldErr("slug", "slug is required: lower-case letters, digits and dashes, e.g. support-bot")
	}
	if strings.TrimSpace(body.Name) == "" {
		return store.Project{}, fieldErr("name", "name is required")
	}
	p, err := s.changes(c).CreateProject(r.Context(), store.Project{Slug: body.Slug, Name: body.Name})
	if errors.Is(err, store.ErrInvalid) {
		field := "name"
		if strings.Contains(err.Error(), "slug") {
			field = "slug"
		}
		return store.Project{}, fieldErr(field, "%v", err)
	}
	if errors.Is(err, store.ErrConflict) {
		return store.Project{}, errorf(http.StatusConflict, codeConflict, "a project with slug %q exists: choose another slug", body.Slug)
	}
	return p, err
}
