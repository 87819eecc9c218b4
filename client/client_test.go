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
// "alpha" and "beta" and API keys: an editor and a viewer of alpha, an editor of beta.
type testServer struct {
	url                  string
	st                   store.Store
	keyA, keyAView, keyB string
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"), store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := server.New(server.Config{Store: st, Password: auth.Params{Time: 1, Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}})
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
	return &testServer{url: ts.URL, st: st, keyA: key(a, store.RoleEditor), keyAView: key(a, store.RoleViewer), keyB: key(b, store.RoleEditor)}
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

	cmp, err := c.Compare(ctx, "alpha", "run-1", "run-3", 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Matched != 12 || cmp.PassToFail != 6 || !cmp.Regressed {
		t.Fatalf("compare run-1 → run-3: matched %d, pass→fail %d, regressed %v; want 12, 6, true", cmp.Matched, cmp.PassToFail, cmp.Regressed)
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
		{"compare with another project's run", func() error { _, err := a.Compare(ctx, "alpha", "run-a", "run-b", 0); return err },
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
