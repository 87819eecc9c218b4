package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// scenario is one API call and what a client must see. Scenarios of a table run in order
// against one fixture, so later ones see what earlier ones changed.
type scenario struct {
	name   string
	as     func(f *fixture) *client
	method string
	path   string // {A} {B} {runA1} {runA2} {runB} {keyB} {carol} {bob} {alice} are replaced
	body   any    // func(f *fixture) any is called
	status int
	code   string // the envelope's code; "" for a success
	field  string // the envelope's field
	check  func(t *testing.T, f *fixture, r *response)
}

func (f *fixture) expand(s string) string {
	return strings.NewReplacer("{A}", f.a.Slug, "{B}", f.b.Slug, "{runA1}", f.runA1, "{runA2}", f.runA2,
		"{runB}", f.runB, "{keyB}", f.keyBID, "{carol}", f.carol.ID, "{bob}", f.bob.ID, "{alice}", f.alice.ID).Replace(s)
}

func runScenarios(t *testing.T, f *fixture, table []scenario) {
	t.Helper()
	for _, sc := range table {
		body := sc.body
		if fn, ok := body.(func(*fixture) any); ok {
			body = fn(f)
		}
		r := sc.as(f).do(sc.method, f.expand(sc.path), body)
		if r.status != sc.status || r.errCode() != sc.code || r.str("error.field") != sc.field {
			t.Errorf("%s: %s %s = %d code=%q field=%q, want %d code=%q field=%q\n%s", sc.name, sc.method, sc.path,
				r.status, r.errCode(), r.str("error.field"), sc.status, sc.code, sc.field, truncate(r.raw))
			continue
		}
		if sc.code != "" && r.str("error.message") == "" {
			t.Errorf("%s: error envelope without a message: %s", sc.name, r.raw)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", sc.name)
		}
		if sc.check != nil {
			sc.check(t, f, r)
		}
	}
}

func truncate(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

func anon(f *fixture) *client        { return f.anon() }
func asAdmin(f *fixture) *client     { return f.session("root@example.com") }
func asAlice(f *fixture) *client     { return f.session("alice@example.com") }
func asVera(f *fixture) *client      { return f.session("vera@example.com") }
func asCarol(f *fixture) *client     { return f.session("carol@example.com") }
func asKeyA(f *fixture) *client      { return f.withKey(f.keyA) }
func asViewerKey(f *fixture) *client { return f.withKey(f.keyAViewer) }
func asKeyB(f *fixture) *client      { return f.withKey(f.keyB) }

// noCSRF is alice's session without the CSRF header.
func noCSRF(f *fixture) *client { c := *asAlice(f); c.csrf = ""; return &c }

// badCSRF is alice's session with another session's CSRF token.
func badCSRF(f *fixture) *client { c := *asAlice(f); c.csrf = asVera(f).csrf; return &c }

func uploadBody(id string, worse int) func(*fixture) any {
	return func(f *fixture) any {
		return rawBody{"application/json", reportJSON(f.t, sampleReport(id, f.clock.Now(), worse))}
	}
}

func wantInt(t *testing.T, r *response, name string, want int) {
	t.Helper()
	if got, _ := r.body[name].(float64); int(got) != want {
		t.Errorf("%s = %v, want %d", name, r.body[name], want)
	}
}

// mainScenarios is the API's scenario table, run on SQLite and PostgreSQL.
func mainScenarios() []scenario {
	login := func(email, pw string) map[string]any { return map[string]any{"email": email, "password": pw} }
	return []scenario{
		// Sessions and the body rules.
		{name: "login", as: anon, method: "POST", path: "/api/v1/session", body: login("alice@example.com", password), status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.str("csrf_token") == "" || r.str("user.email") != "alice@example.com" {
					t.Errorf("login answer: %s", r.raw)
				}
				if strings.Contains(r.raw, "argon2") {
					t.Errorf("login answer shows the password hash: %s", r.raw)
				}
				sc := r.header.Get("Set-Cookie")
				for _, want := range []string{sessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
					if !strings.Contains(sc, want) {
						t.Errorf("Set-Cookie %q lacks %s", sc, want)
					}
				}
			}},
		{name: "bad password", as: anon, method: "POST", path: "/api/v1/session", body: login("bob@example.com", "not the password"), status: 401, code: "unauthorized"},
		{name: "unknown email", as: anon, method: "POST", path: "/api/v1/session", body: login("nobody@example.com", password), status: 401, code: "unauthorized"},
		{name: "missing password", as: anon, method: "POST", path: "/api/v1/session", body: map[string]any{"email": "a@b.c"}, status: 400, code: "bad_request", field: "password"},
		{name: "unknown field", as: anon, method: "POST", path: "/api/v1/session", body: map[string]any{"email": "a@b.c", "password": "x", "remember_me": true},
			status: 400, code: "bad_request", field: "remember_me"},
		{name: "wrong type", as: anon, method: "POST", path: "/api/v1/session", body: `{"email": 42, "password": "x"}`, status: 400, code: "bad_request", field: "email",
			check: func(t *testing.T, f *fixture, r *response) {
				if !strings.Contains(r.str("error.message"), "a string") {
					t.Errorf("message does not name the expected type: %s", r.raw)
				}
			}},
		{name: "malformed JSON", as: anon, method: "POST", path: "/api/v1/session", body: `{"email": "a@b.c",, }`, status: 400, code: "bad_request",
			check: func(t *testing.T, f *fixture, r *response) {
				if !strings.Contains(r.str("error.message"), "offset 19") {
					t.Errorf("message does not give the byte offset: %s", r.raw)
				}
			}},
		{name: "two values", as: anon, method: "POST", path: "/api/v1/session", body: `{"email":"a@b.c","password":"x"} {}`, status: 400, code: "bad_request"},
		{name: "empty body", as: anon, method: "POST", path: "/api/v1/session", body: rawBody{"application/json", ""}, status: 400, code: "bad_request"},
		{name: "not JSON", as: anon, method: "POST", path: "/api/v1/session", body: rawBody{"application/x-www-form-urlencoded", "email=a&password=b"}, status: 415, code: "unsupported_media_type"},
		{name: "oversized", as: anon, method: "POST", path: "/api/v1/session",
			body: `{"email": "` + strings.Repeat("a", 2<<20) + `", "password": "x"}`, status: 413, code: "too_large"},
		{name: "no credentials", as: anon, method: "GET", path: "/api/v1/me", status: 401, code: "unauthorized"},
		{name: "malformed key", as: func(f *fixture) *client { return f.withKey("plk_short") }, method: "GET", path: "/api/v1/me", status: 401, code: "unauthorized"},
		{name: "unknown route", as: asAlice, method: "GET", path: "/api/v1/nope", status: 404, code: "not_found"},
		{name: "me with a session", as: asAlice, method: "GET", path: "/api/v1/me", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.str("csrf_token") != asAlice(f).csrf {
					t.Errorf("GET /me csrf_token %q differs from the login's %q", r.str("csrf_token"), asAlice(f).csrf)
				}
				ps := r.list("projects")
				if len(ps) != 1 || !strings.Contains(fmt.Sprint(ps[0]), "alpha") || !strings.Contains(fmt.Sprint(ps[0]), "admin") {
					t.Errorf("projects = %v, want alpha as admin", ps)
				}
			}},
		{name: "me with a key", as: asKeyA, method: "GET", path: "/api/v1/me", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.body["csrf_token"] != nil || r.str("api_key.role") != "editor" {
					t.Errorf("GET /me as a key: %s", r.raw)
				}
			}},

		// CSRF and projects.
		{name: "csrf missing", as: noCSRF, method: "POST", path: "/api/v1/projects/{A}/keys", body: map[string]any{"name": "ci", "role": "viewer"}, status: 403, code: "csrf"},
		{name: "csrf of another session", as: badCSRF, method: "POST", path: "/api/v1/projects/{A}/keys", body: map[string]any{"name": "ci", "role": "viewer"}, status: 403, code: "csrf"},
		{name: "csrf not needed to read", as: noCSRF, method: "GET", path: "/api/v1/projects", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if n := len(r.list("projects")); n != 1 {
					t.Errorf("alice sees %d projects, want 1: %s", n, r.raw)
				}
			}},
		{name: "admin sees every project", as: asAdmin, method: "GET", path: "/api/v1/projects", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if n := len(r.list("projects")); n != 3 { // alpha, beta, default
					t.Errorf("admin sees %d projects, want 3: %s", n, r.raw)
				}
			}},
		{name: "create project", as: asAdmin, method: "POST", path: "/api/v1/projects", body: map[string]any{"slug": "gamma", "name": "Gamma"}, status: 201,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.str("project.slug") != "gamma" || r.str("project.id") == "" {
					t.Errorf("created project: %s", r.raw)
				}
			}},
		{name: "duplicate slug", as: asAdmin, method: "POST", path: "/api/v1/projects", body: map[string]any{"slug": "gamma", "name": "G"}, status: 409, code: "conflict"},
		{name: "bad slug", as: asAdmin, method: "POST", path: "/api/v1/projects", body: map[string]any{"slug": "Not A Slug", "name": "G"}, status: 400, code: "bad_request", field: "slug"},
		{name: "project by a member", as: asAlice, method: "POST", path: "/api/v1/projects", body: map[string]any{"slug": "delta", "name": "D"}, status: 403, code: "forbidden"},
		{name: "project by a key", as: asKeyA, method: "POST", path: "/api/v1/projects", body: map[string]any{"slug": "delta", "name": "D"}, status: 403, code: "forbidden"},

		// Runs.
		{name: "upload", as: asKeyA, method: "POST", path: "/api/v1/projects/{A}/runs", body: uploadBody("run-a3", 2), status: 201,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.str("run.id") != "run-a3" {
					t.Errorf("upload answer: %s", r.raw)
				}
				if got, _ := r.body["run"].(map[string]any)["cases"].(float64); got != 12 {
					t.Errorf("uploaded run has %v cases, want 12", got)
				}
			}},
		{name: "upload again replaces", as: asKeyA, method: "POST", path: "/api/v1/projects/{A}/runs", body: uploadBody("run-a3", 2), status: 201},
		{name: "upload by a viewer", as: asViewerKey, method: "POST", path: "/api/v1/projects/{A}/runs", body: uploadBody("run-a4", 1), status: 403, code: "forbidden"},
		{name: "upload over another project's run", as: asKeyA, method: "POST", path: "/api/v1/projects/{A}/runs", body: uploadBody("run-b1", 1), status: 409, code: "conflict"},
		{name: "upload without id", as: asKeyA, method: "POST", path: "/api/v1/projects/{A}/runs", body: `{"run": {"status": "complete"}, "summary": {}, "results": []}`,
			status: 400, code: "bad_request", field: "run.id"},
		{name: "upload unknown nested field", as: asKeyA, method: "POST", path: "/api/v1/projects/{A}/runs",
			body: `{"run": {"id": "x", "status": "complete", "colour": "red"}, "summary": {}, "results": []}`, status: 400, code: "bad_request", field: "colour"},
		{name: "upload wrong nested type", as: asKeyA, method: "POST", path: "/api/v1/projects/{A}/runs",
			body: `{"run": {"id": "x", "status": "complete"}, "summary": {"cases": "many"}, "results": []}`, status: 400, code: "bad_request", field: "summary.cases"},
		{name: "list runs page 1", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs?limit=2", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				runs := r.list("runs")
				if len(runs) != 2 || r.str("next_cursor") == "" {
					t.Fatalf("page 1: %s", truncate(r.raw))
				}
				if id := runs[0].(map[string]any)["id"]; id != "run-a3" {
					t.Errorf("newest run first: got %v", id)
				}
				r2 := asVera(f).do("GET", "/api/v1/projects/alpha/runs?limit=2&cursor="+url.QueryEscape(r.str("next_cursor")), nil)
				runs2 := r2.list("runs")
				if r2.status != 200 || len(runs2) != 1 || runs2[0].(map[string]any)["id"] != f.runA1 || r2.str("next_cursor") != "" {
					t.Errorf("page 2: %d %s", r2.status, truncate(r2.raw))
				}
			}},
		{name: "list runs by suite", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs?suite=nope", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if len(r.list("runs")) != 0 {
					t.Errorf("suite filter ignored: %s", truncate(r.raw))
				}
			}},
		{name: "list runs bad status", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs?status=done", status: 400, code: "bad_request"},
		{name: "list runs bad limit", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs?limit=0", status: 400, code: "bad_request"},
		{name: "list runs bad cursor", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs?cursor=zzz", status: 400, code: "bad_request"},
		{name: "get run", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/run-a3", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.str("run.id") != "run-a3" || r.body["summary"] == nil || r.body["results"] != nil {
					t.Errorf("get run: %s", truncate(r.raw))
				}
			}},
		{name: "results: failed only", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/run-a3/results?failed=true", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				wantInt(t, r, "total", 5) // tests 0 and 1 on smart × 2 repeats, and the error
				for _, x := range r.list("results") {
					if x.(map[string]any)["passed"] != false {
						t.Errorf("failed=true returned a passed result")
					}
				}
			}},
		{name: "results: errors only", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/run-a3/results?errors=true", status: 200,
			check: func(t *testing.T, f *fixture, r *response) { wantInt(t, r, "total", 1) }},
		{name: "results: by test, provider and segment", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/run-a3/results?test=0&provider=smart&segment=billing", status: 200,
			check: func(t *testing.T, f *fixture, r *response) { wantInt(t, r, "total", 2) }},
		{name: "results: paging", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/run-a3/results?limit=5", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				wantInt(t, r, "total", 12)
				seen := len(r.list("results"))
				for cur, pages := r.str("next_cursor"), 1; cur != ""; pages++ {
					if pages > 5 {
						t.Fatal("paging does not end")
					}
					p := asVera(f).do("GET", "/api/v1/projects/alpha/runs/run-a3/results?limit=5&cursor="+url.QueryEscape(cur), nil)
					seen += len(p.list("results"))
					cur = p.str("next_cursor")
				}
				if seen != 12 {
					t.Errorf("pages hold %d results, want 12", seen)
				}
			}},
		{name: "results: bad filter", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/run-a3/results?failed=maybe", status: 400, code: "bad_request"},
		{name: "results: bad test", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/run-a3/results?test=-1", status: 400, code: "bad_request"},
		{name: "results: bad cursor", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/run-a3/results?cursor=nope", status: 400, code: "bad_request"},
		{name: "compare", as: asVera, method: "GET", path: "/api/v1/projects/{A}/compare?a={runA1}&b=run-a3", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				wantInt(t, r, "matched", 12)
				wantInt(t, r, "pass_to_fail", 2) // test 1 on smart, both repeats
				if r.str("verdict") == "" {
					t.Errorf("no verdict: %s", truncate(r.raw))
				}
			}},
		{name: "compare without b", as: asVera, method: "GET", path: "/api/v1/projects/{A}/compare?a={runA1}", status: 400, code: "bad_request"},
		{name: "compare bad alpha", as: asVera, method: "GET", path: "/api/v1/projects/{A}/compare?a={runA1}&b={runA2}&alpha=2", status: 400, code: "bad_request"},
		{name: "delete run by a viewer", as: asVera, method: "DELETE", path: "/api/v1/projects/{A}/runs/{runA2}", status: 403, code: "forbidden"},
		{name: "delete run", as: asKeyA, method: "DELETE", path: "/api/v1/projects/{A}/runs/{runA2}", status: 204},
		{name: "deleted run is gone", as: asVera, method: "GET", path: "/api/v1/projects/{A}/runs/{runA2}", status: 404, code: "not_found"},
		{name: "delete it again", as: asKeyA, method: "DELETE", path: "/api/v1/projects/{A}/runs/{runA2}", status: 404, code: "not_found"},

		// Members.
		{name: "members by a viewer", as: asVera, method: "GET", path: "/api/v1/projects/{A}/members", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if n := len(r.list("members")); n != 2 {
					t.Errorf("%d members, want 2: %s", n, r.raw)
				}
			}},
		{name: "add member by a viewer", as: asVera, method: "POST", path: "/api/v1/projects/{A}/members", body: map[string]any{"email": "carol@example.com", "role": "viewer"}, status: 403, code: "forbidden"},
		{name: "outsider cannot see the project", as: asCarol, method: "GET", path: "/api/v1/projects/{A}/members", status: 404, code: "not_found"},
		{name: "add member bad role", as: asAlice, method: "POST", path: "/api/v1/projects/{A}/members", body: map[string]any{"email": "carol@example.com", "role": "owner"}, status: 400, code: "bad_request", field: "role"},
		{name: "add unknown user", as: asAlice, method: "POST", path: "/api/v1/projects/{A}/members", body: map[string]any{"email": "zed@example.com", "role": "viewer"}, status: 404, code: "not_found"},
		{name: "add member", as: asAlice, method: "POST", path: "/api/v1/projects/{A}/members", body: map[string]any{"email": "carol@example.com", "role": "viewer"}, status: 201},
		{name: "add member twice", as: asAlice, method: "POST", path: "/api/v1/projects/{A}/members", body: map[string]any{"email": "carol@example.com", "role": "viewer"}, status: 409, code: "conflict"},
		{name: "new viewer reads", as: asCarol, method: "GET", path: "/api/v1/projects/{A}/runs", status: 200},
		{name: "new viewer cannot delete", as: asCarol, method: "DELETE", path: "/api/v1/projects/{A}/runs/{runA1}", status: 403, code: "forbidden"},
		{name: "promote member", as: asAlice, method: "PATCH", path: "/api/v1/projects/{A}/members/{carol}", body: map[string]any{"role": "editor"}, status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.str("member.role") != "editor" {
					t.Errorf("promote: %s", r.raw)
				}
			}},
		{name: "promoted member uploads", as: asCarol, method: "POST", path: "/api/v1/projects/{A}/runs", body: uploadBody("run-carol", 0), status: 201},
		{name: "remove member", as: asAlice, method: "DELETE", path: "/api/v1/projects/{A}/members/{carol}", status: 204},
		{name: "removed member sees nothing", as: asCarol, method: "GET", path: "/api/v1/projects/{A}/runs", status: 404, code: "not_found"},
		{name: "demote the last admin", as: asAlice, method: "PATCH", path: "/api/v1/projects/{A}/members/{alice}", body: map[string]any{"role": "editor"}, status: 409, code: "conflict",
			check: func(t *testing.T, f *fixture, r *response) {
				if !strings.Contains(r.str("error.message"), "last admin") {
					t.Errorf("message does not say why: %s", r.raw)
				}
			}},
		{name: "remove the last admin", as: asAdmin, method: "DELETE", path: "/api/v1/projects/{A}/members/{alice}", status: 409, code: "conflict",
			check: func(t *testing.T, f *fixture, r *response) {
				if m, err := f.st.GetMembership(context.Background(), f.a.ID, f.alice.ID); err != nil || m.Role != store.RoleAdmin {
					t.Errorf("alice after the refused removal: %+v, %v", m, err)
				}
			}},
		{name: "remove a non-member", as: asAlice, method: "DELETE", path: "/api/v1/projects/{A}/members/{bob}", status: 404, code: "not_found"},

		// API keys.
		{name: "keys by an editor key", as: asKeyA, method: "GET", path: "/api/v1/projects/{A}/keys", status: 403, code: "forbidden"},
		{name: "key with a past expiry", as: asAlice, method: "POST", path: "/api/v1/projects/{A}/keys",
			body: func(f *fixture) any {
				return map[string]any{"name": "old", "role": "viewer", "expires_at": f.clock.Now().Add(-time.Hour)}
			}, status: 400, code: "bad_request", field: "expires_at"},
		{name: "key with a bad role", as: asAlice, method: "POST", path: "/api/v1/projects/{A}/keys", body: map[string]any{"name": "x", "role": "root"}, status: 400, code: "bad_request", field: "role"},
		{name: "key without a name", as: asAlice, method: "POST", path: "/api/v1/projects/{A}/keys", body: map[string]any{"role": "viewer"}, status: 400, code: "bad_request", field: "name"},
		{name: "audit by a non-admin", as: asVera, method: "GET", path: "/api/v1/projects/{A}/audit", status: 403, code: "forbidden"},
		{name: "export by a project admin", as: asAlice, method: "GET", path: "/api/v1/audit.jsonl", status: 403, code: "forbidden"},
		{name: "openapi", as: anon, method: "GET", path: "/api/v1/openapi.json", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				paths, _ := r.body["paths"].(map[string]any)
				n := 0
				for _, p := range paths {
					n += len(p.(map[string]any))
				}
				if r.str("openapi") != "3.1.0" || n != len(f.srv.routes()) {
					t.Errorf("openapi %q with %d operations, want 3.1.0 and %d", r.str("openapi"), n, len(f.srv.routes()))
				}
			}},
	}
}

func TestAPIScenariosSQLite(t *testing.T) {
	runScenarios(t, newFixture(t, sqliteDSN(t)), mainScenarios())
}

func TestAPIScenariosPostgres(t *testing.T) {
	runScenarios(t, newFixture(t, storetest.FreshPostgres(t)), mainScenarios())
}

func TestHealthz(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	r := f.anon().do("GET", "/healthz", nil)
	if r.status != 200 || r.raw != "ok" {
		t.Errorf("healthz = %d %q", r.status, r.raw)
	}
}

// TestKeyLifecycle: a key's secret is shown once, never listed, works until revoked, and
// an expiring key stops at its expiry; the audit log records both without the secret.
func TestKeyLifecycle(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	alice := asAlice(f)
	mk := func(body map[string]any) (secret, id string) {
		r := alice.do("POST", "/api/v1/projects/alpha/keys", body)
		if r.status != 201 {
			t.Fatalf("create key: %d %s", r.status, r.raw)
		}
		return r.str("secret"), r.str("key.id")
	}
	secret, id := mk(map[string]any{"name": "CI", "role": "editor"})
	expiring, _ := mk(map[string]any{"name": "temp", "role": "viewer", "expires_at": f.clock.Now().Add(time.Hour)})
	if !strings.HasPrefix(secret, "plk_") || len(secret) != 36 {
		t.Errorf("secret %q is not plk_ + 32 characters", secret)
	}
	list := alice.do("GET", "/api/v1/projects/alpha/keys", nil)
	if list.status != 200 || len(list.list("keys")) != 4 {
		t.Fatalf("list keys: %d %s", list.status, list.raw)
	}
	for _, s := range []string{secret, expiring, f.keyA} {
		if strings.Contains(list.raw, s) || strings.Contains(list.raw, s[len(s)-20:]) {
			t.Errorf("the key list shows a secret")
		}
	}
	for name, want := range map[string]int{secret: 200, expiring: 200} {
		if r := f.withKey(name).do("GET", "/api/v1/projects/alpha/runs", nil); r.status != want {
			t.Errorf("new key: %d, want %d", r.status, want)
		}
	}
	if r := alice.do("DELETE", "/api/v1/projects/alpha/keys/"+id, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if r := f.withKey(secret).do("GET", "/api/v1/projects/alpha/runs", nil); r.status != 401 || r.errCode() != "unauthorized" {
		t.Errorf("revoked key: %d %s, want 401", r.status, r.raw)
	}
	f.clock.Advance(2 * time.Hour)
	if r := f.withKey(expiring).do("GET", "/api/v1/projects/alpha/runs", nil); r.status != 401 {
		t.Errorf("expired key: %d %s, want 401", r.status, r.raw)
	}
	if r := f.withKey(f.keyA).do("GET", "/api/v1/projects/alpha/runs", nil); r.status != 200 {
		t.Errorf("a key without expiry stopped working: %d", r.status)
	}
	audit := alice.do("GET", "/api/v1/projects/alpha/audit", nil)
	if audit.status != 200 {
		t.Fatalf("audit: %d %s", audit.status, audit.raw)
	}
	var actions []string
	for _, e := range audit.list("entries") {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	if got := strings.Join(actions, ","); got != "key.revoke,key.create,key.create" {
		t.Errorf("audit actions (newest first) = %s", got)
	}
	for _, s := range []string{secret, expiring, store.HashToken(secret)} {
		if strings.Contains(audit.raw, s) {
			t.Errorf("the audit log holds a secret or its hash")
		}
	}
}

// TestAuditTrail: every change is in the log with who, what and before/after, and the
// export is JSON lines, oldest first.
func TestAuditTrail(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	alice, key := asAlice(f), asKeyA(f)
	steps := []struct {
		c            *client
		method, path string
		body         any
	}{
		{key, "POST", "/api/v1/projects/alpha/runs", uploadBody("run-x", 1)(f)},
		{key, "DELETE", "/api/v1/projects/alpha/runs/run-x", nil},
		{alice, "POST", "/api/v1/projects/alpha/members", map[string]any{"email": "carol@example.com", "role": "viewer"}},
		{alice, "PATCH", "/api/v1/projects/alpha/members/" + f.carol.ID, map[string]any{"role": "admin"}},
		{alice, "DELETE", "/api/v1/projects/alpha/members/" + f.carol.ID, nil},
		{asAdmin(f), "POST", "/api/v1/projects", map[string]any{"slug": "zeta", "name": "Zeta"}},
	}
	for _, s := range steps {
		if r := s.c.do(s.method, s.path, s.body); r.status >= 300 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, r.status, r.raw)
		}
	}
	r := asAdmin(f).do("GET", "/api/v1/audit.jsonl", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %s", r.status, r.header.Get("Content-Type"))
	}
	type entry struct {
		ActorType string          `json:"actor_type"`
		ActorID   string          `json:"actor_id"`
		Action    string          `json:"action"`
		TargetID  string          `json:"target_id"`
		Before    json.RawMessage `json:"before"`
		After     json.RawMessage `json:"after"`
	}
	var got []entry
	for _, line := range strings.Split(strings.TrimSpace(r.raw), "\n") {
		var e entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, e)
	}
	want := []struct {
		actor, action, target string
		before, after         bool
	}{
		// The steps' two sessions logged in as the table was built (session.go).
		{"user", "session.login", f.alice.ID, false, true},
		{"user", "session.login", f.admin.ID, false, true},
		{"api_key", "run.create", "run-x", false, true},
		{"api_key", "run.delete", "run-x", true, false},
		{"user", "member.add", f.carol.ID, false, true},
		{"user", "member.update", f.carol.ID, true, true},
		{"user", "member.remove", f.carol.ID, true, false},
		{"user", "project.create", "", false, true},
	}
	if len(got) != len(want) {
		t.Fatalf("export has %d entries, want %d:\n%s", len(got), len(want), r.raw)
	}
	for i, w := range want {
		g := got[i]
		if g.ActorType != w.actor || g.Action != w.action || (w.target != "" && g.TargetID != w.target) ||
			(len(g.Before) > 0) != w.before || (len(g.After) > 0) != w.after || g.ActorID == "" {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(string(got[5].Before), `"viewer"`) || !strings.Contains(string(got[5].After), `"admin"`) {
		t.Errorf("member.update before/after: %s → %s", got[5].Before, got[5].After)
	}
	if p := asAdmin(f).do("GET", "/api/v1/audit.jsonl?project=beta", nil); p.status != 200 || strings.TrimSpace(p.raw) != "" {
		t.Errorf("beta's export should be empty: %d %q", p.status, p.raw)
	}
}

// TestLoginRateLimit: the sixth attempt in a minute on one account is 429 with
// Retry-After, even with the right password, and attempts resume after that wait.
func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t, sqliteDSN(t)).withServer(Config{})
	try := func(pw string) *response {
		return f.anon().do("POST", "/api/v1/session", map[string]any{"email": "bob@example.com", "password": pw})
	}
	for i := range 5 {
		if r := try("wrong password!"); r.status != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.raw)
		}
	}
	r := try(password)
	if r.status != 429 || r.errCode() != "rate_limited" {
		t.Fatalf("6th attempt: %d %s, want 429 rate_limited", r.status, r.raw)
	}
	ra := r.header.Get("Retry-After")
	var secs int
	if _, err := fmt.Sscan(ra, &secs); err != nil || secs < 1 || secs > 60 {
		t.Fatalf("Retry-After %q, want 1..60 seconds", ra)
	}
	// Another account from the same address is limited too: the address's bucket is empty.
	if r := f.anon().do("POST", "/api/v1/session", map[string]any{"email": "alice@example.com", "password": password}); r.status != 429 {
		t.Errorf("another account from the same address: %d, want 429", r.status)
	}
	f.clock.Advance(time.Duration(secs) * time.Second)
	if r := try(password); r.status != 200 {
		t.Errorf("after Retry-After: %d %s", r.status, r.raw)
	}
}

// TestSessionLifecycle: logout ends the session, and a session expires.
func TestSessionLifecycle(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	c := f.login("alice@example.com")
	if r := c.do("DELETE", "/api/v1/session", nil); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/api/v1/me", nil); r.status != 401 {
		t.Errorf("after logout: %d", r.status)
	}
	c = f.login("vera@example.com")
	f.clock.Advance(8 * 24 * time.Hour)
	if r := c.do("GET", "/api/v1/me", nil); r.status != 401 {
		t.Errorf("after expiry: %d", r.status)
	}
}

// TestFirstStart: with no user at all, a login says how to create the first admin.
func TestFirstStart(t *testing.T) {
	st, err := store.Open(context.Background(), sqliteDSN(t), store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(New(Config{Store: st, Password: cheapHash}).Handler())
	defer ts.Close()
	f := &fixture{t: t, url: ts.URL}
	r := f.anon().do("POST", "/api/v1/session", map[string]any{"email": "a@example.com", "password": "whatever it is"})
	if r.status != 401 || !strings.Contains(r.str("error.message"), "plumb user create --email EMAIL --admin") {
		t.Errorf("login on an empty server: %d %s", r.status, r.raw)
	}
}
