package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// auditFixture is the state every audited change starts from: project p with alice (admin)
// and bob (editor), carol in no project, one API key and one run of p.
type auditFixture struct {
	st                Store
	p                 Project
	alice, bob, carol User
	key               APIKey
	started           time.Time
	keyHash           string
}

func newAuditFixture(t *testing.T, dsn string) *auditFixture {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, dsn)
	f := &auditFixture{st: st, p: mustProject(t, st, "alpha"), alice: mustUser(t, st, "alice@example.com", true),
		bob: mustUser(t, st, "bob@example.com", false), carol: mustUser(t, st, "carol@example.com", false),
		started: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), keyHash: HashToken("plk_secret")}
	for _, m := range []Member{{ProjectID: f.p.ID, UserID: f.alice.ID, Role: RoleAdmin}, {ProjectID: f.p.ID, UserID: f.bob.ID, Role: RoleEditor}} {
		if _, err := st.AddMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if f.key, err = st.CreateAPIKey(ctx, APIKey{ProjectID: f.p.ID, Name: "CI", Role: RoleEditor, Prefix: "plk_ab", KeyHash: f.keyHash}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveRunIn(ctx, f.p.ID, sampleReport("run-1", f.started, 1)); err != nil {
		t.Fatal(err)
	}
	return f
}

// snapshot is everything a change could touch, as the store's readers return it.
func (f *auditFixture) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var parts []any
	runs, err := f.st.ListRuns(ctx, ListOptions{})
	parts = append(parts, runs, err)
	for _, r := range runs {
		n, err := f.st.CountResults(ctx, r.ID, ResultFilter{})
		parts = append(parts, r.ID, n, err)
	}
	ps, err := f.st.ListProjects(ctx, f.alice.ID)
	parts = append(parts, ps, err)
	us, err := f.st.ListUsers(ctx)
	parts = append(parts, us, err)
	for _, u := range us {
		parts = append(parts, u.PasswordHash)
	}
	for _, p := range ps {
		ms, err := f.st.ListMembers(ctx, p.ID)
		ks, err2 := f.st.ListAPIKeys(ctx, p.ID)
		parts = append(parts, ms, err, ks, err2)
	}
	b, err := json.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// allAudit is the whole audit log, newest first.
func allAudit(t *testing.T, st Store) []AuditEntry {
	t.Helper()
	es, _, err := st.ListAudit(context.Background(), "", "", MaxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// absent marks a before/after field the entry's object must not have.
const absent = "<absent>"

// TestAuditedChanges: through WithAudit, each change writes exactly one audit entry with
// its before and after, and a change whose entry cannot be written leaves nothing behind.
func TestAuditedChanges(t *testing.T) {
	ctx := context.Background()
	pw := "$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3aGFzaA"
	yes := true
	cases := []struct {
		name    string
		change  func(f *auditFixture, st Store) error
		action  string
		project func(f *auditFixture) string
		target  func(f *auditFixture) string // "" means the created thing's id (after.id)
		// field of before/after to compare; nil want means no before (or after) at all.
		field               string
		wantBefore, wantAft any
	}{
		{"upload a new run", func(f *auditFixture, st Store) error {
			return st.SaveRunIn(ctx, f.p.ID, sampleReport("run-2", f.started.Add(time.Hour), 2))
		}, "run.create", func(f *auditFixture) string { return f.p.ID }, func(*auditFixture) string { return "run-2" },
			"cases", nil, 2.0},
		{"replace a run", func(f *auditFixture, st Store) error {
			return st.SaveRunIn(ctx, f.p.ID, sampleReport("run-1", f.started, 3))
		}, "run.replace", func(f *auditFixture) string { return f.p.ID }, func(*auditFixture) string { return "run-1" },
			"cases", 1.0, 3.0},
		{"save a run from the CLI", func(f *auditFixture, st Store) error {
			return st.SaveRun(ctx, sampleReport("run-cli", f.started, 2))
		}, "run.create", func(*auditFixture) string { return DefaultProjectID }, func(*auditFixture) string { return "run-cli" },
			"cases", nil, 2.0},
		{"delete a run", func(f *auditFixture, st Store) error {
			return st.DeleteRun(ctx, "run-1")
		}, "run.delete", func(f *auditFixture) string { return f.p.ID }, func(*auditFixture) string { return "run-1" },
			"id", "run-1", nil},
		{"create a project", func(f *auditFixture, st Store) error {
			_, err := st.CreateProject(ctx, Project{Slug: "beta", Name: "Beta"})
			return err
		}, "project.create", nil, nil, "slug", nil, "beta"},
		{"create a user", func(f *auditFixture, st Store) error {
			_, err := st.CreateUser(ctx, User{Email: "dan@example.com", PasswordHash: pw})
			return err
		}, "user.create", func(*auditFixture) string { return "" }, nil, "email", nil, "dan@example.com"},
		{"disable a user", func(f *auditFixture, st Store) error {
			_, err := st.UpdateUser(ctx, f.bob.ID, UserUpdate{Disabled: &yes, PasswordHash: &pw})
			return err
		}, "user.update", func(*auditFixture) string { return "" }, func(f *auditFixture) string { return f.bob.ID },
			"disabled", false, true},
		{"change a password", func(f *auditFixture, st Store) error {
			_, err := st.SetPassword(ctx, f.bob.ID, pw, "")
			return err
		}, "user.password", func(*auditFixture) string { return "" }, func(f *auditFixture) string { return f.bob.ID },
			"email", "bob@example.com", "bob@example.com"},
		{"add a member", func(f *auditFixture, st Store) error {
			_, err := st.AddMember(ctx, Member{ProjectID: f.p.ID, UserID: f.carol.ID, Role: RoleViewer})
			return err
		}, "member.add", func(f *auditFixture) string { return f.p.ID }, func(f *auditFixture) string { return f.carol.ID },
			"role", nil, "viewer"},
		{"change a role", func(f *auditFixture, st Store) error {
			_, err := st.UpdateMember(ctx, f.p.ID, f.bob.ID, RoleAdmin)
			return err
		}, "member.update", func(f *auditFixture) string { return f.p.ID }, func(f *auditFixture) string { return f.bob.ID },
			"role", "editor", "admin"},
		{"remove a member", func(f *auditFixture, st Store) error {
			return st.RemoveMember(ctx, f.p.ID, f.bob.ID)
		}, "member.remove", func(f *auditFixture) string { return f.p.ID }, func(f *auditFixture) string { return f.bob.ID },
			"email", "bob@example.com", nil},
		{"create an API key", func(f *auditFixture, st Store) error {
			_, err := st.CreateAPIKey(ctx, APIKey{ProjectID: f.p.ID, Name: "nightly", Role: RoleViewer, Prefix: "plk_cd", KeyHash: HashToken("plk_other")})
			return err
		}, "key.create", func(f *auditFixture) string { return f.p.ID }, nil, "name", nil, "nightly"},
		{"revoke an API key", func(f *auditFixture, st Store) error {
			_, err := st.RevokeAPIKey(ctx, f.p.ID, f.key.ID)
			return err
		}, "key.revoke", func(f *auditFixture) string { return f.p.ID }, func(f *auditFixture) string { return f.key.ID },
			"revoked_at", absent, "set"},
	}
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if i > 0 {
					dsn = freshDSN(t, driver)
				}
				f := newAuditFixture(t, dsn)
				// A failing audit entry: the store validates the actor type only when it
				// appends the entry, after the change's statements ran in the transaction.
				before, logBefore := f.snapshot(t), len(allAudit(t, f.st))
				err := c.change(f, f.st.WithAudit(Actor{Type: "robot", ID: "x"}))
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("change with a failing audit entry: %v, want ErrInvalid", err)
				}
				if after := f.snapshot(t); after != before {
					t.Errorf("the change outlived its failed audit entry:\nbefore %s\nafter  %s", before, after)
				}
				if n := len(allAudit(t, f.st)); n != logBefore {
					t.Errorf("audit log has %d entries after the failure, want %d", n, logBefore)
				}

				// The normal path: the change and exactly one entry.
				if err := c.change(f, f.st.WithAudit(Actor{Type: ActorUser, ID: f.alice.ID})); err != nil {
					t.Fatalf("audited change: %v", err)
				}
				if after := f.snapshot(t); after == before {
					t.Errorf("the audited change changed nothing")
				}
				log := allAudit(t, f.st)
				if len(log) != logBefore+1 {
					t.Fatalf("audit log has %d entries, want %d", len(log), logBefore+1)
				}
				e := log[0]
				if e.Action != c.action || e.ActorType != ActorUser || e.ActorID != f.alice.ID {
					t.Errorf("entry = %s by %s %s, want %s by user %s", e.Action, e.ActorType, e.ActorID, c.action, f.alice.ID)
				}
				var b, a map[string]any
				if len(e.Before) > 0 {
					json.Unmarshal(e.Before, &b)
				}
				if len(e.After) > 0 {
					json.Unmarshal(e.After, &a)
				}
				wantProject := ""
				if c.project != nil {
					wantProject = c.project(f)
				} else if a != nil {
					wantProject, _ = a["id"].(string)
				}
				if e.ProjectID != wantProject {
					t.Errorf("entry project = %q, want %q", e.ProjectID, wantProject)
				}
				wantTarget := ""
				if c.target != nil {
					wantTarget = c.target(f)
				} else if a != nil {
					wantTarget, _ = a["id"].(string)
				}
				if e.TargetID != wantTarget || wantTarget == "" {
					t.Errorf("entry target = %q, want %q", e.TargetID, wantTarget)
				}
				checkField(t, "before", b, c.field, c.wantBefore)
				checkField(t, "after", a, c.field, c.wantAft)
				raw, _ := json.Marshal(e)
				for _, secret := range []string{f.keyHash, HashToken("plk_other"), pw, "c2FsdA"} {
					if strings.Contains(string(raw), secret) {
						t.Errorf("the audit entry holds a hash: %s", raw)
					}
				}
			})
		}
	})
}

// checkField compares one field of an entry's before or after with want: nil wants no
// object at all, absent wants the field missing, "set" wants it present.
func checkField(t *testing.T, which string, obj map[string]any, field string, want any) {
	t.Helper()
	if want == nil {
		if obj != nil {
			t.Errorf("%s = %v, want none", which, obj)
		}
		return
	}
	if obj == nil {
		t.Errorf("%s is missing, want %s = %v", which, field, want)
		return
	}
	got, ok := obj[field]
	switch {
	case want == absent:
		if ok {
			t.Errorf("%s.%s = %v, want it absent", which, field, got)
		}
	case want == "set":
		if !ok || got == nil {
			t.Errorf("%s.%s is absent, want it set", which, field)
		}
	case got != want:
		t.Errorf("%s.%s = %v, want %v", which, field, got, want)
	}
}

// TestUnauditedStoreWritesNoEntries: the plain store (the CLI's) appends nothing itself.
func TestUnauditedStoreWritesNoEntries(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		f := newAuditFixture(t, dsn)
		if err := f.st.DeleteRun(context.Background(), "run-1"); err != nil {
			t.Fatal(err)
		}
		if n := len(allAudit(t, f.st)); n != 0 {
			t.Errorf("audit log has %d entries, want 0", n)
		}
	})
}
