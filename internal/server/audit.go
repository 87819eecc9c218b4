package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/plumbhq/plumb/internal/store"
)

// listAudit returns a page of the project's audit log.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, err := queryLimit(r.URL.Query())
	if err != nil {
		return err
	}
	page, next, err := s.store.ListAudit(r.Context(), c.project.ID, r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	if page == nil {
		page = []store.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": page, "next_cursor": next})
	return nil
}

// exportAudit writes the audit log as JSON lines, oldest first. The store pages newest
// first, so the pages are collected and written in reverse: an audit log is small next to
// the results it describes.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	projectID := ""
	if ref := r.URL.Query().Get("project"); ref != "" {
		p, err := s.store.GetProject(r.Context(), ref)
		if errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, codeNotFound, "no project %q", ref)
		}
		if err != nil {
			return err
		}
		projectID = p.ID
	}
	var all []store.AuditEntry
	cursor := ""
	for {
		page, next, err := s.store.ListAudit(r.Context(), projectID, cursor, store.MaxPageSize)
		if err != nil {
			return err
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="plumb-audit.jsonl"`)
	enc := json.NewEncoder(w)
	for i := len(all) - 1; i >= 0; i-- {
		if err := enc.Encode(all[i]); err != nil {
			return nil // the client went away; the status is already sent
		}
	}
	return nil
}
