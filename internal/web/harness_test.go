package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// cheapHash keeps the tests fast; auth's tests cover the real parameters.
var cheapHash = auth.Params{Time: 1, Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

const password = "correct horse battery staple"

// Hostile text, put into every field a page may show: model output, test inputs, labels,
// descriptions, reasons, names.
const (
	xssScript = `<script>alert(1)</script>`
	xssImg    = `<img src=x onerror=alert(1)>`
	hostile   = xssScript + xssImg + `"'><svg onload=alert(1)>`
)

// hostileRunID is a run id made of URL syntax and markup.
const hostileRunID = `r/1?x=#y"><svg onload=alert(1)>`

// fixture is the UI and API on a loopback port with two projects: A ("alpha": alice admin,
// vera viewer) and B ("beta": bob admin), each with runs full of hostile text.
type fixture struct {
	t    *testing.T
	url  string
	st   store.Store
	a, b store.Project

	alice, vera, bob store.User
	runA1, runA2     string // runs of A; A2 is worse than A1
	runB             string
	keyBID           string
}

// The registry's fixture: A's prompt promptA has version 1 (a template) and 2 (chat
// messages), both full of hostile text, production released at 1 by review 1, and review
// openReview asking for 2, with a hostile description and comment. B has its own prompt
// and review, which A must never see.
const (
	promptA    = "team/triage"
	openReview = "2"
)

// forEachStore runs fn on SQLite and on PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newFixture(t, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"))) })
	t.Run("postgres", func(t *testing.T) { fn(t, newFixture(t, storetest.FreshPostgres(t))) })
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, url: serveUI(t, st), st: st}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f.a, err = st.CreateProject(ctx, store.Project{Slug: "alpha", Name: "Alpha " + hostile})
	must(err)
	f.b, err = st.CreateProject(ctx, store.Project{Slug: "beta", Name: "Beta"})
	must(err)
	user := func(email string) store.User {
		h, err := auth.HashPassword(password, cheapHash)
		must(err)
		u, err := st.CreateUser(ctx, store.User{Email: email, PasswordHash: h})
		must(err)
		return u
	}
	f.alice, f.vera, f.bob = user("alice@example.com"), user("vera@example.com"), user("bob@example.com")
	for _, m := range []store.Member{
		{ProjectID: f.a.ID, UserID: f.alice.ID, Role: store.RoleAdmin},
		{ProjectID: f.a.ID, UserID: f.vera.ID, Role: store.RoleViewer},
		{ProjectID: f.b.ID, UserID: f.bob.ID, Role: store.RoleAdmin},
	} {
		_, err := st.AddMember(ctx, m)
		must(err)
	}
	secret, shown := auth.NewAPIKey()
	// B's things are changed through the audit, so that B has a log that A must not see.
	k, err := st.WithAudit(store.Actor{Type: store.ActorUser, ID: f.bob.ID}).CreateAPIKey(ctx,
		store.APIKey{ProjectID: f.b.ID, Name: "beta-only key", Role: store.RoleEditor, Prefix: shown, KeyHash: store.HashToken(secret)})
	must(err)
	f.keyBID = k.ID
	_, err = st.WithAudit(store.Actor{Type: store.ActorUser, ID: f.alice.ID}).CreateAPIKey(ctx,
		store.APIKey{ProjectID: f.a.ID, Name: "key " + hostile, Role: store.RoleViewer, Prefix: "plk_xxxx", KeyHash: store.HashToken("x")})
	must(err)

	// Datasets: A's "golden" full of hostile text, B's own.
	for _, d := range []struct {
		p    store.Project
		name string
		text string
	}{{f.a, "golden", hostile}, {f.b, "beta-only/golden", "beta-only item"}} {
		ds, err := st.CreateDataset(ctx, d.p.ID, d.name, "desc "+d.text)
		must(err)
		_, _, err = st.AddItems(ctx, ds.ID, []dataset.Item{
			{Vars: map[string]any{"question": d.text + " mail alice@example.com"}, Expected: d.text, Segment: map[string]string{"locale": d.text},
				Source: d.text, Consent: true, ConsentBasis: d.text},
			{Vars: map[string]any{"question": "plain"}, Expected: "x", Segment: map[string]string{"locale": "en"}},
		}, "msg "+d.text, false)
		must(err)
	}

	now := time.Now().UTC().Truncate(time.Second)
	f.runA1, f.runA2, f.runB = "run-a1", "run-a2", "run-b1"
	must(st.SaveRunIn(ctx, f.a.ID, hostileReport(f.runA1, now.Add(-2*time.Hour), 0)))
	must(st.SaveRunIn(ctx, f.a.ID, hostileReport(f.runA2, now.Add(-time.Hour), 2)))
	must(st.WithAudit(store.Actor{Type: store.ActorUser, ID: f.bob.ID}).SaveRunIn(ctx, f.b.ID, hostileReport(f.runB, now, 1)))
	// A run id is any text: one made of URL syntax and markup must be linked and shown
	// safely.
	must(st.SaveRunIn(ctx, f.a.ID, hostileReport(hostileRunID, now.Add(-3*time.Hour), 1)))
	fixtureQueues(t, f)    // queues_test.go
	fixtureTraces(t, f)    // traces_test.go
	fixtureRedTeam(t, f)   // redteam_test.go
	fixtureShadow(t, f)    // shadow_test.go
	fixtureApprovals(t, f) // approvals_test.go

	_, _, err = st.PushPrompt(ctx, f.a.ID, promptA, store.PromptContent{Template: "Answer {{ q }}.\n" + hostile + "\nBe brief."}, "writer "+hostile, "first "+hostile)
	must(err)
	_, _, err = st.PushPrompt(ctx, f.a.ID, promptA, store.PromptContent{
		Messages: []store.PromptMessage{{Role: "system", Content: "Answer {{ q }}. " + hostile}, {Role: "user", Content: "{{ q }}"}},
		Model:    "model " + hostile, Params: map[string]any{"temperature": 0.2, "stop": hostile},
		Tools: []any{map[string]any{"name": hostile}}, ResponseFormat: map[string]any{"type": hostile}}, "alice@example.com", "chat "+hostile)
	must(err)
	r1, err := st.RequestPromptReview(ctx, f.a.ID, promptA, "production", 1, "alice@example.com", "")
	must(err)
	_, err = st.DecidePromptReview(ctx, f.a.ID, r1.ID, true, "reviewer "+hostile, "")
	must(err)
	r2, err := st.RequestPromptReview(ctx, f.a.ID, promptA, "production", 2, "vera@example.com", "why "+hostile)
	must(err)
	if strconv.FormatInt(r2.ID, 10) != openReview {
		t.Fatalf("the open review of A is #%d, want #%s", r2.ID, openReview)
	}
	_, err = st.CommentPromptReview(ctx, f.a.ID, r2.ID, "critic "+hostile, "comment "+hostile)
	must(err)
	_, _, err = st.PushPrompt(ctx, f.b.ID, "beta-only/answer", store.PromptContent{Template: "Beta {{ q }}"}, "bob@example.com", "Beta first")
	must(err)
	_, err = st.RequestPromptReview(ctx, f.b.ID, "beta-only/answer", "production", 1, "bob@example.com", "Beta release")
	must(err)
	return f
}

// hostileReport is a run of 3 tests × 2 providers × 2 repeats with hostile text in every
// field a page shows; provider "smart" fails the first `worse` tests, and one call errs.
func hostileReport(id string, at time.Time, worse int) *report.Report {
	var results []report.Result
	for test := range 3 {
		for _, prov := range []string{"fast", "smart " + hostile} {
			for rep := range 2 {
				r := report.Result{
					Test: report.TestRef{Index: test, Description: "case " + hostile, Segment: "seg " + hostile,
						Vars: map[string]any{"q" + hostile: "value " + hostile, "n": test}},
					Prompt: "v1 " + hostile, PromptHash: "aaaaaaaaaaaa", Provider: prov, Repeat: rep,
					Rendered: "prompt " + hostile,
					Output:   fmt.Sprintf("answer %d: %s", test, hostile), LatencyMS: float64(100 + 10*test), Cost: 0.001,
					Tokens: report.Tokens{Prompt: 10, Completion: 5, Total: 15}, Passed: true, Score: 1,
					Assertions: []report.Assertion{{Type: "contains", Weight: 1, Passed: true, Score: 1, Reason: "reason " + hostile}},
				}
				if prov != "fast" && test < worse {
					r.Passed, r.Score = false, 0
					r.Assertions[0].Passed, r.Assertions[0].Score = false, 0
					r.Output = fmt.Sprintf("wrong %d: %s", test, hostile)
				}
				if prov != "fast" && test == 2 && rep == 1 {
					r.Error, r.Passed, r.Score, r.Output, r.Assertions = "timeout "+hostile, false, 0, "", nil
				}
				results = append(results, r)
			}
		}
	}
	return &report.Report{
		Run: report.Run{ID: id, Suite: "suite " + hostile, Status: report.StatusComplete, StartedAt: at,
			FinishedAt: at.Add(time.Minute), ConfigHash: "cfg", Description: "desc " + hostile,
			Provenance: report.Provenance{PlumbVersion: "test", Repeat: 2, Mode: "replay", User: "user " + hostile,
				GitCommit: "commit" + hostile,
				Prompts:   []report.PromptRef{{Label: "v1 " + hostile, Hash: "aaaaaaaaaaaa", Registry: "prompt://v1@3"}},
				Providers: []report.ProviderRef{{Label: "fast", Type: "openai"}, {Label: "smart " + hostile, Type: "anthropic"}},
				Datasets:  []report.DatasetRef{{Ref: "dataset://golden", Pinned: "dataset://golden@2", Name: "golden", Version: 2, Items: 5}}}},
		Summary: eval.Summarize(results, nil),
		Results: results,
	}
}

// browser is a user's browser: a cookie jar, no automatic redirects (so tests see them).
type browser struct {
	f    *fixture
	c    *http.Client
	csrf string
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// as is a browser logged in as u through the login form.
func (f *fixture) as(u store.User) *browser {
	f.t.Helper()
	b := f.browser()
	res := b.post("/login", url.Values{"email": {u.Email}, "password": {password}, "next": {"/"}})
	if res.status != http.StatusSeeOther {
		f.t.Fatalf("log in as %s: %d %s", u.Email, res.status, res.body)
	}
	b.csrf = csrfIn(b.get("/").body)
	if b.csrf == "" {
		f.t.Fatalf("no CSRF token on the projects page of %s", u.Email)
	}
	return b
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfIn(body string) string {
	if m := csrfRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) response {
	b.f.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(body)}
}

func (b *browser) get(path string) response {
	req, _ := http.NewRequest("GET", b.f.url+path, nil)
	return b.do(req)
}

// post sends a form as a page of this server would, with the session's CSRF token unless
// the form has one.
func (b *browser) post(path string, form url.Values) response {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok && b.csrf != "" {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.f.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.f.url)
	return b.do(req)
}

// serveUI serves the UI over st on a loopback port and returns its URL.
func serveUI(t *testing.T, st store.Store) string {
	t.Helper()
	srv := server.New(server.Config{Store: st, Password: cheapHash, LoginBurst: 100})
	ui, err := New(Config{Server: srv, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(ui.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}
