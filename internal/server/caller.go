package server

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plumbhq/plumb/internal/gateway/shadowreport"
	"github.com/plumbhq/plumb/internal/queue"
	"github.com/plumbhq/plumb/internal/store"
)

// This file is the server's surface for the web UI (package web), which serves pages on
// the same port with the same authentication, access rules, audit and errors as the API:
// the UI asks the server, and never decides access on its own.

// Caller is who makes a request: a user with a session cookie, or an API key. After
// InProject it also names the project and the caller's role in it.
type Caller struct {
	User    *store.User   // nil for an API key
	Key     *store.APIKey // nil for a user
	Project store.Project // set by InProject
	Role    store.Role    // set by InProject
	c       *call
}

// CSRFToken is the token a cookie session's state-changing requests must carry (in the
// X-CSRF-Token header, or a form's csrf_token field); "" for an API key.
func (c *Caller) CSRFToken() string {
	if c.c.session == nil {
		return ""
	}
	return csrfToken(c.c.sessionToken)
}

// Authenticate finds the caller of r, as the API does: an API key in Authorization, else
// the session cookie. The error is 401 when there is neither or it does not work.
func (s *Server) Authenticate(r *http.Request) (*Caller, error) {
	c := &call{}
	if err := s.authenticate(r, c); err != nil {
		return nil, err
	}
	return &Caller{User: c.user, Key: c.key, c: c}, nil
}

// CheckCSRF reports whether token (a form field, or the X-CSRF-Token header when token is
// "") is the caller's CSRF token. An API key needs none: browsers do not send it on their
// own.
func (s *Server) CheckCSRF(r *http.Request, c *Caller, token string) bool {
	if c.c.session == nil {
		return true
	}
	if token == "" {
		return s.csrfValid(r, c.c)
	}
	want := csrfToken(c.c.sessionToken)
	return subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}

// InProject resolves the project ref (id or slug) and checks that the caller has at least
// the role min in it, with the API's rules: a project the caller does not belong to is
// 404, like a missing one; too small a role is 403. On success c.Project and c.Role are set.
func (s *Server) InProject(r *http.Request, c *Caller, ref string, min store.Role) error {
	if err := s.projectAccess(r, ref, min, c.c); err != nil {
		return err
	}
	c.Project, c.Role = c.c.project, c.c.role
	return nil
}

// RunInProject is nil when the run belongs to c.Project, else a 404 error that does not
// say whether the run exists elsewhere.
func (s *Server) RunInProject(r *http.Request, c *Caller, runID string) error {
	return s.projectRun(r, c.c, runID)
}

// Login checks an email and password, within the login rate limits, and sets the session
// cookie on w.
func (s *Server) Login(w http.ResponseWriter, r *http.Request, email, password string) (store.User, error) {
	u, _, err := s.startSession(w, r, email, password)
	return u, err
}

// Logout ends c's session and clears the cookie.
func (s *Server) Logout(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if c.c.session == nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "an API key has no session to end")
	}
	return s.endSession(w, r, c.c)
}

// Observe wraps h in the API's request handling: a request id (X-Request-Id), the security
// headers, an access log line and recovery from a panic. h may replace the
// Content-Security-Policy before it writes.
func (s *Server) Observe(h http.Handler) http.Handler { return s.observe(h) }

// ClientError is an error as a user may see it: the HTTP status and a message written for
// users. An error that is not the client's (a bug, an outage) is logged with the request id
// and becomes a generic 500 message that names the id.
func (s *Server) ClientError(r *http.Request, err error) (status int, code, message string) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrNotFound):
		ae = errorf(http.StatusNotFound, codeNotFound, "%v", err)
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrLastAdmin):
		ae = errorf(http.StatusConflict, codeConflict, "%v", err)
	case errors.Is(err, store.ErrInvalid):
		ae = errorf(http.StatusBadRequest, codeBadRequest, "%s", withoutSentinel(err.Error(), store.ErrInvalid))
	case errors.Is(err, store.ErrNotAllowed):
		ae = errorf(http.StatusForbidden, codeForbidden, "%v", err)
	default:
		ae = errorf(http.StatusInternalServerError, codeInternal, "")
	}
	if ae.Status >= 500 {
		id := requestID(r.Context())
		s.log.Error("request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(ae.Status, codeInternal, "internal error (request id %s): the server logged the cause", id)
	}
	return ae.Status, ae.Code, ae.Message
}

// withoutSentinel drops the text of sentinel (wrapped as "sentinel: message", possibly after
// some context) from msg: "invalid: label ..." reads "label ...", "prompt x: invalid: line
// 1 ..." reads "prompt x: line 1 ...". The status and code already say the kind.
func withoutSentinel(msg string, sentinel error) string {
	p := sentinel.Error() + ": "
	if rest, ok := strings.CutPrefix(msg, p); ok {
		return rest
	}
	return strings.Replace(msg, ": "+p, ": ", 1)
}

// BadRequest is a 400 error with a message for the user, for the UI's own form checks.
func BadRequest(format string, a ...any) error {
	return errorf(http.StatusBadRequest, codeBadRequest, format, a...)
}

// Forbidden is a 403 error with a message for the user.
func Forbidden(format string, a ...any) error {
	return errorf(http.StatusForbidden, codeForbidden, format, a...)
}

// CreateKey makes an API key of c.Project (the caller needs the admin role, checked by
// InProject) and returns it with its secret, which is shown once and never stored.
func (s *Server) CreateKey(r *http.Request, c *Caller, name string, role store.Role, expires *time.Time) (store.APIKey, string, error) {
	return s.newKey(r, c.c, keyBody{Name: name, Role: role, ExpiresAt: expires})
}

// RevokeKey revokes a key of c.Project; a key of another project is 404.
func (s *Server) RevokeKey(r *http.Request, c *Caller, id string) error {
	return s.dropKey(r, c.c, id)
}

// AddMember gives the user with this email a role in c.Project.
func (s *Server) AddMember(r *http.Request, c *Caller, email string, role store.Role) (store.Member, error) {
	return s.newMember(r, c.c, memberBody{Email: email, Role: role})
}

// UpdateMember gives a member of c.Project another role; the last admin cannot be demoted.
func (s *Server) UpdateMember(r *http.Request, c *Caller, userID string, role store.Role) (store.Member, error) {
	return s.changeMember(r, c.c, userID, role)
}

// RemoveMember ends a membership of c.Project; the last admin cannot be removed.
func (s *Server) RemoveMember(r *http.Request, c *Caller, userID string) error {
	return s.dropMember(r, c.c, userID)
}

// RunCursor is the run list's opaque cursor after the run at k (store.RunInfo.Key).
func RunCursor(k store.RunKey) string { return encodeRunCursor(k) }

// ParseRunCursor reads a cursor RunCursor made; "" is the first page (nil). A cursor it
// did not make is a 400 error.
func ParseRunCursor(cursor string) (*store.RunKey, error) { return decodeRunCursor(cursor) }

// CreateProject creates a project; only an instance admin may (403 otherwise).
func (s *Server) CreateProject(r *http.Request, c *Caller, slug, name string) (store.Project, error) {
	if c.User == nil || !c.User.IsAdmin {
		return store.Project{}, errorf(http.StatusForbidden, codeForbidden, "only an instance admin may create projects")
	}
	return s.newProject(r, c.c, projectBody{Slug: slug, Name: name})
}

// CheckInput refuses a request whose path or query has a value no store can hold as a key:
// invalid UTF-8 or a NUL byte (PostgreSQL rejects both in text). They are a client's
// mistake, to be answered 400 here rather than as a database error.
func CheckInput(r *http.Request) error {
	bad := func(v string) bool { return !utf8.ValidString(v) || strings.ContainsRune(v, 0) }
	if bad(r.URL.Path) {
		return errorf(http.StatusBadRequest, codeBadRequest, "the path is not valid UTF-8 text or has a NUL byte: check the link")
	}
	for k, vs := range r.URL.Query() {
		if bad(k) {
			return errorf(http.StatusBadRequest, codeBadRequest, "a query parameter's name is not valid UTF-8 text or has a NUL byte")
		}
		for _, v := range vs {
			if bad(v) {
				return errorf(http.StatusBadRequest, codeBadRequest, "query parameter %s is not valid UTF-8 text or has a NUL byte", k)
			}
		}
	}
	return nil
}

// Annotation queues (queues.go), for the UI: the same checks and audit as the API.

// Queue is a queue of c.Project by id or name; another project's is 404.
func (s *Server) Queue(r *http.Request, c *Caller, ref string) (store.Queue, error) {
	return s.queueOf(r, c.c, ref)
}

// CreateQueue makes a queue in c.Project (editor role, checked by InProject).
func (s *Server) CreateQueue(r *http.Request, c *Caller, sp QueueSpec) (store.Queue, error) {
	return s.newQueue(r, c.c, sp)
}

// AddGuidelines stores the next version of q's guidelines.
func (s *Server) AddGuidelines(r *http.Request, c *Caller, q store.Queue, body string) (store.Guidelines, error) {
	return s.newGuidelines(r, c.c, q, body)
}

// AddAnnotator makes the project member with email an annotator of q.
func (s *Server) AddAnnotator(r *http.Request, c *Caller, q store.Queue, email string) (store.QueueMember, error) {
	return s.newAnnotator(r, c.c, q, email)
}

// NextItem leases the caller, who must be an annotator of q (403 otherwise), its next item.
func (s *Server) NextItem(r *http.Request, c *Caller, q store.Queue) (store.QueueItem, bool, error) {
	return s.nextItem(r, c.c, q)
}

// Annotate stores the caller's labels of an item of q, or a skip.
func (s *Server) Annotate(r *http.Request, c *Caller, q store.Queue, itemID int64, body AnnotationBody, skip bool) (store.Annotation, error) {
	return s.annotate(r, c.c, q, itemID, body, skip)
}

// Adjudicate stores a consensus value of an item of q (editor role).
func (s *Server) Adjudicate(r *http.Request, c *Caller, q store.Queue, itemID int64, body AdjudicationBody) (store.Adjudication, error) {
	return s.adjudicate(r, c.c, q, itemID, body)
}

// WriteBack writes q's consensus of field back to its dataset (editor role).
func (s *Server) WriteBack(r *http.Request, c *Caller, q store.Queue, field, message string) (store.WriteBackResult, error) {
	return queue.WriteBack(r.Context(), s.changes(c.c), q, field, message)
}

// SetQueueStatus opens or closes q (editor role); audited as queue.update.
func (s *Server) SetQueueStatus(r *http.Request, c *Caller, q store.Queue, status string) (store.Queue, error) {
	return s.changes(c.c).UpdateQueue(r.Context(), q.ID, store.QueueUpdate{Status: &status})
}

// RemoveAnnotator removes an annotator of q (editor role); their labels stay. Audited as
// queue.member.remove; a user who is no annotator of q is 404.
func (s *Server) RemoveAnnotator(r *http.Request, c *Caller, q store.Queue, userID string) error {
	err := s.changes(c.c).RemoveQueueMember(r.Context(), q.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no annotator %q in queue %s", userID, q.Name)
	}
	return err
}

// ShadowReport is the shadow comparison report of route in c.Project since (a duration
// back from now, an RFC 3339 time or a date; "" is 24h), as GET /shadow gives it, with the
// assertions of the gateway config the server was given.
func (s *Server) ShadowReport(r *http.Request, c *Caller, route, since string) (*shadowreport.Report, error) {
	return s.buildShadowReport(r, c.c, route, since)
}
