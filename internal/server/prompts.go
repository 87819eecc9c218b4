package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/store"
)

// defaultPromptRef is what an application fetches when it names no version or label.
const defaultPromptRef = "production"

// listPrompts lists the project's prompts with their latest version and labels.
func (s *Server) listPrompts(w http.ResponseWriter, r *http.Request, c *call) error {
	ps, err := s.store.ListPrompts(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []store.PromptInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"prompts": ps})
	return nil
}

// getPrompt is the endpoint applications fetch their prompt from: the version a label
// (default production) or number names, with its content hash as a strong ETag. A request
// whose If-None-Match holds that ETag gets 304 and no body, so a client polling for changes
// costs one small query. Responses may be kept for a few seconds and, when the server
// cannot answer, served stale for a day (RFC 5861), so that a registry outage never breaks
// an application that caches.
func (s *Server) getPrompt(w http.ResponseWriter, r *http.Request, c *call) error {
	name := r.PathValue("name")
	if err := store.CheckPromptName(name); err != nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = defaultPromptRef
	}
	key := fetchKey{c.project.ID, name, ref}
	v, ok := s.prompts.get(key)
	if !ok {
		var err error
		v, err = s.store.GetPromptVersion(r.Context(), c.project.ID, name, ref)
		if errors.Is(err, store.ErrNotFound) {
			if _, num := strconv.Atoi(ref); num == nil {
				return errorf(http.StatusNotFound, codeNotFound, "%v: GET /api/v1/projects/%s/prompt-versions/%s lists the versions there are", err, c.project.Slug, name)
			}
			return errorf(http.StatusNotFound, codeNotFound, "%v: push it with `plumb prompt push` and point the label at a version (`plumb prompt label %s VERSION %s`)", err, name, ref)
		}
		if err != nil {
			return err
		}
		s.prompts.put(key, v)
	}
	etag := `"` + v.ContentHash + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, max-age=5, stale-while-revalidate=60, stale-if-error=86400")
	h.Set("Vary", "Authorization, Cookie")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"prompt": v})
	return nil
}

// etagMatch reports whether an If-None-Match header names etag (weak comparison, RFC 9110
// 13.1.2: W/ prefixes are ignored; * matches any).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
