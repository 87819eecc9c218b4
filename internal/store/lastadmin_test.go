package store

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestLastAdmin: a project's last admin member can be neither removed nor demoted, while
// other changes go through; and two admins demoting each other at once leave one admin.
func TestLastAdmin(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		s := openStore(t, dsn)
		p, err := s.CreateProject(ctx, Project{Slug: "guard", Name: "Guard"})
		if err != nil {
			t.Fatal(err)
		}
		user := func(email string, role Role) string {
			u, err := s.CreateUser(ctx, User{Email: email, PasswordHash: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddMember(ctx, Member{ProjectID: p.ID, UserID: u.ID, Role: role}); err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		ana, bob, eve := user("ana@example.com", RoleAdmin), user("bob@example.com", RoleAdmin), user("eve@example.com", RoleViewer)
		steps := []struct {
			name    string
			do      func() error
			wantErr error
		}{
			{"demote one of two admins", func() error { _, err := s.UpdateMember(ctx, p.ID, bob, RoleEditor); return err }, nil},
			{"demote the last admin", func() error { _, err := s.UpdateMember(ctx, p.ID, ana, RoleViewer); return err }, ErrLastAdmin},
			{"remove the last admin", func() error { return s.RemoveMember(ctx, p.ID, ana) }, ErrLastAdmin},
			{"keep the last admin an admin", func() error { _, err := s.UpdateMember(ctx, p.ID, ana, RoleAdmin); return err }, nil},
			{"remove a viewer", func() error { return s.RemoveMember(ctx, p.ID, eve) }, nil},
			{"promote another admin", func() error { _, err := s.UpdateMember(ctx, p.ID, bob, RoleAdmin); return err }, nil},
			{"now remove the first", func() error { return s.RemoveMember(ctx, p.ID, ana) }, nil},
			{"a missing member is still not found", func() error { return s.RemoveMember(ctx, p.ID, ana) }, ErrNotFound},
		}
		for _, st := range steps {
			err := st.do()
			if st.wantErr == nil && err != nil || st.wantErr != nil && !errors.Is(err, st.wantErr) {
				t.Errorf("%s: err = %v, want %v", st.name, err, st.wantErr)
			}
		}
		if m, err := s.GetMembership(ctx, p.ID, bob); err != nil || m.Role != RoleAdmin {
			t.Errorf("bob = %+v, %v; want the remaining admin", m, err)
		}

		// Two admins demote each other at once: one change wins, one project admin stays.
		ana = user("ana2@example.com", RoleAdmin)
		for round := range 10 {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, id := range []string{ana, bob} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.UpdateMember(ctx, p.ID, id, RoleEditor)
				}()
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), ErrLastAdmin) {
				t.Fatalf("round %d: concurrent demotions: %v; want exactly one ErrLastAdmin", round, errs)
			}
			ms, err := s.ListMembers(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			admins := 0
			for _, m := range ms {
				if m.Role == RoleAdmin {
					admins++
				}
			}
			if admins != 1 {
				t.Fatalf("round %d: %d admins after concurrent demotions, want 1", round, admins)
			}
			for _, id := range []string{ana, bob} {
				if _, err := s.UpdateMember(ctx, p.ID, id, RoleAdmin); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
