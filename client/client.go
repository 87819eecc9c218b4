// Package client is the Go client of the Plumb server's JSON API (/api/v1): upload eval
// runs, list and read them, page through their results and per-test rows and compare two
// of them; and administer the server: projects, members, API keys, users and the audit
// log. It is the one public package of the module; the plumb CLI uses it for
// `eval --server` and `runs --server`.
//
//	c, err := client.New("https://plumb.example.com", client.WithAPIKey(os.Getenv("PLUMB_API_KEY")))
//	info, err := c.UploadRun(ctx, "support", rep)
//
// A program acts either as an API key (WithAPIKey: one project, one role) or as a user
// after Login (the session cookie and its CSRF token are kept in the Client); only a user
// can do what is not a project's, such as managing users.
//
// Every failure the server reports is an *Error carrying the envelope's stable code, so
// callers can switch on Code (CodeNotFound, CodeConflict, ...).
//
// The wire types (Report, RunInfo, Comparison, ...) are type aliases of the types the
// server itself encodes, not copies: a field added to the report format reaches clients in
// the same commit, and a copy that drifts from the server (and silently drops fields on an
// upload) cannot happen. An alias of an internal type is fully usable outside the module;
// only the internal package path cannot be imported by name.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

// Report is a run with its summary and every result: the JSON report `plumb eval -o run.json` writes.
type Report = report.Report

// Run is a run's header: id, suite, status, times and provenance.
type Run = report.Run

// Summary is a run's aggregate numbers: pass rate, metrics with intervals, gate verdicts.
type Summary = report.Summary

// Result is one sample of a run: one prompt × provider × test × repeat.
type Result = report.Result

// The report format's nested types, aliased so that a report can be built and read
// field by field outside this module.
type (
	Provenance  = report.Provenance  // what produced a run
	PromptRef   = report.PromptRef   // a prompt's label and content hash
	ProviderRef = report.ProviderRef // a provider as configured, without secrets
	Metric      = report.Metric      // a measured quantity with its interval
	Gate        = report.Gate        // an acceptance criterion and its verdict
	TestStat    = report.TestStat    // one test's outcome over its repeats
	TestRef     = report.TestRef     // the test a result belongs to
	Tokens      = report.Tokens      // token counts of a result
	Assertion   = report.Assertion   // one assertion's verdict on a result
	RunSide     = eval.RunSide       // one run's headline numbers in a Comparison
	CaseChange  = eval.CaseChange    // a sample whose verdict changed between two runs
)

// RunInfo is a run's line in a run list.
type RunInfo = store.RunInfo

// Comparison is the paired comparison of two runs (McNemar's test, paired bootstrap).
type Comparison = eval.Comparison

// Project is a project of the server, the unit of isolation.
type Project = store.Project

// User is an account of the server.
type User = store.User

// APIKey is an API key's public record (never its secret).
type APIKey = store.APIKey

// Member is a user's role in a project.
type Member = store.Member

// AuditEntry is one entry of the audit log: who did what to which thing, when, with the
// thing before and after.
type AuditEntry = store.AuditEntry

// Role is a role in a project: viewer, editor or admin.
type Role = store.Role

// The roles, from least to most powerful.
const (
	RoleViewer = store.RoleViewer
	RoleEditor = store.RoleEditor
	RoleAdmin  = store.RoleAdmin
)

// The stable error codes of the API's error envelope.
const (
	CodeBadRequest           = "bad_request"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeCSRF                 = "csrf"
	CodeNotFound             = "not_found"
	CodeConflict             = "conflict"
	CodeTooLarge             = "too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRateLimited          = "rate_limited"
	CodeInternal             = "internal"
)

// Error is an error answer of the server, decoded from its envelope.
type Error struct {
	Status    int    // the HTTP status
	Code      string // one of the Code constants
	Message   string // what went wrong and how to fix it, written for people
	Field     string // the JSON path of the request body's value at fault, if any
	RequestID string // the server's X-Request-Id, to find the server's log line
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("plumb server: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

// Client calls one Plumb server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	key       string
	hc        *http.Client
	userAgent string

	mu      sync.Mutex
	session string // the session cookie's value after Login
	csrf    string // its CSRF token, sent on every state-changing request
}

// sessionCookie is the name of the server's session cookie.
const sessionCookie = "plumb_session"

// Option configures a Client.
type Option func(*Client)

// WithAPIKey authenticates every request with an API key (`Authorization: Bearer plk_…`).
func WithAPIKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient sends requests through hc instead of http.DefaultClient (timeouts,
// proxies, TLS settings).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header, so that server logs tell clients apart.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL (scheme and host, optionally a path
// prefix, e.g. "https://plumb.example.com" or "http://127.0.0.1:8080/plumb").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: use http://HOST[:PORT] or https://HOST[:PORT]", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q: give only scheme, host and path; authenticate with an API key", u.Redacted())
	}
	c := &Client{base: u, hc: http.DefaultClient, userAgent: "plumb-go-client"}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	return c, nil
}

// BaseURL returns the server's URL as New was given it, without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// RunURL is the API address of a run, to show people where an upload went.
func (c *Client) RunURL(project, runID string) string {
	return c.base.String() + projectPath(project) + "/runs/" + url.PathEscape(runID)
}

func projectPath(project string) string { return "/api/v1/projects/" + url.PathEscape(project) }

// do sends a request and decodes a 2xx JSON answer into out (when not nil); any other
// answer becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	_, err := c.send(ctx, method, path, query, body, out)
	return err
}

// doJSON is do with in encoded as the JSON body.
func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s %s: encode the request: %w", method, path, err)
	}
	return c.do(ctx, method, path, nil, body, out)
}

// send is do that also returns the answer's cookies, for Login.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body []byte, out any) ([]*http.Cookie, error) {
	req, err := c.request(ctx, method, path, query, body)
	if err != nil {
		return nil, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		// *url.Error names the method and URL; the key and the session are in headers,
		// never in either.
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, decodeError(res)
	}
	if out == nil || res.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16)) // let the connection be reused
		return res.Cookies(), nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("%s %s: decode the server's answer: %w", method, path, err)
	}
	return res.Cookies(), nil
}

// request builds a request to the API with the client's credentials.
func (c *Client) request(ctx context.Context, method, path string, query url.Values, body []byte) (*http.Request, error) {
	u := c.base.String() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	} else if session, csrf := c.sessionTokens(); session != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
		if method != http.MethodGet && method != http.MethodHead {
			req.Header.Set("X-CSRF-Token", csrf)
		}
	}
	return req, nil
}

// sessionTokens returns the session cookie and CSRF token of Login, "" before it.
func (c *Client) sessionTokens() (session, csrf string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session, c.csrf
}

// Login logs in as a user: from then on the client sends the session cookie, and the
// CSRF token on state-changing requests, until Logout or the session's expiry (7 days by
// default; then CodeUnauthorized). A wrong email or password is CodeUnauthorized, too
// many attempts CodeRateLimited. A client made WithAPIKey cannot log in: it acts as its
// key.
func (c *Client) Login(ctx context.Context, email, password string) (User, error) {
	if c.key != "" {
		return User{}, errors.New("this client authenticates with an API key: make another client (without WithAPIKey) to log in as a user")
	}
	var out struct {
		User      User   `json:"user"`
		CSRFToken string `json:"csrf_token"`
	}
	body, err := json.Marshal(map[string]string{"email": email, "password": password})
	if err != nil {
		return User{}, err
	}
	cookies, err := c.send(ctx, http.MethodPost, "/api/v1/session", nil, body, &out)
	if err != nil {
		return User{}, err
	}
	for _, ck := range cookies {
		if ck.Name == sessionCookie && ck.Value != "" {
			c.mu.Lock()
			c.session, c.csrf = ck.Value, out.CSRFToken
			c.mu.Unlock()
			return out.User, nil
		}
	}
	return User{}, fmt.Errorf("POST /api/v1/session: the answer has no %s cookie", sessionCookie)
}

// Logout ends the session of Login on the server and forgets it.
func (c *Client) Logout(ctx context.Context) error {
	if session, _ := c.sessionTokens(); session == "" {
		return errors.New("not logged in: Logout ends the session of Login")
	}
	err := c.do(ctx, http.MethodDelete, "/api/v1/session", nil, nil, nil)
	if err == nil || IsCode(err, CodeUnauthorized) { // an ended session is ended
		c.mu.Lock()
		c.session, c.csrf = "", ""
		c.mu.Unlock()
	}
	return err
}

// decodeError reads the error envelope; an answer without one (a proxy's error page) still
// becomes an *Error with the status and the start of the body.
func decodeError(res *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	e := &Error{Status: res.StatusCode, RequestID: res.Header.Get("X-Request-Id")}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Field = env.Error.Code, env.Error.Message, env.Error.Field
		return e
	}
	e.Code = codeForStatus(res.StatusCode)
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(res.StatusCode)
	}
	e.Message = "unexpected answer (not the API's error envelope): " + msg
	return e
}

// codeForStatus guesses the code of an answer that had no envelope.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case http.StatusTooManyRequests:
		return CodeRateLimited
	}
	return CodeInternal
}

// IsCode reports whether err is (or wraps) an *Error with code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// UploadRun stores rep in project (editor role) and returns its list line. Uploading a run
// id the project already has replaces that run; an id taken by another project is
// CodeConflict.
func (c *Client) UploadRun(ctx context.Context, project string, rep *Report) (RunInfo, error) {
	var b bytes.Buffer
	if err := report.WriteJSON(&b, rep); err != nil {
		return RunInfo{}, fmt.Errorf("encode the report: %w", err)
	}
	return c.UploadRunJSON(ctx, project, b.Bytes())
}

// UploadRunJSON uploads a JSON report exactly as given, e.g. a file `plumb eval -o run.json`
// wrote.
func (c *Client) UploadRunJSON(ctx context.Context, project string, reportJSON []byte) (RunInfo, error) {
	var out struct {
		Run RunInfo `json:"run"`
	}
	err := c.do(ctx, http.MethodPost, projectPath(project)+"/runs", nil, reportJSON, &out)
	return out.Run, err
}

// ListRunsOptions filters and pages a run list. Zero values mean no filter, the server's
// default page size and the first page.
type ListRunsOptions struct {
	Suite  string
	Status string // "complete" or "incomplete"
	Limit  int    // runs per page, 1 to 1000
	Cursor string // a RunsPage.NextCursor
}

// RunsPage is one page of a run list, newest first.
type RunsPage struct {
	Runs       []RunInfo `json:"runs"`
	NextCursor string    `json:"next_cursor"` // "" on the last page
}

// ListRuns returns one page of the project's runs.
func (c *Client) ListRuns(ctx context.Context, project string, opt ListRunsOptions) (RunsPage, error) {
	q := url.Values{}
	setNonEmpty(q, "suite", opt.Suite)
	setNonEmpty(q, "status", opt.Status)
	setNonEmpty(q, "cursor", opt.Cursor)
	if opt.Limit != 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	var page RunsPage
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/runs", q, nil, &page)
	return page, err
}

// Runs iterates over every run of the project matching opt, newest first, fetching a page
// (opt.Limit runs) at a time from opt.Cursor on. Iteration stops at the first error, which
// is yielded.
func (c *Client) Runs(ctx context.Context, project string, opt ListRunsOptions) iter.Seq2[RunInfo, error] {
	return func(yield func(RunInfo, error) bool) {
		for {
			page, err := c.ListRuns(ctx, project, opt)
			if err != nil {
				yield(RunInfo{}, err)
				return
			}
			for _, r := range page.Runs {
				if !yield(r, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			opt.Cursor = page.NextCursor
		}
	}
}

// RunDetail is a run's header and summary, without its results (see Results) and without
// the summary's per-test rows (Summary.Tests and Summary.Flaky are nil; see Tests).
type RunDetail struct {
	Run     Run     `json:"run"`
	Summary Summary `json:"summary"`
	// TestsCount and FlakyCount are how many rows Summary.Tests and Summary.Flaky have:
	// what Tests pages through.
	TestsCount int `json:"tests_count"`
	FlakyCount int `json:"flaky_count"`
}

// GetRun returns a run's header and summary. A run of another project is CodeNotFound,
// like a missing one.
func (c *Client) GetRun(ctx context.Context, project, runID string) (RunDetail, error) {
	// The counts travel inside the summary object.
	var out struct {
		Run     Run `json:"run"`
		Summary struct {
			Summary
			TestsCount int `json:"tests_count"`
			FlakyCount int `json:"flaky_count"`
		} `json:"summary"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/runs/"+url.PathEscape(runID), nil, nil, &out)
	return RunDetail{Run: out.Run, Summary: out.Summary.Summary, TestsCount: out.Summary.TestsCount,
		FlakyCount: out.Summary.FlakyCount}, err
}

// TestsPage is one page of a run's per-test rows.
type TestsPage struct {
	Tests      []TestStat `json:"tests"`
	NextCursor string     `json:"next_cursor"` // "" on the last page
	Total      int        `json:"total"`       // rows over all pages
}

// Tests returns one page of a run's per-test rows (the summary's tests; its flaky ones
// with flaky), in report order. cursor is "" for the first page, else a
// TestsPage.NextCursor; limit 0 means the server's default page size (at most 1000).
func (c *Client) Tests(ctx context.Context, project, runID string, flaky bool, cursor string, limit int) (TestsPage, error) {
	q := url.Values{}
	if flaky {
		q.Set("flaky", "true")
	}
	setNonEmpty(q, "cursor", cursor)
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page TestsPage
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/runs/"+url.PathEscape(runID)+"/tests", q, nil, &page)
	return page, err
}

// DeleteRun deletes a run and its results (editor role).
func (c *Client) DeleteRun(ctx context.Context, project, runID string) error {
	return c.do(ctx, http.MethodDelete, projectPath(project)+"/runs/"+url.PathEscape(runID), nil, nil, nil)
}

// ResultsOptions filters and pages a run's results. Zero values mean no filter.
type ResultsOptions struct {
	Failed   bool // only failed samples (errors included)
	Errors   bool // only samples whose provider call failed
	Test     *int // only this test index
	Provider string
	Prompt   string
	Segment  string
	Limit    int    // results per page, 1 to 1000
	Cursor   string // a ResultsPage.NextCursor
}

// ResultsPage is one page of a run's results.
type ResultsPage struct {
	Results    []Result `json:"results"`
	NextCursor string   `json:"next_cursor"` // "" on the last page
	Total      int      `json:"total"`       // results matching the filter, over all pages
}

// Results returns one page of a run's results.
func (c *Client) Results(ctx context.Context, project, runID string, opt ResultsOptions) (ResultsPage, error) {
	q := url.Values{}
	if opt.Failed {
		q.Set("failed", "true")
	}
	if opt.Errors {
		q.Set("errors", "true")
	}
	if opt.Test != nil {
		q.Set("test", strconv.Itoa(*opt.Test))
	}
	setNonEmpty(q, "provider", opt.Provider)
	setNonEmpty(q, "prompt", opt.Prompt)
	setNonEmpty(q, "segment", opt.Segment)
	setNonEmpty(q, "cursor", opt.Cursor)
	if opt.Limit != 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	var page ResultsPage
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/runs/"+url.PathEscape(runID)+"/results", q, nil, &page)
	return page, err
}

// CompareOptions tune Compare. Zero values take the server's defaults.
type CompareOptions struct {
	Alpha float64 // the significance level; 0 means 0.05
	Limit int     // at most this many regressions and as many improvements (totals are always given); 0 means 100, at most 1000
}

// Compare compares run a (the baseline) with run b of the project.
func (c *Client) Compare(ctx context.Context, project, a, b string, opt CompareOptions) (*Comparison, error) {
	q := url.Values{"a": {a}, "b": {b}}
	if opt.Alpha != 0 {
		q.Set("alpha", strconv.FormatFloat(opt.Alpha, 'g', -1, 64))
	}
	if opt.Limit != 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	var out Comparison
	if err := c.do(ctx, http.MethodGet, projectPath(project)+"/compare", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ProjectRole is a project the caller belongs to, with its role there.
type ProjectRole struct {
	Project Project `json:"project"`
	Role    Role    `json:"role"`
}

// Me is the caller as the server sees it.
type Me struct {
	User     *User         `json:"user"`    // nil for an API key
	APIKey   *APIKey       `json:"api_key"` // nil for a user
	Projects []ProjectRole `json:"projects"`
}

// Me returns the caller: for an API key, the key and its one project; for a user, the
// user and the projects they may see with their role in each.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var out Me
	err := c.do(ctx, http.MethodGet, "/api/v1/me", nil, nil, &out)
	return out, err
}

// ChangePassword changes the logged-in user's password (not an API key's: CodeForbidden)
// after checking the current one (wrong: CodeBadRequest with Field "current_password"),
// and ends the user's other sessions; this client's session stays. Attempts are limited
// like logins (CodeRateLimited).
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.doJSON(ctx, http.MethodPut, "/api/v1/me/password",
		map[string]string{"current_password": current, "new_password": next}, nil)
}

// Projects returns the projects the caller may see, by slug: all of them for an instance
// admin, the key's one project for an API key.
func (c *Client) Projects(ctx context.Context) ([]Project, error) {
	var out struct {
		Projects []Project `json:"projects"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/projects", nil, nil, &out)
	return out.Projects, err
}

// CreateProject creates a project (instance admins). slug is lower-case letters, digits
// and dashes; a taken slug is CodeConflict.
func (c *Client) CreateProject(ctx context.Context, slug, name string) (Project, error) {
	var out struct {
		Project Project `json:"project"`
	}
	err := c.doJSON(ctx, http.MethodPost, "/api/v1/projects", map[string]string{"slug": slug, "name": name}, &out)
	return out.Project, err
}

// Members returns a project's members and their roles, by email.
func (c *Client) Members(ctx context.Context, project string) ([]Member, error) {
	var out struct {
		Members []Member `json:"members"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/members", nil, nil, &out)
	return out.Members, err
}

// AddMember gives the user with email a role in the project (admin role). An unknown
// email is CodeNotFound, an existing member CodeConflict.
func (c *Client) AddMember(ctx context.Context, project, email string, role Role) (Member, error) {
	var out struct {
		Member Member `json:"member"`
	}
	err := c.doJSON(ctx, http.MethodPost, projectPath(project)+"/members", map[string]any{"email": email, "role": role}, &out)
	return out.Member, err
}

// UpdateMember changes a member's role (admin role). Demoting the project's last admin is
// CodeConflict.
func (c *Client) UpdateMember(ctx context.Context, project, userID string, role Role) (Member, error) {
	var out struct {
		Member Member `json:"member"`
	}
	err := c.doJSON(ctx, http.MethodPatch, projectPath(project)+"/members/"+url.PathEscape(userID), map[string]any{"role": role}, &out)
	return out.Member, err
}

// RemoveMember ends a membership (admin role). Removing the project's last admin is
// CodeConflict.
func (c *Client) RemoveMember(ctx context.Context, project, userID string) error {
	return c.do(ctx, http.MethodDelete, projectPath(project)+"/members/"+url.PathEscape(userID), nil, nil, nil)
}

// Keys returns a project's API keys, revoked and expired ones included, newest first
// (admin role). No secret is ever listed.
func (c *Client) Keys(ctx context.Context, project string) ([]APIKey, error) {
	var out struct {
		Keys []APIKey `json:"keys"`
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/keys", nil, nil, &out)
	return out.Keys, err
}

// CreateKey creates an API key of the project with a name saying what it is for, a role
// and an optional expiry (nil: never), and returns it with its secret: the only time the
// secret is shown (admin role).
func (c *Client) CreateKey(ctx context.Context, project, name string, role Role, expiresAt *time.Time) (key APIKey, secret string, err error) {
	in := map[string]any{"name": name, "role": role}
	if expiresAt != nil {
		in["expires_at"] = expiresAt.UTC().Format(time.RFC3339Nano)
	}
	var out struct {
		Key    APIKey `json:"key"`
		Secret string `json:"secret"`
	}
	err = c.doJSON(ctx, http.MethodPost, projectPath(project)+"/keys", in, &out)
	return out.Key, out.Secret, err
}

// RevokeKey revokes an API key of the project (admin role): it stops working at once.
func (c *Client) RevokeKey(ctx context.Context, project, keyID string) error {
	return c.do(ctx, http.MethodDelete, projectPath(project)+"/keys/"+url.PathEscape(keyID), nil, nil, nil)
}

// AuditPage is one page of a project's audit log, newest first.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor"` // "" on the last page
}

// Audit returns one page of the project's audit log, newest first (admin role). cursor is
// "" for the first page, else an AuditPage.NextCursor; limit 0 means the server's default
// page size (at most 1000).
func (c *Client) Audit(ctx context.Context, project, cursor string, limit int) (AuditPage, error) {
	q := url.Values{}
	setNonEmpty(q, "cursor", cursor)
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page AuditPage
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/audit", q, nil, &page)
	return page, err
}

// Users returns every user of the server, oldest first (instance admins).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out struct {
		Users []User `json:"users"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/users", nil, nil, &out)
	return out.Users, err
}

// NewUser is a user to create.
type NewUser struct {
	Email    string `json:"email"`
	Password string `json:"password"` // at least 12 characters
	IsAdmin  bool   `json:"is_admin"` // an instance admin
}

// CreateUser creates a user (instance admins). A taken email (in any letter case) is
// CodeConflict; a bad email or short password is CodeBadRequest naming the field.
func (c *Client) CreateUser(ctx context.Context, u NewUser) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	err := c.doJSON(ctx, http.MethodPost, "/api/v1/users", u, &out)
	return out.User, err
}

// UserUpdate is a change to a user: nil fields stay as they are.
type UserUpdate struct {
	Disabled *bool `json:"disabled,omitempty"` // a disabled user cannot log in
	IsAdmin  *bool `json:"is_admin,omitempty"`
}

// UpdateUser disables, enables, promotes or demotes a user (instance admins). Disabling
// ends the user's sessions. Disabling or demoting the last enabled instance admin is
// CodeConflict.
func (c *Client) UpdateUser(ctx context.Context, userID string, upd UserUpdate) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	err := c.doJSON(ctx, http.MethodPatch, "/api/v1/users/"+url.PathEscape(userID), upd, &out)
	return out.User, err
}

func setNonEmpty(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}
