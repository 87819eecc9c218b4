package assert

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/report"
)

// reasonOutputLen is how much of a model's output a reason quotes: enough to recognise the
// answer, short enough for a terminal row.
const reasonOutputLen = 80

// outcome is what one check found on one sample, before negation, weight and metric apply.
type outcome struct {
	pass    bool
	score   float64 // 0..1
	want    string  // what passing means, e.g. `output to contain "refund"`
	wantNot string  // the same under not-, e.g. `output not to contain "refund"`; "" gives "not " + want
	got     string  // what was seen
	// err is set when the check could not be evaluated (a judge error, an unparsable judge
	// answer, an expression that failed): the result is an error, never a pass, negated or not.
	err string
	// cost is what the check spent on model calls (a judge, embeddings), in USD.
	cost float64
}

// checkFunc evaluates one compiled assertion on one sample.
type checkFunc func(ctx context.Context, in *Input) outcome

// checker applies what every assertion type shares: the type as written, its metric, its
// weight and not- negation.
type checker struct {
	typ    string
	metric string
	weight float64
	negate bool
	check  checkFunc
}

// Check implements Checker.
func (c *checker) Check(ctx context.Context, in *Input) report.Assertion {
	if in == nil {
		in = &Input{}
	}
	o := c.check(ctx, in)
	r := report.Assertion{Type: c.typ, Metric: c.metric, Weight: c.weight, Cost: o.cost}
	if o.err != "" {
		r.Error = true
		r.Reason = o.err
		return r
	}
	pass, score, want := o.pass, clamp01(o.score), o.want
	if c.negate {
		pass, score = !pass, 1-score
		want = o.wantNot
		if want == "" {
			want = "not " + o.want
		}
	}
	r.Passed, r.Score = pass, score
	r.Reason = "expected " + want + "; got " + o.got
	return r
}

// Compile turns a configured assertion into a Checker. Its error is a *config.Error at the
// assertion's position (an invalid regex, schema or expression, a missing value, a
// model-graded type without a judge) so that the loader can report it with every other error
// in the file. Work that can be done once (compiling a regex, a JSON schema or an
// expression, building a judge) is done here rather than per sample.
func Compile(a *config.Assertion, env *Env) (Checker, error) {
	if a == nil {
		return nil, &config.Error{Msg: "empty assertion", Hint: "give the assertion a type"}
	}
	if env == nil {
		env = &Env{}
	}
	base, negate := a.Base, a.Negate
	if base == "" {
		// Callers that build assertions by hand may leave Base empty; derive it from Type.
		base, negate = strings.CutPrefix(a.Type, "not-")
		negate = negate || a.Negate
	}
	typ := a.Type
	if typ == "" {
		typ = base
		if negate {
			typ = "not-" + base
		}
	}
	if a.Weight < 0 || math.IsNaN(a.Weight) || math.IsInf(a.Weight, 0) {
		return nil, errAt(a, "weight must be a number >= 0",
			"weight 0 reports the assertion without counting it in the score; the default is 1")
	}
	if err := checkOptions(base, a); err != nil {
		return nil, err
	}
	check, err := compileBase(base, a, env)
	if err != nil {
		return nil, err
	}
	return &checker{typ: typ, metric: a.Metric, weight: a.Weight, negate: negate, check: check}, nil
}

// compileBase dispatches on the assertion type without its not- prefix.
func compileBase(base string, a *config.Assertion, env *Env) (checkFunc, error) {
	switch base {
	case "equals":
		return compileEquals(a)
	case "contains", "icontains", "starts-with":
		return compileContains(base, a)
	case "contains-any", "contains-all", "icontains-any", "icontains-all":
		return compileContainsSet(base, a)
	case "regex":
		return compileRegex(a, env)
	case "word-count":
		return compileWordCount(a)
	case "is-json", "contains-json":
		return compileJSON(base, a)
	case "json-schema":
		return compileJSONSchema(a)
	case "levenshtein":
		return compileLevenshtein(a)
	case "bleu":
		return compileBLEU(a)
	case "rouge-n", "rouge-l":
		return compileRouge(base, a)
	case "similar":
		return compileSimilar(a, env)
	case "llm-rubric", "factuality", "context-faithfulness", "answer-relevance":
		return compileJudged(base, a, env)
	case "is-refusal":
		return compileRefusal(a, env)
	case "latency", "cost":
		return compileBudget(base, a)
	case "expr":
		return compileExpr(a)
	}
	if d, ok := strings.CutPrefix(base, config.GuardPrefix); ok {
		return compileGuard(d, a, env)
	}
	return nil, errAt(a, fmt.Sprintf("unknown assertion type %q", a.Type),
		"supported types: "+strings.Join(config.AssertionTypes, ", ")+"; any of them takes a not- prefix")
}

// configKeys are the config keys each assertion type reads; any other key is a mistake the
// user would otherwise never hear about (a misspelt `mesure` silently scores F1).
func configKeys(base string) []string {
	switch base {
	case "rouge-n":
		return []string{"measure", "n"}
	case "rouge-l":
		return []string{"measure"}
	case "llm-rubric", "factuality", "context-faithfulness", "answer-relevance":
		// They fill {{question}} and {{context}} in the judge prompt; compileJudged checks
		// that the prompt in use has the placeholder.
		return []string{"question", "context"}
	case "is-refusal":
		return []string{"judge"}
	}
	return nil
}

// hasThreshold reports whether a type compares a measure with a threshold. The others pass
// or fail outright, and a threshold on them would be silently ignored. is-refusal has one
// only with config.judge, which checkOptions decides.
func hasThreshold(base string) bool {
	switch base {
	case "levenshtein", "bleu", "rouge-n", "rouge-l", "similar", "llm-rubric", "factuality",
		"context-faithfulness", "answer-relevance", "latency", "cost", "expr":
		return true
	}
	return false
}

// usesRubricPrompt reports whether a type is always graded by a judge prompt, which a
// rubricPrompt replaces; is-refusal is only with config.judge, which checkOptions decides.
func usesRubricPrompt(base string) bool {
	switch base {
	case "llm-rubric", "factuality", "context-faithfulness", "answer-relevance":
		return true
	}
	return false
}

// checkOptions refuses the keys of an assertion that its type would ignore: config keys it
// does not read, a threshold on a pass/fail type, a rubricPrompt on a type without a judge.
// An unknown type is left to compileBase, which names it.
func checkOptions(base string, a *config.Assertion) error {
	if !slices.Contains(config.AssertionTypes, base) {
		return nil
	}
	name := typeName(a)
	known := configKeys(base)
	var unknown []string
	for k := range a.Config {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return unknownConfig(a, name, unknown, known)
	}
	judge := usesRubricPrompt(base)
	if base == "is-refusal" {
		useJudge, err := cfgBool(a, "judge")
		if err != nil {
			return err
		}
		if !useJudge {
			if a.Threshold != nil {
				return errAt(a, name+" has no threshold unless config.judge is true",
					"the shipped heuristics pass or fail outright; add `config: {judge: true}` to have the judge score refusals, or remove threshold")
			}
			if a.Rubric != "" {
				return errAt(a, "rubricPrompt does not apply to "+name+" unless config.judge is true",
					"add `config: {judge: true}` to have the judge grade refusals with this prompt, or remove rubricPrompt")
			}
			return nil
		}
		judge = true
	} else if a.Threshold != nil && !hasThreshold(base) {
		return errAt(a, name+" has no threshold: it passes or fails outright",
			"remove threshold; to change how much the assertion counts use `weight`, or give the test a `threshold` to pass on the weighted score")
	}
	if a.Rubric != "" && !judge {
		return errAt(a, "rubricPrompt does not apply to "+name,
			"remove it: only model-graded assertions (llm-rubric, factuality, context-faithfulness, answer-relevance, and is-refusal with config.judge: true) take a rubricPrompt")
	}
	return nil
}

// unknownConfig reports config keys the type does not read, suggesting the closest known one.
func unknownConfig(a *config.Assertion, name string, unknown, known []string) error {
	quoted := make([]string, len(unknown))
	var sugs []string
	for i, k := range unknown {
		quoted[i] = strconv.Quote(k)
		if s := config.Suggest(k, known); s != "" {
			if len(unknown) == 1 {
				sugs = append(sugs, strconv.Quote(s))
			} else {
				sugs = append(sugs, fmt.Sprintf("%q for %q", s, k))
			}
		}
	}
	msg := fmt.Sprintf("unknown config key %s for %s", quoted[0], name)
	if len(unknown) > 1 {
		msg = fmt.Sprintf("unknown config keys %s for %s", strings.Join(quoted, ", "), name)
	}
	hint := name + " reads no config keys: remove config"
	if len(known) > 0 {
		hint = name + " reads the config keys " + strings.Join(known, ", ")
	}
	if len(sugs) > 0 {
		hint = "did you mean " + strings.Join(sugs, ", ") + "? " + hint
	}
	return errAt(a, msg, hint)
}

// errAt is a user error at the assertion's position.
func errAt(a *config.Assertion, msg, hint string) *config.Error {
	return &config.Error{Pos: a.Pos, Msg: msg, Hint: hint}
}

// typeName is the assertion's type as written, for messages.
func typeName(a *config.Assertion) string {
	if a.Type != "" {
		return a.Type
	}
	return a.Base
}

// valueString is the assertion's value as text: strings as they are, numbers and booleans
// formatted as YAML wrote them (promptfoo compares String(value)). Lists and maps are errors.
func valueString(a *config.Assertion, what string) (string, error) {
	if a.Value == nil {
		return "", errAt(a, fmt.Sprintf("%s needs a value: %s", typeName(a), what),
			fmt.Sprintf("add `value:` with %s", what))
	}
	s, ok := scalarString(a.Value)
	if !ok {
		return "", errAt(a, fmt.Sprintf("%s value must be a string (%s), not a %s", typeName(a), what, kindOf(a.Value)), "")
	}
	return s, nil
}

// scalarString formats a string, number or boolean; ok is false for anything else.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), true
	}
	return "", false
}

// number converts a YAML or JSON number (or a numeric string) to float64.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int8:
		return float64(v), true
	case int16:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint:
		return float64(v), true
	case uint8:
		return float64(v), true
	case uint16:
		return float64(v), true
	case uint32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// kindOf names a value's YAML kind for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any, map[any]any:
		return "map"
	}
	if _, ok := number(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// threshold is the assertion's threshold, or def when it has none. With unit set the
// threshold is a score and must lie in [0, 1]; otherwise it must not be negative.
func threshold(a *config.Assertion, def float64, unit bool) (float64, error) {
	if a.Threshold == nil {
		return def, nil
	}
	t := *a.Threshold
	switch {
	case math.IsNaN(t) || math.IsInf(t, 0):
		return 0, errAt(a, "threshold must be a finite number", "")
	case unit && (t < 0 || t > 1):
		return 0, errAt(a, fmt.Sprintf("%s threshold must be between 0 and 1, got %v", typeName(a), t),
			"this type scores from 0 to 1; e.g. threshold: 0.8")
	case t < 0:
		return 0, errAt(a, fmt.Sprintf("%s threshold must not be negative, got %v", typeName(a), t), "")
	}
	return t, nil
}

// cfg reads one key of the assertion's config map.
func cfg(a *config.Assertion, key string) (any, bool) {
	if a.Config == nil {
		return nil, false
	}
	v, ok := a.Config[key]
	return v, ok && v != nil
}

// cfgString reads a string from the assertion's config map.
func cfgString(a *config.Assertion, key string) (string, error) {
	v, ok := cfg(a, key)
	if !ok {
		return "", nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", errAt(a, fmt.Sprintf("config.%s must be a string, not a %s", key, kindOf(v)), "")
	}
	return s, nil
}

// cfgBool reads a boolean from the assertion's config map.
func cfgBool(a *config.Assertion, key string) (bool, error) {
	v, ok := cfg(a, key)
	if !ok {
		return false, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, errAt(a, fmt.Sprintf("config.%s must be true or false, not a %s", key, kindOf(v)), "")
	}
	return b, nil
}

// quote shows untrusted text in a reason: shortened to reasonOutputLen characters and quoted,
// so that newlines and control characters cannot break the line it sits on.
func quote(s string) string {
	return strconv.Quote(shorten(s, reasonOutputLen))
}

// shorten cuts s to at most n characters, marking the cut with an ellipsis.
func shorten(s string, n int) string {
	if len(s) <= n { // bytes >= runes, so this is a cheap exact test for short strings
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// fmtScore formats a score or threshold for a reason.
func fmtScore(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// fmt3 formats a measured score with three decimals, enough to compare with a threshold.
func fmt3(f float64) string {
	return strconv.FormatFloat(f, 'f', 3, 64)
}

// scoreTolerance absorbs floating-point rounding when a computed measure meets a threshold: an
// F1 of exactly 3/4 computes as 0.7499999999999999, which must pass a 0.75 threshold (and is
// shown as 0.750). It is far below any difference a reason can show.
const scoreTolerance = 1e-9

// reaches reports whether a computed score reaches a minimum.
func reaches(score, minimum float64) bool {
	return score >= minimum-scoreTolerance
}

// within reports whether a computed measure stays within a maximum.
func within(measure, maximum float64) bool {
	return measure <= maximum+scoreTolerance
}

func clamp01(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return max(0, min(1, f))
}

// boolScore is the score of a pass/fail check.
func boolScore(pass bool) float64 {
	if pass {
		return 1
	}
	return 0
}
