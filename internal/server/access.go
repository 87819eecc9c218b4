package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

// sessionCookie is the name of the session cookie.
const sessionCookie = "plumb_session"

// csrfHeader carries the CSRF token on state-changing cookie requests.
const csrfHeader = "X-CSRF-Token"

// call is what a handler knows about the caller: who (a user through a session, or an API
// key) and, for project routes, the project and the caller's role in it.
type call struct {
	user         *store.User    // nil for an API key
	key          *store.APIKey  // nil for a user
	session      *store.Session // the cookie's session, nil for a key
	sessionToken string         // the cookie's value, to derive the CSRF token
	project      store.Project
	role         store.Role
}

// actor names the caller for the audit log.
func (c *call) actor() (typ, id string) {
	if c.key != nil {
		return store.ActorAPIKey, c.key.ID
	}
	if c.user != nil {
		return store.ActorUser, c.user.ID
	}
	return store.ActorSystem, ""
}

// endpoint wraps a route's handler in its access rule: authentication, CSRF for cookie
// sessions, then the instance-admin or project check.
func (s *Server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{}
		if err := CheckInput(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.authorize(r, rt, c); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := rt.Handle(w, r, c); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authorize applies rt's access rule to the request and fills c.
func (s *Server) authorize(r *http.Request, rt route, c *call) error {
	if rt.Access == public {
		return nil
	}
	if err := s.authenticate(r, c); err != nil {
		return err
	}
	if c.session != nil && !safeMethod(r.Method) && !s.csrfValid(r, c) {
		return errorf(http.StatusForbidden, codeCSRF,
			"missing or wrong %s header: send the csrf_token that POST /api/v1/session or GET /api/v1/me returned", csrfHeader)
	}
	switch rt.Access {
	case instanceAdmin:
		if c.user == nil || !c.user.IsAdmin {
			return errorf(http.StatusForbidden, codeForbidden, "only an instance admin may do this")
		}
	case project:
		return s.projectAccess(r, r.PathValue("project"), rt.Role, c)
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate finds the caller: an API key in Authorization, else the session cookie. A
// request that presents a credential which does not work is refused rather than treated
// as the other kind, so that a revoked key is never quietly replaced by a browser session.
func (s *Server) authenticate(r *http.Request, c *call) error {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		secret = strings.TrimSpace(secret)
		if !strings.EqualFold(scheme, "Bearer") || !auth.LooksLikeAPIKey(secret) {
			return errorf(http.StatusUnauthorized, codeUnauthorized, "the Authorization header must be `Bearer plk_...` with an API key")
		}
		k, err := s.store.GetAPIKeyByHash(r.Context(), store.HashToken(secret))
		if errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusUnauthorized, codeUnauthorized, "the API key is unknown, revoked or expired: create a new one")
		}
		if err != nil {
			return err
		}
		// Record the use at most once a minute, like a session's: an application polling
		// with its key would otherwise write on every request.
		if k.LastUsedAt == nil || s.now().Sub(*k.LastUsedAt) > time.Minute {
			if err := s.store.TouchAPIKey(r.Context(), k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("record API key use", "request_id", requestID(r.Context()), "key_id", k.ID, "err", err)
			}
		}
		c.key = &k
		return nil
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return errorf(http.StatusUnauthorized, codeUnauthorized, "log in (POST /api/v1/session) or send an API key as `Authorization: Bearer plk_...`")
	}
	sess, err := s.store.GetSessionByHash(r.Context(), store.HashToken(ck.Value))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusUnauthorized, codeUnauthorized, "the session has expired or ended: log in again")
	}
	if err != nil {
		return err
	}
	u, err := s.store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Disabled {
		return errorf(http.StatusUnauthorized, codeUnauthorized, "the session has expired or ended: log in again")
	}
	if err != nil {
		return err
	}
	// Touch at most once a minute: a busy page would otherwise write on every request.
	if s.now().Sub(sess.LastSeenAt) > time.Minute {
		if err := s.store.TouchSession(r.Context(), sess.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("record session use", "request_id", requestID(r.Context()), "err", err)
		}
	}
	c.user, c.session, c.sessionToken = &u, &sess, ck.Value
	return nil
}

// csrfToken derives a session's CSRF token from its cookie token: only someone who can
// read the cookie, which is HttpOnly, can compute it, and the server need not keep it.
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("plumb csrf\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// csrfValid checks the request's CSRF header against the session.
func (s *Server) csrfValid(r *http.Request, c *call) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" || c.session.CSRFTokenHash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(store.HashToken(got)), []byte(c.session.CSRFTokenHash)) == 1
}

// projectAccess resolves the project ref (an id or slug: the {project} of the path) and the
// caller's role in it. A project the caller does
// not belong to is 404, exactly like one that does not exist, so that ids and slugs of
// other projects cannot be probed; too small a role within one's own project is 403.
func (s *Server) projectAccess(r *http.Request, ref string, min store.Role, c *call) error {
	notFound := errorf(http.StatusNotFound, codeNotFound, "no project %q", ref)
	p, err := s.project(r.Context(), ref)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	switch {
	case c.key != nil:
		if c.key.ProjectID != p.ID {
			return notFound
		}
		c.role = c.key.Role
	case c.user.IsAdmin:
		c.role = store.RoleAdmin
	default:
		m, err := s.store.GetMembership(r.Context(), p.ID, c.user.ID)
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		c.role = m.Role
	}
	if !c.role.AtLeast(min) {
		return errorf(http.StatusForbidden, codeForbidden, "this needs the %s role in project %s; the caller has %s", min, p.Slug, c.role)
	}
	c.project = p
	return nil
}

// changes is the store as the caller changes it: every change made through it is
// written in one transaction with its audit entry, naming the caller, so that no change
// can be stored without its record.
func (s *Server) changes(c *call) store.Store {
	typ, id := c.actor()
	return s.store.WithAudit(store.Actor{Type: typ, ID: id})
}
