package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// sessionsOf is how many sessions the database holds for a user.
func sessionsOf(t *testing.T, s Store, userID string) int {
	t.Helper()
	return countRows(t, s, "SELECT count(*) FROM sessions WHERE user_id = ?", userID)
}

// newSession stores a session of userID under the hash of token.
func newSession(t *testing.T, s Store, userID, token string) {
	t.Helper()
	if _, err := s.CreateSession(context.Background(), Session{IDHash: HashToken(token), UserID: userID,
		ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// TestInstanceLastAdmin: the last enabled instance admin can be neither disabled nor
// demoted (together or apart), while the same changes to anyone else go through; a
// disabled admin does not count.
func TestInstanceLastAdmin(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		ana, bob, eve := mustUser(t, s, "ana@example.com", true), mustUser(t, s, "bob@example.com", true), mustUser(t, s, "eve@example.com", false)
		yes, no := true, false
		update := func(id string, upd UserUpdate) func() error {
			return func() error { _, err := s.UpdateUser(ctx, id, upd); return err }
		}
		steps := []struct {
			name    string
			do      func() error
			wantErr error
		}{
			{"disable one of two admins", update(bob.ID, UserUpdate{Disabled: &yes}), nil},
			{"disable the last enabled admin", update(ana.ID, UserUpdate{Disabled: &yes}), ErrLastAdmin},
			{"demote the last enabled admin", update(ana.ID, UserUpdate{IsAdmin: &no}), ErrLastAdmin},
			{"promote and disable the last one at once", update(ana.ID, UserUpdate{IsAdmin: &yes, Disabled: &yes}), ErrLastAdmin},
			{"keep the last admin an admin", update(ana.ID, UserUpdate{IsAdmin: &yes, Disabled: &no}), nil},
			{"demote a disabled admin", update(bob.ID, UserUpdate{IsAdmin: &no}), nil},
			{"disable a non-admin", update(eve.ID, UserUpdate{Disabled: &yes}), nil},
			{"promote another user", update(eve.ID, UserUpdate{IsAdmin: &yes, Disabled: &no}), nil},
			{"now demote the first", update(ana.ID, UserUpdate{IsAdmin: &no}), nil},
			{"a missing user is still not found", update("u_missing", UserUpdate{Disabled: &yes}), ErrNotFound},
		}
		for _, st := range steps {
			err := st.do()
			if st.wantErr == nil && err != nil || st.wantErr != nil && !errors.Is(err, st.wantErr) {
				t.Errorf("%s: err = %v, want %v", st.name, err, st.wantErr)
			}
		}
		if u, err := s.GetUser(ctx, eve.ID); err != nil || !u.IsAdmin || u.Disabled {
			t.Errorf("eve = %+v, %v; want the remaining enabled admin", u, err)
		}
	})
}

// TestInstanceLastAdminConcurrent: two admins disabling (or demoting) each other at once
// leave exactly one enabled instance admin.
func TestInstanceLastAdminConcurrent(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		ids := []string{mustUser(t, s, "ana@example.com", true).ID, mustUser(t, s, "bob@example.com", true).ID}
		yes, no := true, false
		for round := range 10 {
			// Even rounds disable both at once, odd rounds demote one and disable the other.
			upds := []UserUpdate{{Disabled: &yes}, {Disabled: &yes}}
			if round%2 == 1 {
				upds[0] = UserUpdate{IsAdmin: &no}
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.UpdateUser(ctx, id, upds[i])
				}()
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), ErrLastAdmin) {
				t.Fatalf("round %d: concurrent changes: %v; want exactly one ErrLastAdmin", round, errs)
			}
			users, err := s.ListUsers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			enabled := 0
			for _, u := range users {
				if u.IsAdmin && !u.Disabled {
					enabled++
				}
			}
			if enabled != 1 {
				t.Fatalf("round %d: %d enabled admins after concurrent changes, want 1", round, enabled)
			}
			for _, id := range ids {
				if _, err := s.UpdateUser(ctx, id, UserUpdate{IsAdmin: &yes, Disabled: &no}); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestDisableEndsSessions: disabling a user ends all their sessions and no one else's;
// enabling them again does not bring the sessions back.
func TestDisableEndsSessions(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		ana, bob := mustUser(t, s, "ana@example.com", true), mustUser(t, s, "bob@example.com", false)
		for i := range 2 {
			newSession(t, s, bob.ID, fmt.Sprint("bob", i))
		}
		newSession(t, s, ana.ID, "ana")
		yes, no := true, false
		if _, err := s.UpdateUser(ctx, bob.ID, UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if n := sessionsOf(t, s, bob.ID); n != 0 {
			t.Errorf("disabled bob has %d sessions, want 0", n)
		}
		if _, err := s.GetSessionByHash(ctx, HashToken("bob0")); !errors.Is(err, ErrNotFound) {
			t.Errorf("disabled bob's session: err = %v, want ErrNotFound", err)
		}
		if n := sessionsOf(t, s, ana.ID); n != 1 {
			t.Errorf("ana has %d sessions after bob was disabled, want 1", n)
		}
		if u, err := s.UpdateUser(ctx, bob.ID, UserUpdate{Disabled: &no}); err != nil || u.Disabled {
			t.Fatalf("enable bob: %+v, %v", u, err)
		}
		if n := sessionsOf(t, s, bob.ID); n != 0 {
			t.Errorf("enabled bob has %d sessions, want 0", n)
		}
		// A refused change ends nothing.
		newSession(t, s, ana.ID, "ana2")
		if _, err := s.UpdateUser(ctx, ana.ID, UserUpdate{Disabled: &yes}); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("disable the last admin: err = %v, want ErrLastAdmin", err)
		}
		if n := sessionsOf(t, s, ana.ID); n != 2 {
			t.Errorf("ana has %d sessions after a refused disable, want 2", n)
		}
	})
}

// TestSetPassword: the hash is replaced, every session but the kept one ends, other
// users' sessions stay; an unknown user is ErrNotFound and a bad hash ErrInvalid.
func TestSetPassword(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		ana, bob := mustUser(t, s, "ana@example.com", false), mustUser(t, s, "bob@example.com", false)
		for _, tok := range []string{"ana-here", "ana-phone", "ana-stolen"} {
			newSession(t, s, ana.ID, tok)
		}
		newSession(t, s, bob.ID, "bob")
		u, err := s.SetPassword(ctx, ana.ID, "$argon2id$new", HashToken("ana-here"))
		if err != nil || u.PasswordHash != "$argon2id$new" || u.Email != ana.Email {
			t.Fatalf("SetPassword = %+v, %v", u, err)
		}
		if got, _ := s.GetUser(ctx, ana.ID); got.PasswordHash != "$argon2id$new" {
			t.Errorf("stored hash = %q", got.PasswordHash)
		}
		if _, err := s.GetSessionByHash(ctx, HashToken("ana-here")); err != nil {
			t.Errorf("the kept session: %v", err)
		}
		for _, tok := range []string{"ana-phone", "ana-stolen"} {
			if _, err := s.GetSessionByHash(ctx, HashToken(tok)); !errors.Is(err, ErrNotFound) {
				t.Errorf("session %s after the password change: err = %v, want ErrNotFound", tok, err)
			}
		}
		if n := sessionsOf(t, s, bob.ID); n != 1 {
			t.Errorf("bob has %d sessions, want 1", n)
		}
		if _, err := s.SetPassword(ctx, ana.ID, "$argon2id$newer", ""); err != nil {
			t.Fatal(err)
		}
		if n := sessionsOf(t, s, ana.ID); n != 0 {
			t.Errorf("ana has %d sessions after SetPassword keeping none, want 0", n)
		}
		if _, err := s.SetPassword(ctx, "u_missing", "$argon2id$x", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetPassword(missing): err = %v, want ErrNotFound", err)
		}
		if _, err := s.SetPassword(ctx, ana.ID, " ", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPassword(blank hash): err = %v, want ErrInvalid", err)
		}
		if got, _ := s.GetUser(ctx, ana.ID); got.PasswordHash != "$argon2id$newer" {
			t.Errorf("a refused SetPassword changed the hash to %q", got.PasswordHash)
		}
	})
}
