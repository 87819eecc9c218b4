package cli

import (
	"os"
	"os/user"
	"testing"

	"github.com/plumbhq/plumb/internal/report"
)

// TestLocalUser: with $USER and $USERNAME unset (a container's root), the author the
// registry records and the user a run's provenance names are the same account name, not
// "local" for one and "root" for the other; $USER wins for both when set.
func TestLocalUser(t *testing.T) {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		msg := "no account name from the system"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + ": CI runs as a named account (root)")
		}
		t.Skip(msg + "; skipping (with CI=true this fails)")
	}
	env := func(vars map[string]string) *env { return &env{getenv: func(k string) string { return vars[k] }} }
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{}, u.Username},
		{map[string]string{"USER": "ana"}, "ana"},
		{map[string]string{"USERNAME": "bob"}, "bob"},
	} {
		e := env(c.vars)
		var p report.Provenance
		fillProvenance(&p, t.TempDir(), localUser(e))
		if got := promptAuthor(e, ""); got != c.want || p.User != c.want {
			t.Errorf("env %v: author %q, provenance %q; want both %q", c.vars, got, p.User, c.want)
		}
	}
	if got := promptAuthor(env(nil), "carol"); got != "carol" {
		t.Errorf("--author carol: %q", got)
	}
}
