// Package review is the logic of human review: rubrics (the questions annotators answer),
// checking and normalizing their answers, inter-annotator agreement per question (Cohen's κ,
// Fleiss' κ, Krippendorff's α and raw percent agreement, from internal/agreement), the items
// annotators disagree on with a consensus where one exists, and how well an LLM judge agrees
// with the human consensus. It holds no state and does no I/O beyond parsing what it is
// given: annotation queues, the API and the CLI call it.
package review

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Kind is the type of answer a rubric field takes.
type Kind string

// The kinds of field.
const (
	Categorical Kind = "categorical" // one of Options, unordered
	Ordinal     Kind = "ordinal"     // one of Options, in order (a Likert scale)
	Numeric     Kind = "numeric"     // a number in [Min, Max] when set
	Boolean     Kind = "boolean"     // "true" or "false"
	Comment     Kind = "comment"     // free text, never compared
)

// kindList is how messages list the kinds.
const kindList = "categorical, ordinal, numeric, boolean or comment"

// Field is one question of a rubric.
type Field struct {
	Name     string   `json:"name"`
	Kind     Kind     `json:"kind"`
	Options  []string `json:"options,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Required bool     `json:"required,omitempty"`
	Help     string   `json:"help,omitempty"`
}

// Rubric is the set of questions annotators answer about each item, in display order.
type Rubric struct {
	Fields []Field `json:"fields"`
}

// Field returns the field called name.
func (r Rubric) Field(name string) (Field, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Error is one problem with a rubric. Line and Col locate it in the file ParseRubric read
// (0 when unknown, as after Check alone); Index is the field's position in the rubric from 0
// (-1 for the rubric as a whole) and Key the field's key at fault ("" for the whole field).
type Error struct {
	Line, Col int
	Index     int
	Key       string
	Msg       string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return e.Msg
}

// Errors are all the problems found in a rubric, in field order.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// nameRe is what a field name may be: it is a CSV value, a JSON key and part of URLs.
var nameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// Check reports every problem with the rubric as Errors: each says which field and how to
// fix it.
func (r Rubric) Check() error {
	var errs Errors
	if len(r.Fields) == 0 {
		errs = append(errs, &Error{Index: -1, Msg: "the rubric has no fields: list the questions under fields:, each with a name and a kind"})
	}
	seen := map[string]int{}
	for i, f := range r.Fields {
		errs = append(errs, f.problems(i)...)
		if f.Name == "" {
			continue
		}
		if j, ok := seen[f.Name]; ok {
			errs = append(errs, &Error{Index: i, Key: "name", Msg: fmt.Sprintf("%s: fields %d and %d are both named %q: rename one", f.label(i), j+1, i+1, f.Name)})
		} else {
			seen[f.Name] = i
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// check is Check for one field on its own.
func (f Field) check() error {
	if errs := f.problems(0); len(errs) > 0 {
		return Errors(errs)
	}
	return nil
}

// label names field i in messages.
func (f Field) label(i int) string {
	if f.Name != "" {
		return fmt.Sprintf("field %q", f.Name)
	}
	return fmt.Sprintf("field %d", i+1)
}

// problems lists what is wrong with field i alone.
func (f Field) problems(i int) []*Error {
	var errs []*Error
	add := func(key, format string, a ...any) {
		errs = append(errs, &Error{Index: i, Key: key, Msg: f.label(i) + ": " + fmt.Sprintf(format, a...)})
	}
	switch {
	case f.Name == "":
		add("", "name is missing: give each field a name (letters, digits, _, - and ., starting with a letter)")
	case !nameRe.MatchString(f.Name):
		add("name", "the name must be letters, digits, _, - and ., starting with a letter, at most 64 characters (e.g. tone or factual_accuracy)")
	}
	switch f.Kind {
	case Categorical, Ordinal:
		switch {
		case len(f.Options) < 2:
			article := "a"
			if f.Kind == Ordinal {
				article = "an"
			}
			add("options", "%s %s field needs at least 2 options: list them under options:", article, f.Kind)
		default:
			seen := map[string]string{}
			for _, o := range f.Options {
				switch {
				case strings.TrimSpace(o) == "":
					add("options", "an option is empty: give every option some text")
				case strings.TrimSpace(o) != o:
					add("options", "option %q has spaces around it: remove them", o)
				case seen[strings.ToLower(o)] != "":
					add("options", "options %q and %q are the same (answers match options regardless of case): remove one", seen[strings.ToLower(o)], o)
				default:
					seen[strings.ToLower(o)] = o
				}
			}
		}
	case Numeric, Boolean, Comment:
		if len(f.Options) > 0 {
			add("options", "options apply to categorical and ordinal fields only: remove them, or make the field categorical")
		}
	case "":
		add("", "kind is missing: give one of %s", kindList)
	default:
		add("kind", "kind %q is not one of %s", f.Kind, kindList)
	}
	if f.Kind != Numeric && f.Kind != "" && (f.Min != nil || f.Max != nil) {
		add(minOrMax(f), "min and max apply to numeric fields only: remove them")
	}
	for _, b := range []struct {
		key string
		v   *float64
	}{{"min", f.Min}, {"max", f.Max}} {
		if b.v != nil && (math.IsNaN(*b.v) || math.IsInf(*b.v, 0)) {
			add(b.key, "%s must be a finite number", b.key)
		}
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		add("max", "min %s is above max %s: swap them", formatNumber(*f.Min), formatNumber(*f.Max))
	}
	return errs
}

func minOrMax(f Field) string {
	if f.Min != nil {
		return "min"
	}
	return "max"
}

// Normalize returns the canonical form of an answer to the field: trimmed; for categorical
// and ordinal fields the option it matches exactly, else regardless of case, in the
// option's spelling; for numeric fields the number within [Min, Max] in its shortest decimal
// form ("3.0" is "3"); for booleans "true" or "false" from true/false, yes/no or 1/0 in any
// case; for comments the trimmed text. An empty answer is an error except for comments. The
// error names the field and the values it allows.
func (f Field) Normalize(value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" && f.Kind != Comment {
		return "", fmt.Errorf("field %q: the value is empty: give %s", f.Name, f.allowed())
	}
	switch f.Kind {
	case Categorical, Ordinal:
		for _, o := range f.Options {
			if o == v {
				return o, nil
			}
		}
		for _, o := range f.Options {
			if strings.EqualFold(o, v) {
				return o, nil
			}
		}
		return "", fmt.Errorf("field %q: %q is not one of its options: give %s", f.Name, v, f.allowed())
	case Numeric:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("field %q: %q is not a number: give %s", f.Name, v, f.allowed())
		}
		if (f.Min != nil && x < *f.Min) || (f.Max != nil && x > *f.Max) {
			return "", fmt.Errorf("field %q: %s is out of range: give %s", f.Name, v, f.allowed())
		}
		return formatNumber(x), nil
	case Boolean:
		switch strings.ToLower(v) {
		case "true", "yes", "1":
			return "true", nil
		case "false", "no", "0":
			return "false", nil
		}
		return "", fmt.Errorf("field %q: %q is not a yes/no answer: give %s", f.Name, v, f.allowed())
	case Comment:
		return v, nil
	}
	return "", fmt.Errorf("field %q: kind %q is not one of %s", f.Name, f.Kind, kindList)
}

// allowed describes the values the field takes, for error messages.
func (f Field) allowed() string {
	switch f.Kind {
	case Categorical, Ordinal:
		return "one of " + strings.Join(f.Options, ", ")
	case Numeric:
		switch {
		case f.Min != nil && f.Max != nil:
			return fmt.Sprintf("a number from %s to %s", formatNumber(*f.Min), formatNumber(*f.Max))
		case f.Min != nil:
			return "a number of at least " + formatNumber(*f.Min)
		case f.Max != nil:
			return "a number of at most " + formatNumber(*f.Max)
		}
		return "a number"
	case Boolean:
		return "true or false (yes/no, 1/0)"
	}
	return "some text"
}

// formatNumber is the canonical text of a number: the shortest decimal that reads back as
// the same float64, without an exponent, and 0 for -0.
func formatNumber(x float64) string {
	if x == 0 {
		x = 0 // -0 prints as "-0"
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// ParseRubric reads a rubric from YAML or JSON (JSON is YAML) and checks it. Unknown keys,
// duplicate keys and wrong types are errors; every error is an *Error or Errors whose
// message starts with line:col in data, so a caller prefixes the file name.
func ParseRubric(data []byte) (r Rubric, err error) {
	defer func() {
		// The YAML library is third-party code fed user input: a crash inside it must be
		// an error message, not a stack trace.
		if p := recover(); p != nil {
			r, err = Rubric{}, &Error{Line: 1, Col: 1, Index: -1, Msg: fmt.Sprintf("cannot read the rubric: %v", p)}
		}
	}()
	if strings.TrimSpace(string(data)) == "" {
		return Rubric{}, &Error{Line: 1, Col: 1, Index: -1, Msg: "the rubric is empty: give fields: with a list of questions, each with a name and a kind"}
	}
	if err := yaml.UnmarshalWithOptions(data, &r, yaml.DisallowUnknownField()); err != nil {
		return Rubric{}, yamlError(err)
	}
	if err := r.Check(); err != nil {
		var errs Errors
		if errors.As(err, &errs) {
			locate(data, errs)
		}
		return Rubric{}, err
	}
	return r, nil
}

// yamlError turns the YAML library's error into an *Error at its line and column, with a
// hint for the mistakes people make.
func yamlError(err error) error {
	e := &Error{Line: 1, Col: 1, Index: -1, Msg: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
	}
	if m := typeErrRe.FindStringSubmatch(e.Msg); m != nil {
		want := map[string]string{"float64": "a number", "bool": "true or false", "string": "text",
			"[]string": "a list of text", "[]review.Field": "a list of fields"}[m[2]]
		if want == "" {
			want = m[2]
		}
		e.Msg = fmt.Sprintf("this value must be %s, not %s", want, m[1])
	}
	switch {
	case strings.Contains(e.Msg, "unknown field"):
		e.Msg += ": a rubric has fields:, and each field name, kind, options, min, max, required and help"
	case strings.Contains(e.Msg, "where mapping is expected") || strings.Contains(e.Msg, "where sequence is expected"):
		e.Msg += ": a rubric is fields: with a list of fields, each a map with name, kind and its other keys"
	}
	return e
}

// typeErrRe picks the found and wanted types out of the YAML library's type errors.
var typeErrRe = regexp.MustCompile(`cannot unmarshal (\S+) into .* of type (\S+)`)

// locate sets the line and column of each error from the rubric's syntax tree: the key at
// fault, else the field, else the start of the file.
func locate(data []byte, errs Errors) {
	file, err := parser.ParseBytes(data, 0)
	for _, e := range errs {
		e.Line, e.Col = 1, 1
		if err != nil {
			continue
		}
		paths := []string{"$.fields"}
		if e.Index >= 0 {
			paths = []string{fmt.Sprintf("$.fields[%d]", e.Index)}
			if e.Key != "" {
				paths = append([]string{fmt.Sprintf("$.fields[%d].%s", e.Index, e.Key)}, paths...)
			}
		}
		for _, ps := range paths {
			p, err := yaml.PathString(ps)
			if err != nil {
				continue
			}
			n, err := p.FilterFile(file)
			if err != nil || n == nil {
				continue
			}
			// A mapping's own token is its first colon: point at its first key instead.
			switch m := n.(type) {
			case *ast.MappingNode:
				if len(m.Values) > 0 {
					n = m.Values[0].Key
				}
			case *ast.MappingValueNode:
				n = m.Key
			}
			if tk := n.GetToken(); tk != nil && tk.Position != nil {
				e.Line, e.Col = tk.Position.Line, tk.Position.Column
				break
			}
		}
	}
}
