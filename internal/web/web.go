// Package web is the web UI of `plumb serve`: server-rendered pages (html/template, with
// htmx for partial updates) over the same store, authentication, access rules and audit as
// the JSON API, on the same port.
//
// Every page is one line of the page table (pages.go) that names its access rule, like the
// API's routes; the isolation test walks that table. The UI never decides access on its
// own: it asks the server (server.Authenticate, InProject, RunInProject), so a page and
// the API route beside it cannot disagree.
//
// Everything shown comes from users or models and is untrusted: html/template escapes it
// by context, the pages carry a strict Content-Security-Policy (scripts and styles only
// from /static/, no inline script, style or eval), and charts are SVG drawn here, with no
// script at all.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/*.js assets/*.css
var assetFS embed.FS

// pageCSP is the pages' Content-Security-Policy: nothing inline, nothing from elsewhere.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Config is what the UI needs.
type Config struct {
	Server *server.Server // the API: authentication, access rules, changes
	Store  store.Store    // for reads; every change goes through Server (audited, checked)
	Logger *slog.Logger   // nil: discard
	Now    func() time.Time
	// RouteSLAs are the gateway routes' p95 latency targets in milliseconds (route name ->
	// ms), which the traffic page holds p95 against; nil shows none.
	RouteSLAs map[string]float64
}

// UI serves the pages. Build it with New.
type UI struct {
	srv     *server.Server
	store   store.Store
	log     *slog.Logger
	now     func() time.Time
	pages   map[string]*template.Template
	assets  map[string]string // file name → the first hex digits of its SHA-256, for ?v=
	handler http.Handler
	slas    map[string]float64 // Config.RouteSLAs
}

// New parses the templates (a missing or broken one fails here, not on a request) and
// builds the handler of the whole port: the pages, /static/, and the API.
func New(cfg Config) (*UI, error) {
	u := &UI{srv: cfg.Server, store: cfg.Store, log: cfg.Logger, now: cfg.Now, slas: cfg.RouteSLAs}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	if err := u.parseTemplates(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, p := range u.table() {
		mux.Handle(p.Method+" "+p.Path, u.observe(u.endpoint(p)))
	}
	static, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	files := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	mux.Handle("GET /static/", u.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if _, ok := u.assets[name]; !ok {
			u.fail(w, r, nil, notFound("no file %s", r.URL.Path)) // no directory listing either
			return
		}
		// Pages link the files with their content hash (?v=), so a new binary's files
		// are new URLs: browsers may keep each for a year.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		files.ServeHTTP(w, r)
	})))
	api := u.srv.Handler()
	mux.Handle("/api/", api)
	mux.Handle("/healthz", api)
	mux.Handle("/", u.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.fail(w, r, nil, notFound("no page %s: start from the projects page", r.URL.Path))
	})))
	u.handler = mux
	return u, nil
}

// Handler returns the handler of the whole port: pages, static files and the API.
func (u *UI) Handler() http.Handler { return u.handler }

// observe is the server's request handling (request id, access log, recovery), with the
// pages' own Content-Security-Policy.
func (u *UI) observe(h http.Handler) http.Handler {
	return u.srv.Observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pageCSP)
		// same-origin, not the API's no-referrer: under no-referrer a browser sends
		// "Origin: null" on our own forms, and sameOrigin could not tell them from a
		// cross-site post. Other sites still get no referrer.
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("X-Frame-Options", "DENY") // for browsers without CSP frame-ancestors
		if err := server.CheckInput(r); err != nil {
			u.fail(w, r, nil, err)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// maxForm bounds a form post's body.
const maxForm = 64 << 10

// access is who may open a page.
type access int

const (
	public  access = iota // anyone: the login page
	user                  // anyone logged in (or with an API key)
	project               // a member (or key) of the {project} in the path, with at least Role
)

// pageFunc renders a page, or returns the error to show instead.
type pageFunc func(w http.ResponseWriter, r *http.Request, c *server.Caller) error

// page is one line of the page table.
type page struct {
	Method string
	Path   string
	Access access
	Role   store.Role
	Handle pageFunc
	// Upload: a multipart form with a file, up to the server's upload limit.
	Upload bool
}

// endpoint applies a page's access rule, then its handler. A visitor who is not logged in
// is sent to the login page (GET) or refused (POST); a state-changing request must come
// from one of our pages (Origin) and carry the session's CSRF token.
func (u *UI) endpoint(p page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Forms are a few fields: a bigger body is refused when the form is parsed. An
		// upload (multipart, up to the upload limit) is read only once the caller is known
		// to be a member with the page's role, so that nobody else can make the server
		// read a large body.
		upload := false
		if r.Method == http.MethodPost {
			limit := int64(maxForm)
			if p.Upload {
				mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
				if upload = mt == "multipart/form-data"; upload {
					limit = u.srv.UploadLimit() + maxForm
				}
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if !upload && !u.parseForm(w, r, r.ParseForm, p.Upload) {
				return
			}
		}
		if r.Method == http.MethodPost && !sameOrigin(r) {
			u.fail(w, r, nil, server.Forbidden("this form was sent from another site: open the page again and resend it"))
			return
		}
		if p.Access == public {
			if err := p.Handle(w, r, nil); err != nil {
				u.fail(w, r, nil, err)
			}
			return
		}
		c, err := u.srv.Authenticate(r)
		if err != nil {
			u.toLogin(w, r, err)
			return
		}
		if upload {
			if p.Access == project {
				if err := u.srv.InProject(r, c, r.PathValue("project"), p.Role); err != nil {
					u.fail(w, r, c, err)
					return
				}
			}
			if !u.parseForm(w, r, func() error { return r.ParseMultipartForm(8 << 20) }, true) {
				return
			}
		}
		if r.Method == http.MethodPost && !u.srv.CheckCSRF(r, c, r.PostFormValue("csrf_token")) {
			u.fail(w, r, c, server.Forbidden("the form is out of date (its CSRF token does not match your session): reload the page and try again"))
			return
		}
		if p.Access == project {
			if err := u.srv.InProject(r, c, r.PathValue("project"), p.Role); err != nil {
				u.fail(w, r, c, err)
				return
			}
		}
		if err := p.Handle(w, r, c); err != nil {
			u.fail(w, r, c, err)
		}
	})
}

// parseForm parses a post's form with parse, or answers the error and returns false.
func (u *UI) parseForm(w http.ResponseWriter, r *http.Request, parse func() error, upload bool) bool {
	err := parse()
	if err == nil {
		return true
	}
	pe := &pageError{status: http.StatusBadRequest, msg: "the form could not be read: reload the page and send it again"}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) && upload:
		pe = &pageError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the file is larger than the upload limit of %d MiB: split it and upload the parts", u.srv.UploadLimit()>>20)}
	case errors.As(err, &tooBig):
		pe = &pageError{status: http.StatusRequestEntityTooLarge, msg: "the form is larger than 64 KiB: shorten what you typed and send it again"}
	}
	u.fail(w, r, nil, pe)
	return false
}

// toLogin sends a visitor without a (working) session to the login page and back: a page
// load by a redirect; an htmx request (the session ended while the page was open) by
// HX-Redirect, so that the login page replaces the page rather than landing inside it; a
// form post gets the error.
func (u *UI) toLogin(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case r.Header.Get("HX-Request") == "true":
		next := r.URL.RequestURI()
		if cu, perr := url.Parse(r.Header.Get("HX-Current-URL")); perr == nil && cu.Path != "" {
			next = cu.RequestURI()
		}
		w.Header().Set("HX-Redirect", "/login?next="+url.QueryEscape(localPath(next)))
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	default:
		status, _, msg := u.srv.ClientError(r, err)
		u.render(w, r, status, "error", &view{Title: http.StatusText(status), Data: map[string]any{"Status": status, "Message": msg}})
	}
}

// sameOrigin reports whether a POST comes from a page of this server, by the browser's
// Sec-Fetch-Site, else its Origin. A request with neither (an old browser, curl) is let
// through, since the CSRF token still guards it.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	ou, err := url.Parse(o)
	return err == nil && ou.Host == r.Host
}

// notFound is a 404 for a page.
func notFound(format string, a ...any) error {
	return &pageError{status: http.StatusNotFound, msg: fmt.Sprintf(format, a...)}
}

// badRequest is a 400 for a page: a filter or form value that makes no sense.
func badRequest(format string, a ...any) error {
	return server.BadRequest(format, a...)
}

// pageError is an error of the UI itself (not the server's), with its status.
type pageError struct {
	status int
	msg    string
}

func (e *pageError) Error() string { return e.msg }

// fail renders an error page: the status and a message for the user (a bug or an outage
// is logged and shown as a generic message with the request id).
func (u *UI) fail(w http.ResponseWriter, r *http.Request, c *server.Caller, err error) {
	status, msg := http.StatusInternalServerError, ""
	var pe *pageError
	if errors.As(err, &pe) {
		status, msg = pe.status, pe.msg
	} else {
		status, _, msg = u.srv.ClientError(r, err)
	}
	if status == http.StatusUnauthorized {
		u.toLogin(w, r, err)
		return
	}
	u.render(w, r, status, "error", &view{Caller: c, Title: http.StatusText(status), Data: map[string]any{
		"Status": status, "Message": msg,
	}})
}

// view is what every page template gets: the caller, for the header and the CSRF token,
// and the page's own data.
type view struct {
	Caller  *server.Caller
	Project *store.Project // the page's project, if any
	Role    store.Role
	Title   string
	Nav     string // the header link to mark as current
	Data    any
}

// CSRF is the token forms carry.
func (v *view) CSRF() string {
	if v.Caller == nil {
		return ""
	}
	return v.Caller.CSRFToken()
}

// Who names the caller in the header.
func (v *view) Who() string {
	switch {
	case v.Caller == nil:
		return ""
	case v.Caller.User != nil:
		return v.Caller.User.Email
	case v.Caller.Key != nil:
		return "API key " + v.Caller.Key.Prefix
	}
	return ""
}

// IsAdmin is whether the caller may administer v.Project.
func (v *view) IsAdmin() bool { return v.Role.AtLeast(store.RoleAdmin) }

// render executes a page's template into a buffer, so that a template error becomes a
// clean 500 rather than half a page. An htmx request for a fragment gets only the
// template's "fragment" block when it has one.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := u.pages[name]
	if !ok {
		u.log.Error("no template", "name", name)
		http.Error(w, "internal error: the server logged the cause", http.StatusInternalServerError)
		return
	}
	if v.Caller != nil && v.Project == nil && v.Caller.Project.ID != "" {
		p := v.Caller.Project
		v.Project, v.Role = &p, v.Caller.Role
	}
	entry := "layout"
	if isFragment(r) && t.Lookup("fragment") != nil {
		entry = "fragment"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, entry, v); err != nil {
		u.log.Error("render page", "template", name, "err", err)
		http.Error(w, "internal error: the server logged the cause", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "HX-Request, HX-Target")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// isFragment reports whether r is an htmx request for a part of a page (it names the
// element to swap), rather than a whole page (a link, or a history restore).
func isFragment(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") != ""
}

// parseTemplates parses each page template with the layout and the shared partials.
func (u *UI) parseTemplates() error {
	shared := []string{"templates/layout.html", "templates/parts.html"}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	u.assets = map[string]string{}
	files, err := fs.Glob(assetFS, "assets/*")
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := assetFS.ReadFile(f)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		u.assets[strings.TrimPrefix(f, "assets/")] = hex.EncodeToString(sum[:6])
	}
	fm := template.FuncMap{"asset": func(name string) (string, error) {
		v, ok := u.assets[name]
		if !ok {
			return "", fmt.Errorf("no asset %s", name)
		}
		return "/static/" + name + "?v=" + v, nil
	}}
	for k, f := range funcs {
		fm[k] = f
	}
	u.pages = map[string]*template.Template{}
	for _, n := range names {
		if n == shared[0] || n == shared[1] {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		t, err := template.New(name).Funcs(fm).ParseFS(templateFS, append(shared, n)...)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", n, err)
		}
		u.pages[name] = t
	}
	for _, want := range []string{"error", "login"} {
		if u.pages[want] == nil {
			return fmt.Errorf("web: template %s.html is missing", want)
		}
	}
	return nil
}
