package dataset

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Targets of a mapping rule: the Item field a record's field goes to.
const (
	TargetExpected     = "expected"
	TargetVars         = "vars" // vars.NAME
	TargetMetadata     = "metadata"
	TargetSegment      = "segment"
	TargetSource       = "source"
	TargetConsent      = "consent"
	TargetConsentBasis = "consent_basis"
	TargetIgnore       = "ignore" // the field is dropped
)

// mappingForms is what ParseMapping accepts, for error messages.
const mappingForms = "expected=FIELD, vars.NAME=FIELD, metadata.NAME=FIELD, segment.NAME=FIELD, source=FIELD, consent=FIELD, consent_basis=FIELD or ignore=FIELD"

// Mapping says where the fields of a record go. Fields it does not name follow the
// defaults: expected or expected_output is the expected output; a vars, metadata or segment
// object, or a vars.NAME, metadata.NAME or segment.NAME field, goes there; source, consent
// and consent_basis are the item's provenance and consent; everything else is a var. A
// default whose target the mapping already sets makes the field a var instead.
type Mapping struct {
	Rules []Rule
	// Via is how the user writes rules, for messages, up to the rule: "--map " (the CLI's
	// flag, when empty), "the query parameter map=" (the API).
	Via string
}

// with is a rule as the user writes it, for a message: "--map expected=FIELD".
func (m Mapping) with(rule string) string {
	if m.Via == "" {
		return "--map " + rule
	}
	return m.Via + rule
}

// Rule sends one field of a record (Field: a name, or a dotted path into nested JSON
// objects) to a target (Target, and Name for vars, metadata and segment).
type Rule struct {
	Target string
	Name   string
	Field  string
}

// String is the rule as --map writes it.
func (r Rule) String() string {
	if r.Name != "" {
		return r.Target + "." + r.Name + "=" + r.Field
	}
	return r.Target + "=" + r.Field
}

// ParseMapping reads rules written as TARGET=FIELD, separated by commas:
// "expected=answer,vars.q=question,segment.locale=lang".
func ParseMapping(s string) (Mapping, error) {
	var m Mapping
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		target, field, ok := strings.Cut(part, "=")
		target, field = strings.TrimSpace(target), strings.TrimSpace(field)
		if !ok || target == "" || field == "" {
			return Mapping{}, fmt.Errorf("mapping %q: write TARGET=FIELD, one of %s", part, mappingForms)
		}
		r := Rule{Field: field}
		r.Target, r.Name, _ = strings.Cut(target, ".")
		switch r.Target {
		case TargetVars, TargetMetadata, TargetSegment:
			if r.Name == "" {
				return Mapping{}, fmt.Errorf("mapping %q: name the %s field, e.g. %s.question=%s", part, r.Target, r.Target, field)
			}
		case TargetExpected, TargetSource, TargetConsent, TargetConsentBasis, TargetIgnore:
			if r.Name != "" {
				return Mapping{}, fmt.Errorf("mapping %q: %s takes no name: write %s=%s", part, r.Target, r.Target, field)
			}
		default:
			return Mapping{}, fmt.Errorf("mapping %q: unknown target %q: use %s", part, target, mappingForms)
		}
		for _, o := range m.Rules {
			if o.Target == r.Target && o.Name == r.Name && r.Target != TargetIgnore {
				return Mapping{}, fmt.Errorf("mapping %q: %s is already mapped (%s): keep one", part, target, o)
			}
		}
		m.Rules = append(m.Rules, r)
	}
	return m, nil
}

// String is the mapping as --map writes it.
func (m Mapping) String() string {
	s := make([]string, len(m.Rules))
	for i, r := range m.Rules {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

// sets reports whether the mapping names this target explicitly.
func (m Mapping) sets(target string) bool {
	return slices.ContainsFunc(m.Rules, func(r Rule) bool { return r.Target == target })
}

// reservedField reports whether the default mapping gives a field of this name another
// target than vars: a var of this name is written vars.NAME.
func reservedField(name string) bool {
	switch name {
	case "expected", "expected_output", TargetVars, TargetMetadata, TargetSegment, TargetSource, TargetConsent, TargetConsentBasis:
		return true
	}
	return strings.HasPrefix(name, "vars.") || strings.HasPrefix(name, "metadata.") || strings.HasPrefix(name, "segment.")
}

// record is one record of a file: its fields in order, and where it starts.
type record struct {
	keys   []string
	values map[string]any
	line   int
	record int // the element's number in a JSON array, from 1 (0 in JSONL and CSV)
}

// lookup finds a field: a key of the record, else a dotted path into nested objects. It
// returns the top-level key it used.
func (rec record) lookup(field string) (any, string, bool) {
	if v, ok := rec.values[field]; ok {
		return v, field, true
	}
	parts := strings.Split(field, ".")
	v, ok := rec.values[parts[0]]
	if !ok {
		return nil, "", false
	}
	for _, p := range parts[1:] {
		obj, isObj := v.(map[string]any)
		if !isObj {
			return nil, "", false
		}
		if v, ok = obj[p]; !ok {
			return nil, "", false
		}
	}
	return v, parts[0], true
}

// apply builds an item from a record; seen collects the fields the rules found.
func (m Mapping) apply(rec record, seen map[string]bool) (Item, error) {
	it := Item{Vars: map[string]any{}, Line: rec.line, Record: rec.record}
	used := map[string]bool{}
	for _, r := range m.Rules {
		v, key, ok := rec.lookup(r.Field)
		if !ok {
			continue
		}
		seen[r.Field], used[key] = true, true
		if err := it.set(r.Target, r.Name, r.Field, v); err != nil {
			return it, err
		}
	}
	expectedFrom := ""
	for _, k := range rec.keys {
		v, ok := rec.values[k]
		if used[k] || !ok {
			continue
		}
		target, name := TargetVars, k
		switch prefix, rest, _ := strings.Cut(k, "."); {
		case k == "expected" || k == "expected_output":
			if expectedFrom != "" {
				return it, fmt.Errorf("both %s and %s are given: keep one, or map one with %s", expectedFrom, k, m.with("expected=FIELD"))
			}
			target, name, expectedFrom = TargetExpected, "", k
		case k == TargetVars || k == TargetMetadata || k == TargetSegment:
			if !isObject(v) {
				return it, fmt.Errorf("field %s is %s (%s), not an object: give %s as an object ({\"%s\": {\"NAME\": ...}}) or as %s.NAME fields, or map it with %s", k, kind(v), quoteValue(v), k, k, k, m.with(k+".NAME="+k))
			}
			for _, sub := range sortedKeys(v.(map[string]any)) {
				if err := it.set(k, sub, k+"."+sub, v.(map[string]any)[sub]); err != nil {
					return it, err
				}
			}
			continue
		case rest != "" && (prefix == TargetVars || prefix == TargetMetadata || prefix == TargetSegment):
			target, name = prefix, rest
		case k == TargetSource || k == TargetConsent || k == TargetConsentBasis:
			target, name = k, ""
		}
		if target != TargetVars && name == "" && m.sets(target) {
			target, name = TargetVars, k
		}
		if err := it.set(target, name, k, v); err != nil {
			return it, err
		}
	}
	return it, nil
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// set puts the value of field into the item's target.
func (it *Item) set(target, name, field string, v any) error {
	switch target {
	case TargetIgnore:
	case TargetVars:
		it.Vars[name] = v
	case TargetMetadata:
		if it.Metadata == nil {
			it.Metadata = map[string]any{}
		}
		it.Metadata[name] = v
	case TargetSegment:
		s, ok := scalarText(v)
		if !ok {
			return fmt.Errorf("field %s (segment %s) is %s: a segment field must be text, a number or a boolean", field, name, kind(v))
		}
		if it.Segment == nil {
			it.Segment = map[string]string{}
		}
		it.Segment[name] = s
	case TargetExpected:
		it.Expected = valueText(v)
	case TargetSource, TargetConsentBasis:
		s, ok := scalarText(v)
		if !ok {
			return fmt.Errorf("field %s (%s) is %s: give text", field, target, kind(v))
		}
		if target == TargetSource {
			it.Source = s
		} else {
			it.ConsentBasis = s
		}
	case TargetConsent:
		b, ok := consentValue(v)
		if !ok {
			return fmt.Errorf("field %s (consent) is %s: give true or false (also yes/no, 1/0, or empty for false)", field, quoteValue(v))
		}
		it.Consent = b
	}
	return nil
}

// scalarText is a scalar as text; objects and arrays are not scalars.
func scalarText(v any) (string, bool) {
	switch v.(type) {
	case map[string]any, []any:
		return "", false
	}
	return valueText(v), true
}

// consentValue reads a consent flag.
func consentValue(v any) (bool, bool) {
	switch x := v.(type) {
	case nil:
		return false, true
	case bool:
		return x, true
	case json.Number:
		switch x.String() {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "y", "1":
			return true, true
		case "false", "no", "n", "0", "":
			return false, true
		}
	}
	return false, false
}

// kind names a JSON value's type for messages.
func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case json.Number, float64, int, int64:
		return "a number"
	case string:
		return "a text"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a " + fmt.Sprintf("%T", v)
}

// quoteValue shows a value in a message, shortened.
func quoteValue(v any) string {
	s := valueText(v)
	if r := []rune(s); len(r) > 40 {
		s = string(r[:39]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
