package server

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

// loginBody is POST /session's body.
type loginBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// login checks a password and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *call) error {
	var body loginBody
	if err := decodeJSON(w, r, s.maxBody, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Email) == "" {
		return fieldErr("email", "email is required")
	}
	if body.Password == "" {
		return fieldErr("password", "password is required")
	}
	u, csrf, err := s.startSession(w, r, body.Email, body.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u, "csrf_token": csrf})
	return nil
}

// startSession checks an email and password, within the login rate limits, and on success
// sets the session cookie on w and returns the user and the session's CSRF token. It is the
// one login of the API and the web UI.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, email, password string) (store.User, string, error) {
	if ok, wait := s.limiter.Allow(strings.ToLower(email), clientAddr(r)); !ok {
		e := errorf(http.StatusTooManyRequests, codeRateLimited, "too many login attempts: wait %s and try again", wait)
		e.RetryAfter = wait
		return store.User{}, "", e
	}
	wrong := errorf(http.StatusUnauthorized, codeUnauthorized, "wrong email or password")
	u, err := s.store.GetUserByEmail(r.Context(), email)
	if errors.Is(err, store.ErrNotFound) {
		auth.VerifyPassword(s.dummyHash, password)
		if n, err := s.store.CountUsers(r.Context()); err == nil && n == 0 {
			return store.User{}, "", errorf(http.StatusUnauthorized, codeUnauthorized,
				"no user exists yet: create the first admin with `plumb user create --email EMAIL --admin` on the server")
		}
		return store.User{}, "", wrong
	}
	if err != nil {
		return store.User{}, "", err
	}
	if err := auth.VerifyPassword(u.PasswordHash, password); err != nil {
		if errors.Is(err, auth.ErrMismatch) {
			return store.User{}, "", wrong
		}
		return store.User{}, "", err
	}
	if u.Disabled {
		return store.User{}, "", wrong
	}
	if auth.NeedsRehash(u.PasswordHash, s.password) {
		if h, err := auth.HashPassword(password, s.password); err == nil {
			// Audited as the user's own change (user.update; the hash itself is never in the log).
			upd := s.store.WithAudit(store.Actor{Type: store.ActorUser, ID: u.ID})
			if _, err := upd.UpdateUser(r.Context(), u.ID, store.UserUpdate{PasswordHash: &h}); err != nil {
				s.log.Warn("upgrade password hash", "request_id", requestID(r.Context()), "user_id", u.ID, "err", err)
			}
		}
	}
	token := auth.NewToken()
	csrf := csrfToken(token)
	sess, err := s.store.CreateSession(r.Context(), store.Session{IDHash: store.HashToken(token), UserID: u.ID,
		ExpiresAt: s.now().Add(s.sessionTTL), CSRFTokenHash: store.HashToken(csrf)})
	if err != nil {
		return store.User{}, "", err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
		MaxAge: int(s.sessionTTL.Seconds()), HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode})
	return u, csrf, nil
}

// logout ends the cookie's session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.session == nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "an API key has no session to end: revoke the key instead")
	}
	if err := s.endSession(w, r, c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endSession ends the cookie's session and clears the cookie: the one logout of the API
// and the web UI.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteSession(r.Context(), c.session.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode})
	return nil
}

// projectRole is one entry of GET /me's projects.
type projectRole struct {
	Project store.Project `json:"project"`
	Role    store.Role    `json:"role"`
}

// me describes the caller.
func (s *Server) me(w http.ResponseWriter, r *http.Request, c *call) error {
	out := map[string]any{"user": c.user}
	projects := []projectRole{}
	if c.key != nil {
		out["api_key"] = c.key
		p, err := s.store.GetProject(r.Context(), c.key.ProjectID)
		if err != nil {
			return err
		}
		projects = append(projects, projectRole{p, c.key.Role})
	} else {
		if c.session != nil {
			out["csrf_token"] = csrfToken(c.sessionToken)
		}
		ps, err := s.store.ListProjects(r.Context(), c.user.ID)
		if err != nil {
			return err
		}
		for _, p := range ps {
			role := store.RoleAdmin
			if !c.user.IsAdmin {
				m, err := s.store.GetMembership(r.Context(), p.ID, c.user.ID)
				if err != nil {
					return err
				}
				role = m.Role
			}
			projects = append(projects, projectRole{p, role})
		}
	}
	out["projects"] = projects
	writeJSON(w, http.StatusOK, out)
	return nil
}

// clientAddr is the address login attempts are limited by: the peer's IP. Forwarded
// headers are not trusted, since any client can set them.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isHTTPS reports whether the client reached the server over TLS, directly or through a
// proxy that says so, so that the cookie is marked Secure.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
