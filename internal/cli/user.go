package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
)

func newUserCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the accounts of `plumb serve`",
	}
	var (
		email string
		admin bool
	)
	create := &cobra.Command{
		Use:   "create --email EMAIL [--admin]",
		Short: "Create a user; the password is read from stdin or a prompt, never a flag",
		Long: `Create a user of the server. The password is read from a prompt when stdin is a
terminal, else from the first line of stdin, so that it never appears in the process list
or the shell history. It needs at least 12 characters; it is stored as an argon2id hash.

With --admin the user administers the whole instance: every project, and creating projects.`,
		Example: "  plumb user create --email ana@example.com --admin\n  printf '%s\\n' \"$PASSWORD\" | plumb user create --email ci@example.com",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(email) == "" {
				return usageErr("--email is required")
			}
			pw, err := readPassword(e, cmd.CommandPath())
			if err != nil {
				return err
			}
			if err := auth.CheckPassword(pw); err != nil {
				return usageErr("%v", err)
			}
			hash, err := auth.HashPassword(pw, auth.DefaultParams())
			if err != nil {
				return err
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			// The user and its audit entry are written in one transaction.
			u, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).CreateUser(cmd.Context(),
				store.User{Email: email, PasswordHash: hash, IsAdmin: admin})
			switch {
			case errors.Is(err, store.ErrConflict):
				return usageErr("a user with the email %q exists", email)
			case errors.Is(err, store.ErrInvalid):
				return usageErr("%v", err)
			case err != nil:
				return err
			}
			kind := "user"
			if admin {
				kind = "instance admin"
			}
			fmt.Fprintf(e.stdout, "created %s %s (%s)\n", kind, u.Email, u.ID)
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "the user's email, their login")
	create.Flags().BoolVar(&admin, "admin", false, "make the user an instance admin")
	cmd.AddCommand(create, newUserListCmd(e), newUserPasswdCmd(e),
		newUserEnableCmd(e, true), newUserEnableCmd(e, false))
	return cmd
}

// newUserListCmd lists the accounts, so that an operator sees who is an admin and who is
// disabled.
func newUserListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the users of `plumb serve`, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			us, err := st.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			if len(us) == 0 {
				fmt.Fprintln(e.stdout, "No users yet. Create the first admin with `plumb user create --email EMAIL --admin`.")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tID\tROLE\tSTATUS\tCREATED")
			for _, u := range us {
				role, status := "user", "enabled"
				if u.IsAdmin {
					role = "instance admin"
				}
				if u.Disabled {
					status = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.ID, role, status, u.CreatedAt.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
}

// findUser is the user with email, or a usage error that says how to see who exists.
func findUser(cmd *cobra.Command, st store.Store, email string) (store.User, error) {
	u, err := st.GetUserByEmail(cmd.Context(), email)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, usageErr("no user has the email %q (list them with `plumb user list`)", email)
	}
	return u, err
}

// newUserPasswdCmd sets a user's password, for an operator on the server's database: the
// way back in for someone who forgot theirs (users who know theirs change it in the UI or
// with PUT /api/v1/me/password).
func newUserPasswdCmd(e *env) *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use:   "passwd --email EMAIL",
		Short: "Set a user's password and end their sessions; the password is read from stdin or a prompt, never a flag",
		Long: `Set the password of a user of the server, as an operator with access to its database
(--db). The password is read like ` + "`plumb user create`" + ` reads it: from a no-echo prompt when
stdin is a terminal, else from the first line of stdin. It needs at least 12 characters.

Every session of the user ends, so that whoever was logged in as them is out. The change is
in the audit log as user.password, by the system, without the password or its hash.`,
		Example: "  plumb user passwd --email ana@example.com\n  printf '%s\\n' \"$PASSWORD\" | plumb user passwd --email ana@example.com --db postgres://...",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(email) == "" {
				return usageErr("--email is required")
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			// The user is looked up first, so that nobody types a password for a typo.
			u, err := findUser(cmd, st, email)
			if err != nil {
				return err
			}
			pw, err := readPassword(e, cmd.CommandPath())
			if err != nil {
				return err
			}
			if err := auth.CheckPassword(pw); err != nil {
				return usageErr("%v", err)
			}
			hash, err := auth.HashPassword(pw, auth.DefaultParams())
			if err != nil {
				return err
			}
			// The password, the end of the sessions and the audit entry: one transaction.
			if _, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).SetPassword(cmd.Context(), u.ID, hash, ""); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "set the password of %s (%s); their sessions have ended\n", u.Email, u.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's email")
	return cmd
}

// newUserEnableCmd is `plumb user disable` (disable) or `plumb user enable`.
func newUserEnableCmd(e *env, disable bool) *cobra.Command {
	var email string
	verb, short := "enable", "Let a disabled user log in again"
	if disable {
		verb, short = "disable", "Stop a user from logging in and end their sessions"
	}
	cmd := &cobra.Command{
		Use:   verb + " --email EMAIL",
		Short: short,
		Long: `Disable or enable a user of the server, as an operator with access to its database
(--db). A disabled user cannot log in, and disabling ends every session of theirs; their
memberships and the API keys they created stay (revoke keys in their projects). The last
enabled instance admin cannot be disabled: create or enable another admin first.

The change is in the audit log as user.update, by the system.`,
		Example: "  plumb user " + verb + " --email ana@example.com",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(email) == "" {
				return usageErr("--email is required")
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := findUser(cmd, st, email)
			if err != nil {
				return err
			}
			if u.Disabled == disable {
				fmt.Fprintf(e.stdout, "%s (%s) is already %sd; nothing changed\n", u.Email, u.ID, verb)
				return nil
			}
			_, err = st.WithAudit(store.Actor{Type: store.ActorSystem}).UpdateUser(cmd.Context(), u.ID, store.UserUpdate{Disabled: &disable})
			if errors.Is(err, store.ErrLastAdmin) {
				return usageErr("%s is the last enabled instance admin: create another one first (`plumb user create --email EMAIL --admin`)", u.Email)
			}
			if err != nil {
				return err
			}
			if disable {
				fmt.Fprintf(e.stdout, "disabled %s (%s); their sessions have ended\n", u.Email, u.ID)
			} else {
				fmt.Fprintf(e.stdout, "enabled %s (%s)\n", u.Email, u.ID)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's email")
	return cmd
}

// readPassword prompts twice without echo on a terminal, else reads stdin's first line.
// command names the command in the advice for an empty stdin.
func readPassword(e *env, command string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		fmt.Fprint(e.stderr, "Repeat it: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		if string(a) != string(b) {
			return "", usageErr("the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", usageErr("no password on stdin: pipe it in (printf '%%s\\n' \"$PASSWORD\" | %s ...) or run on a terminal to be prompted", command)
	}
	return line, nil
}
