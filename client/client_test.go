package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/eval"
	"github.com/plumbhq/plumb/internal/report"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

// testServer is a real API server on a loopback port over a SQLite store, with projects
// "alpha" and "beta", API keys (an editor and a viewer of alpha, an editor of beta) and an
// instance admin, root@example.com, whose password is password.
type testServer struct {
	url                  string
	st                   store.Store
	keyA, keyAView, keyB string
	admin                store.User
}

// password is the fixture users' password.
const password = "correct horse battery staple"

// cheapHash keeps the tests fast; auth's tests cover the real parameters.
var cheapHash = auth.Params{Time: 1, Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"), store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := server.New(server.Config{Store: st, Password: cheapHash, LoginBurst: 100})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	key := func(p store.Project, r store.Role) string {
		secret, shown := auth.NewAPIKey()
		if _, err := st.CreateAPIKey(ctx, store.APIKey{ProjectID: p.ID, Name: "test", Role: r, Prefix: shown,
			KeyHash: store.HashToken(secret)}); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	a, err := st.CreateProject(ctx, store.Project{Slug: "alpha", Name: "Alpha"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateProject(ctx, store.Project{Slug: "beta", Name: "Beta"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := auth.HashPassword(password, cheapHash)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := st.CreateUser(ctx, store.User{Email: "root@example.com", PasswordHash: h, IsAdmin: true})
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{url: ts.URL, st: st, keyA: key(a, store.RoleEditor), keyAView: key(a, store.RoleViewer),
		keyB: key(b, store.RoleEditor), admin: admin}
}

// login is a client logged in as email with pw.
func (ts *testServer) login(t *testing.T, email, pw string) *Client {
	t.Helper()
	c := ts.client(t, "")
	if _, err := c.Login(context.Background(), email, pw); err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return c
}

func (ts *testServer) client(t *testing.T, key string) *Client {
	t.Helper()
	opts := []Option{WithUserAgent("client-test")}
	if key != "" {
		opts = append(opts, WithAPIKey(key))
	}
	c, err := New(ts.url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sampleReport is a run of 3 tests × 2 providers × 2 repeats; the "smart" provider fails
// the first `worse` tests.
func sampleReport(id string, at time.Time, worse int) *Report {
	var results []report.Result
	for test := range 3 {
		for _, prov := range []string{"fast", "smart"} {
			for rep := range 2 {
				r := report.Result{
					Test:   report.TestRef{Index: test, Description: fmt.Sprintf("case %d", test), Vars: map[string]any{"q": test}},
					Prompt: "v1", PromptHash: "aaaaaaaaaaaa", Provider: prov, Repeat: rep, Output: "ok",
					LatencyMS: 100, Tokens: report.Tokens{Total: 15}, Passed: true, Score: 1,
					Assertions: []report.Assertion{{Type: "contains", Weight: 1, Passed: true, Score: 1}},
				}
				if prov == "smart" && test < worse {
					r.Passed, r.Score = false, 0
					r.Assertions[0].Passed, r.Assertions[0].Score = false, 0
				}
				results = append(results, r)
			}
		}
	}
	return &Report{
		Run: report.Run{ID: id, Suite: "support", Status: report.StatusComplete, StartedAt: at, FinishedAt: at.Add(time.Minute),
			Provenance: report.Provenance{PlumbVersion: "test", Repeat: 2, Mode: "replay",
				Prompts:   []report.PromptRef{{Label: "v1", Hash: "aaaaaaaaaaaa"}},
				Providers: []report.ProviderRef{{Label: "fast", Type: "openai"}, {Label: "smart", Type: "anthropic"}}}},
		Summary: eval.Summarize(results, nil),
		Results: results,
	}
}

func TestRunsLifecycle(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	c := ts.client(t, ts.keyA)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	// run-1 passes everything; run-2 fails 2 samples; run-3 fails all 6 of "smart".
	for i, worse := range []int{0, 1, 3} {
		id := fmt.Sprintf("run-%d", i+1)
		info, err := c.UploadRun(ctx, "alpha", sampleReport(id, t0.Add(time.Duration(i)*time.Hour), worse))
		if err != nil {
			t.Fatalf("upload %s: %v", id, err)
		}
		wantRate := float64(12-2*worse) / 12
		if info.ID != id || info.Cases != 12 || info.Failed != 2*worse || info.PassRate != wantRate {
			t.Fatalf("upload %s: info = %+v, want 12 cases, %d failed, pass rate %v", id, info, 2*worse, wantRate)
		}
	}

	// Paging: newest first, two at a time, by hand and through the iterator.
	p1, err := c.ListRuns(ctx, "alpha", ListRunsOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := runIDs(p1.Runs); got != "run-3 run-2" || p1.NextCursor == "" {
		t.Fatalf("page 1 = %q cursor %q, want run-3 run-2 and a cursor", got, p1.NextCursor)
	}
	p2, err := c.ListRuns(ctx, "alpha", ListRunsOptions{Limit: 2, Cursor: p1.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if got := runIDs(p2.Runs); got != "run-1" || p2.NextCursor != "" {
		t.Fatalf("page 2 = %q cursor %q, want run-1 and no cursor", got, p2.NextCursor)
	}
	var all []RunInfo
	for r, err := range c.Runs(ctx, "alpha", ListRunsOptions{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	if got := runIDs(all); got != "run-3 run-2 run-1" {
		t.Fatalf("Runs iterated %q, want all three newest first", got)
	}
	if p, err := c.ListRuns(ctx, "alpha", ListRunsOptions{Status: "incomplete"}); err != nil || len(p.Runs) != 0 {
		t.Fatalf("status filter: %v %v, want no incomplete run", p.Runs, err)
	}

	d, err := c.GetRun(ctx, "alpha", "run-2")
	if err != nil {
		t.Fatal(err)
	}
	if d.Run.ID != "run-2" || d.Run.Suite != "support" || d.Summary.Cases != 12 || d.Summary.Failed != 2 {
		t.Fatalf("GetRun = %+v / %+v", d.Run, d.Summary)
	}
	// 3 tests × 2 providers; run-2's failures are on both repeats, so none is flaky.
	if d.TestsCount != 6 || d.FlakyCount != 0 || d.Summary.Tests != nil {
		t.Fatalf("GetRun counts: tests %d, flaky %d, rows %v; want 6, 0 and the rows left to Tests", d.TestsCount, d.FlakyCount, d.Summary.Tests)
	}

	// Per-test rows, paged, in report order; the failing one is smart's test 0.
	t1, err := c.Tests(ctx, "alpha", "run-2", false, "", 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(t1.Tests) != 4 || t1.Total != 6 || t1.NextCursor == "" {
		t.Fatalf("tests page 1: %d rows, total %d, cursor %q; want 4, 6, a cursor", len(t1.Tests), t1.Total, t1.NextCursor)
	}
	t2, err := c.Tests(ctx, "alpha", "run-2", false, t1.NextCursor, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(t2.Tests) != 2 || t2.NextCursor != "" {
		t.Fatalf("tests page 2: %d rows, cursor %q; want 2 and no cursor", len(t2.Tests), t2.NextCursor)
	}
	failing := 0
	for _, row := range append(t1.Tests, t2.Tests...) {
		if row.PassRate == 0 {
			failing++
			if row.Provider != "smart" || row.Test != 0 || row.Samples != 2 {
				t.Errorf("failing row %+v, want smart's test 0 over 2 samples", row)
			}
		}
	}
	if failing != 1 {
		t.Errorf("%d failing rows, want 1", failing)
	}
	if fl, err := c.Tests(ctx, "alpha", "run-2", true, "", 0); err != nil || fl.Total != 0 || len(fl.Tests) != 0 {
		t.Fatalf("flaky rows: %+v, %v; want none", fl, err)
	}
	if _, err := c.Tests(ctx, "alpha", "run-2", false, "not-a-cursor", 0); !IsCode(err, CodeBadRequest) {
		t.Fatalf("Tests with a bad cursor: %v, want bad_request", err)
	}

	// Results: filtered, and paged through to the filter's total.
	failed, err := c.Results(ctx, "alpha", "run-3", ResultsOptions{Failed: true, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if failed.Total != 6 || len(failed.Results) != 3 || failed.NextCursor == "" {
		t.Fatalf("failed results: total %d, %d on the page, cursor %q; want 6, 3, a cursor", failed.Total, len(failed.Results), failed.NextCursor)
	}
	seen := 0
	opt := ResultsOptions{Failed: true, Limit: 3}
	for {
		page, err := c.Results(ctx, "alpha", "run-3", opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Results {
			if r.Passed || r.Provider != "smart" {
				t.Fatalf("failed filter returned %+v", r)
			}
		}
		seen += len(page.Results)
		if page.NextCursor == "" {
			break
		}
		opt.Cursor = page.NextCursor
	}
	if seen != 6 {
		t.Fatalf("paged through %d failed results, want 6", seen)
	}
	test0 := 0
	if page, err := c.Results(ctx, "alpha", "run-3", ResultsOptions{Test: &test0, Provider: "fast"}); err != nil || page.Total != 2 {
		t.Fatalf("test=0 provider=fast: total %d, %v; want 2", page.Total, err)
	}

	cmp, err := c.Compare(ctx, "alpha", "run-1", "run-3", CompareOptions{Alpha: 0.05, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Matched != 12 || cmp.PassToFail != 6 || !cmp.Regressed {
		t.Fatalf("compare run-1 → run-3: matched %d, pass→fail %d, regressed %v; want 12, 6, true", cmp.Matched, cmp.PassToFail, cmp.Regressed)
	}
	if len(cmp.Regressions) != 2 || cmp.RegressionsTotal != 6 {
		t.Fatalf("compare with limit 2: %d regressions of %d, want 2 of 6", len(cmp.Regressions), cmp.RegressionsTotal)
	}

	me, err := c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.APIKey == nil || me.User != nil || len(me.Projects) != 1 || me.Projects[0].Project.Slug != "alpha" || me.Projects[0].Role != RoleEditor {
		t.Fatalf("Me = %+v", me)
	}

	if err := c.DeleteRun(ctx, "alpha", "run-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRun(ctx, "alpha", "run-2"); !IsCode(err, CodeNotFound) {
		t.Fatalf("GetRun after delete: %v, want not_found", err)
	}
}

func runIDs(runs []RunInfo) string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, " ")
}

func TestErrors(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := ts.client(t, ts.keyB).UploadRun(ctx, "beta", sampleReport("run-b", t0, 0)); err != nil {
		t.Fatal(err)
	}
	a := ts.client(t, ts.keyA)
	if _, err := a.UploadRun(ctx, "alpha", sampleReport("run-a", t0, 0)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		call   func() error
		status int
		code   string
		field  string
	}{
		{"no key", func() error { _, err := ts.client(t, "").ListRuns(ctx, "alpha", ListRunsOptions{}); return err },
			401, CodeUnauthorized, ""},
		{"wrong key", func() error { _, err := ts.client(t, "plk_"+strings.Repeat("x", 32)).Me(ctx); return err },
			401, CodeUnauthorized, ""},
		{"other project's runs", func() error { _, err := a.ListRuns(ctx, "beta", ListRunsOptions{}); return err },
			404, CodeNotFound, ""},
		{"other project's run through own project", func() error { _, err := a.GetRun(ctx, "alpha", "run-b"); return err },
			404, CodeNotFound, ""},
		{"other project's results", func() error { _, err := a.Results(ctx, "alpha", "run-b", ResultsOptions{}); return err },
			404, CodeNotFound, ""},
		{"compare with another project's run", func() error { _, err := a.Compare(ctx, "alpha", "run-a", "run-b", CompareOptions{}); return err },
			404, CodeNotFound, ""},
		{"delete another project's run", func() error { return a.DeleteRun(ctx, "alpha", "run-b") },
			404, CodeNotFound, ""},
		{"unknown field", func() error {
			_, err := a.UploadRunJSON(ctx, "alpha", []byte(`{"run": {"id": "x", "status": "complete"}, "bogus": 1}`))
			return err
		}, 400, CodeBadRequest, "bogus"},
		{"wrong type", func() error {
			_, err := a.UploadRunJSON(ctx, "alpha", []byte(`{"run": {"id": 7}}`))
			return err
		}, 400, CodeBadRequest, "run.id"},
		{"run id of another project", func() error { _, err := a.UploadRun(ctx, "alpha", sampleReport("run-b", t0, 0)); return err },
			409, CodeConflict, ""},
		{"viewer uploads", func() error {
			_, err := ts.client(t, ts.keyAView).UploadRun(ctx, "alpha", sampleReport("run-v", t0, 0))
			return err
		}, 403, CodeForbidden, ""},
		{"bad limit", func() error { _, err := a.ListRuns(ctx, "alpha", ListRunsOptions{Limit: 5000}); return err },
			400, CodeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *client.Error", err, err)
			}
			if e.Status != tt.status || e.Code != tt.code || e.Field != tt.field {
				t.Fatalf("got %d %s field %q, want %d %s field %q: %v", e.Status, e.Code, e.Field, tt.status, tt.code, tt.field, e)
			}
			if e.Message == "" || e.RequestID == "" {
				t.Fatalf("error without message or request id: %+v", e)
			}
			for _, k := range []string{ts.keyA, ts.keyB, ts.keyAView} {
				if strings.Contains(err.Error(), k) {
					t.Fatalf("the error shows an API key: %v", err)
				}
			}
		})
	}
}

// TestNonEnvelopeError: a proxy's error page still becomes an *Error with a usable code.
func TestNonEnvelopeError(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway from the proxy", http.StatusBadGateway)
	}))
	defer ts.Close()
	c, err := New(ts.URL, WithAPIKey("plk_secret"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Me(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != 502 || e.Code != CodeInternal || !strings.Contains(e.Message, "bad gateway from the proxy") {
		t.Fatalf("err = %#v", err)
	}
}

// TestRequestHeaders: the key travels only in the Authorization header, with the User-Agent.
func TestRequestHeaders(t *testing.T) {
	var got http.Header
	var rawURL string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, rawURL = r.Header.Clone(), r.URL.String()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"runs": [], "next_cursor": ""}`))
	}))
	defer ts.Close()
	c, err := New(ts.URL+"/", WithAPIKey("plk_secret"), WithUserAgent("ua/1"), WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRuns(context.Background(), "a b", ListRunsOptions{Suite: "s&x", Limit: 3}); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer plk_secret" || got.Get("User-Agent") != "ua/1" {
		t.Fatalf("headers = %v", got)
	}
	if rawURL != "/api/v1/projects/a%20b/runs?limit=3&suite=s%26x" {
		t.Fatalf("URL = %s", rawURL)
	}
}

func TestNewRejects(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://h", "http://", "http://u:pw@h", "http://h?x=1"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("New(%q) error shows the password: %v", u, err)
		}
	}
	if c, err := New("http://127.0.0.1:8080/plumb/"); err != nil || c.RunURL("p", "r 1") != "http://127.0.0.1:8080/plumb/api/v1/projects/p/runs/r%201" {
		t.Fatalf("New with a path prefix: %v %v", c, err)
	}
}

// TestAccounts administers a server through the client as users: projects, members, API
// keys, the audit log, users and passwords, with the session and CSRF token kept by the
// client.
func TestAccounts(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	root := ts.login(t, "root@example.com", password)
	fail := func(what string, err error, code, field string) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Code != code || e.Field != field {
			t.Fatalf("%s: %v, want %s (field %q)", what, err, code, field)
		}
	}

	me, err := root.Me(ctx)
	if err != nil || me.User == nil || me.User.ID != ts.admin.ID || me.APIKey != nil || len(me.Projects) != 3 {
		t.Fatalf("Me as root = %+v, %v; want the admin and 3 projects", me, err)
	}

	// Users.
	dan, err := root.CreateUser(ctx, NewUser{Email: "dan@example.com", Password: password})
	if err != nil || dan.Email != "dan@example.com" || dan.IsAdmin || dan.ID == "" {
		t.Fatalf("CreateUser = %+v, %v", dan, err)
	}
	_, err = root.CreateUser(ctx, NewUser{Email: "eve@example.com", Password: "too short"})
	fail("short password", err, CodeBadRequest, "password")
	_, err = root.CreateUser(ctx, NewUser{Email: "DAN@example.com", Password: password})
	fail("taken email", err, CodeConflict, "")
	eve, err := root.CreateUser(ctx, NewUser{Email: "eve@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	users, err := root.Users(ctx)
	if err != nil || len(users) != 3 || users[0].ID != ts.admin.ID || users[2].ID != eve.ID || users[1].PasswordHash != "" {
		t.Fatalf("Users = %+v, %v; want root, dan, eve without hashes", users, err)
	}
	danC := ts.login(t, "dan@example.com", password)
	_, err = danC.Users(ctx)
	fail("Users as a non-admin", err, CodeForbidden, "")

	// Projects and members.
	p, err := root.CreateProject(ctx, "gamma", "Gamma")
	if err != nil || p.Slug != "gamma" || p.ID == "" {
		t.Fatalf("CreateProject = %+v, %v", p, err)
	}
	_, err = root.CreateProject(ctx, "gamma", "Again")
	fail("taken slug", err, CodeConflict, "")
	_, err = root.CreateProject(ctx, "Not A Slug", "x")
	fail("bad slug", err, CodeBadRequest, "slug")
	if m, err := root.AddMember(ctx, "gamma", "dan@example.com", RoleAdmin); err != nil || m.UserID != dan.ID || m.Role != RoleAdmin {
		t.Fatalf("AddMember dan = %+v, %v", m, err)
	}
	_, err = danC.AddMember(ctx, "gamma", "nobody@example.com", RoleViewer)
	fail("add an unknown user", err, CodeNotFound, "")
	if _, err := danC.AddMember(ctx, "gamma", "eve@example.com", RoleViewer); err != nil {
		t.Fatal(err)
	}
	if m, err := danC.UpdateMember(ctx, "gamma", eve.ID, RoleEditor); err != nil || m.Role != RoleEditor {
		t.Fatalf("UpdateMember = %+v, %v", m, err)
	}
	ms, err := danC.Members(ctx, "gamma")
	if err != nil || len(ms) != 2 || ms[0].Email != "dan@example.com" || ms[1].Role != RoleEditor {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	fail("remove the last admin", danC.RemoveMember(ctx, "gamma", dan.ID), CodeConflict, "")
	if err := danC.RemoveMember(ctx, "gamma", eve.ID); err != nil {
		t.Fatal(err)
	}
	if ps, err := danC.Projects(ctx); err != nil || len(ps) != 1 || ps[0].Slug != "gamma" {
		t.Fatalf("Projects as dan = %+v, %v; want gamma", ps, err)
	}

	// API keys: the secret once, never listed, works until revoked.
	expires := time.Now().Add(time.Hour)
	k, secret, err := danC.CreateKey(ctx, "gamma", "CI", RoleEditor, &expires)
	if err != nil || k.ID == "" || k.Role != RoleEditor || !strings.HasPrefix(secret, "plk_") || k.ExpiresAt == nil {
		t.Fatalf("CreateKey = %+v %q, %v", k, secret, err)
	}
	_, _, err = danC.CreateKey(ctx, "gamma", "bad", "root", nil)
	fail("key with a bad role", err, CodeBadRequest, "role")
	keyC := ts.client(t, secret)
	if _, err := keyC.UploadRun(ctx, "gamma", sampleReport("run-g", time.Now(), 0)); err != nil {
		t.Fatalf("upload with the new key: %v", err)
	}
	if _, err := keyC.Login(ctx, "dan@example.com", password); err == nil {
		t.Fatal("a client with an API key logged in")
	}
	keys, err := danC.Keys(ctx, "gamma")
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("Keys = %+v, %v", keys, err)
	}
	if err := danC.RevokeKey(ctx, "gamma", k.ID); err != nil {
		t.Fatal(err)
	}
	_, err = keyC.Me(ctx)
	fail("a revoked key", err, CodeUnauthorized, "")
	_, err = ts.client(t, ts.keyA).Keys(ctx, "gamma")
	fail("another project's keys", err, CodeNotFound, "")

	// The audit log, newest first, a page at a time.
	var actions []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("audit paging does not end")
		}
		page, err := danC.Audit(ctx, "gamma", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			actions = append(actions, e.Action)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want := "key.revoke run.create key.create member.remove member.update member.add member.add project.create"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("gamma's audit log:\n got %s\nwant %s", got, want)
	}

	// Disabling ends the user's sessions; the last instance admin stays.
	yes, no := true, false
	if u, err := root.UpdateUser(ctx, dan.ID, UserUpdate{Disabled: &yes}); err != nil || !u.Disabled {
		t.Fatalf("disable dan = %+v, %v", u, err)
	}
	_, err = danC.Me(ctx)
	fail("disabled dan's session", err, CodeUnauthorized, "")
	_, err = ts.client(t, "").Login(ctx, "dan@example.com", password)
	fail("disabled dan logs in", err, CodeUnauthorized, "")
	_, err = root.UpdateUser(ctx, ts.admin.ID, UserUpdate{IsAdmin: &no})
	fail("demote the last admin", err, CodeConflict, "")
	if _, err := root.UpdateUser(ctx, dan.ID, UserUpdate{Disabled: &no}); err != nil {
		t.Fatal(err)
	}

	// Changing one's password ends one's other sessions and keeps this one.
	other := ts.login(t, "dan@example.com", password)
	danC = ts.login(t, "dan@example.com", password)
	fail("wrong current password", danC.ChangePassword(ctx, "not my password", "a new and longer passphrase"), CodeBadRequest, "current_password")
	if err := danC.ChangePassword(ctx, password, "a new and longer passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := danC.Me(ctx); err != nil {
		t.Errorf("the session that changed the password: %v", err)
	}
	_, err = other.Me(ctx)
	fail("dan's other session", err, CodeUnauthorized, "")
	_, err = ts.client(t, "").Login(ctx, "dan@example.com", password)
	fail("the old password", err, CodeUnauthorized, "")
	ts.login(t, "dan@example.com", "a new and longer passphrase")
	fail("ChangePassword with a key", ts.client(t, ts.keyA).ChangePassword(ctx, password, "whatever it is now"), CodeForbidden, "")

	// Logout ends the session on the server.
	if err := danC.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = danC.Me(ctx)
	fail("after Logout", err, CodeUnauthorized, "")
	if err := danC.Logout(ctx); err == nil {
		t.Error("Logout twice succeeded")
	}
}
