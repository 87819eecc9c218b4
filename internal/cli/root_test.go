package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestUnknownSubcommand: a word that is no subcommand of a command that has subcommands
// (plumb guard bogus, plumb approvals aprove) is bad input, exit 2, saying what it may
// have meant or what the commands are, at every level of the tree; the group alone still
// prints its help.
func TestUnknownSubcommand(t *testing.T) {
	plumb := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, args: args,
			getenv: func(string) string { return "" }})
		return code, out.String(), errb.String()
	}
	var groups []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasParent() && c.HasSubCommands() {
			groups = append(groups, c)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot(&env{getenv: func(string) string { return "" }}))
	if len(groups) < 5 {
		t.Fatalf("only %d commands with subcommands found", len(groups))
	}
	for _, g := range groups {
		path := strings.Fields(g.CommandPath())[1:]
		code, _, errs := plumb(append(path, "bogus")...)
		if code != ExitUsage || !strings.Contains(errs, `unknown command "bogus" for "`+g.CommandPath()+`"`) {
			t.Errorf("%s bogus: exit %d, stderr %q; want exit 2 and unknown command", g.CommandPath(), code, errs)
		}
	}
	for _, tc := range []struct{ args, want string }{
		{"guard bogus", `unknown command "bogus" for "plumb guard": its commands are check (see 'plumb guard --help')`},
		{"approvals aprove 1", `unknown command "aprove" for "plumb approvals": did you mean approve?`},
		{"queue lst", `unknown command "lst" for "plumb queue": did you mean list?`},
	} {
		code, _, errs := plumb(strings.Fields(tc.args)...)
		if code != ExitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	if code, out, _ := plumb("approvals"); code != ExitOK || !strings.Contains(out, "Available Commands") {
		t.Errorf("plumb approvals: exit %d, %q; want its help", code, out)
	}
}
