package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
		s.recordFailedLogin(r, email, "", "unknown email")
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
			s.recordFailedLogin(r, email, u.ID, "wrong password")
			return store.User{}, "", wrong
		}
		return store.User{}, "", err
	}
	if u.Disabled {
		s.recordFailedLogin(r, email, u.ID, "disabled")
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
	// The session is stored first and taken back if its record cannot be written, so that
	// no login is without its entry; the cookie is set only once both are.
	expires := sess.ExpiresAt
	if _, err := s.store.AppendAudit(r.Context(), store.AuditEntry{ActorType: store.ActorUser, ActorID: u.ID,
		Action: "session.login", TargetType: "user", TargetID: u.ID,
		After: sessionJSON(sessionRecord{Email: u.Email, Addr: clientAddr(r), ExpiresAt: &expires})}); err != nil {
		if err := s.store.DeleteSession(r.Context(), sess.IDHash); err != nil {
			s.log.Warn("take back an unrecorded session", "request_id", requestID(r.Context()), "user_id", u.ID, "err", err)
		}
		return store.User{}, "", fmt.Errorf("record the login of user %s: %w", u.ID, err)
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
// and the web UI. The logout is recorded before the session ends, so that a session never
// ends unrecorded (if ending it then fails, the client is told and may try again).
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := s.store.AppendAudit(r.Context(), store.AuditEntry{ActorType: store.ActorUser, ActorID: c.user.ID,
		Action: "session.logout", TargetType: "user", TargetID: c.user.ID,
		Before: sessionJSON(sessionRecord{Email: c.user.Email, Addr: clientAddr(r), ExpiresAt: &c.session.ExpiresAt})}); err != nil {
		return fmt.Errorf("record the logout of user %s: %w", c.user.ID, err)
	}
	if err := s.store.DeleteSession(r.Context(), c.session.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode})
	return nil
}

// sessionRecord is the before or after of a session's audit entry: who and from where,
// never the session's token, its CSRF token or a hash of either.
type sessionRecord struct {
	Email     string     `json:"email"`
	Addr      string     `json:"addr"` // the client's address, as the login limiter sees it
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Reason    string     `json:"reason,omitempty"` // why a login failed
}

// sessionJSON encodes a sessionRecord, which cannot fail.
func sessionJSON(rec sessionRecord) json.RawMessage {
	b, _ := json.Marshal(rec)
	return b
}

// maxRecordedEmail bounds the email a failed login records: the longest address there
// is, so that an attacker's megabyte of "email" is not copied into the log.
const maxRecordedEmail = 254

// recordFailedLogin appends session.login_failed for an attempt the limiter let through
// (so that the log grows no faster than attempts are allowed): the email as typed,
// trimmed to printable text of at most maxRecordedEmail bytes, the client's address, why,
// and the account's id when the email names one. Never the password. A failure to record
// it is logged, and the login fails as it would anyway.
func (s *Server) recordFailedLogin(r *http.Request, email, userID, reason string) {
	email = strings.ToValidUTF8(email, "\uFFFD")
	email = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, email)
	if len(email) > maxRecordedEmail {
		cut := maxRecordedEmail
		for cut > 0 && !utf8.RuneStart(email[cut]) {
			cut--
		}
		email = email[:cut] + "…"
	}
	// Nobody is authenticated: the system is the actor, and the account (if any) the target.
	if _, err := s.store.AppendAudit(r.Context(), store.AuditEntry{ActorType: store.ActorSystem,
		Action: "session.login_failed", TargetType: "user", TargetID: userID,
		After: sessionJSON(sessionRecord{Email: email, Addr: clientAddr(r), Reason: reason})}); err != nil {
		s.log.Error("record a failed login", "request_id", requestID(r.Context()), "err", err)
	}
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
