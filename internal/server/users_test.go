package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/store/storetest"
)

// newPassword is what the password scenarios change alice's password to.
const newPassword = "a new and longer passphrase"

// adminNoCSRF is the instance admin's session without the CSRF header.
func adminNoCSRF(f *fixture) *client { c := *asAdmin(f); c.csrf = ""; return &c }

// asDan is the session of the user the scenarios create.
func asDan(f *fixture) *client { return f.session("dan@example.com") }

// loginAs is a fresh login's answer for email with pw.
func loginAs(f *fixture, email, pw string) *response {
	return f.anon().do("POST", "/api/v1/session", map[string]any{"email": email, "password": pw})
}

// wantMessage checks that the error message says why.
func wantMessage(want string) func(t *testing.T, f *fixture, r *response) {
	return func(t *testing.T, f *fixture, r *response) {
		t.Helper()
		if !strings.Contains(r.str("error.message"), want) {
			t.Errorf("message %q does not say %q", r.str("error.message"), want)
		}
	}
}

// noHash fails when an answer shows a password hash.
func noHash(t *testing.T, r *response) {
	t.Helper()
	if strings.Contains(r.raw, "argon2") || strings.Contains(r.raw, "password") {
		t.Errorf("the answer shows a password or its hash: %s", truncate(r.raw))
	}
}

// usersScenarios is the user-management table, run on SQLite and PostgreSQL.
func usersScenarios() []scenario {
	create := func(email, pw string) map[string]any { return map[string]any{"email": email, "password": pw} }
	change := func(cur, next string) map[string]any {
		return map[string]any{"current_password": cur, "new_password": next}
	}
	return []scenario{
		// Listing and creating users: instance admins only, cookie sessions with CSRF.
		{name: "list users", as: asAdmin, method: "GET", path: "/api/v1/users", status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if n := len(r.list("users")); n != 5 {
					t.Errorf("%d users, want 5: %s", n, truncate(r.raw))
				}
				noHash(t, r)
			}},
		{name: "list users by a project admin", as: asAlice, method: "GET", path: "/api/v1/users", status: 403, code: "forbidden"},
		{name: "list users by a key", as: asKeyA, method: "GET", path: "/api/v1/users", status: 403, code: "forbidden"},
		{name: "create user by a project admin", as: asAlice, method: "POST", path: "/api/v1/users", body: create("dan@example.com", password), status: 403, code: "forbidden"},
		{name: "create user without CSRF", as: adminNoCSRF, method: "POST", path: "/api/v1/users", body: create("dan@example.com", password), status: 403, code: "csrf"},
		{name: "create user without email", as: asAdmin, method: "POST", path: "/api/v1/users", body: map[string]any{"password": password}, status: 400, code: "bad_request", field: "email"},
		{name: "create user with a bad email", as: asAdmin, method: "POST", path: "/api/v1/users", body: create("dan at example.com", password), status: 400, code: "bad_request", field: "email"},
		{name: "create user with a short password", as: asAdmin, method: "POST", path: "/api/v1/users", body: create("dan@example.com", "short pw"), status: 400, code: "bad_request", field: "password",
			check: wantMessage("at least 12")},
		{name: "create user with a wrong type", as: asAdmin, method: "POST", path: "/api/v1/users", body: `{"email": "dan@example.com", "password": "` + password + `", "is_admin": "yes"}`,
			status: 400, code: "bad_request", field: "is_admin"},
		{name: "create user with an unknown field", as: asAdmin, method: "POST", path: "/api/v1/users",
			body: map[string]any{"email": "dan@example.com", "password": password, "password_hash": "$argon2id$x"}, status: 400, code: "bad_request", field: "password_hash"},
		{name: "create user", as: asAdmin, method: "POST", path: "/api/v1/users", body: create("dan@example.com", password), status: 201,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.str("user.email") != "dan@example.com" || !strings.HasPrefix(r.str("user.id"), "u_") || r.body["user"].(map[string]any)["is_admin"] != false {
					t.Errorf("created user: %s", r.raw)
				}
				noHash(t, r)
				if l := loginAs(f, "dan@example.com", password); l.status != 200 {
					t.Errorf("the new user cannot log in: %d %s", l.status, l.raw)
				}
			}},
		{name: "create user twice", as: asAdmin, method: "POST", path: "/api/v1/users", body: create("DAN@example.com", password), status: 409, code: "conflict"},

		// Changing users.
		{name: "disable by a project admin", as: asAlice, method: "PATCH", path: "/api/v1/users/{carol}", body: map[string]any{"disabled": true}, status: 403, code: "forbidden"},
		{name: "disable without CSRF", as: adminNoCSRF, method: "PATCH", path: "/api/v1/users/{carol}", body: map[string]any{"disabled": true}, status: 403, code: "csrf"},
		{name: "disable with a wrong type", as: asAdmin, method: "PATCH", path: "/api/v1/users/{carol}", body: map[string]any{"disabled": "yes"}, status: 400, code: "bad_request", field: "disabled"},
		{name: "disable an unknown user", as: asAdmin, method: "PATCH", path: "/api/v1/users/u_nobody", body: map[string]any{"disabled": true}, status: 404, code: "not_found"},
		{name: "disable carol", as: asAdmin, method: "PATCH", path: "/api/v1/users/{carol}", body: func(f *fixture) any {
			asCarol(f) // logged in before she is disabled
			return map[string]any{"disabled": true}
		}, status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if r.body["user"].(map[string]any)["disabled"] != true {
					t.Errorf("disable: %s", r.raw)
				}
				if m := asCarol(f).do("GET", "/api/v1/me", nil); m.status != 401 {
					t.Errorf("disabled carol's session: %d, want 401", m.status)
				}
				if l := loginAs(f, "carol@example.com", password); l.status != 401 {
					t.Errorf("disabled carol logs in: %d, want 401", l.status)
				}
			}},
		{name: "enable carol", as: asAdmin, method: "PATCH", path: "/api/v1/users/{carol}", body: map[string]any{"disabled": false}, status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if m := asCarol(f).do("GET", "/api/v1/me", nil); m.status != 401 {
					t.Errorf("enabling brought carol's old session back: %d", m.status)
				}
				if l := loginAs(f, "carol@example.com", password); l.status != 200 {
					t.Errorf("enabled carol cannot log in: %d %s", l.status, l.raw)
				}
			}},
		{name: "demote the last instance admin", as: asAdmin, method: "PATCH", path: "/api/v1/users/{admin}", body: map[string]any{"is_admin": false}, status: 409, code: "conflict",
			check: wantMessage("root@example.com is the last enabled instance admin")},
		{name: "disable the last instance admin", as: asAdmin, method: "PATCH", path: "/api/v1/users/{admin}", body: map[string]any{"disabled": true}, status: 409, code: "conflict",
			check: func(t *testing.T, f *fixture, r *response) {
				wantMessage("make another user an instance admin first")(t, f, r)
				if m := asAdmin(f).do("GET", "/api/v1/users", nil); m.status != 200 {
					t.Errorf("the admin after a refused disable: %d", m.status)
				}
			}},
		{name: "promote dan", as: asAdmin, method: "PATCH", path: "/api/v1/users/{dan}", body: map[string]any{"is_admin": true}, status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if m := asDan(f).do("GET", "/api/v1/users", nil); m.status != 200 {
					t.Errorf("promoted dan lists users: %d", m.status)
				}
			}},
		{name: "now demote the first admin", as: asDan, method: "PATCH", path: "/api/v1/users/{admin}", body: map[string]any{"is_admin": false}, status: 200,
			check: func(t *testing.T, f *fixture, r *response) {
				if m := asAdmin(f).do("GET", "/api/v1/users", nil); m.status != 403 {
					t.Errorf("demoted root lists users: %d, want 403", m.status)
				}
			}},
		{name: "dan is now the last", as: asDan, method: "PATCH", path: "/api/v1/users/{dan}", body: map[string]any{"disabled": true}, status: 409, code: "conflict"},

		// Changing one's own password.
		{name: "password of a key", as: asKeyA, method: "PUT", path: "/api/v1/me/password", body: change(password, newPassword), status: 403, code: "forbidden"},
		{name: "password without CSRF", as: noCSRF, method: "PUT", path: "/api/v1/me/password", body: change(password, newPassword), status: 403, code: "csrf"},
		{name: "password without the current one", as: asAlice, method: "PUT", path: "/api/v1/me/password", body: map[string]any{"new_password": newPassword}, status: 400, code: "bad_request", field: "current_password"},
		{name: "password too short", as: asAlice, method: "PUT", path: "/api/v1/me/password", body: change(password, "short"), status: 400, code: "bad_request", field: "new_password",
			check: wantMessage("at least 12")},
		{name: "password with a wrong current one", as: asAlice, method: "PUT", path: "/api/v1/me/password", body: change("not the password", newPassword), status: 400, code: "bad_request", field: "current_password"},
		{name: "password unchanged", as: asAlice, method: "PUT", path: "/api/v1/me/password", body: change(password, password), status: 400, code: "bad_request", field: "new_password"},
		{name: "change password", as: asAlice, method: "PUT", path: "/api/v1/me/password", body: func(f *fixture) any {
			f.sessions["alice elsewhere"] = f.login("alice@example.com") // another browser
			return change(password, newPassword)
		}, status: 204,
			check: func(t *testing.T, f *fixture, r *response) {
				if m := asAlice(f).do("GET", "/api/v1/me", nil); m.status != 200 {
					t.Errorf("the session that changed the password: %d, want 200", m.status)
				}
				if m := f.sessions["alice elsewhere"].do("GET", "/api/v1/me", nil); m.status != 401 {
					t.Errorf("alice's other session: %d, want 401", m.status)
				}
				if m := asVera(f).do("GET", "/api/v1/me", nil); m.status != 200 {
					t.Errorf("another user's session: %d, want 200", m.status)
				}
				if l := loginAs(f, "alice@example.com", password); l.status != 401 {
					t.Errorf("the old password still works: %d", l.status)
				}
				if l := loginAs(f, "alice@example.com", newPassword); l.status != 200 {
					t.Errorf("the new password does not work: %d %s", l.status, l.raw)
				}
			}},
	}
}

// runUsersScenarios runs the table in order, with {admin} and {dan} (who exists once the
// table created him) also expanded.
func runUsersScenarios(t *testing.T, f *fixture) {
	for _, sc := range usersScenarios() {
		sc.path = strings.ReplaceAll(sc.path, "{admin}", f.admin.ID)
		if strings.Contains(sc.path, "{dan}") {
			u, err := f.st.GetUserByEmail(context.Background(), "dan@example.com")
			if err != nil {
				t.Fatalf("%s: %v", sc.name, err)
			}
			sc.path = strings.ReplaceAll(sc.path, "{dan}", u.ID)
		}
		runScenarios(t, f, []scenario{sc})
	}
}

func TestUsersScenariosSQLite(t *testing.T) {
	runUsersScenarios(t, newFixture(t, sqliteDSN(t)))
}

func TestUsersScenariosPostgres(t *testing.T) {
	runUsersScenarios(t, newFixture(t, storetest.FreshPostgres(t)))
}

// TestInstanceAdminRoutes walks the route table: every instance-admin route refuses a
// project admin's session and an admin key of a project (403), and changes nothing.
func TestInstanceAdminRoutes(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	adminKeyA := asAlice(f).do("POST", "/api/v1/projects/alpha/keys", map[string]any{"name": "admin", "role": "admin"}).str("secret")
	if adminKeyA == "" {
		t.Fatal("could not create an admin key of A")
	}
	snapshot := func() string {
		ctx := context.Background()
		us, err1 := f.st.ListUsers(ctx)
		ps, err2 := f.st.ListProjects(ctx, f.admin.ID)
		b, _ := json.Marshal([]any{us, err1, ps, err2})
		return string(b)
	}
	before := snapshot()
	sa, _ := f.sides()
	n := 0
	for _, rt := range f.srv.routes() {
		if rt.Access != instanceAdmin {
			continue
		}
		n++
		path, body := f.request(t, rt, sa, sa)
		for name, c := range map[string]*client{"project admin": asAlice(f), "admin key of A": f.withKey(adminKeyA)} {
			if r := c.do(rt.Method, path, body); r.status != 403 || r.errCode() != "forbidden" {
				t.Errorf("%s %s %s: %d %s, want 403", name, rt.Method, path, r.status, truncate(r.raw))
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d instance-admin routes checked: is the route table wired?", n)
	}
	if after := snapshot(); after != before {
		t.Errorf("a refused call changed users or projects:\nbefore %s\nafter  %s", before, after)
	}
}

// TestPasswordChangeRateLimit: guessing the current password is limited like logins,
// in the same buckets, with Retry-After.
func TestPasswordChangeRateLimit(t *testing.T) {
	f := newFixture(t, sqliteDSN(t)).withServer(Config{})
	alice := f.login("alice@example.com") // one attempt of the account's five
	for i := range 4 {
		r := alice.do("PUT", "/api/v1/me/password", map[string]any{"current_password": fmt.Sprint("guess ", i), "new_password": newPassword})
		if r.status != 400 || r.str("error.field") != "current_password" {
			t.Fatalf("guess %d: %d %s", i+1, r.status, r.raw)
		}
	}
	r := alice.do("PUT", "/api/v1/me/password", map[string]any{"current_password": password, "new_password": newPassword})
	if r.status != 429 || r.errCode() != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d %s (Retry-After %q), want 429 with Retry-After", r.status, r.raw, r.header.Get("Retry-After"))
	}
	if u, _ := f.st.GetUser(context.Background(), f.alice.ID); auth.VerifyPassword(u.PasswordHash, password) != nil {
		t.Error("a rate-limited attempt changed the password")
	}
}

// TestSessionAudit: logins, failed logins and logouts are in the audit log, instance-wide,
// with who, from where and why, and never a password, a session or CSRF token, or a hash
// of either; user changes are recorded with the admin as the actor.
func TestSessionAudit(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	tooLong := strings.Repeat("x", 5000) + "@example.com"
	for _, l := range []struct{ email, pw string }{
		{"bob@example.com", "a wrong password"}, {"nobody@example.com", password}, {tooLong, password},
	} {
		if r := loginAs(f, l.email, l.pw); r.status != 401 {
			t.Fatalf("login %.40s: %d", l.email, r.status)
		}
	}
	vera := f.login("vera@example.com")
	if r := vera.do("DELETE", "/api/v1/session", nil); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	admin := asAdmin(f)
	steps := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/users", map[string]any{"email": "dan@example.com", "password": password}},
		{"PATCH", "/api/v1/users/" + f.carol.ID, map[string]any{"disabled": true}},
		{"PUT", "/api/v1/me/password", map[string]any{"current_password": password, "new_password": newPassword}},
	}
	for _, s := range steps {
		if r := admin.do(s.method, s.path, s.body); r.status >= 300 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, r.status, r.raw)
		}
	}
	r := admin.do("GET", "/api/v1/audit.jsonl", nil)
	if r.status != 200 {
		t.Fatalf("export: %d %s", r.status, r.raw)
	}
	type entry struct {
		ActorType string         `json:"actor_type"`
		ActorID   string         `json:"actor_id"`
		ProjectID string         `json:"project_id"`
		Action    string         `json:"action"`
		TargetID  string         `json:"target_id"`
		Before    map[string]any `json:"before"`
		After     map[string]any `json:"after"`
	}
	var got []entry
	for _, line := range strings.Split(strings.TrimSpace(r.raw), "\n") {
		var e entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if strings.HasPrefix(e.Action, "session.") || strings.HasPrefix(e.Action, "user.") {
			got = append(got, e)
		}
	}
	detail := func(e entry) map[string]any {
		if e.After != nil {
			return e.After
		}
		return e.Before
	}
	want := []struct {
		actor, actorID, action, target, email, reason string
	}{
		{"system", "", "session.login_failed", f.bob.ID, "bob@example.com", "wrong password"},
		{"system", "", "session.login_failed", "", "nobody@example.com", "unknown email"},
		{"system", "", "session.login_failed", "", "", "unknown email"}, // the long email, cut
		{"user", f.vera.ID, "session.login", f.vera.ID, "vera@example.com", ""},
		{"user", f.vera.ID, "session.logout", f.vera.ID, "vera@example.com", ""},
		{"user", f.admin.ID, "session.login", f.admin.ID, "root@example.com", ""},
		{"user", f.admin.ID, "user.create", "", "dan@example.com", ""},
		{"user", f.admin.ID, "user.update", f.carol.ID, "carol@example.com", ""},
		{"user", f.admin.ID, "user.password", f.admin.ID, "root@example.com", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d session and user entries, want %d:\n%s", len(got), len(want), truncate(r.raw))
	}
	for i, w := range want {
		g := got[i]
		d := detail(g)
		email, _ := d["email"].(string)
		reason, _ := d["reason"].(string)
		if g.ActorType != w.actor || g.ActorID != w.actorID || g.Action != w.action || g.ProjectID != "" ||
			(w.target != "" && g.TargetID != w.target) || (w.email != "" && email != w.email) || reason != w.reason {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
		if strings.HasPrefix(w.action, "session.") && d["addr"] != "127.0.0.1" {
			t.Errorf("entry %d (%s) addr = %v, want 127.0.0.1", i, w.action, d["addr"])
		}
	}
	if long, _ := detail(got[2])["email"].(string); len(long) > maxRecordedEmail+len("…") || !strings.HasPrefix(long, "xxxx") {
		t.Errorf("the long email is recorded as %d bytes, want at most %d", len(long), maxRecordedEmail+len("…"))
	}
	if got[4].Before == nil || got[4].After != nil {
		t.Errorf("logout: want a before (the session that ended) and no after: %+v", got[4])
	}
	secrets := []string{password, newPassword, "a wrong password", "argon2", vera.cookie, store.HashToken(vera.cookie),
		vera.csrf, store.HashToken(vera.csrf), admin.cookie, store.HashToken(admin.cookie)}
	for _, s := range secrets {
		if strings.Contains(r.raw, s) {
			t.Errorf("the audit log holds a password, token or hash (%.12s…)", s)
		}
	}
}
