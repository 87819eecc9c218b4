package assert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/plumbhq/plumb/internal/config"
)

// compileEquals: the output equals the value exactly; when the value is a map or a list the
// output is parsed as JSON and compared structurally, as promptfoo does.
func compileEquals(a *config.Assertion) (checkFunc, error) {
	switch a.Value.(type) {
	case map[string]any, map[any]any, []any:
		want, err := normalizeJSON(a.Value)
		if err != nil {
			return nil, errAt(a, "equals value cannot be compared as JSON: "+err.Error(), "")
		}
		b, _ := json.Marshal(want)
		wantText := shorten(string(b), reasonOutputLen) // the user's own value: shown as JSON, not quoted again
		return func(_ context.Context, in *Input) outcome {
			o := outcome{
				want:    "output to equal the JSON value " + wantText,
				wantNot: "output not to equal the JSON value " + wantText,
				got:     quote(in.Output),
			}
			var got any
			if err := json.Unmarshal([]byte(in.Output), &got); err != nil {
				o.got = "output that is not JSON: " + quote(in.Output)
				return o
			}
			o.pass = reflect.DeepEqual(got, want)
			o.score = boolScore(o.pass)
			return o
		}, nil
	}
	v, err := valueString(a, "the expected output")
	if err != nil {
		return nil, err
	}
	tv := newText(v)
	return func(_ context.Context, in *Input) outcome {
		want := tv.with(in.Vars)
		pass := in.Output == want
		return outcome{pass: pass, score: boolScore(pass),
			want: "output to equal " + quote(want), wantNot: "output not to equal " + quote(want),
			got: quote(in.Output)}
	}, nil
}

// normalizeJSON gives a YAML value the shape encoding/json decodes into (map[string]any,
// []any, float64), so that it compares equal to the same value parsed from an output.
func normalizeJSON(v any) (any, error) {
	b, err := json.Marshal(yamlToJSON(v))
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

// yamlToJSON turns maps with non-string keys (which some YAML decoders produce) into maps
// with string keys, recursively, so that encoding/json accepts them.
func yamlToJSON(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = yamlToJSON(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = yamlToJSON(e)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = yamlToJSON(e)
		}
		return l
	}
	return v
}

// compileContains: contains, icontains (case-insensitive) and starts-with, with one string.
func compileContains(base string, a *config.Assertion) (checkFunc, error) {
	if _, isList := a.Value.([]any); isList {
		return nil, errAt(a, base+" takes one string, not a list",
			"to match several strings use contains-any or contains-all (icontains-any, icontains-all)")
	}
	v, err := valueString(a, "the text to look for")
	if err != nil {
		return nil, err
	}
	tv := newText(v)
	verb, verbNot := "to contain ", "not to contain "
	match := strings.Contains
	switch base {
	case "icontains":
		verb, verbNot = "to contain (ignoring case) ", "not to contain (ignoring case) "
		match = func(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }
	case "starts-with":
		verb, verbNot = "to start with ", "not to start with "
		match = strings.HasPrefix
	}
	return func(_ context.Context, in *Input) outcome {
		want := tv.with(in.Vars)
		pass := match(in.Output, want)
		return outcome{pass: pass, score: boolScore(pass),
			want: "output " + verb + quote(want), wantNot: "output " + verbNot + quote(want),
			got: quote(in.Output)}
	}, nil
}

// compileContainsSet: contains-any / contains-all and their case-insensitive forms. The value
// is a list, or (as in promptfoo) a comma-separated string.
func compileContainsSet(base string, a *config.Assertion) (checkFunc, error) {
	vs, err := valueStrings(a)
	if err != nil {
		return nil, err
	}
	tvs := texts(vs)
	fold := strings.HasPrefix(base, "i")
	all := strings.HasSuffix(base, "-all")
	what := "any of "
	if all {
		what = "all of "
	}
	if fold {
		what = "(ignoring case) " + what
	}
	return func(_ context.Context, in *Input) outcome {
		want := withAll(tvs, in.Vars)
		hay := in.Output
		if fold {
			hay = strings.ToLower(hay)
		}
		var found, missing []string
		for _, w := range want {
			n := w
			if fold {
				n = strings.ToLower(w)
			}
			if strings.Contains(hay, n) {
				found = append(found, w)
			} else {
				missing = append(missing, w)
			}
		}
		list := quoteList(want)
		o := outcome{want: "output to contain " + what + list, wantNot: "output not to contain " + what + list}
		if all {
			o.pass = len(missing) == 0
		} else {
			o.pass = len(found) > 0
		}
		switch {
		case all && len(missing) > 0:
			o.got = "missing " + quoteList(missing) + " in " + quote(in.Output)
		case len(found) > 0:
			o.got = "found " + quoteList(found) + " in " + quote(in.Output)
		default:
			o.got = "none in " + quote(in.Output)
		}
		o.score = boolScore(o.pass)
		return o
	}, nil
}

// valueStrings reads a list of strings, or a comma-separated string (promptfoo accepts both).
func valueStrings(a *config.Assertion) ([]string, error) {
	var out []string
	switch v := a.Value.(type) {
	case nil:
		return nil, errAt(a, typeName(a)+" needs a value: a list of strings", "add `value: [first, second]`")
	case []any:
		for _, e := range v {
			s, ok := scalarString(e)
			if !ok {
				return nil, errAt(a, fmt.Sprintf("%s value must be a list of strings; it holds a %s", typeName(a), kindOf(e)), "")
			}
			out = append(out, s)
		}
	default:
		s, ok := scalarString(v)
		if !ok {
			return nil, errAt(a, fmt.Sprintf("%s value must be a list of strings, not a %s", typeName(a), kindOf(v)), "")
		}
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		return nil, errAt(a, typeName(a)+" value is empty", "list at least one string to look for")
	}
	return out, nil
}

// quoteList shows a few strings of a list in a reason.
func quoteList(ss []string) string {
	const show = 5
	q := make([]string, 0, min(len(ss), show))
	for i, s := range ss {
		if i == show {
			q = append(q, fmt.Sprintf("and %d more", len(ss)-show))
			break
		}
		q = append(q, quote(s))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// compileRegex: the output matches a Go RE2 regular expression, compiled once here.
func compileRegex(a *config.Assertion, env *Env) (checkFunc, error) {
	pat, err := valueString(a, "a regular expression")
	if err != nil {
		return nil, err
	}
	tp := newText(pat)
	fixed := pat
	if tp.templated {
		fixed = tp.withoutVars() // the vars are filled per sample; the rest must already be valid
	}
	re, err := env.regexp(fixed)
	if err != nil {
		return nil, errAt(a, fmt.Sprintf("invalid regex %q: %s", pat, regexReason(err, fixed)),
			"Plumb uses Go's RE2 syntax: no lookahead, lookbehind or backreferences; (?i) makes a match case-insensitive")
	}
	return func(_ context.Context, in *Input) outcome {
		p, r := pat, re
		if tp.templated {
			p = tp.with(in.Vars)
			var err error
			if r, err = regexp.Compile(p); err != nil {
				return outcome{err: fmt.Sprintf("invalid regex %q once vars are filled in: %s", p, regexReason(err, p))}
			}
		}
		pass := r.MatchString(in.Output)
		return outcome{pass: pass, score: boolScore(pass),
			want: "output to match /" + p + "/", wantNot: "output not to match /" + p + "/",
			got: quote(in.Output)}
	}, nil
}

// regexReason is RE2's complaint about pat, without the "error parsing regexp" preamble.
func regexReason(err error, pat string) string {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	reason := se.Code.String()
	if se.Expr != "" && se.Expr != pat {
		reason += fmt.Sprintf(" at %q", se.Expr)
	}
	return reason
}

// compileWordCount: the output has exactly N words, or between min and max (either optional).
// Words are runs of non-space characters.
func compileWordCount(a *config.Assertion) (checkFunc, error) {
	lo, hi := -1.0, -1.0
	hint := "use `value: 50` for exactly 50 words, or `value: {min: 10, max: 50}`"
	switch v := a.Value.(type) {
	case map[string]any, map[any]any:
		m := yamlToJSON(v).(map[string]any)
		for k, e := range m {
			n, ok := number(e)
			if !ok || n < 0 || n != float64(int64(n)) {
				return nil, errAt(a, fmt.Sprintf("word-count %s must be a whole number >= 0", k), hint)
			}
			switch k {
			case "min":
				lo = n
			case "max":
				hi = n
			default:
				return nil, errAt(a, fmt.Sprintf("word-count value has unknown key %q", k), hint)
			}
		}
		if lo < 0 && hi < 0 {
			return nil, errAt(a, "word-count value needs min or max", hint)
		}
		if lo >= 0 && hi >= 0 && lo > hi {
			return nil, errAt(a, fmt.Sprintf("word-count min %v is greater than max %v", lo, hi), hint)
		}
	default:
		n, ok := number(v)
		if !ok || n < 0 || n != float64(int64(n)) {
			return nil, errAt(a, "word-count needs a value: a whole number of words, or {min, max}", hint)
		}
		lo, hi = n, n
	}
	var want, wantNot string
	switch {
	case lo == hi:
		want, wantNot = fmt.Sprintf("exactly %v %s", lo, plural(int(lo), "word")), fmt.Sprintf("not exactly %v %s", lo, plural(int(lo), "word"))
	case hi < 0:
		want, wantNot = fmt.Sprintf("at least %v words", lo), fmt.Sprintf("fewer than %v words", lo)
	case lo < 0:
		want, wantNot = fmt.Sprintf("at most %v words", hi), fmt.Sprintf("more than %v words", hi)
	default:
		want, wantNot = fmt.Sprintf("%v to %v words", lo, hi), fmt.Sprintf("fewer than %v or more than %v words", lo, hi)
	}
	return func(_ context.Context, in *Input) outcome {
		n := float64(len(strings.Fields(in.Output)))
		pass := (lo < 0 || n >= lo) && (hi < 0 || n <= hi)
		return outcome{pass: pass, score: boolScore(pass), want: want, wantNot: wantNot,
			got: fmt.Sprintf("%v %s in %s", n, plural(int(n), "word"), quote(in.Output))}
	}, nil
}

// plural is noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
