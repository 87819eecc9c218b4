package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/store"
)

// newPromptCmd is the prompt registry on the local store (--db), in the default project.
// Its changes are audited as the system, like `plumb user`'s.
func newPromptCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prompt",
		Short: "Version prompts in the registry: push, get, diff, label and list them",
		Long: `The prompt registry keeps prompts as immutable, numbered versions (template text or
chat messages, with model, params, tools and response format), and labels such as production
or staging that point at a version and move. It works on the store (--db), in the default
project. See docs/prompts.md for the file format.`,
	}
	cmd.AddCommand(newPromptPushCmd(e), newPromptGetCmd(e), newPromptDiffCmd(e), newPromptLabelCmd(e), newPromptListCmd(e))
	return cmd
}

// promptAuthor is who pushes or moves: --author, else the login name, else "local".
func promptAuthor(e *env, flag string) string {
	for _, s := range []string{flag, e.getenv("USER"), e.getenv("USERNAME")} {
		if strings.TrimSpace(s) != "" {
			return s
		}
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
			an, bn := fmt.Sprintf("%s@%d", name, a.Version), fmt.Sprintf("%s@%d", name, b.Version)
			if a.ContentHash == b.ContentHash {
				fmt.Fprintf(e.stdout, "%s and %s are identical (sha256:%s)\n", an, bn, a.ContentHash[:12])
				return nil
			}
			fmt.Fprintf(e.stdout, "--- %s\n+++ %s\n", an, bn)
			for _, part := range []struct {
				what string
				a, b []string
			}{
				{"text", promptTextLines(a.Content), promptTextLines(b.Content)},
				{"params", promptParamLines(a.Content), promptParamLines(b.Content)},
			} {
				for _, h := range unifiedHunks(part.a, part.b, 3) {
					fmt.Fprintf(e.stdout, "@@ %s %s @@\n", part.what, h.header)
					for _, l := range h.lines {
						fmt.Fprintln(e.stdout, l)
					}
				}
			}
			return nil
		},
	}
}

// promptTextLines is what the text diff compares: the template's lines, or each message
// as a [role] line followed by its content's lines.
func promptTextLines(c store.PromptContent) []string {
	if c.Template != "" {
		return strings.Split(strings.TrimSuffix(c.Template, "\n"), "\n")
	}
	var out []string
	for _, m := range c.Messages {
		out = append(out, "["+m.Role+"]")
		out = append(out, strings.Split(strings.TrimSuffix(m.Content, "\n"), "\n")...)
	}
	return out
}

// promptParamLines is what the params diff compares: everything but the text, as indented
// JSON with sorted keys.
func promptParamLines(c store.PromptContent) []string {
	c.Template, c.Messages = "", nil
	var tree map[string]any
	b, _ := json.Marshal(c)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_ = dec.Decode(&tree)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(tree) // a decoded JSON tree always encodes
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

func newPromptLabelCmd(e *env) *cobra.Command {
	var author string
	cmd := &cobra.Command{
		Use:   "label NAME VERSION LABEL",
		Short: "Point a label (production, staging, ...) at a version of a prompt",
		Long: `Point LABEL at version VERSION of the prompt NAME, creating the label if it is new. Every
move is kept in the label's history (and the audit log), so a move can be rolled back by
moving the label back.`,
		Example: "  plumb prompt label support/triage 4 production",
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
			st, err := openStore(cmd, e)
			if err != nil {
				return err
			}
			defer st.Close()
			m, err := st.WithAudit(store.Actor{Type: store.ActorSystem}).MovePromptLabel(cmd.Context(),
				store.DefaultProjectID, name, label, version, promptAuthor(e, author))
			if err != nil {
				return promptStoreErr(err, name)
			}
			switch {
			case m.ID == 0:
				fmt.Fprintf(e.stdout, "%s of %s is already at version %d; nothing changed\n", label, name, version)
			case m.FromVersion == nil:
				fmt.Fprintf(e.stdout, "%s of %s now at version %d (new label)\n", label, name, version)
			default:
				fmt.Fprintf(e.stdout, "%s of %s moved from version %d to %d\n", label, name, *m.FromVersion, version)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", "", "who moves the label (default $USER)")
	return cmd
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
