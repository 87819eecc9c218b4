package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

// TestUserCommandsEffect checks in the database what the user scripts can only see as
// output: `plumb user passwd` stores a hash of the new password and ends the user's
// sessions, `plumb user disable` ends them too, and each is one audit entry by the system
// without the password or its hash.
func TestUserCommandsEffect(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "plumb.db")
	plumb := func(stdin string, args ...string) (int, string) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, args: args,
			getenv: func(k string) string {
				if k == "PLUMB_DB" {
					return dsn
				}
				return ""
			}}
		return run(ctx, e), out.String() + errb.String()
	}
	const oldPW, newPW = "correct horse battery staple", "a new and longer passphrase"
	for _, email := range []string{"ana@example.com", "bob@example.com"} {
		if code, out := plumb(oldPW+"\n", "user", "create", "--email", email, "--admin"); code != 0 {
			t.Fatalf("create %s: %d %s", email, code, out)
		}
	}
	st, err := store.Open(ctx, dsn, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	user := func(email string) store.User {
		u, err := st.GetUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	login := func(u store.User, token string) {
		if _, err := st.CreateSession(ctx, store.Session{IDHash: store.HashToken(token), UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	alive := func(token string) bool { _, err := st.GetSessionByHash(ctx, store.HashToken(token)); return err == nil }
	ana, bob := user("ana@example.com"), user("bob@example.com")
	login(ana, "ana-1")
	login(ana, "ana-2")
	login(bob, "bob-1")

	if code, out := plumb(newPW+"\n", "user", "passwd", "--email", "ana@example.com"); code != 0 {
		t.Fatalf("passwd: %d %s", code, out)
	}
	ana = user("ana@example.com")
	if auth.VerifyPassword(ana.PasswordHash, newPW) != nil || auth.VerifyPassword(ana.PasswordHash, oldPW) == nil {
		t.Errorf("after passwd, the stored hash is not the new password's")
	}
	if alive("ana-1") || alive("ana-2") || !alive("bob-1") {
		t.Errorf("after passwd: ana's sessions %v %v (want ended), bob's %v (want alive)", alive("ana-1"), alive("ana-2"), alive("bob-1"))
	}

	// A refused passwd (too short) changes nothing.
	if code, _ := plumb("short\n", "user", "passwd", "--email", "ana@example.com"); code != ExitUsage {
		t.Errorf("short password: exit %d, want %d", code, ExitUsage)
	}
	if user("ana@example.com").PasswordHash != ana.PasswordHash {
		t.Errorf("a refused passwd changed the hash")
	}

	if code, out := plumb("", "user", "disable", "--email", "bob@example.com"); code != 0 {
		t.Fatalf("disable: %d %s", code, out)
	}
	if alive("bob-1") || !user("bob@example.com").Disabled {
		t.Errorf("after disable: bob's session alive %v, disabled %v", alive("bob-1"), user("bob@example.com").Disabled)
	}
	if code, out := plumb("", "user", "disable", "--email", "ana@example.com"); code != ExitUsage || !strings.Contains(out, "last enabled instance admin") {
		t.Errorf("disable the last admin: exit %d %s, want %d", code, out, ExitUsage)
	}

	log, _, err := st.ListAudit(ctx, "", "", store.MaxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i := len(log) - 1; i >= 0; i-- {
		e := log[i]
		actions = append(actions, e.Action+" "+e.TargetID)
		if e.ActorType != store.ActorSystem {
			t.Errorf("entry %s by %s, want the system", e.Action, e.ActorType)
		}
		for _, secret := range []string{newPW, oldPW, ana.PasswordHash, "argon2"} {
			if strings.Contains(string(e.Before)+string(e.After), secret) {
				t.Errorf("entry %s holds the password or its hash", e.Action)
			}
		}
	}
	want := "user.create " + ana.ID + ", user.create " + bob.ID + ", user.password " + ana.ID + ", user.update " + bob.ID
	if got := strings.Join(actions, ", "); got != want {
		t.Errorf("audit log:\n got %s\nwant %s", got, want)
	}
}
