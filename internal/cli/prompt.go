package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/promptdiff"
	"github.com/plumbhq/plumb/internal/store"
)

// newPromptCmd is the prompt registry on the local store (--db), in the default project.
// Its changes are audited as the system, like `plumb user`'s.
func newPromptCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prompt",
		Short: "Version prompts in the registry: push, get, diff, label, review, roll back and list them",
		Long: `The prompt registry keeps prompts as immutable, numbered versions (template text or
chat messages, with model, params, tools and response format), and labels such as production
or staging that point at a version and move. It works on the store (--db), in the default
project. See docs/prompts.md for the file format.`,
	}
	cmd.AddCommand(newPromptPushCmd(e), newPromptGetCmd(e), newPromptDiffCmd(e), newPromptLabelCmd(e), newPromptListCmd(e),
		newPromptRollbackCmd(e), newPromptHistoryCmd(e), newPromptProtectCmd(e), newPromptReviewCmd(e))
	return cmd
}

// promptAuthor is who pushes or moves: --author, else the local user (localUser).
func promptAuthor(e *env, flag string) string {
	if strings.TrimSpace(flag) != "" {
		return flag
	}
	return localUser(e)
}

// localUser is the one answer to "who is running plumb here", for the authors the registry
// records and a run's provenance alike: $USER, else $USERNAME (Windows), else the
// account's name from the system (a container's root has no $USER), else "local".
func localUser(e *env) string {
	for _, s := range []string{e.getenv("USER"), e.getenv("USERNAME")} {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "local"
}

// promptStoreErr turns the store's refusals into usage errors that say what to do.
func promptStoreErr(err error, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound) && strings.HasPrefix(err.Error(), fmt.Sprintf("prompt %q not found", name)):
		return usageErr("no prompt %q in the store (list them with `plumb prompt list`)", name)
	case errors.Is(err, store.ErrNotFound):
		return usageErr("%v (see the versions and labels with `plumb prompt list`)", err)
	case errors.Is(err, store.ErrInvalid):
		return usageErr("%v", err)
	}
	return err
}

func newPromptPushCmd(e *env) *cobra.Command {
	var message, author string
	cmd := &cobra.Command{
		Use:   "push NAME FILE [-m MESSAGE]",
		Short: "Store FILE as the next version of the prompt NAME (nothing new if it is unchanged)",
		Long: `Store the prompt in FILE as the next version of NAME. FILE is a template (.txt or .md,
used as it is) or a .json/.yaml file with template or messages, and optionally model, params,
tools and response_format. The variables are derived from the {{var}} placeholders.

Pushing content identical to the latest version creates nothing: the latest version is kept.`,
		Example: "  plumb prompt push support/triage triage.md -m \"shorter answers\"\n  plumb prompt push support/triage triage.yaml",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, file := args[0], args[1]
			if err := store.CheckPromptName(name); err != nil {
				return usageErr("%v", err)
			}
			content, err := readPromptFile(file)
			if err != nil {
				return err
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			v, created, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).PushPrompt(cmd.Context(),
				store.DefaultProjectID, name, content, promptAuthor(e, author), message)
			if err != nil {
				if errors.Is(err, store.ErrInvalid) {
					return usageErr("%s: %v", file, err)
				}
				return err
			}
			if created {
				fmt.Fprintf(e.stdout, "%s@%d created (sha256:%s)\n", name, v.Version, v.ContentHash[:12])
			} else {
				fmt.Fprintf(e.stdout, "%s@%d unchanged: %s is identical to the latest version (sha256:%s)\n", name, v.Version, file, v.ContentHash[:12])
			}
			if len(v.Content.Variables) > 0 {
				fmt.Fprintf(e.stdout, "variables: %s\n", strings.Join(v.Content.Variables, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&message, "message", "m", "", "what changed and why, kept with the version")
	cmd.Flags().StringVar(&author, "author", "", "who wrote the version (default $USER)")
	return cmd
}

// promptFile is a .json or .yaml prompt file; unknown keys are errors.
type promptFile struct {
	Template       *string               `json:"template"`
	Messages       []store.PromptMessage `json:"messages"`
	Model          string                `json:"model"`
	Params         map[string]any        `json:"params"`
	Tools          any                   `json:"tools"`
	ResponseFormat any                   `json:"response_format"`
}

const promptFileKeys = "template or messages, model, params, tools, response_format"

// readPromptFile reads a prompt file by its extension, with errors naming the file and the
// fix (exit 2).
func readPromptFile(path string) (store.PromptContent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return store.PromptContent{}, usageErr("read the prompt file: %v", err)
	}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".txt", ".md":
		return store.PromptContent{Template: string(b)}, nil
	case ".yaml", ".yml":
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return store.PromptContent{}, usageErr("%s: not valid YAML: %v", path, err)
		}
		return decodePromptFile(path, j)
	case ".json":
		return decodePromptFile(path, b)
	default:
		return store.PromptContent{}, usageErr("%s: unknown prompt file type %q: use a .txt or .md template, or a .json or .yaml file with %s", path, ext, promptFileKeys)
	}
}

func decodePromptFile(path string, b []byte) (store.PromptContent, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var f promptFile
	if err := dec.Decode(&f); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
			return store.PromptContent{}, usageErr("%s:%d: not valid JSON: %v", path, line, se)
		case errors.As(err, &te):
			return store.PromptContent{}, usageErr("%s: %s must not be %s: write it as in docs/prompts.md", path, te.Field, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return store.PromptContent{}, usageErr("%s: unknown key %s: the keys are %s", path, strings.TrimPrefix(err.Error(), "json: unknown field "), promptFileKeys)
		}
		return store.PromptContent{}, usageErr("%s: %v: write an object with %s", path, err, promptFileKeys)
	}
	c := store.PromptContent{Messages: f.Messages, Model: f.Model, Params: f.Params, Tools: f.Tools, ResponseFormat: f.ResponseFormat}
	if f.Template != nil {
		c.Template = *f.Template
	}
	return c, nil
}

// getPrompt resolves NAME[@LABEL|@VERSION] in the default project.
func getPrompt(cmd *cobra.Command, st store.Store, arg string) (store.PromptVersion, error) {
	name, ref := store.ParsePromptRef(arg)
	if err := store.CheckPromptName(name); err != nil {
		return store.PromptVersion{}, usageErr("%v", err)
	}
	v, err := st.GetPromptVersion(cmd.Context(), store.DefaultProjectID, name, ref)
	return v, promptStoreErr(err, name)
}

func newPromptGetCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get NAME[@LABEL|@VERSION] [--json]",
		Short: "Print a version of a prompt: the latest, a labelled one or a numbered one",
		Long: `Print a version of a prompt: its template text, or its chat messages as JSON. With --json,
print the whole version: content, model, params, variables, hash, author and labels.`,
		Example: "  plumb prompt get support/triage@production\n  plumb prompt get support/triage@3 --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := getPrompt(cmd, st, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeIndentedJSON(e, v)
			}
			if v.Content.Template == "" {
				return writeIndentedJSON(e, v.Content.Messages)
			}
			fmt.Fprint(e.stdout, v.Content.Template)
			if !strings.HasSuffix(v.Content.Template, "\n") {
				fmt.Fprintln(e.stdout)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the whole version as JSON")
	return cmd
}

// writeIndentedJSON prints v as indented JSON, without escaping <, > and & in prompts.
func writeIndentedJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPromptDiffCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "diff NAME A B",
		Short: "Show what changed between two versions of a prompt (text and params)",
		Long: `Show a unified diff between versions A and B of a prompt (each a version number or a
label): first of the text (the template, or the chat messages), then of the rest (model,
params, tools, response format, variables) as JSON. The exit status is 0 either way.`,
		Example: "  plumb prompt diff support/triage production 4",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			name := args[0]
			a, err := getPrompt(cmd, st, name+"@"+args[1])
			if err != nil {
				return err
			}
			b, err := getPrompt(cmd, st, name+"@"+args[2])
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, promptdiff.Versions(name, a, b, 3).Unified)
			return nil
		},
	}
}

func newPromptLabelCmd(e *env) *cobra.Command {
	var author, reason string
	var force bool
	cmd := &cobra.Command{
		Use:   "label NAME VERSION LABEL [--force [-m REASON]]",
		Short: "Point a label (staging, ...) at a version; a protected label (production) gets a review request",
		Long: `Point LABEL at version VERSION of the prompt NAME, creating the label if it is new. Every
move is kept in the label's history (and the audit log): see it with plumb prompt history,
undo the latest with plumb prompt rollback.

A protected label (production, unless plumb prompt protect says otherwise) does not move
here: a review request for the move is opened instead, and the label moves when another
person approves it (plumb prompt review approve ID, or in the web UI). On a store with one
user or none (a laptop, where nobody else could review), --force moves it at once,
recorded as forced with the reason given with -m.`,
		Example: "  plumb prompt label support/triage 4 staging\n  plumb prompt label support/triage 4 production   # opens a review request\n  plumb prompt label support/triage 4 production --force -m \"solo project\"",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, label := args[0], args[2]
			version, err := strconv.Atoi(args[1])
			if err != nil || version < 1 {
				return usageErr("version %q: give a version number, e.g. 3 (see them with `plumb prompt get %s --json` or `plumb prompt list`)", args[1], name)
			}
			if err := store.CheckPromptName(name); err != nil {
				return usageErr("%v", err)
			}
			if err := store.CheckPromptLabel(label); err != nil {
				return usageErr("%v", err)
			}
			if reason != "" && !force {
				return usageErr("-m gives the reason of a forced move: add --force, or drop -m")
			}
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx, who := cmd.Context(), promptAuthor(e, author)
			au := st.WithAudit(store.Actor{Type: store.ActorSystem})
			var m store.PromptLabelMove
			if force {
				m, err = au.ForceMovePromptLabel(ctx, store.DefaultProjectID, name, label, version, who, reason)
				if errors.Is(err, store.ErrNotAllowed) {
					return usageErr("%v: plumb prompt review request %s %d %s", err, name, version, label)
				}
			} else {
				m, err = au.MovePromptLabel(ctx, store.DefaultProjectID, name, label, version, who)
				if errors.Is(err, store.ErrProtected) {
					return requestInstead(cmd, e, au, name, label, version, who)
				}
			}
			if err != nil {
				return promptStoreErr(err, name)
			}
			printMove(e, m, "")
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "who moves the label (default $USER)")
	cmd.Flags().BoolVar(&force, "force", false, "move a protected label without a review (only on a store of one user or none)")
	cmd.Flags().StringVarP(&reason, "message", "m", "", "why a forced move is made, kept in the history")
	return cmd
}

// requestInstead opens a review request for a move of a protected label, and says so.
func requestInstead(cmd *cobra.Command, e *env, st store.Store, name, label string, version int, who string) error {
	cur, err := st.GetPromptVersion(cmd.Context(), store.DefaultProjectID, name, label)
	if err == nil && cur.Version == version {
		fmt.Fprintf(e.stdout, "%s of %s is already at version %d; nothing changed\n", label, name, version)
		return nil
	}
	r, err := st.RequestPromptReview(cmd.Context(), store.DefaultProjectID, name, label, version, who, "")
	if err != nil {
		return promptStoreErr(err, name)
	}
	fmt.Fprintf(e.stdout, "%s is protected: it did not move. Review request #%d asks to point it at version %d (now at %s).\n",
		label, r.ID, version, reviewVersion(r.BaseVersion))
	fmt.Fprintf(e.stdout, "Another person approves it with `plumb prompt review approve %d` (or in the web UI); on a store of one user or none, --force moves it at once.\n", r.ID)
	return nil
}

// printMove says what a move did.
func printMove(e *env, m store.PromptLabelMove, what string) {
	if what == "" {
		what = "moved"
	}
	switch {
	case m.ID == 0:
		fmt.Fprintf(e.stdout, "%s of %s is already at version %d; nothing changed\n", m.Label, m.Prompt, m.ToVersion)
	case m.FromVersion == nil:
		fmt.Fprintf(e.stdout, "%s of %s now at version %d (new label)\n", m.Label, m.Prompt, m.ToVersion)
	default:
		fmt.Fprintf(e.stdout, "%s of %s %s from version %d to %d\n", m.Label, m.Prompt, what, *m.FromVersion, m.ToVersion)
	}
}

func newPromptListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the prompts with their latest version and labels",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			ps, err := st.ListPrompts(cmd.Context(), store.DefaultProjectID)
			if err != nil {
				return err
			}
			if asJSON {
				return writeIndentedJSON(e, ps)
			}
			if len(ps) == 0 {
				fmt.Fprintln(e.stdout, "No prompts yet. Push one with `plumb prompt push NAME FILE`.")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tLATEST\tLABELS\tUPDATED")
			for _, p := range ps {
				labels := make([]string, 0, len(p.Labels))
				for l, v := range p.Labels {
					labels = append(labels, fmt.Sprintf("%s=%d", l, v))
				}
				sort.Strings(labels)
				ls := strings.Join(labels, " ")
				if ls == "" {
					ls = "-"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.LatestVersion, ls, p.UpdatedAt.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}
