package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
			pw, err := readPassword(e)
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
	cmd.AddCommand(create)
	return cmd
}

// readPassword prompts twice without echo on a terminal, else reads stdin's first line.
func readPassword(e *env) (string, error) {
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
		return "", usageErr("no password on stdin: pipe it in (printf '%%s\\n' \"$PASSWORD\" | plumb user create ...) or run on a terminal to be prompted")
	}
	return line, nil
}
