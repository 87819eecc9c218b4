package config

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// templateRefPrefix is the only kind of JSON reference Plumb resolves: a template of the
// config's own top-level assertionTemplates.
const templateRefPrefix = "#/assertionTemplates/"

// assertionTemplates reads promptfoo's top-level `assertionTemplates: {NAME: ASSERTION}`. Only
// the shape is checked here: a template is read as an assertion where a $ref uses it (promptfoo
// reads it only there too), so that its mistakes are reported with the keys the $ref adds.
// ok is false when assertionTemplates is not a map: its names are then unknown.
func (l *loader) assertionTemplates(v *node) (ok bool) {
	l.templates = map[string]*node{}
	return l.eachKey(v, "assertionTemplates", func(k, val *node) {
		if val.kind != mapKind {
			l.fail(val.pos, "write the template as an assertion: `type:` and `value:` lines indented below its name",
				"assertion template %q must be a map, not %s", k.text, val.kind)
			l.templates[k.text] = nil // known, so that its uses are not also "unknown"
			return
		}
		l.templates[k.text] = val
	})
}

// assertRef resolves an assert item that is promptfoo's {$ref: "#/assertionTemplates/NAME"}
// into the template, with the item's other keys overriding the template's (maps merged key by
// key), as promptfoo's JSON reference parser merges them. Any other item is returned as it is.
// ok is false when the reference could not be resolved (reported at the $ref).
func (l *loader) assertRef(n *node) (*node, bool) {
	return l.assertRefIn(n, nil)
}

func (l *loader) assertRefIn(n *node, seen []string) (*node, bool) {
	ref := n.get("$ref")
	if ref == nil {
		return n, true
	}
	s, ok := l.str(ref, "$ref")
	if !ok {
		return nil, false
	}
	name, ok := l.templateName(s, ref.pos)
	if !ok {
		return nil, false
	}
	if slices.Contains(seen, name) {
		l.fail(ref.pos, "make one of the templates a plain assertion", "assertion template %q refers back to itself", name)
		return nil, false
	}
	t, known := l.templates[name]
	switch {
	case !known && l.bad["assertionTemplates"]:
		return nil, false // assertionTemplates itself was wrong: reported there
	case !known:
		l.fail(ref.pos, l.templateHint(name), "unknown assertion template %q", name)
		return nil, false
	case t == nil:
		return nil, false // the template is not a map: reported there
	}
	t, ok = l.assertRefIn(t, append(seen, name))
	if !ok {
		return nil, false
	}
	return mergeRef(n, t), true
}

// templateName returns the template a $ref names, or reports a reference Plumb does not follow.
func (l *loader) templateName(ref string, pos Pos) (string, bool) {
	const inline = "inline the assertion here, or put it under the top-level assertionTemplates and write $ref: '" + templateRefPrefix + "NAME'"
	if !strings.HasPrefix(ref, "#") {
		l.fail(pos, inline, "$ref %q points outside this config: only %sNAME references are supported", ref, templateRefPrefix)
		return "", false
	}
	rest, ok := strings.CutPrefix(ref, templateRefPrefix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		l.fail(pos, inline, "$ref %q: only %sNAME references are supported", ref, templateRefPrefix)
		return "", false
	}
	// A JSON pointer step: percent-encoded in the URI fragment, then ~1 for / and ~0 for ~.
	name, err := url.PathUnescape(rest)
	if err != nil {
		l.fail(pos, "write the template's name as it is under assertionTemplates", "$ref %q: invalid %% escape", ref)
		return "", false
	}
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(name), true
}

// templateHint suggests the template a misspelled name meant, or lists the defined ones.
func (l *loader) templateHint(name string) string {
	var names []string
	for k, t := range l.templates {
		if t != nil {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if sug := Suggest(name, names); sug != "" {
		return fmt.Sprintf("did you mean %q?", sug)
	}
	if len(names) == 0 {
		return "define it under the top-level assertionTemplates: {" + name + ": {type: ..., value: ...}}, or inline the assertion"
	}
	return "assertionTemplates defines: " + strings.Join(names, ", ")
}

// mergeRef merges a resolved template into the $ref item that named it: the item's keys win,
// and where both hold a map the maps are merged the same way. The result sits at the item's
// position (each use is its own assertion); its keys keep their places, in the item or in the
// template, so that a mistake is reported where it was written.
func mergeRef(item, tmpl *node) *node {
	out := &node{kind: mapKind, pos: item.pos}
	for i, k := range item.keys {
		if k.text == "$ref" {
			continue
		}
		v := item.vals[i]
		if tv := tmpl.get(k.text); tv != nil && tv.kind == mapKind && v.kind == mapKind {
			v = mergeRef(v, tv)
		}
		out.keys = append(out.keys, k)
		out.vals = append(out.vals, v)
	}
	for i, k := range tmpl.keys {
		if item.get(k.text) == nil {
			out.keys = append(out.keys, k)
			out.vals = append(out.vals, tmpl.vals[i])
		}
	}
	return out
}
