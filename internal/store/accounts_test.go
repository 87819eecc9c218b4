package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for tests of expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openStoreAt opens dsn, migrating, on a test clock.
func openStoreAt(tb testing.TB, dsn string, c *clock) Store {
	tb.Helper()
	s, err := Open(context.Background(), dsn, OpenOptions{Migrate: true, Now: c.now})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// rawExec runs a statement on the store's database directly, bypassing the store's
// methods, the way a bug or a person at a SQL prompt would.
func rawExec(tb testing.TB, s Store, q string) error {
	tb.Helper()
	ctx := context.Background()
	switch s := s.(type) {
	case *sqliteStore:
		_, err := s.writer.ExecContext(ctx, q)
		return err
	case *postgresStore:
		_, err := s.pool.Exec(ctx, q)
		return err
	}
	tb.Fatalf("unknown store %T", s)
	return nil
}

// mustUser creates a user or fails the test.
func mustUser(t *testing.T, s Store, email string, admin bool) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), User{Email: email, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", IsAdmin: admin})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// mustProject creates a project or fails the test.
func mustProject(t *testing.T, s Store, slug string) Project {
	t.Helper()
	p, err := s.CreateProject(context.Background(), Project{Slug: slug, Name: "Project " + slug})
	if err != nil {
		t.Fatalf("CreateProject(%s): %v", slug, err)
	}
	return p
}

func slugs(ps []Project) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Slug)
	}
	return out
}

func TestProjects(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		c := &clock{t: time.Date(2025, 5, 1, 9, 0, 0, 123456789, time.UTC)}
		s := openStoreAt(t, dsn, c)
		for _, ref := range []string{DefaultProjectID, DefaultProjectSlug} {
			p, err := s.GetProject(ctx, ref)
			if err != nil || p.ID != DefaultProjectID || p.Slug != DefaultProjectSlug {
				t.Errorf("GetProject(%q) = %+v, %v; want the default project", ref, p, err)
			}
		}
		p, err := s.CreateProject(ctx, Project{Slug: "support-bot", Name: "Support bot"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.ID, "p_") || !p.CreatedAt.Equal(time.Date(2025, 5, 1, 9, 0, 0, 123456000, time.UTC)) {
			t.Errorf("created project = %+v; want a p_ id and the clock's time to the microsecond", p)
		}
		for _, ref := range []string{p.ID, "support-bot"} {
			if got, err := s.GetProject(ctx, ref); err != nil || got != p {
				t.Errorf("GetProject(%q) = %+v, %v; want %+v", ref, got, err, p)
			}
		}
		if _, err := s.GetProject(ctx, "nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("GetProject(nope): err = %v, want ErrNotFound naming it", err)
		}
		_, err = s.CreateProject(ctx, Project{Slug: "support-bot", Name: "Again"})
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "support-bot") {
			t.Errorf("taken slug: err = %v, want ErrConflict naming the slug", err)
		}
		bad := []Project{
			{Slug: "", Name: "x"}, {Slug: "Upper", Name: "x"}, {Slug: "under_score", Name: "x"},
			{Slug: "-dash", Name: "x"}, {Slug: "sp ace", Name: "x"}, {Slug: strings.Repeat("a", 64), Name: "x"},
			{Slug: "ok", Name: " "}, {Slug: "ok", Name: "nul\x00"},
		}
		for _, b := range bad {
			if _, err := s.CreateProject(ctx, b); !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateProject(%+v): err = %v, want ErrInvalid", b, err)
			}
		}
	})
}

func TestListProjectsByAccess(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		a, b := mustProject(t, s, "alpha"), mustProject(t, s, "beta")
		mustProject(t, s, "gamma")
		admin := mustUser(t, s, "root@example.com", true)
		ana := mustUser(t, s, "ana@example.com", false)
		bob := mustUser(t, s, "bob@example.com", false)
		nobody := mustUser(t, s, "nobody@example.com", false)
		gone, err := s.CreateUser(ctx, User{Email: "gone@example.com", PasswordHash: "h", IsAdmin: true, Disabled: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []Member{{ProjectID: a.ID, UserID: ana.ID, Role: RoleViewer}, {ProjectID: b.ID, UserID: ana.ID, Role: RoleAdmin}, {ProjectID: b.ID, UserID: bob.ID, Role: RoleEditor}} {
			if _, err := s.AddMember(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name, user string
			want       []string
		}{
			{"admin sees all", admin.ID, []string{"alpha", "beta", "default", "gamma"}},
			{"member of two", ana.ID, []string{"alpha", "beta"}},
			{"member of one", bob.ID, []string{"beta"}},
			{"member of none", nobody.ID, []string{}},
			{"disabled admin", gone.ID, []string{}},
			{"unknown user", "u_missing", []string{}},
			{"empty id", "", []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListProjects(ctx, tt.user)
				if err != nil || !slices.Equal(slugs(got), tt.want) {
					t.Errorf("ListProjects = %v, %v; want %v", slugs(got), err, tt.want)
				}
			})
		}
		// AllProjects, for the operator's tools, lists every project whoever is a member.
		if got, err := s.AllProjects(ctx); err != nil || !slices.Equal(slugs(got), []string{"alpha", "beta", "default", "gamma"}) || got[0].ID != a.ID {
			t.Errorf("AllProjects = %v, %v", slugs(got), err)
		}
	})
}

func TestUsers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		c := &clock{t: time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)}
		s := openStoreAt(t, dsn, c)
		if n, err := s.CountUsers(ctx); err != nil || n != 0 {
			t.Fatalf("CountUsers on a new database = %d, %v; want 0", n, err)
		}
		ana, err := s.CreateUser(ctx, User{Email: "Ana.Lopez@Example.com", PasswordHash: "$argon2id$hash-a", IsAdmin: true})
		if err != nil {
			t.Fatal(err)
		}
		c.advance(time.Second)
		zoe := mustUser(t, s, "zoë@exämple.org", false)
		if !strings.HasPrefix(ana.ID, "u_") || ana.Email != "Ana.Lopez@Example.com" || !ana.IsAdmin {
			t.Errorf("created user = %+v", ana)
		}
		// Uniqueness and lookup ignore letter case, ASCII or not, the same on both drivers.
		for _, email := range []string{"ana.lopez@example.com", "ANA.LOPEZ@EXAMPLE.COM", "ZOË@EXÄMPLE.ORG"} {
			_, err := s.CreateUser(ctx, User{Email: email, PasswordHash: "h"})
			if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), email) {
				t.Errorf("CreateUser(%s): err = %v, want ErrConflict naming the email", email, err)
			}
		}
		for email, want := range map[string]User{"aNa.lOpEz@eXaMpLe.CoM": ana, "Zoë@Exämple.org": zoe} {
			got, err := s.GetUserByEmail(ctx, email)
			if err != nil || got != want {
				t.Errorf("GetUserByEmail(%s) = %+v, %v; want %+v", email, got, err, want)
			}
		}
		if got, err := s.GetUser(ctx, ana.ID); err != nil || got != ana || got.PasswordHash != "$argon2id$hash-a" {
			t.Errorf("GetUser = %+v, %v; want %+v", got, err, ana)
		}
		if _, err := s.GetUser(ctx, "u_nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser(missing): err = %v, want ErrNotFound", err)
		}
		if _, err := s.GetUserByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUserByEmail(missing): err = %v, want ErrNotFound", err)
		}
		users, err := s.ListUsers(ctx)
		if err != nil || len(users) != 2 || users[0] != ana || users[1] != zoe {
			t.Errorf("ListUsers = %+v, %v; want ana then zoë", users, err)
		}
		if n, err := s.CountUsers(ctx); err != nil || n != 2 {
			t.Errorf("CountUsers = %d, %v; want 2", n, err)
		}
		newHash, yes := "$argon2id$hash-b", true
		up, err := s.UpdateUser(ctx, zoe.ID, UserUpdate{PasswordHash: &newHash, Disabled: &yes})
		if err != nil || up.PasswordHash != newHash || !up.Disabled || up.IsAdmin || up.Email != zoe.Email {
			t.Errorf("UpdateUser(password, disabled) = %+v, %v", up, err)
		}
		if got, _ := s.GetUserByEmail(ctx, zoe.Email); got != up {
			t.Errorf("after UpdateUser, GetUserByEmail = %+v; want %+v", got, up)
		}
		zoe = up
		if _, err := s.UpdateUser(ctx, "u_nope", UserUpdate{Disabled: &yes}); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateUser(missing): err = %v, want ErrNotFound", err)
		}
		empty := ""
		if _, err := s.UpdateUser(ctx, zoe.ID, UserUpdate{PasswordHash: &empty}); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpdateUser(empty hash): err = %v, want ErrInvalid", err)
		}
		b, _ := json.Marshal(ana)
		if strings.Contains(string(b), "argon2id") || !strings.Contains(string(b), `"is_admin":true`) {
			t.Errorf("user JSON %s: want is_admin and no password hash", b)
		}
		for _, u := range []User{
			{Email: "", PasswordHash: "h"}, {Email: "no-at-sign", PasswordHash: "h"}, {Email: "a b@example.com", PasswordHash: "h"},
			{Email: "a@b@c", PasswordHash: "h"}, {Email: "@example.com", PasswordHash: "h"}, {Email: "ok@example.com", PasswordHash: ""},
		} {
			if _, err := s.CreateUser(ctx, u); !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateUser(%q, hash %q): err = %v, want ErrInvalid", u.Email, u.PasswordHash, err)
			}
		}
	})
}

func TestRoles(t *testing.T) {
	tests := []struct {
		r, min Role
		want   bool
	}{
		{RoleAdmin, RoleViewer, true}, {RoleAdmin, RoleAdmin, true}, {RoleEditor, RoleViewer, true},
		{RoleEditor, RoleAdmin, false}, {RoleViewer, RoleEditor, false}, {"owner", RoleViewer, false},
		{"", RoleViewer, false}, {RoleAdmin, "", false},
	}
	for _, tt := range tests {
		if got := tt.r.AtLeast(tt.min); got != tt.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tt.r, tt.min, got, tt.want)
		}
	}
}

func TestMembers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		p, other := mustProject(t, s, "alpha"), mustProject(t, s, "beta")
		ana, bob := mustUser(t, s, "ana@example.com", false), mustUser(t, s, "Bob@example.com", false)
		m, err := s.AddMember(ctx, Member{ProjectID: p.ID, UserID: bob.ID, Role: RoleEditor})
		if err != nil || m.Email != "Bob@example.com" || m.Role != RoleEditor || m.CreatedAt.IsZero() {
			t.Fatalf("AddMember = %+v, %v", m, err)
		}
		if _, err := s.AddMember(ctx, Member{ProjectID: p.ID, UserID: ana.ID, Role: RoleViewer}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddMember(ctx, Member{ProjectID: p.ID, UserID: bob.ID, Role: RoleAdmin}); !errors.Is(err, ErrConflict) {
			t.Errorf("adding a member twice: err = %v, want ErrConflict", err)
		}
		for _, bad := range []Member{{ProjectID: p.ID, UserID: "u_missing", Role: RoleViewer}, {ProjectID: "p_missing", UserID: ana.ID, Role: RoleViewer}} {
			if _, err := s.AddMember(ctx, bad); !errors.Is(err, ErrNotFound) {
				t.Errorf("AddMember(%+v): err = %v, want ErrNotFound", bad, err)
			}
		}
		if _, err := s.AddMember(ctx, Member{ProjectID: other.ID, UserID: ana.ID, Role: "owner"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("unknown role: err = %v, want ErrInvalid", err)
		}
		list, err := s.ListMembers(ctx, p.ID)
		if err != nil || len(list) != 2 || list[0].Email != "ana@example.com" || list[1].Email != "Bob@example.com" {
			t.Errorf("ListMembers = %+v, %v; want ana then Bob", list, err)
		}
		if list, err := s.ListMembers(ctx, other.ID); err != nil || len(list) != 0 {
			t.Errorf("ListMembers of another project = %+v, %v; want none", list, err)
		}
		up, err := s.UpdateMember(ctx, p.ID, ana.ID, RoleAdmin)
		if err != nil || up.Role != RoleAdmin {
			t.Errorf("UpdateMember = %+v, %v", up, err)
		}
		if got, err := s.GetMembership(ctx, p.ID, ana.ID); err != nil || got.Role != RoleAdmin {
			t.Errorf("GetMembership after update = %+v, %v; want admin", got, err)
		}
		if _, err := s.GetMembership(ctx, other.ID, ana.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("membership of a project the user is not in: err = %v, want ErrNotFound", err)
		}
		if _, err := s.UpdateMember(ctx, other.ID, ana.ID, RoleViewer); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateMember of a non-member: err = %v, want ErrNotFound", err)
		}
		if _, err := s.UpdateMember(ctx, p.ID, ana.ID, "root"); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpdateMember to an unknown role: err = %v, want ErrInvalid", err)
		}
		if err := s.RemoveMember(ctx, p.ID, bob.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveMember(ctx, p.ID, bob.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("removing twice: err = %v, want ErrNotFound", err)
		}
		if list, _ := s.ListMembers(ctx, p.ID); len(list) != 1 || list[0].UserID != ana.ID {
			t.Errorf("after removal, members = %+v; want ana only", list)
		}
	})
}

func TestSessions(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		c := &clock{t: time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)}
		s := openStoreAt(t, dsn, c)
		ana := mustUser(t, s, "ana@example.com", false)
		short, long := HashToken("short-lived-token"), HashToken("long-lived-token")
		sess, err := s.CreateSession(ctx, Session{IDHash: short, UserID: ana.ID, ExpiresAt: c.now().Add(time.Hour), CSRFTokenHash: HashToken("csrf")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSession(ctx, Session{IDHash: long, UserID: ana.ID, ExpiresAt: c.now().Add(30 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSessionByHash(ctx, short)
		if err != nil || got != sess || got.CSRFTokenHash != HashToken("csrf") || got.UserID != ana.ID {
			t.Fatalf("GetSessionByHash = %+v, %v; want %+v", got, err, sess)
		}
		c.advance(10 * time.Minute)
		if err := s.TouchSession(ctx, short); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetSessionByHash(ctx, short); !got.LastSeenAt.Equal(c.now()) {
			t.Errorf("last_seen_at = %v after a touch at %v", got.LastSeenAt, c.now())
		}
		c.advance(time.Hour)
		if _, err := s.GetSessionByHash(ctx, short); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired session: err = %v, want ErrNotFound", err)
		}
		if _, err := s.GetSessionByHash(ctx, long); err != nil {
			t.Errorf("unexpired session: %v", err)
		}
		if n, err := s.DeleteExpiredSessions(ctx); err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
		}
		if err := s.DeleteSession(ctx, long); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetSessionByHash(ctx, long); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted session: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteSession(ctx, long); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting twice: err = %v, want ErrNotFound", err)
		}
		for i := range 3 {
			if _, err := s.CreateSession(ctx, Session{IDHash: HashToken(fmt.Sprint(i)), UserID: ana.ID, ExpiresAt: c.now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.DeleteUserSessions(ctx, ana.ID); err != nil || n != 3 {
			t.Errorf("DeleteUserSessions = %d, %v; want 3", n, err)
		}
		bad := []Session{
			{IDHash: "raw-session-token-passed-by-mistake", UserID: ana.ID, ExpiresAt: c.now().Add(time.Hour)},
			{IDHash: strings.ToUpper(HashToken("x")), UserID: ana.ID, ExpiresAt: c.now().Add(time.Hour)},
			{IDHash: HashToken("y"), UserID: ana.ID, ExpiresAt: c.now().Add(time.Hour), CSRFTokenHash: "raw-csrf"},
			{IDHash: HashToken("z"), UserID: ana.ID, ExpiresAt: c.now().Add(-time.Second)},
		}
		for _, b := range bad {
			if _, err := s.CreateSession(ctx, b); !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateSession(%+v): err = %v, want ErrInvalid", b, err)
			}
		}
		if _, err := s.CreateSession(ctx, Session{IDHash: HashToken("w"), UserID: "u_missing", ExpiresAt: c.now().Add(time.Hour)}); !errors.Is(err, ErrNotFound) {
			t.Errorf("session of a missing user: err = %v, want ErrNotFound", err)
		}
		if n := countRows(t, s, "SELECT count(*) FROM sessions WHERE id_hash = ?", "raw-session-token-passed-by-mistake"); n != 0 {
			t.Errorf("a raw token was stored")
		}
	})
}

func TestAPIKeys(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		c := &clock{t: time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)}
		s := openStoreAt(t, dsn, c)
		a, b := mustProject(t, s, "alpha"), mustProject(t, s, "beta")
		ana := mustUser(t, s, "ana@example.com", false)
		expiry := c.now().Add(24 * time.Hour)
		ci, err := s.CreateAPIKey(ctx, APIKey{ProjectID: a.ID, Name: "CI", Role: RoleEditor, Prefix: "plm_AbCd", KeyHash: HashToken("plm_AbCdsecret1"), CreatedBy: ana.ID, ExpiresAt: &expiry})
		if err != nil {
			t.Fatal(err)
		}
		c.advance(time.Minute)
		forever, err := s.CreateAPIKey(ctx, APIKey{ProjectID: a.ID, Name: "dashboard", Role: RoleViewer, Prefix: "plm_EfGh", KeyHash: HashToken("plm_EfGhsecret2")})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := s.CreateAPIKey(ctx, APIKey{ProjectID: b.ID, Name: "other", Role: RoleAdmin, Prefix: "plm_IjKl", KeyHash: HashToken("plm_IjKlsecret3")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ci.ID, "k_") || ci.ExpiresAt == nil || !ci.ExpiresAt.Equal(expiry) || ci.CreatedBy != ana.ID {
			t.Errorf("created key = %+v", ci)
		}
		got, err := s.GetAPIKeyByHash(ctx, HashToken("plm_AbCdsecret1"))
		if err != nil || got.ID != ci.ID || got.ProjectID != a.ID || got.Role != RoleEditor || got.LastUsedAt != nil {
			t.Fatalf("GetAPIKeyByHash = %+v, %v", got, err)
		}
		if err := s.TouchAPIKey(ctx, ci.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetAPIKeyByHash(ctx, HashToken("plm_AbCdsecret1")); got.LastUsedAt == nil || !got.LastUsedAt.Equal(c.now()) {
			t.Errorf("last_used_at = %v, want %v", got.LastUsedAt, c.now())
		}
		if err := s.TouchAPIKey(ctx, "k_missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("TouchAPIKey(missing): err = %v, want ErrNotFound", err)
		}
		keys, err := s.ListAPIKeys(ctx, a.ID)
		if err != nil || len(keys) != 2 || keys[0].ID != forever.ID || keys[1].ID != ci.ID {
			t.Errorf("ListAPIKeys(alpha) = %+v, %v; want dashboard then CI, and not beta's key", keys, err)
		}
		js, _ := json.Marshal(keys)
		if strings.Contains(string(js), HashToken("plm_AbCdsecret1")) || !strings.Contains(string(js), `"prefix":"plm_AbCd"`) {
			t.Errorf("key JSON %s: want the prefix and never the hash", js)
		}
		// A project admin of alpha cannot revoke beta's key by its id.
		if _, err := s.RevokeAPIKey(ctx, a.ID, theirs.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoking another project's key: err = %v, want ErrNotFound", err)
		}
		if _, err := s.GetAPIKeyByHash(ctx, HashToken("plm_IjKlsecret3")); err != nil {
			t.Errorf("beta's key stopped working after a refused revocation: %v", err)
		}
		c.advance(time.Minute)
		revoked, err := s.RevokeAPIKey(ctx, a.ID, forever.ID)
		if err != nil || revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(c.now()) {
			t.Fatalf("RevokeAPIKey = %+v, %v", revoked, err)
		}
		c.advance(time.Minute)
		again, err := s.RevokeAPIKey(ctx, a.ID, forever.ID)
		if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
			t.Errorf("revoking twice = %+v, %v; want the first revocation time kept", again, err)
		}
		tests := []struct {
			name, secret string
			found        bool
		}{
			{"revoked", "plm_EfGhsecret2", false},
			{"unknown", "plm_nothing", false},
			{"valid before expiry", "plm_AbCdsecret1", true},
		}
		for _, tt := range tests {
			_, err := s.GetAPIKeyByHash(ctx, HashToken(tt.secret))
			if tt.found != (err == nil) || (!tt.found && !errors.Is(err, ErrNotFound)) {
				t.Errorf("%s key: err = %v, want found = %v", tt.name, err, tt.found)
			}
		}
		c.advance(24 * time.Hour)
		if _, err := s.GetAPIKeyByHash(ctx, HashToken("plm_AbCdsecret1")); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired key: err = %v, want ErrNotFound", err)
		}
		if keys, _ := s.ListAPIKeys(ctx, a.ID); len(keys) != 2 {
			t.Errorf("ListAPIKeys after revoke and expiry = %d keys; want both still listed", len(keys))
		}
		bad := []APIKey{
			{ProjectID: a.ID, Name: "", Role: RoleViewer, Prefix: "p", KeyHash: HashToken("1")},
			{ProjectID: a.ID, Name: "x", Role: "superuser", Prefix: "p", KeyHash: HashToken("2")},
			{ProjectID: a.ID, Name: "x", Role: RoleViewer, Prefix: "", KeyHash: HashToken("3")},
			{ProjectID: a.ID, Name: "x", Role: RoleViewer, Prefix: "p", KeyHash: "plm_rawsecret"},
		}
		for _, k := range bad {
			if _, err := s.CreateAPIKey(ctx, k); !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateAPIKey(%+v): err = %v, want ErrInvalid", k, err)
			}
		}
		if _, err := s.CreateAPIKey(ctx, APIKey{ProjectID: "p_missing", Name: "x", Role: RoleViewer, Prefix: "p", KeyHash: HashToken("4")}); !errors.Is(err, ErrNotFound) {
			t.Errorf("key of a missing project: err = %v, want ErrNotFound", err)
		}
	})
}

func TestAuditLog(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		c := &clock{t: time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)}
		s := openStoreAt(t, dsn, c)
		a, b := mustProject(t, s, "alpha"), mustProject(t, s, "beta")
		var all []AuditEntry
		for i := range 25 {
			c.advance(time.Second)
			e := AuditEntry{ActorType: ActorUser, ActorID: "u_1", ProjectID: []string{a.ID, b.ID, ""}[i%3],
				Action: "run.delete", TargetType: "run", TargetID: fmt.Sprintf("run-%d", i),
				Before: json.RawMessage(fmt.Sprintf(`{"id":"run-%d","note":"<b>ünï</b>"}`, i))}
			if i%3 == 2 {
				e = AuditEntry{ActorType: ActorSystem, ActorID: "plumb user create", Action: "user.create", TargetType: "user", TargetID: "u_2", After: json.RawMessage(`{"email":"ana@example.com"}`)}
			}
			got, err := s.AppendAudit(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID <= 0 || !got.At.Equal(c.now()) || (len(all) > 0 && got.ID <= all[len(all)-1].ID) {
				t.Fatalf("entry %d = %+v; want an increasing id and the clock's time", i, got)
			}
			all = append(all, got)
		}
		// Page through, newest first, whole log and one project.
		walk := func(project string, limit int) []AuditEntry {
			var out []AuditEntry
			cursor := ""
			for range 100 {
				page, next, err := s.ListAudit(ctx, project, cursor, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d entries, limit %d", len(page), limit)
				}
				out = append(out, page...)
				if next == "" {
					return out
				}
				cursor = next
			}
			t.Fatal("ListAudit never ended")
			return nil
		}
		for _, tt := range []struct {
			project string
			limit   int
		}{{"", 4}, {"", 25}, {a.ID, 3}, {b.ID, 100}} {
			var want []AuditEntry
			for i := len(all) - 1; i >= 0; i-- {
				if tt.project == "" || all[i].ProjectID == tt.project {
					want = append(want, all[i])
				}
			}
			got := walk(tt.project, tt.limit)
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Errorf("ListAudit(%q, limit %d):\n got %s\nwant %s", tt.project, tt.limit, gj, wj)
			}
		}
		// Append-only: the database itself refuses changes.
		stmts := []string{
			"UPDATE audit_log SET action = 'run.create'",
			"UPDATE audit_log SET before = NULL WHERE id = " + fmt.Sprint(all[0].ID),
			"DELETE FROM audit_log WHERE id = " + fmt.Sprint(all[0].ID),
			"DELETE FROM audit_log",
		}
		if driver == DriverPostgres {
			stmts = append(stmts, "TRUNCATE audit_log")
		}
		for _, q := range stmts {
			err := rawExec(t, s, q)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the append-only trigger to refuse it", q, err)
			}
		}
		if page, _, err := s.ListAudit(ctx, "", "", MaxPageSize); err != nil || len(page) != 25 || page[24].Action != "run.delete" || string(page[24].Before) != string(all[0].Before) {
			t.Errorf("after refused changes the log has %d entries (%v); want all 25 unchanged", len(page), err)
		}
		for _, cur := range []string{"garbage", encodeCursor(resultCursor, 3), encodeCursor(auditCursor, -1)} {
			if _, _, err := s.ListAudit(ctx, "", cur, 10); !errors.Is(err, ErrInvalid) {
				t.Errorf("ListAudit(cursor %q): err = %v, want ErrInvalid", cur, err)
			}
		}
		bad := []AuditEntry{
			{ActorType: "robot", ActorID: "x", Action: "a", TargetType: "t"},
			{ActorType: ActorUser, ActorID: "x", Action: "", TargetType: "t"},
			{ActorType: ActorUser, ActorID: "x", Action: "a", TargetType: "t", After: json.RawMessage(`{"broken"`)},
		}
		for _, e := range bad {
			if _, err := s.AppendAudit(ctx, e); !errors.Is(err, ErrInvalid) {
				t.Errorf("AppendAudit(%+v): err = %v, want ErrInvalid", e, err)
			}
		}
	})
}
