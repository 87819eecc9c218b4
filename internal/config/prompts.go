package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/plumbhq/plumb/internal/provider"
)

// prompts reads the `prompts` key:
//
//   - a string or a list of items;
//   - an item is inline text; file://PATH (.txt and .md are text, a .txt file splits into
//     several prompts at lines holding only `---`; .json is a chat message list or text;
//     .yaml/.yml is a chat message list or a list of prompt items; globs expand in sorted
//     order; paths are relative to the config's folder); {raw | text, label, id} (promptfoo);
//     {label, messages: [{role, content}]} (a chat); {id: file://PATH, label};
//   - promptfoo's older map form {PROMPT_OR_FILE: LABEL}.
//
// JSON text (inline or a .json file) that is a list holding an object with a `role` or
// `content` key is a chat (promptfoo's convention), checked like any chat. A label defaults
// to the file path or the text's first line shortened to 40 characters.
func (l *loader) prompts(v *node) []Prompt {
	var out []Prompt
	switch v.kind {
	case stringKind:
		out = l.promptItem(v, "")
	case listKind:
		for _, it := range v.items {
			out = append(out, l.promptItem(it, "")...)
		}
	case mapKind:
		for i, k := range v.keys {
			label, ok := l.str(v.vals[i], "a prompt's label")
			if ok {
				out = append(out, l.promptItem(k, label)...)
			}
		}
	default:
		l.fail(v.pos, "write `prompts:` followed by `- ` items: inline text or file://PATH", "prompts must be a string or a list, not %s", v.kind)
		return nil
	}
	seen := map[string]Pos{}
	for _, p := range out {
		if first, dup := seen[p.Label]; dup {
			l.fail(p.Pos, "give each prompt a distinct `label`", "two prompts have the label %q (the first at %s)", p.Label, first)
			continue
		}
		seen[p.Label] = p.Pos
	}
	return out
}

// promptKeys are the keys of a prompt written as a map.
var promptKeys = []string{"raw", "text", "label", "id", "messages"}

// promptItem reads one prompt item; a file reference may yield several prompts.
func (l *loader) promptItem(n *node, label string) []Prompt {
	switch n.kind {
	case stringKind:
		if rel, ok := fileRef(n.text); ok {
			return l.promptFiles(rel, n.pos, label)
		}
		if strings.HasPrefix(n.text, promptScheme) {
			return l.registryPrompt(n, n.text, label)
		}
		if msgs, contents, isChat := l.jsonChat(n); isChat {
			if msgs == nil {
				return nil
			}
			return l.makePrompt(label, "", msgs, nil, n.pos, func(i, off int) Pos { return contents[i].posAt(off) })
		}
		return l.makePrompt(label, n.text, nil, nil, n.pos, func(_, off int) Pos { return n.posAt(off) })
	case mapKind:
	default:
		l.fail(n.pos, "write inline text, file://PATH, or a map with `raw` or `messages`", "a prompt must be a string or a map, not %s", n.kind)
		return nil
	}
	var content, messages, id *node
	for i, k := range n.keys {
		v := n.vals[i]
		switch k.text {
		case "raw", "text":
			if content != nil {
				l.fail(k.pos, "keep one of them", "a prompt may have `raw` or `text`, not both")
				continue
			}
			content = v
		case "label":
			label, _ = l.str(v, "label")
		case "id":
			id = v
		case "messages":
			messages = v
		case "config":
			l.fail(k.pos, "set generation parameters on the provider instead", "prompt `config` is not supported by Plumb")
			return nil
		case "function":
			l.fail(k.pos, "write the prompt as a template file instead", "prompt functions are not supported by Plumb")
			return nil
		default:
			l.unknownKey(k, "key in prompt", promptKeys)
		}
	}
	var idText string
	if id != nil {
		idText, _ = l.str(id, "id")
	}
	idRef, idIsFile := fileRef(idText)
	idIsRegistry := strings.HasPrefix(idText, promptScheme)
	sources := 0
	for _, has := range []bool{content != nil, messages != nil, idIsFile, idIsRegistry} {
		if has {
			sources++
		}
	}
	switch {
	case sources == 0:
		l.fail(n.pos, "add `raw: TEXT`, `messages: [...]`, `id: file://PATH` or `id: prompt://NAME@LABEL`", "the prompt has no content")
		return nil
	case sources > 1:
		l.fail(n.pos, "keep one of them", "the prompt has more than one of `raw`/`text`, `messages` and `id: file://` (or prompt://)")
		return nil
	}
	if label == "" && idText != "" && !idIsFile {
		label = idText
	}
	switch {
	case idIsRegistry:
		return l.registryPrompt(id, idText, label)
	case idIsFile:
		return l.promptFiles(idRef, id.pos, label)
	case messages != nil:
		msgs, contents, ok := l.messageNodes(messages, "messages")
		if !ok {
			return nil
		}
		return l.makePrompt(label, "", msgs, nil, n.pos, func(i, off int) Pos { return contents[i].posAt(off) })
	}
	text, ok := l.str(content, "the prompt text")
	if !ok {
		return nil
	}
	if content.kind == stringKind {
		if msgs, contents, isChat := l.jsonChat(content); isChat {
			if msgs == nil {
				return nil
			}
			return l.makePrompt(label, "", msgs, nil, n.pos, func(i, off int) Pos { return contents[i].posAt(off) })
		}
	}
	return l.makePrompt(label, text, nil, nil, n.pos, func(_, off int) Pos { return content.posAt(off) })
}

// promptFiles reads the prompt file(s) a file:// reference names.
func (l *loader) promptFiles(rel string, pos Pos, label string) []Prompt {
	// promptfoo names a function inside a script as file://prompt.py:fn.
	ext := strings.ToLower(filepath.Ext(rel))
	if i := strings.LastIndex(ext, ":"); i > 0 {
		ext = ext[:i]
	}
	switch ext {
	case ".js", ".ts", ".mjs", ".cjs", ".py":
		l.fail(pos, "write the prompt as a template file (.txt, .md, .json or .yaml) using {{var}}", "prompt functions (%s) are not supported by Plumb", rel)
		return nil
	case ".jsonl":
		l.fail(pos, "put each chat in its own .json or .yaml file", "prompts from .jsonl files are not supported by Plumb")
		return nil
	case ".txt", ".md", ".markdown", ".json", ".yaml", ".yml":
	default:
		l.fail(pos, "use a .txt, .md, .json, .yaml or .yml file", "unsupported prompt file %q", rel)
		return nil
	}
	paths, ok := l.expandRef(rel, pos, "prompt file")
	if !ok {
		return nil
	}
	var out []Prompt
	for _, p := range paths {
		if l.promptOpen[l.display(p)] {
			l.fail(pos, "remove the reference: a prompts file cannot list itself, directly or through another file", "prompt file %q includes itself", p)
			continue
		}
		file, data, ok := l.readRef(p, pos, "prompt file")
		if !ok {
			continue
		}
		name := label
		if name == "" {
			name = p
		}
		text := string(data)
		switch strings.ToLower(filepath.Ext(p)) {
		case ".txt":
			chunks := splitPromptText(text)
			if len(chunks) == 0 {
				l.fail(pos, "write the prompt in the file", "prompt file %q is empty", p)
			}
			for i, c := range chunks {
				cname := name
				if len(chunks) > 1 {
					cname = fmt.Sprintf("%s#%d", name, i+1)
				}
				off := c.off
				out = append(out, l.makePrompt(cname, c.text, nil, &p, pos, func(_, o int) Pos { return textPos(file, text, off+o) })...)
			}
		case ".json":
			// A byte order mark is no part of the JSON; positions still count it.
			body := strings.TrimPrefix(text, "\ufeff")
			skip := len(text) - len(body)
			root, isJSON := l.jsonNodes(body, func(o int) (Pos, bool) { return textPos(file, text, skip+o), true })
			switch {
			case isJSON && root == nil:
				// a JSON mistake, reported
			case isJSON && looksLikeChat(root):
				if msgs, contents, ok := l.messageNodes(root, "a .json chat prompt"); ok {
					out = append(out, l.makePrompt(name, "", msgs, &p, pos, func(i, o int) Pos { return contents[i].posAt(o) })...)
				}
			default:
				out = append(out, l.makePrompt(name, text, nil, &p, pos, func(_, o int) Pos { return textPos(file, text, o) })...)
			}
		case ".yaml", ".yml":
			root, _ := l.parse(data, file, 0)
			if root == nil {
				continue
			}
			if isPromptList(root) {
				l.promptOpen[file] = true
				for i, it := range root.items {
					itemLabel := label
					if label != "" && len(root.items) > 1 {
						itemLabel = fmt.Sprintf("%s#%d", label, i+1)
					}
					out = append(out, l.promptItem(it, itemLabel)...)
				}
				delete(l.promptOpen, file)
				continue
			}
			msgs, contents, ok := l.messageNodes(root, "a .yaml prompt file (a chat message list, or a list of prompts)")
			if ok {
				out = append(out, l.makePrompt(name, "", msgs, &p, pos, func(i, o int) Pos { return contents[i].posAt(o) })...)
			}
		default: // .md, .markdown
			if strings.TrimSpace(text) == "" {
				l.fail(pos, "write the prompt in the file", "prompt file %q is empty", p)
				continue
			}
			out = append(out, l.makePrompt(name, text, nil, &p, pos, func(_, o int) Pos { return textPos(file, text, o) })...)
		}
	}
	return out
}

type textChunk struct {
	text string
	off  int // byte offset of text in the file
}

// splitPromptText splits a .txt prompt file at lines holding only `---`, as promptfoo does,
// trimming each prompt and dropping empty ones.
func splitPromptText(s string) []textChunk {
	var out []textChunk
	start, off := 0, 0
	flush := func(end int) {
		seg := s[start:end]
		trimmed := strings.TrimSpace(seg)
		if trimmed != "" {
			out = append(out, textChunk{text: trimmed, off: start + strings.Index(seg, trimmed)})
		}
	}
	for off <= len(s) {
		nl := strings.IndexByte(s[off:], '\n')
		end := len(s)
		if nl >= 0 {
			end = off + nl
		}
		if strings.TrimSpace(s[off:end]) == "---" {
			flush(off)
			start = end + 1
			if start > len(s) {
				start = len(s)
			}
		}
		if nl < 0 {
			break
		}
		off = end + 1
	}
	flush(len(s))
	return out
}

// textPos is the position of byte off in a text file.
func textPos(file, text string, off int) Pos {
	off = min(max(off, 0), len(text))
	before := text[:off]
	line := strings.Count(before, "\n") + 1
	col := len([]rune(before[strings.LastIndexByte(before, '\n')+1:])) + 1
	return Pos{File: file, Line: line, Col: col}
}

// roles are the chat roles a prompt may use.
var roles = []string{"system", "user", "assistant"}

// messageNodes reads a chat message list [{role, content}], returning the content nodes too
// so that template errors point into them.
func (l *loader) messageNodes(n *node, what string) ([]provider.Message, []*node, bool) {
	items, ok := l.list(n, what)
	if !ok {
		return nil, nil, false
	}
	if len(items) == 0 {
		l.fail(n.pos, "add at least one {role: user, content: ...} message", "%s is empty", what)
		return nil, nil, false
	}
	msgs := make([]provider.Message, 0, len(items))
	contents := make([]*node, 0, len(items))
	ok = true
	for _, it := range items {
		if it.kind != mapKind {
			l.fail(it.pos, "write each message as {role: user, content: TEXT}", "a chat message must be a map, not %s", it.kind)
			ok = false
			continue
		}
		var m provider.Message
		var content *node
		for i, k := range it.keys {
			v := it.vals[i]
			switch k.text {
			case "role":
				r, rok := l.str(v, "role")
				if rok && !slices.Contains(roles, r) {
					l.fail(v.pos, "use system, user or assistant", "unknown chat role %q", r)
					rok = false
				}
				ok = ok && rok
				m.Role = r
			case "content":
				if v.kind == listKind || v.kind == mapKind {
					l.fail(v.pos, "write the content as text", "only text message content is supported, not %s", v.kind)
					ok = false
					continue
				}
				c, cok := l.str(v, "content")
				ok = ok && cok
				m.Content, content = c, v
			default:
				l.unknownKey(k, "key in chat message", []string{"role", "content"})
				ok = false
			}
		}
		if m.Role == "" && it.get("role") == nil {
			l.fail(it.pos, "add `role: user` (or system, assistant)", "the chat message has no role")
			ok = false
		}
		if it.get("content") == nil {
			l.fail(it.pos, "add `content: TEXT`", "the chat message has no content")
			ok = false
		}
		if content == nil {
			content = it
		}
		msgs = append(msgs, m)
		contents = append(contents, content)
	}
	return msgs, contents, ok
}

// messages reads a chat message list without keeping the nodes.
func (l *loader) messages(n *node, what string) ([]provider.Message, bool) {
	msgs, _, ok := l.messageNodes(n, what)
	return msgs, ok
}

// jsonChat reads an inline prompt that is a JSON chat message list (promptfoo's convention for
// chat prompts written inline). isChat is false for text, JSON or not; when it is true and
// msgs is nil, the chat had mistakes, reported at their places inside the string.
func (l *loader) jsonChat(n *node) (msgs []provider.Message, contents []*node, isChat bool) {
	if !strings.HasPrefix(strings.TrimSpace(n.text), "[") {
		return nil, nil, false
	}
	// Columns inside the string map onto the file only for a single-line scalar whose
	// characters are those of the file (no escapes).
	exact := n.col0 > 0 && !n.literal && !strings.Contains(n.text, "\n")
	root, isJSON := l.jsonNodes(n.text, func(off int) (Pos, bool) { return n.posAt(off), exact })
	switch {
	case !isJSON:
		return nil, nil, false
	case root == nil:
		return nil, nil, true
	case !looksLikeChat(root):
		return nil, nil, false
	}
	msgs, contents, ok := l.messageNodes(root, "the chat prompt")
	if !ok {
		return nil, nil, true
	}
	return msgs, contents, true
}

// looksLikeChat reports whether a JSON or YAML prompt is meant as a chat: a list holding a map
// with a `role` or `content` key. Such a list is checked as a chat, so that a misspelled role
// or an extra key is an error rather than a silent text prompt.
func looksLikeChat(root *node) bool {
	if root.kind != listKind {
		return false
	}
	for _, it := range root.items {
		if it.kind == mapKind && (it.get("role") != nil || it.get("content") != nil) {
			return true
		}
	}
	return false
}

// isPromptList reports whether a YAML prompts file holds a list of prompts (strings, or maps
// with promptfoo's raw/text/label/id or messages) rather than one chat.
func isPromptList(root *node) bool {
	if root.kind != listKind || len(root.items) == 0 || looksLikeChat(root) {
		return false
	}
	for _, it := range root.items {
		switch it.kind {
		case stringKind:
		case mapKind:
			if !slices.ContainsFunc(promptKeys, func(k string) bool { return it.get(k) != nil }) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// jsonNodes parses a JSON prompt into nodes placed by at, which maps a byte offset of data to a
// position in the file (exact when the file's columns follow data's characters). isJSON is
// false when data is not JSON (the prompt is text); when it is JSON with a mistake encoding/json
// would let pass (a duplicate key), the mistake is reported and root is nil.
func (l *loader) jsonNodes(data string, at func(off int) (Pos, bool)) (root *node, isJSON bool) {
	// The scanner counts columns in characters from the start of data on one line; starts
	// maps such a column back to a byte offset.
	starts := make([]int, 0, len(data)+1)
	for i := range data {
		starts = append(starts, i)
	}
	starts = append(starts, len(data))
	place := func(p Pos) (Pos, bool) {
		return at(starts[min(max(p.Col-1, 0), len(starts)-1)])
	}
	root, err := parseJSONLine([]byte(data), "", 0)
	if err != nil {
		if !json.Valid([]byte(data)) {
			return nil, false
		}
		err.Pos, _ = place(err.Pos)
		l.errs = append(l.errs, err)
		return nil, true
	}
	var walk func(n *node)
	walk = func(n *node) {
		p, exact := place(n.pos)
		n.pos = p
		if n.col0 > 0 {
			n.col0 = 0
			if exact && p.Col > 0 {
				n.col0 = p.Col + 1 // after the opening quote
			}
		}
		for _, k := range n.keys {
			walk(k)
		}
		for _, v := range n.vals {
			walk(v)
		}
		for _, it := range n.items {
			walk(it)
		}
	}
	walk(root)
	return root, true
}

// makePrompt builds a Prompt from text or messages, finding its variables. file is the path
// the prompt came from (its default label), at maps a message index (-1 for text) and a byte
// offset in it to a file position for template errors.
func (l *loader) makePrompt(label, text string, msgs []provider.Message, file *string, pos Pos, at func(msg, off int) Pos) []Prompt {
	p := Prompt{Label: label, Pos: pos}
	vars := map[string]bool{}
	ok := true
	check := func(i int, t string) {
		vs, terr := templateVars(t)
		if terr != nil {
			l.fail(at(i, terr.off), terr.hint, "%s", terr.msg)
			ok = false
		}
		for _, v := range vs {
			vars[v] = true
		}
	}
	if msgs != nil {
		p.Messages = msgs
		p.Text = chatJSON(msgs)
		for i, m := range msgs {
			check(i, m.Content)
		}
	} else {
		p.Text = text
		if strings.TrimSpace(text) == "" {
			l.fail(pos, "write the prompt text", "the prompt is empty")
			return nil
		}
		check(-1, text)
	}
	if !ok {
		return nil
	}
	for v := range vars {
		p.Vars = append(p.Vars, v)
	}
	sort.Strings(p.Vars)
	sum := sha256.Sum256([]byte(p.Text))
	p.Hash = hex.EncodeToString(sum[:])[:12]
	if p.Label == "" {
		switch {
		case file != nil:
			p.Label = *file
		case msgs != nil:
			p.Label = shorten(msgs[0].Content)
		default:
			p.Label = shorten(text)
		}
	}
	return []Prompt{p}
}

// chatJSON is a chat's canonical text form: its JSON, which also feeds its hash.
func chatJSON(msgs []provider.Message) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(msgs) // a []Message always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// shorten is a prompt's default label: its first non-empty line, at most 40 characters.
func shorten(s string) string {
	line := ""
	for l := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(l); line != "" {
			break
		}
	}
	r := []rune(line)
	if len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return line
}

// templateError is a problem in a prompt template, at a byte offset of it.
type templateError struct {
	off       int
	msg, hint string
}

var varNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$`)

// templateVars returns the variables a template uses ({{ name }}, {{ name.field }}), or the
// first construct Plumb's plain substitution cannot render: Nunjucks filters, tags,
// comments and expressions.
func templateVars(t string) ([]string, *templateError) {
	var vars []string
	for i := 0; i < len(t); {
		j := strings.IndexByte(t[i:], '{')
		if j < 0 || i+j+1 >= len(t) {
			break
		}
		i += j
		switch t[i+1] {
		case '%', '#':
			closer := t[i+1:i+2] + "}"
			end := strings.Index(t[i+2:], closer)
			snippet := t[i:]
			if end >= 0 {
				snippet = t[i : i+2+end+2]
			}
			return nil, &templateError{off: i, msg: fmt.Sprintf("%s: filters/tags are not supported", clip(snippet)),
				hint: "use plain {{var}}; compute anything else into a var beforehand"}
		case '{':
			end := strings.Index(t[i+2:], "}}")
			if end < 0 {
				return nil, &templateError{off: i, msg: "unclosed {{ in the template", hint: "close it with }}"}
			}
			inner := strings.TrimSpace(t[i+2 : i+2+end])
			whole := t[i : i+2+end+2]
			switch {
			case varNameRe.MatchString(inner):
				vars = append(vars, inner)
			case strings.Contains(inner, "|"):
				return nil, &templateError{off: i, msg: fmt.Sprintf("%s: filters/tags are not supported", clip(whole)),
					hint: "use plain {{var}}; compute anything else into a var beforehand"}
			case inner == "":
				return nil, &templateError{off: i, msg: "empty {{ }} in the template", hint: "write a variable name inside, e.g. {{question}}"}
			default:
				return nil, &templateError{off: i, msg: fmt.Sprintf("%s: only plain variables are supported", clip(whole)),
					hint: "use plain {{var}} or {{var.field}}; compute anything else into a var beforehand"}
			}
			i += 2 + end + 2
		default:
			i++
		}
	}
	return vars, nil
}

// clip shortens a template snippet quoted in a message.
func clip(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + "…"
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}
