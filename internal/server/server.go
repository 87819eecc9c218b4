// Package server is the JSON API of `plumb serve` under /api/v1: authentication (session
// cookies with CSRF tokens, API keys), per-project authorisation, the resources (projects,
// members, API keys, runs, results, comparisons, the audit log) and the OpenAPI document.
//
// Every route is one line of one table (routes.go) that names its method, pattern, access
// rule and handler; the mux is built from that table and so is the OpenAPI document, so a
// route cannot exist without an access rule, and the isolation test walks the same table.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/plumbhq/plumb/internal/gateway"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// Config is what a Server needs. Zero values take the defaults noted.
type Config struct {
	Store  store.Store
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now; give the store the same clock
	// Password is the argon2id cost for hashes the server makes (a login upgrading an old
	// hash); zero means auth.DefaultParams.
	Password auth.Params
	// LoginBurst login attempts are allowed at once per account and per address, and one
	// more every LoginEvery; zero means 5 a minute.
	LoginBurst int
	LoginEvery time.Duration
	// SessionTTL is how long a login lasts; zero means 7 days.
	SessionTTL time.Duration
	// MaxBody bounds request bodies, MaxUpload run uploads; zero means 1 MiB and 64 MiB.
	MaxBody, MaxUpload int64
	// CacheTTL is how long the hot path of applications fetching their prompt reuses what
	// it read (the project by id or slug, the prompt version fetched) without asking the
	// store: changes through this server are seen at once, others after at most this long.
	// Zero means no reuse. `plumb serve` uses 1 s.
	CacheTTL time.Duration
	// ShadowChecks gives a route's shadow assertions for GET /shadow (shadow.go); nil
	// reports without assertions.
	ShadowChecks func(route string) []gateway.ShadowCheck
	// ToolPolicy is the policy POST /approvals checks calls against (approvals.go); nil
	// refuses those checks. ApprovalWebhook receives decisions; nil sends none.
	ToolPolicy      *toolpolicy.Policy
	ApprovalWebhook *ApprovalWebhook
}

// Server serves the API. Build it with New; it is safe for concurrent use.
type Server struct {
	store        store.Store
	log          *slog.Logger
	now          func() time.Time
	shadowChecks func(route string) []gateway.ShadowCheck
	password     auth.Params
	limiter      *auth.LoginLimiter
	sessionTTL   time.Duration
	maxBody      int64
	maxUpload    int64
	handler      http.Handler
	prompts      *ttlCache[fetchKey, store.PromptVersion] // nil without Config.CacheTTL
	projects     *ttlCache[string, store.Project]         // by id and by slug
	toolPolicy   *toolpolicy.Policy
	webhook      *ApprovalWebhook
	webhooks     sync.WaitGroup
	// dummyHash is verified against when a login names an unknown email, so that it takes
	// as long as a wrong password and does not reveal which accounts exist.
	dummyHash string
}

// New builds a Server from cfg.
func New(cfg Config) *Server {
	s := &Server{store: cfg.Store, log: cfg.Logger, now: cfg.Now, password: cfg.Password,
		sessionTTL: cfg.SessionTTL, maxBody: cfg.MaxBody, maxUpload: cfg.MaxUpload}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.shadowChecks = cfg.ShadowChecks
	s.toolPolicy, s.webhook = cfg.ToolPolicy, cfg.ApprovalWebhook
	if s.now == nil {
		s.now = time.Now
	}
	if s.password == (auth.Params{}) {
		s.password = auth.DefaultParams()
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = 7 * 24 * time.Hour
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.maxUpload <= 0 {
		s.maxUpload = 64 << 20
	}
	burst, every := cfg.LoginBurst, cfg.LoginEvery
	if burst <= 0 {
		burst = 5
	}
	if every <= 0 {
		every = time.Minute / time.Duration(burst)
	}
	s.limiter = auth.NewLoginLimiter(burst, every, s.now)
	s.prompts = newTTLCache[fetchKey, store.PromptVersion](cfg.CacheTTL, s.now)
	s.projects = newTTLCache[string, store.Project](cfg.CacheTTL, s.now)
	s.dummyHash, _ = auth.HashPassword(auth.NewToken(), s.password)

	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Path, s.endpoint(rt))
	}
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, codeNotFound,
			"no route %s %s: the routes are listed in /api/v1/openapi.json", r.Method, r.URL.Path))
	})
	s.handler = s.observe(mux)
	return s
}

// Handler returns the HTTP handler of the API (and /healthz).
func (s *Server) Handler() http.Handler { return s.handler }

// ctxKey keys the request id in a request's context.
type ctxKey struct{}

// requestID returns the id observe gave the request.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// statusWriter records the status a handler wrote, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (flushing the JSONL
// export).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an id (echoed in X-Request-Id), the API's security headers,
// an access log line and a recovery from a handler's panic. The log line has the method,
// the path (not the query) and the outcome: never a header, a cookie or a body.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		rand.Read(b[:]) // never fails: see crypto/rand.Read
		id := hex.EncodeToString(b[:])
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panic", "request_id", id, "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.writeError(sw, r, errorf(http.StatusInternalServerError, codeInternal, ""))
				}
			}
			s.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		next.ServeHTTP(sw, r)
	})
}
