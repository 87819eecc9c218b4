package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/store"
)

// concrete fills a page pattern's wildcards: project, run, test, user and key.
func concrete(pattern string, project, run, userID, keyID string) string {
	p := strings.NewReplacer("{project}", project, "{run}", run, "{test}", "0", "{user}", userID, "{key}", keyID, "{$}", "",
		"{dataset}", "golden", "{queue}", "review", "{item}", "1", "{version}", "1",
		"{name...}", promptA, "{review}", openReview, "{trace}", traceA, "{approval}", "1").Replace(pattern)
	if strings.HasSuffix(pattern, "/compare") {
		p += "?a=" + url.QueryEscape(run) + "&b=" + url.QueryEscape(run)
	}
	if strings.HasSuffix(pattern, "/prompt-rollback/{name...}") {
		p += "?label=production"
	}
	if strings.Contains(pattern, "/redteam") { // red-team pages show A's red-team runs (redteam_test.go)
		p = strings.ReplaceAll(pattern, "{project}", project)
		p = strings.ReplaceAll(p, "{run}", rtRunA1)
		if strings.HasSuffix(pattern, "/redteam-compare") {
			p += "?a=" + rtRunA1 + "&b=" + rtRunA2
		}
	}
	if strings.HasSuffix(pattern, "/shadow") {
		p += "?route=" + url.QueryEscape(shadowRouteA) + "&since=" + shadowSince
	}
	return p
}

// inlineScriptRE finds a script element without a src: the CSP would block it, and none
// may exist.
var (
	inlineScriptRE = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	tagRE          = regexp.MustCompile(`<[a-zA-Z][^>]*>`)
	quotedRE       = regexp.MustCompile(`"[^"]*"|'[^']*'`)
	handlerAttrRE  = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	styleAttrRE    = regexp.MustCompile(`(?i)\sstyle\s*=`)
)

// TestEveryPageEscapes opens every page of the table as the project's admin, over runs,
// keys, audit entries and names full of hostile text, and checks that none of it reaches
// the HTML as markup: no injected element or handler, the escaped text present where it
// is shown, a strict CSP, and no inline script or style anywhere.
func TestEveryPageEscapes(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		alice := f.as(f.alice)
		// Filters and views too: each renders other parts of the run page.
		extra := []string{
			"/p/alpha/runs/run-a2?view=all", "/p/alpha/runs/run-a2?view=failed", "/p/alpha/runs/run-a2?view=errors",
			"/p/alpha/runs/run-a2?view=flaky", "/p/alpha/runs/run-a2?provider=" + url.QueryEscape("smart "+hostile),
			"/p/alpha/runs/run-a2?cursor=p:", "/p/alpha/compare?a=run-a1&b=run-a2", "/p/alpha/compare?a=run-a2&b=run-a1",
			"/p/alpha/runs?q=" + url.QueryEscape(hostile), "/login?next=" + url.QueryEscape(hostile),
			within("run-a2", "fast", "smart "+hostile), within("run-a2", "smart "+hostile, "fast"),
			"/p/alpha/runs/" + url.PathEscape(hostileRunID), "/p/alpha/runs/" + url.PathEscape(hostileRunID) + "/cases/1",
			"/p/alpha/compare?a=" + url.QueryEscape(hostileRunID) + "&b=run-a1",
		}
		var paths []string
		for _, p := range (&UI{}).table() {
			if p.Method == "GET" {
				paths = append(paths, concrete(p.Path, "alpha", f.runA2, f.vera.ID, "none"))
			}
		}
		for _, path := range append(paths, extra...) {
			res := alice.get(path)
			if path == "/login" || strings.HasPrefix(path, "/login?") {
				// A logged-in visitor is sent on; the form itself is checked logged out.
				res = f.browser().get(path)
			}
			if res.status != http.StatusOK {
				t.Errorf("GET %s: %d, want 200\n%s", path, res.status, res.body)
				continue
			}
			if strings.HasSuffix(path, ".md") { // a download, never rendered (TestRedTeamPages)
				continue
			}
			checkSafe(t, path, res)
		}
		// The pages that show hostile text must show it, escaped: otherwise the test above
		// proves nothing about them.
		escaped := "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
		for _, path := range []string{"/p/alpha", "/p/alpha/runs", "/p/alpha/runs/run-a2", "/p/alpha/runs/run-a2/cases/0",
			"/p/alpha/compare?a=run-a1&b=run-a2", within("run-a2", "fast", "smart "+hostile), "/p/alpha/keys", "/p/alpha/audit",
			"/p/alpha/prompts/" + promptA, "/p/alpha/prompt-version/1/" + promptA, "/p/alpha/prompt-version/2/" + promptA,
			"/p/alpha/prompt-diff/" + promptA, "/p/alpha/prompt-diff/" + promptA + "?a=2&b=1", "/p/alpha/reviews/" + openReview, "/p/alpha/reviews"} {
			if body := alice.get(path).body; !strings.Contains(body, escaped) {
				t.Errorf("GET %s does not show the hostile text escaped", path)
			}
		}
		// The run page says which registry versions the run read.
		if body := alice.get("/p/alpha/runs/run-a2").body; !strings.Contains(body, "= <code>prompt://v1@3</code>") ||
			!strings.Contains(body, "<code>dataset://golden@2</code> (5 items)") {
			t.Errorf("the run page does not show the registry versions the run read")
		}
		// The runs list links the hostile run id so that the link opens that run.
		if body := alice.get("/p/alpha/runs").body; !strings.Contains(body, `href="/p/alpha/runs/`+url.PathEscape(hostileRunID)+`"`) {
			t.Errorf("the runs list does not link the run %q by its escaped id", hostileRunID)
		}
		// A page's error message quotes the user's input: escaped too.
		res := alice.get("/p/alpha/runs/run-a2?view=" + url.QueryEscape(hostile))
		if res.status != http.StatusBadRequest {
			t.Errorf("bad view: %d, want 400", res.status)
		}
		checkSafe(t, "bad view", res)
	})
}

func checkSafe(t *testing.T, path string, res response) {
	t.Helper()
	for _, bad := range []string{xssScript, xssImg, "<svg onload", "<img src=x", "javascript:"} {
		if strings.Contains(res.body, bad) {
			t.Errorf("GET %s: the page contains %q unescaped", path, bad)
		}
	}
	for _, m := range inlineScriptRE.FindAllString(res.body, -1) {
		if !strings.Contains(m, `src="/static/`) {
			t.Errorf("GET %s: inline script %s", path, m)
		}
	}
	// Attributes, outside their quoted values (where escaped text may read like one).
	for _, tag := range tagRE.FindAllString(res.body, -1) {
		bare := quotedRE.ReplaceAllString(tag, `""`)
		if handlerAttrRE.MatchString(bare) {
			t.Errorf("GET %s: event handler attribute in %s", path, tag)
		}
		if styleAttrRE.MatchString(bare) {
			t.Errorf("GET %s: style attribute (blocked by the CSP) in %s", path, tag)
		}
	}
	csp := res.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("GET %s: CSP %q allows unsafe sources", path, csp)
	}
}

// TestEveryPageIsIsolated walks the page table: a member of project B gets 404 for every
// page of project A, exactly as for a project that does not exist, and every change form
// of A is refused without changing anything; A's members get 404 for B's runs and keys
// reached through A's pages. A page added without an access rule fails here.
func TestEveryPageIsIsolated(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		bob, alice, vera := f.as(f.bob), f.as(f.alice), f.as(f.vera)
		auditBefore, _, err := f.st.ListAudit(ctx, "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		pages := 0
		for _, p := range (&UI{}).table() {
			inProject := strings.Contains(p.Path, "{project}")
			if inProject && p.Access != project {
				t.Errorf("%s %s is a page of a project without the project access rule", p.Method, p.Path)
			}
			switch {
			case p.Access == public && !inProject:
				continue
			case p.Access == user && !inProject:
				// Not project pages: the projects list must not list B's projects to A.
				if p.Method == "GET" {
					if body := alice.get(concrete(p.Path, "", "", "", "")).body; strings.Contains(body, "/p/beta") || strings.Contains(body, "Beta") {
						t.Errorf("GET %s as alice lists project beta", p.Path)
					}
				}
				continue
			}
			pages++
			// Bob (B) on A's pages, with A's own run, member and key ids.
			path := concrete(p.Path, "alpha", f.runA1, f.alice.ID, "k")
			var res response
			if p.Method == "GET" {
				res = bob.get(path)
			} else {
				res = bob.post(path, url.Values{"email": {"bob@example.com"}, "role": {"admin"}, "name": {"x"}})
			}
			if res.status != http.StatusNotFound {
				t.Errorf("%s %s as a member of another project: %d, want 404", p.Method, path, res.status)
			}
			if strings.Contains(res.body, "Alpha") {
				t.Errorf("%s %s as a member of another project shows A's name", p.Method, path)
			}
			// The same page of a project that does not exist answers the same.
			if p.Method == "GET" {
				if res := bob.get(concrete(p.Path, "nope", f.runA1, f.alice.ID, "k")); res.status != http.StatusNotFound {
					t.Errorf("GET %s of a missing project: %d, want 404", p.Path, res.status)
				}
			}
			// A viewer of A may read, never change or administer.
			if p.Role.AtLeast(store.RoleAdmin) {
				var res response
				if p.Method == "GET" {
					res = vera.get(path)
				} else {
					res = vera.post(path, url.Values{"email": {"vera@example.com"}, "role": {"admin"}, "name": {"x"}})
				}
				if res.status != http.StatusForbidden {
					t.Errorf("%s %s as a viewer: %d, want 403", p.Method, path, res.status)
				}
			}
		}
		if pages < 10 {
			t.Fatalf("only %d project pages in the table", pages)
		}
		// A's own pages list nothing of B: not its runs, keys, members, name or log.
		for _, p := range (&UI{}).table() {
			if p.Method != "GET" || p.Access == public {
				continue
			}
			path := concrete(p.Path, "alpha", f.runA1, f.alice.ID, "k")
			body := alice.get(path).body
			for _, leak := range []string{f.runB, "beta-only key", "bob@example.com", "Beta", f.keyBID, f.b.ID} {
				if strings.Contains(body, leak) {
					t.Errorf("GET %s as A's admin shows %q of project B", path, leak)
				}
			}
		}
		// A's admin reaching B's things through A's pages.
		for _, path := range []string{"/p/alpha/runs/" + f.runB, "/p/alpha/runs/" + f.runB + "/cases/0",
			within(f.runB, "fast", "smart "+hostile),
			"/p/alpha/compare?a=" + f.runA1 + "&b=" + f.runB, "/p/alpha/compare?a=" + f.runB + "&b=" + f.runA1} {
			if res := alice.get(path); res.status != http.StatusNotFound {
				t.Errorf("GET %s (B's run through A): %d, want 404", path, res.status)
			}
		}
		for _, path := range []string{"/p/alpha/keys/" + f.keyBID + "/revoke", "/p/alpha/members/" + f.bob.ID + "/remove"} {
			if res := alice.post(path, nil); res.status != http.StatusNotFound {
				t.Errorf("POST %s (B's key or member through A): %d, want 404", path, res.status)
			}
		}
		if res := alice.post("/p/alpha/members/"+f.bob.ID+"/role", url.Values{"role": {"viewer"}}); res.status != http.StatusNotFound {
			t.Errorf("POST role of B's member through A: %d, want 404", res.status)
		}
		// Nothing was changed by any of it.
		auditAfter, _, err := f.st.ListAudit(ctx, "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		changes := 0
		for _, e := range auditAfter {
			if !strings.HasPrefix(e.Action, "session.") {
				changes++
			}
		}
		before := 0
		for _, e := range auditBefore {
			if !strings.HasPrefix(e.Action, "session.") {
				before++
			}
		}
		if changes != before {
			t.Errorf("refused requests changed something: %d audit entries of changes before, %d after", before, changes)
		}
		if ks, _ := f.st.ListAPIKeys(ctx, f.b.ID); len(ks) != 1 || ks[0].RevokedAt != nil {
			t.Errorf("B's key was touched: %+v", ks)
		}
	})
}

// TestLoggedOut: pages send a visitor to the login page and back; a form post without a
// session is refused.
func TestLoggedOut(t *testing.T) {
	f := newFixture(t, "sqlite:"+t.TempDir()+"/p.db")
	anon := f.browser()
	res := anon.get("/p/alpha/runs?suite=x")
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/login?next="+url.QueryEscape("/p/alpha/runs?suite=x") {
		t.Errorf("logged out: %d to %q, want 303 to the login page with next", res.status, res.header.Get("Location"))
	}
	if res := anon.post("/p/alpha/keys", url.Values{"name": {"x"}, "role": {"viewer"}}); res.status != http.StatusUnauthorized {
		t.Errorf("form post without a session: %d, want 401", res.status)
	}
	// After logging in, the visitor lands on the page asked for, and only a local one.
	for next, want := range map[string]string{
		"/p/alpha/runs?suite=x": "/p/alpha/runs?suite=x",
		"//evil.example/":       "/",
		"https://evil.example/": "/",
		`/\evil.example`:        "/",
		"/\t/evil.example":      "/",
		"/%09/evil.example":     "/%09/evil.example", // an escaped tab stays in the path: it is a path
		"/\n/evil.example":      "/",
		"http:/evil.example":    "/",
		"/p/alpha?x=//evil":     "/p/alpha?x=//evil",
	} {
		b := f.browser()
		res := b.post("/login", url.Values{"email": {"alice@example.com"}, "password": {password}, "next": {next}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != want {
			t.Errorf("login with next=%q: %d to %q, want 303 to %q", next, res.status, res.header.Get("Location"), want)
		}
	}
}

// TestLogin covers the login page's messages and logging out.
func TestLogin(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/p.db", store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := newFixture(t, "sqlite:"+t.TempDir()+"/q.db")
	// A server without users tells how to create the first one.
	empty := &fixture{t: t, st: st}
	empty.url = serveUI(t, st)
	if body := empty.browser().get("/login").body; !strings.Contains(body, "plumb user create --email") {
		t.Errorf("login page of a server without users does not say how to create one:\n%s", body)
	}
	if body := f.browser().get("/login").body; strings.Contains(body, "plumb user create") {
		t.Errorf("login page of a server with users still says to create one")
	}
	b := f.browser()
	res := b.post("/login", url.Values{"email": {"alice@example.com"}, "password": {"wrong password!"}})
	if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "wrong email or password") {
		t.Errorf("wrong password: %d, want 401 with the message", res.status)
	}
	if !strings.Contains(res.body, `value="alice@example.com"`) {
		t.Errorf("the email typed is lost after a wrong password")
	}
	alice := f.as(f.alice)
	if res := alice.post("/logout", nil); res.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.status)
	}
	if res := alice.get("/p/alpha"); res.status != http.StatusSeeOther {
		t.Errorf("after logout a page answers %d, want 303 to the login page", res.status)
	}
}

// TestFormsNeedCSRFAndOrigin: a change without the session's token, or sent from another
// site, is refused and changes nothing.
func TestFormsNeedCSRFAndOrigin(t *testing.T) {
	f := newFixture(t, "sqlite:"+t.TempDir()+"/p.db")
	alice := f.as(f.alice)
	if res := alice.post("/p/alpha/keys", url.Values{"name": {"x"}, "role": {"viewer"}, "csrf_token": {"forged"}}); res.status != http.StatusForbidden {
		t.Errorf("forged CSRF token: %d, want 403", res.status)
	}
	req, _ := http.NewRequest("POST", f.url+"/p/alpha/keys", strings.NewReader(url.Values{"name": {"x"}, "role": {"viewer"}, "csrf_token": {alice.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if res := alice.do(req); res.status != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", res.status)
	}
	if res := alice.post("/p/alpha/keys", url.Values{"name": {strings.Repeat("x", 70<<10)}, "role": {"viewer"}}); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB form: %d, want 413", res.status)
	}
	// A browser says where a form comes from: another site is refused even with the token.
	req, _ = http.NewRequest("POST", f.url+"/p/alpha/keys", strings.NewReader(url.Values{"name": {"x"}, "role": {"viewer"}, "csrf_token": {alice.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res := alice.do(req); res.status != http.StatusForbidden {
		t.Errorf("post with Sec-Fetch-Site cross-site: %d, want 403", res.status)
	}
	// htmx sends the token as a header rather than a field: that is accepted.
	req, _ = http.NewRequest("POST", f.url+"/p/alpha/keys", strings.NewReader(url.Values{"name": {"by header"}, "role": {"viewer"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("X-CSRF-Token", alice.csrf)
	if res := alice.do(req); res.status != http.StatusCreated {
		t.Errorf("post with the token in X-CSRF-Token: %d, want 201", res.status)
	}
	ks, _ := f.st.ListAPIKeys(context.Background(), f.a.ID)
	for _, k := range ks {
		if k.Name == "x" {
			t.Errorf("a refused form created key %+v", k)
		}
	}
}

// TestMemberAndProjectForms: an admin adds, changes and removes a member through the
// forms, the last admin is protected with a message, and only an instance admin creates
// projects; every change is in the audit log.
func TestMemberAndProjectForms(t *testing.T) {
	f := newFixture(t, "sqlite:"+t.TempDir()+"/p.db")
	ctx := context.Background()
	alice := f.as(f.alice)
	if res := alice.post("/p/alpha/members", url.Values{"email": {"bob@example.com"}, "role": {"viewer"}}); res.status != http.StatusSeeOther {
		t.Fatalf("add bob: %d %s", res.status, res.body)
	}
	if m, err := f.st.GetMembership(ctx, f.a.ID, f.bob.ID); err != nil || m.Role != store.RoleViewer {
		t.Fatalf("bob's membership after adding: %+v, %v", m, err)
	}
	if res := alice.post("/p/alpha/members/"+f.bob.ID+"/role", url.Values{"role": {"editor"}}); res.status != http.StatusSeeOther {
		t.Fatalf("change bob's role: %d", res.status)
	}
	if m, _ := f.st.GetMembership(ctx, f.a.ID, f.bob.ID); m.Role != store.RoleEditor {
		t.Errorf("bob's role is %s after the change, want editor", m.Role)
	}
	if body := alice.get("/p/alpha/members").body; !strings.Contains(body, "bob@example.com") {
		t.Errorf("the members page does not list bob")
	}
	if res := alice.post("/p/alpha/members/"+f.bob.ID+"/remove", nil); res.status != http.StatusSeeOther {
		t.Fatalf("remove bob: %d", res.status)
	}
	// The last admin can be neither demoted nor removed, and the page says why.
	res := alice.post("/p/alpha/members/"+f.alice.ID+"/role", url.Values{"role": {"viewer"}})
	if res.status != http.StatusConflict || !strings.Contains(res.body, "last admin") {
		t.Errorf("demoting the last admin: %d, want 409 saying why\n%s", res.status, res.body)
	}
	if res := alice.post("/p/alpha/members", url.Values{"email": {"nobody@example.com"}, "role": {"viewer"}}); res.status != http.StatusNotFound || !strings.Contains(res.body, "plumb user create") {
		t.Errorf("adding an unknown email: %d, want 404 saying how to create the account", res.status)
	}
	if res := alice.post("/p/alpha/members", url.Values{"email": {"vera@example.com"}, "role": {"owner"}}); res.status != http.StatusBadRequest {
		t.Errorf("adding with an unknown role: %d, want 400", res.status)
	}
	// Projects: alice is no instance admin.
	if res := alice.post("/projects", url.Values{"slug": {"gamma"}, "name": {"Gamma"}}); res.status != http.StatusForbidden {
		t.Errorf("a project admin creating a project: %d, want 403", res.status)
	}
	h, _ := f.st.GetUser(ctx, f.alice.ID)
	admin := true
	if _, err := f.st.UpdateUser(ctx, h.ID, store.UserUpdate{IsAdmin: &admin}); err != nil {
		t.Fatal(err)
	}
	root := f.as(f.alice)
	if res := root.post("/projects", url.Values{"slug": {"gamma"}, "name": {"Gamma"}}); res.status != http.StatusSeeOther || res.header.Get("Location") != "/p/gamma" {
		t.Errorf("an instance admin creating a project: %d to %q", res.status, res.header.Get("Location"))
	}
	if res := root.post("/projects", url.Values{"slug": {"Not A Slug"}, "name": {"x"}}); res.status != http.StatusBadRequest {
		t.Errorf("a bad slug: %d, want 400", res.status)
	}
	entries, _, err := f.st.ListAudit(ctx, f.a.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.ActorID == f.alice.ID && strings.HasPrefix(e.Action, "member.") {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, ",") != "member.remove,member.update,member.add" {
		t.Errorf("audited member changes (newest first): %v", actions)
	}
}

// within is the compare link of two providers of prompt "v1 "+hostile within a run of A.
func within(run, a, b string) string {
	v := url.Values{"run": {run}, "a": {"v1 " + hostile + comboSep + a}, "b": {"v1 " + hostile + comboSep + b}}
	return "/p/alpha/compare?" + v.Encode()
}

// TestCompareWithinRun: two models of one run compared case by case from the run page's
// rows; a model the run does not have is a 400 that says what to pick.
func TestCompareWithinRun(t *testing.T) {
	f := newFixture(t, "sqlite:"+t.TempDir()+"/p.db")
	alice := f.as(f.alice)
	// "smart …" fails tests 0 and 1 of run-a2 and errs once on test 2: 5 regressions of 6 pairs, none the other way,
	// so McNemar's exact p is 2·0.5⁵ = 0.0625: not significant at 0.05.
	res := alice.get(within("run-a2", "fast", "smart "+hostile))
	if res.status != http.StatusOK {
		t.Fatalf("compare within: %d\n%s", res.status, res.body)
	}
	for _, want := range []string{"no significant difference", "McNemar exact p = 0.0625", "Regressions <span class=\"muted\">(5: passed in A, fail in B)", "6 samples paired"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the within-run comparison lacks %q", want)
		}
	}
	if n := strings.Count(res.body, `<article class="change">`); n != 5 {
		t.Errorf("%d changed cases shown, want 5", n)
	}
	if res := alice.get(within("run-a2", "fast", "nope")); res.status != http.StatusBadRequest || !strings.Contains(res.body, "pick two of its rows") {
		t.Errorf("a model the run does not have: %d, want 400 saying what to pick", res.status)
	}
	if body := alice.get("/p/alpha/runs/run-a2").body; !strings.Contains(body, `name="run" value="run-a2"`) || !strings.Contains(body, "Compare A → B case by case") {
		t.Errorf("the run page of a run with two models offers no comparison of them")
	}
}

// TestFragmentsAndBadInput: an htmx filter request gets the case table alone; a session
// that ended meanwhile sends the whole page to the login page (HX-Redirect), not into the
// table; bytes no database can hold are a 400, on pages and in the API.
func TestFragmentsAndBadInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		alice := f.as(f.alice)
		req, _ := http.NewRequest("GET", f.url+"/p/alpha/runs/run-a2?view=failed", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "cases")
		res := alice.do(req)
		if res.status != 200 || !strings.HasPrefix(strings.TrimSpace(res.body), `<section id="cases"`) || strings.Contains(res.body, "<html") {
			t.Errorf("htmx filter request: %d, want the case table alone:\n%.300s", res.status, res.body)
		}
		anon := f.browser()
		req, _ = http.NewRequest("GET", f.url+"/p/alpha/runs/run-a2?view=failed", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "cases")
		req.Header.Set("HX-Current-URL", f.url+"/p/alpha/runs/run-a2")
		res = anon.do(req)
		if res.header.Get("HX-Redirect") != "/login?next="+url.QueryEscape("/p/alpha/runs/run-a2") || strings.Contains(res.body, "<form") {
			t.Errorf("htmx request without a session: HX-Redirect %q, body %.100q", res.header.Get("HX-Redirect"), res.body)
		}
		for _, path := range []string{"/p/alpha/runs?suite=%00", "/p/alpha/runs?q=%ff", "/p/alpha/runs/a%00b", "/p/alpha/runs/%ff",
			"/p/alpha/compare?a=%00&b=x", "/p/alpha%00", "/api/v1/projects/alpha%00/runs", "/api/v1/projects/alpha/runs?suite=%00"} {
			if res := alice.get(path); res.status != http.StatusBadRequest {
				t.Errorf("GET %s: %d, want 400", path, res.status)
			}
		}
		if res := alice.get("/static/"); res.status != http.StatusNotFound {
			t.Errorf("GET /static/: %d, want 404 (no listing)", res.status)
		}
		if res := alice.get("/p/alpha"); res.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("pages lack X-Frame-Options: DENY")
		}
	})
}
