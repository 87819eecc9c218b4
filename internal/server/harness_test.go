package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/store"
)

// cheapHash keeps the tests fast; auth's tests cover the real parameters.
var cheapHash = auth.Params{Time: 1, Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

// password is every fixture user's password.
const password = "correct horse battery staple"

// clock is a settable clock shared by the store and the server, so that session and key
// expiry and the login limiter can be tested without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a running server on a loopback port with two projects, A ("alpha") and B
// ("beta"), and their people, keys and runs.
type fixture struct {
	t     *testing.T
	url   string
	srv   *Server
	st    store.Store
	clock *clock

	a, b                    store.Project
	admin                   store.User // instance admin
	alice, vera, bob, carol store.User // admin of A, viewer of A, admin of B, no project
	keyA, keyAViewer, keyB  string     // secrets: editor of A, viewer of A, admin of B
	keyBID                  string
	keyAID                  string
	runA1, runA2, runB      string
	promptA, promptB        string // a prompt of each project, labelled production
	datasetA, datasetB      string // a dataset of each project, with items
	queueA, queueB          string // an annotation queue over each project's run (queues_test.go)
	reviewA, reviewB        string // an open review request of each (staging of the prompt)
	approvalA, approvalB    string // a pending tool approval of each (approvals_test.go)

	sessions map[string]*client // logged-in clients by email, so that the limiter is not tripped
}

// session returns a client logged in as email, logging in once per fixture.
func (f *fixture) session(email string) *client {
	if c, ok := f.sessions[email]; ok {
		return c
	}
	c := f.login(email)
	f.sessions[email] = c
	return c
}

func sqliteDSN(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "plumb.db") }

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	st, err := store.Open(ctx, dsn, store.OpenOptions{Migrate: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Every fixture login comes from 127.0.0.1: a generous limit keeps the scenario tables
	// clear of it; TestLoginRateLimit uses the default one (withServer).
	srv := New(Config{Store: st, Now: clk.Now, Password: cheapHash, LoginBurst: 100})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f := &fixture{t: t, url: ts.URL, srv: srv, st: st, clock: clk, sessions: map[string]*client{}}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f.a, err = st.CreateProject(ctx, store.Project{Slug: "alpha", Name: "Alpha"})
	must(err)
	f.b, err = st.CreateProject(ctx, store.Project{Slug: "beta", Name: "Beta"})
	must(err)
	user := func(email string, admin bool) store.User {
		h, err := auth.HashPassword(password, cheapHash)
		must(err)
		u, err := st.CreateUser(ctx, store.User{Email: email, PasswordHash: h, IsAdmin: admin})
		must(err)
		return u
	}
	f.admin = user("root@example.com", true)
	f.alice = user("alice@example.com", false)
	f.vera = user("vera@example.com", false)
	f.bob = user("bob@example.com", false)
	f.carol = user("carol@example.com", false)
	member := func(p store.Project, u store.User, r store.Role) {
		_, err := st.AddMember(ctx, store.Member{ProjectID: p.ID, UserID: u.ID, Role: r})
		must(err)
	}
	member(f.a, f.alice, store.RoleAdmin)
	member(f.a, f.vera, store.RoleViewer)
	member(f.b, f.bob, store.RoleAdmin)
	key := func(p store.Project, r store.Role) (string, string) {
		secret, shown := auth.NewAPIKey()
		k, err := st.CreateAPIKey(ctx, store.APIKey{ProjectID: p.ID, Name: "test " + string(r), Role: r,
			Prefix: shown, KeyHash: store.HashToken(secret)})
		must(err)
		return secret, k.ID
	}
	f.keyA, f.keyAID = key(f.a, store.RoleEditor)
	f.keyAViewer, _ = key(f.a, store.RoleViewer)
	f.keyB, f.keyBID = key(f.b, store.RoleAdmin)

	f.promptA, f.promptB = "alpha/triage", "beta-only/answer"
	for _, pr := range []struct {
		p    store.Project
		name string
	}{{f.a, f.promptA}, {f.b, f.promptB}} {
		v, _, err := st.PushPrompt(ctx, pr.p.ID, pr.name, store.PromptContent{Template: "Answer {{ question }} for " + pr.p.Slug}, "test", "first")
		must(err)
		must(release(st, pr.p.ID, pr.name, v.Version))
	}
	for _, pr := range []struct {
		p    store.Project
		name string
		id   *string
	}{{f.a, f.promptA, &f.reviewA}, {f.b, f.promptB, &f.reviewB}} {
		r, err := st.RequestPromptReview(ctx, pr.p.ID, pr.name, "staging", 1, "test", "stage it")
		must(err)
		*pr.id = strconv.FormatInt(r.ID, 10)
	}
	f.datasetA, f.datasetB = "alpha/golden", "beta-only/golden"
	for _, d := range []struct {
		p    store.Project
		name string
	}{{f.a, f.datasetA}, {f.b, f.datasetB}} {
		ds, err := st.CreateDataset(ctx, d.p.ID, d.name, "")
		must(err)
		_, _, err = st.AddItems(ctx, ds.ID, []dataset.Item{{Vars: map[string]any{"q": "one of " + d.p.Slug}, Expected: "1"},
			{Vars: map[string]any{"q": "two of " + d.p.Slug}, Expected: "2"}}, "first", false)
		must(err)
	}
	f.runA1, f.runA2, f.runB = "run-a1", "run-a2", "run-b1"
	for _, r := range []struct {
		p  store.Project
		id string
		at time.Duration
	}{{f.a, f.runA1, 0}, {f.a, f.runA2, time.Hour}, {f.b, f.runB, 2 * time.Hour}} {
		must(st.SaveRunIn(ctx, r.p.ID, sampleReport(r.id, clk.Now().Add(r.at-24*time.Hour), 1)))
	}
	f.queueA, f.queueB = fixtureQueue(t, st, f.a, f.runA1, f.alice), fixtureQueue(t, st, f.b, f.runB, f.bob)
	must(fixtureTraces(st, clk.Now(), f.a, f.b)) // traces_test.go
	f.approvalA, f.approvalB = fixtureApproval(t, st, f.a, "call_1", clk.Now()), fixtureApproval(t, st, f.b, "call_1", clk.Now())
	return f
}

// release points production at a version as a team does: a review request approved by
// someone other than the version's author (the fixtures' "test") and the requester.
func release(st store.Store, projectID, name string, version int) error {
	ctx := context.Background()
	r, err := st.RequestPromptReview(ctx, projectID, name, "production", version, "test", "")
	if err != nil {
		return err
	}
	_, err = st.DecidePromptReview(ctx, projectID, r.ID, true, "fixture reviewer", "")
	return err
}

// withServer is f with a second server of cfg (Store, Now and Password filled in) over
// the same store.
func (f *fixture) withServer(cfg Config) *fixture {
	cfg.Store, cfg.Now, cfg.Password = f.st, f.clock.Now, cheapHash
	g := *f
	g.srv = New(cfg)
	ts := httptest.NewServer(g.srv.Handler())
	f.t.Cleanup(ts.Close)
	g.url, g.sessions = ts.URL, map[string]*client{}
	return &g
}

// sampleReport is a run as the eval engine summarises it: 3 tests × 2 providers × 2
// repeats, the "billing" segment on test 0, failures on the second provider (more of them
// with a larger worse), one call error, and an output that is markup.
func sampleReport(id string, at time.Time, worse int) *report.Report {
	var results []report.Result
	for test := range 3 {
		for _, prov := range []string{"fast", "smart"} {
			for rep := range 2 {
				r := report.Result{
					Test:   report.TestRef{Index: test, Description: fmt.Sprintf("case %d", test), Vars: map[string]any{"q": test}},
					Prompt: "v1", PromptHash: "aaaaaaaaaaaa", Provider: prov, Repeat: rep,
					Output: "<script>alert(1)</script>", LatencyMS: float64(100 + 10*test), Cost: 0.001,
					Tokens: report.Tokens{Prompt: 10, Completion: 5, Total: 15}, Passed: true, Score: 1,
					Assertions: []report.Assertion{{Type: "contains", Weight: 1, Passed: true, Score: 1}},
				}
				if test == 0 {
					r.Test.Segment = "billing"
				}
				if prov == "smart" && test < worse {
					r.Passed, r.Score = false, 0
					r.Assertions[0].Passed, r.Assertions[0].Score, r.Assertions[0].Reason = false, 0, "missing"
				}
				if prov == "smart" && test == 2 && rep == 1 {
					r.Error, r.Passed, r.Score, r.Output, r.Assertions = "timeout", false, 0, "", nil
				}
				results = append(results, r)
			}
		}
	}
	return &report.Report{
		Run: report.Run{ID: id, Suite: "support", Status: report.StatusComplete, StartedAt: at,
			FinishedAt: at.Add(time.Minute), ConfigHash: "cfg", Provenance: report.Provenance{PlumbVersion: "test", Repeat: 2, Mode: "replay",
				Prompts:   []report.PromptRef{{Label: "v1", Hash: "aaaaaaaaaaaa"}},
				Providers: []report.ProviderRef{{Label: "fast", Type: "openai"}, {Label: "smart", Type: "anthropic"}}}},
		Summary: eval.Summarize(results, nil),
		Results: results,
	}
}

// reportJSON is a report exactly as `plumb eval -o run.json` writes it.
func reportJSON(t *testing.T, r *report.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// client calls the API as one caller: an API key, a session (cookie and CSRF token), or
// nobody.
type client struct {
	f      *fixture
	key    string
	cookie string
	csrf   string
}

func (f *fixture) anon() *client            { return &client{f: f} }
func (f *fixture) withKey(k string) *client { return &client{f: f, key: k} }

// login logs in through the API and returns a session client.
func (f *fixture) login(email string) *client {
	f.t.Helper()
	res := f.anon().do("POST", "/api/v1/session", map[string]any{"email": email, "password": password})
	if res.status != 200 {
		f.t.Fatalf("login %s: %d %s", email, res.status, res.raw)
	}
	var ck string
	for _, c := range res.cookies {
		if c.Name == sessionCookie {
			ck = c.Value
		}
	}
	return &client{f: f, cookie: ck, csrf: res.str("csrf_token")}
}

// response is a decoded answer.
type response struct {
	status  int
	header  http.Header
	cookies []*http.Cookie
	raw     string
	body    map[string]any
}

// rawBody marks a body sent exactly as given.
type rawBody struct {
	contentType string
	data        string
}

func (c *client) do(method, path string, body any) *response {
	c.f.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ct = strings.NewReader(b.data), b.contentType
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.f.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.f.url+path, rd)
	if err != nil {
		c.f.t.Fatal(err)
	}
	if rd != nil && ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.cookie})
	}
	if c.csrf != "" {
		req.Header.Set(csrfHeader, c.csrf)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	out := &response{status: res.StatusCode, header: res.Header, cookies: res.Cookies(), raw: string(data)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &out.body); err != nil {
			c.f.t.Fatalf("%s %s: response is not a JSON object: %v: %s", method, path, err, data)
		}
	}
	return out
}

// str returns a top-level string field, or a nested one by dotted path.
func (r *response) str(path string) string {
	var v any = r.body
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// list returns a top-level array field.
func (r *response) list(name string) []any {
	l, _ := r.body[name].([]any)
	return l
}

// errCode is the envelope's code, "" when the body is not an error envelope.
func (r *response) errCode() string { return r.str("error.code") }
