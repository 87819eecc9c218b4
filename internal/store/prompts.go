package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Prompts is the prompt registry of a project: prompts with immutable, numbered versions,
// and labels (production, staging, any name) that point at a version and move, each move
// kept in a history so that it can be rolled back.
type Prompts interface {
	// PushPrompt stores content as the next version of the prompt name of a project
	// (creating the prompt at version 1), with its variables derived from the template.
	// Content identical to the latest version's is not stored again: the latest version
	// is returned with created false. Bad content or a bad name is ErrInvalid, a missing
	// project ErrNotFound.
	PushPrompt(ctx context.Context, projectID, name string, content PromptContent, author, message string) (v PromptVersion, created bool, err error)
	// GetPromptVersion returns a version of a prompt: ref is "" or "latest" for the latest
	// version, a version number, or a label. A missing prompt, version or label is
	// ErrNotFound.
	GetPromptVersion(ctx context.Context, projectID, name, ref string) (PromptVersion, error)
	// ListPrompts returns a project's prompts, by name, with their latest version and labels.
	ListPrompts(ctx context.Context, projectID string) ([]PromptInfo, error)
	// ListPromptVersions returns every version of a prompt, newest first, or ErrNotFound.
	ListPromptVersions(ctx context.Context, projectID, name string) ([]PromptVersion, error)
	// MovePromptLabel points label at a version of a prompt (creating the label) and
	// records the move in the label's history. A label already at that version is left
	// alone: the returned move then has ID 0 and FromVersion equal to ToVersion. A missing
	// prompt or version is ErrNotFound, a bad label ErrInvalid, a protected label
	// (PromptReviews) ErrProtected.
	MovePromptLabel(ctx context.Context, projectID, name, label string, version int, actor string) (PromptLabelMove, error)
	// PromptLabelHistory returns the moves of a prompt's label ("" for every label),
	// newest first, or ErrNotFound for a missing prompt.
	PromptLabelHistory(ctx context.Context, projectID, name, label string) ([]PromptLabelMove, error)
}

// PromptContent is what a prompt version holds. Exactly one of Template and Messages is
// set. Params, Tools and ResponseFormat are JSON values passed to the model as they are.
type PromptContent struct {
	Template       string          `json:"template,omitempty"`
	Messages       []PromptMessage `json:"messages,omitempty"`
	Model          string          `json:"model,omitempty"`
	Params         map[string]any  `json:"params,omitempty"`
	Tools          any             `json:"tools,omitempty"`
	ResponseFormat any             `json:"response_format,omitempty"`
	// Variables are the names the template uses ({{ name }}, {{ name.field }} needs name),
	// sorted. The store derives them on push; what a caller sets is ignored.
	Variables []string `json:"variables,omitempty"`
}

// PromptMessage is one message of a chat prompt; its content is a template.
type PromptMessage struct {
	Role    string `json:"role"` // system, user or assistant
	Content string `json:"content"`
}

// PromptVersion is one immutable version of a prompt.
type PromptVersion struct {
	Prompt      string        `json:"prompt"`  // the prompt's name
	Version     int           `json:"version"` // 1, 2, 3, ...
	ContentHash string        `json:"content_hash"`
	Content     PromptContent `json:"content"`
	Author      string        `json:"author"`
	Message     string        `json:"message,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	// Labels are the labels pointing at this version now, sorted.
	Labels []string `json:"labels,omitempty"`
}

// PromptInfo is one line of a project's prompt list.
type PromptInfo struct {
	Name          string         `json:"name"`
	LatestVersion int            `json:"latest_version"`
	Labels        map[string]int `json:"labels"` // label -> version
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"` // when the latest version was pushed
}

// PromptLabelMove is one move of a label, as its history keeps it.
type PromptLabelMove struct {
	ID          int64     `json:"id"` // increasing: the history's order
	Prompt      string    `json:"prompt"`
	Label       string    `json:"label"`
	FromVersion *int      `json:"from_version"` // nil: the label was new
	ToVersion   int       `json:"to_version"`
	Actor       string    `json:"actor"`
	At          time.Time `json:"at"`
	// Kind is how the label moved: MoveDirect, MoveForced, MoveReview (ReviewID is the
	// approved request) or MoveRollback; Reason is the reason given, if any.
	Kind     string `json:"kind"`
	Reason   string `json:"reason,omitempty"`
	ReviewID *int64 `json:"review_id,omitempty"`
}

// maxPromptContent bounds a version's canonical JSON: a prompt is text a person reviews,
// not a data set.
const maxPromptContent = 1 << 20

// promptNameRe is a prompt name: path-like segments (support/triage) of letters, digits,
// -, _ and ., each starting with a letter or digit, so names stay readable in URLs and
// never hold the @ of a reference (NAME@LABEL).
var promptNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

// promptLabelRe is a label: one segment, starting with a letter (a number is a version).
var promptLabelRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)

// CheckPromptName reports whether name can name a prompt, saying how to fix it if not
// (ErrInvalid).
func CheckPromptName(name string) error {
	if len(name) > 200 || !promptNameRe.MatchString(name) {
		return invalid("prompt name %q: use letters, digits, -, _ and ., with / between parts (e.g. support/triage), each part starting with a letter or digit, at most 200 characters", name)
	}
	return nil
}

// CheckPromptLabel reports whether label can be a label, saying how to fix it if not
// (ErrInvalid).
func CheckPromptLabel(label string) error {
	if len(label) > 63 || !promptLabelRe.MatchString(label) || label == "latest" {
		return invalid("label %q: use 1 to 63 letters, digits, -, _ and ., starting with a letter (e.g. production); \"latest\" is reserved for the newest version", label)
	}
	return nil
}

// ParsePromptRef splits NAME, NAME@LABEL or NAME@VERSION into the name and the reference
// GetPromptVersion takes ("" for the latest version).
func ParsePromptRef(s string) (name, ref string) {
	name, ref, _ = strings.Cut(s, "@")
	return name, ref
}

// promptVersionRef is the version number ref names, if it is one.
func promptVersionRef(ref string) (int, bool) {
	if ref == "" || ref[0] < '0' || ref[0] > '9' {
		return 0, false
	}
	n, err := strconv.Atoi(ref)
	return n, err == nil
}

// normalizeContent checks content, derives its variables and returns it with its canonical
// JSON and the hex SHA-256 of that JSON.
func normalizeContent(c PromptContent) (PromptContent, string, string, error) {
	c.Variables = nil
	var texts []string
	switch {
	case c.Template != "" && len(c.Messages) > 0:
		return c, "", "", invalid("prompt content has both a template and messages: keep one of them")
	case len(c.Messages) > 0:
		for i, m := range c.Messages {
			if !slices.Contains([]string{"system", "user", "assistant"}, m.Role) {
				return c, "", "", invalid("message %d has the role %q: use system, user or assistant", i+1, m.Role)
			}
			if strings.TrimSpace(m.Content) == "" {
				return c, "", "", invalid("message %d (%s) has no content: write its text, or remove it", i+1, m.Role)
			}
			texts = append(texts, m.Content)
		}
	case strings.TrimSpace(c.Template) == "":
		return c, "", "", invalid("prompt content is empty: give a template or messages")
	default:
		texts = []string{c.Template}
	}
	seen := map[string]bool{}
	for i, t := range texts {
		vars, err := TemplateVars(t)
		if err != nil {
			if len(c.Messages) > 0 {
				return c, "", "", fmt.Errorf("message %d: %w", i+1, err)
			}
			return c, "", "", err
		}
		for _, v := range vars {
			if !seen[v] {
				seen[v] = true
				c.Variables = append(c.Variables, v)
			}
		}
	}
	slices.Sort(c.Variables)
	canon, err := canonicalJSON(c)
	if err != nil {
		return c, "", "", invalid("prompt content: %v", err)
	}
	if len(canon) > maxPromptContent || !utf8.ValidString(canon) || strings.Contains(canon, `\u0000`) {
		return c, "", "", invalid("prompt content must be valid text (no NUL) of at most %d bytes as JSON", maxPromptContent)
	}
	// What is stored is what is read back: decode the canonical form, so that the
	// returned content equals GetPromptVersion's (numbers as json.Number, and so on).
	out, err := decodeContent(canon)
	if err != nil {
		return c, "", "", invalid("prompt content: %v", err)
	}
	sum := sha256.Sum256([]byte(canon))
	return out, canon, hex.EncodeToString(sum[:]), nil
}

// canonicalJSON is v as JSON with object keys sorted at every depth, numbers as written,
// no insignificant space and no HTML escaping: one text per content, hence one hash.
func canonicalJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return "", err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil { // maps encode with sorted keys
		return "", err
	}
	return strings.TrimSuffix(out.String(), "\n"), nil
}

// decodeContent reads stored content, keeping numbers exactly as written.
func decodeContent(s string) (PromptContent, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var c PromptContent
	err := dec.Decode(&c)
	return c, err
}

// TemplateVars returns the variables a template uses, in order of first use, by their
// first name part ({{ user.name }} uses user). The syntax is the eval's: plain {{ name }}
// substitution; Nunjucks tags ({% %}), comments ({# #}), filters and expressions are
// refused (ErrInvalid) with the fix, as the suite loader refuses them.
func TemplateVars(t string) ([]string, error) {
	var vars []string
	for i := 0; i < len(t); {
		j := strings.IndexByte(t[i:], '{')
		if j < 0 || i+j+1 >= len(t) {
			break
		}
		i += j
		line := 1 + strings.Count(t[:i], "\n")
		switch t[i+1] {
		case '%', '#':
			return nil, invalid("line %d of the template: %s: Nunjucks tags and comments are not supported; use plain {{var}} and compute anything else into a var beforehand", line, clipText(t[i:]))
		case '{':
			end := strings.Index(t[i+2:], "}}")
			if end < 0 {
				return nil, invalid("line %d of the template: unclosed {{: close it with }}", line)
			}
			inner := strings.TrimSpace(t[i+2 : i+2+end])
			if !templateVarRe.MatchString(inner) {
				return nil, invalid("line %d of the template: %s: only plain variables are supported; use {{var}} or {{var.field}} and compute anything else into a var beforehand", line, clipText(t[i:i+2+end+2]))
			}
			root, _, _ := strings.Cut(inner, ".")
			if !slices.Contains(vars, root) {
				vars = append(vars, root)
			}
			i += 2 + end + 2
		default:
			i++
		}
	}
	return vars, nil
}

// templateVarRe is a variable reference, the suite loader's rule.
var templateVarRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$`)

// clipText shortens a template snippet quoted in a message to its first line, 60 runes.
func clipText(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + "…"
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}
