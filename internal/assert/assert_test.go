package assert

import (
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/report"
)

// as builds an assertion the way the config loader does: Base and Type set, weight 1.
func as(base string, value any) config.Assertion {
	return config.Assertion{Type: base, Base: base, Value: value, Weight: 1,
		Pos: config.Pos{File: "plumb.yaml", Line: 7, Col: 9}}
}

// with returns a copy of a with a threshold and config.
func with(a config.Assertion, threshold *float64, cfg map[string]any) config.Assertion {
	a.Threshold, a.Config = threshold, cfg
	return a
}

type row struct {
	name   string
	a      config.Assertion
	in     Input
	pass   bool
	score  float64
	reason string // a substring of the reason of the plain (not negated) result
}

// deterministicRows exercise every type that needs neither a judge nor an embedder.
func deterministicRows() []row {
	out := func(s string) Input { return Input{Output: s} }
	objSchema := map[string]any{"type": "object", "required": []any{"answer"}}
	return []row{
		{"equals pass", as("equals", "Paris"), out("Paris"), true, 1, `expected output to equal "Paris"; got "Paris"`},
		{"equals is exact", as("equals", "Paris"), out("Paris."), false, 0, `got "Paris."`},
		{"equals number value", as("equals", uint64(42)), out("42"), true, 1, `"42"`},
		{"equals JSON structurally", as("equals", map[string]any{"a": uint64(1), "b": []any{true}}),
			out(`{"b": [true], "a": 1.0}`), true, 1, `expected output to equal the JSON value {"a":1,"b":[true]}; got "{\"b\": [true], \"a\": 1.0}"`},
		{"equals JSON differs", as("equals", map[string]any{"a": 1}), out(`{"a": 2}`), false, 0, `got "{\"a\": 2}"`},
		{"equals JSON but output is prose", as("equals", []any{"x"}), out(`x`), false, 0, "output that is not JSON"},

		{"contains", as("contains", "refund"), out("Your refund is on its way"), true, 1, `expected output to contain "refund"`},
		{"contains is case-sensitive", as("contains", "Refund"), out("your refund"), false, 0, `got "your refund"`},
		{"icontains", as("icontains", "REFUND"), out("Your refund is on its way"), true, 1, "ignoring case"},
		{"icontains fail", as("icontains", "credit"), out("Your refund"), false, 0, `"Your refund"`},
		{"contains-any", as("contains-any", []any{"refund", "credit"}), out("store credit issued"), true, 1, `found ["credit"]`},
		{"contains-any comma list", as("contains-any", "refund, credit"), out("store credit"), true, 1, `any of ["refund", "credit"]`},
		{"contains-any none", as("contains-any", []any{"refund", "credit"}), out("no idea"), false, 0, `none in "no idea"`},
		{"contains-all", as("contains-all", []any{"refund", "5 days"}), out("a refund within 5 days"), true, 1, "all of"},
		{"contains-all missing", as("contains-all", []any{"refund", "5 days"}), out("a refund soon"), false, 0, `missing ["5 days"]`},
		{"icontains-any", as("icontains-any", []any{"REFUND", "credit"}), out("Refund issued"), true, 1, `found ["REFUND"]`},
		{"icontains-all", as("icontains-all", []any{"Refund", "DAYS"}), out("refund in 5 days"), true, 1, ""},
		{"icontains-all missing", as("icontains-all", []any{"Refund", "weeks"}), out("refund in 5 days"), false, 0, `missing ["weeks"]`},
		{"starts-with", as("starts-with", "Hello"), out("Hello there"), true, 1, `expected output to start with "Hello"`},
		{"starts-with is exact", as("starts-with", "Hello"), out(" Hello there"), false, 0, `got " Hello there"`},

		{"regex", as("regex", `^\d{3}-\d{4}$`), out("555-1234"), true, 1, `to match /^\d{3}-\d{4}$/`},
		{"regex no match", as("regex", `^\d{3}-\d{4}$`), out("call 555-1234"), false, 0, `got "call 555-1234"`},
		{"regex flags", as("regex", `(?i)\brefund\b`), out("REFUND sent"), true, 1, ""},

		{"word-count exact", as("word-count", uint64(3)), out("one two  three"), true, 1, "exactly 3 words"},
		{"word-count exact fail", as("word-count", uint64(3)), out("one two"), false, 0, "2 words in"},
		{"word-count range", as("word-count", map[string]any{"min": 2, "max": 4}), out("a b c"), true, 1, "2 to 4 words"},
		{"word-count above max", as("word-count", map[string]any{"min": 2, "max": 4}), out("a b c d e"), false, 0, "5 words"},
		{"word-count min only", as("word-count", map[string]any{"min": 2}), out("a"), false, 0, `expected at least 2 words; got 1 word in "a"`},
		{"word-count max only", as("word-count", map[string]any{"max": 2}), out("a b"), true, 1, "at most 2 words"},

		{"is-json", as("is-json", nil), out(` {"a": 1} `), true, 1, "expected output to be JSON"},
		{"is-json prose", as("is-json", nil), out("not json"), false, 0, "invalid JSON"},
		{"is-json trailing text", as("is-json", nil), out(`{"a":1} and more`), false, 0, "invalid JSON"},
		{"is-json with schema", as("is-json", objSchema), out(`{"answer": "x"}`), true, 1, "valid against the schema"},
		{"is-json schema fails", as("is-json", objSchema), out(`{"x": 1}`), false, 0, "missing property 'answer'"},

		{"contains-json object", as("contains-json", nil), out("Here you go: {\"a\": {\"b\": 1}} done"), true, 1, `got JSON "{\"a\": {\"b\": 1}}"`},
		{"contains-json array", as("contains-json", nil), out("list: [1, 2, 3]."), true, 1, `"[1, 2, 3]"`},
		{"contains-json none", as("contains-json", nil), out("no {json here"), false, 0, "no JSON object or array"},
		{"contains-json schema picks the valid one", as("contains-json", objSchema),
			out(`first {"x": 1} then {"answer": 2}`), true, 1, `{\"answer\": 2}`},
		{"contains-json none valid", as("contains-json", objSchema), out(`only {"x": 1}`), false, 0, "1 JSON value(s), none valid"},

		{"json-schema", as("json-schema", map[string]any{"type": "object",
			"properties": map[string]any{"n": map[string]any{"type": "integer", "minimum": 1}}, "required": []any{"n"}}),
			out(`{"n": 3}`), true, 1, "valid JSON"},
		{"json-schema violated", as("json-schema", map[string]any{"type": "object",
			"properties": map[string]any{"n": map[string]any{"type": "integer", "minimum": 1}}}),
			out(`{"n": 0}`), false, 0, "at '/n'"},
		{"json-schema as JSON text", as("json-schema", `{"type": "array", "items": {"type": "string"}}`), out(`["a"]`), true, 1, ""},
		{"json-schema output not JSON", as("json-schema", `{"type": "array"}`), out(`sure: ["a"]`), false, 0, "invalid JSON"},

		{"levenshtein default 5", as("levenshtein", "kitten"), out("sitting"), true, 1, `edit distance to "kitten" <= 5; got 3`},
		{"levenshtein threshold", with(as("levenshtein", "kitten"), num(2), nil), out("sitting"), false, 0, "<= 2; got 3"},

		{"bleu identical", as("bleu", "The cat sat on the mat."), out("the cat sat on the mat"), true, 1, "BLEU >= 0.5; got 1.000"},
		{"bleu unrelated", as("bleu", "the cat sat on the mat"), out("dogs bark loudly"), false, 0, "got 0.000"},
		{"bleu several references", as("bleu", []any{"a dog ran", "the cat sat on the mat"}), out("the cat sat on the mat"), true, 1, ""},

		{"rouge-n", as("rouge-n", "the cat sat on the mat"), out("The cat sat on the mat!"), true, 1, "ROUGE-1 >= 0.75; got 1.000"},
		// P = 1, R = 2/6: F1 = 0.5.
		{"rouge-n partial", as("rouge-n", "the cat sat on the mat"), out("the cat"), false, 0.5, "got 0.500"},
		{"rouge-n recall", with(as("rouge-n", "the cat sat on the mat"), num(0.3), map[string]any{"measure": "recall"}),
			out("the cat"), true, 2.0 / 6, "got 0.333"},
		// Bigrams: "the cat" is 1 of the reference's 5.
		{"rouge-2", with(as("rouge-n", "the cat sat on the mat"), nil, map[string]any{"n": uint64(2), "measure": "recall"}),
			out("the cat"), false, 0.2, "ROUGE-2 >= 0.75"},
		// Lin (2004): LCS "police the gunman" = 3 of 4 → 0.75, which meets the default 0.75.
		{"rouge-l at threshold", as("rouge-l", "police killed the gunman"), out("police kill the gunman"), true, 0.75, "ROUGE-L >= 0.75; got 0.750"},
		{"rouge-l below", as("rouge-l", "police killed the gunman"), out("the gunman kill police"), false, 0.5, ""},
		// P = 3/3, R = 3/5: F1 = 2·0.6/1.6 = 0.75 exactly, which float64 computes as
		// 0.7499999999999999; it meets the default 0.75, as the reason's 0.750 says.
		{"rouge-n F1 of exactly 0.75", as("rouge-n", "the cat sat on mats"), out("the cat sat"), true, 0.75, "ROUGE-1 >= 0.75; got 0.750"},
		{"rouge-l F1 of exactly 0.75", as("rouge-l", "the cat sat on mats"), out("the cat sat"), true, 0.75, "ROUGE-L >= 0.75; got 0.750"},

		{"latency", with(as("latency", nil), num(1000), nil), Input{LatencyMS: 800}, true, 1, "expected latency <= 1000 ms; got 800 ms"},
		{"latency over", with(as("latency", nil), num(1000), nil), Input{LatencyMS: 1200.5}, false, 0, "got 1200.5 ms"},
		{"cost", with(as("cost", nil), num(0.01), nil), Input{Cost: 0.002}, true, 1, "expected cost <= $0.01; got $0.002"},
		{"cost over", with(as("cost", nil), num(0.01), nil), Input{Cost: 0.02}, false, 0, "got $0.02"},
		// Two calls of $0.1 and $0.2 add up to 0.30000000000000004 in float64: within $0.3.
		{"cost at the threshold after float addition", with(as("cost", nil), num(0.3), nil), Input{Cost: sum(0.1, 0.2)}, true, 1, "expected cost <= $0.3"},

		{"is-refusal", as("is-refusal", nil), out("I'm sorry, but I can't help with that."), true, 1, "expected a refusal"},
		{"is-refusal helpful answer", as("is-refusal", nil), out("You can't return opened items, but you can exchange them."), false, 0, ""},

		{"expr bool", as("expr", `output contains "refund" && latency_ms < 1000`), Input{Output: "refund sent", LatencyMS: 10}, true, 1, "true for"},
		{"expr bool false", as("expr", `output contains "refund"`), out("no"), false, 0, "false for"},
		{"expr vars and tokens", as("expr", `vars.segment == "vip" && tokens.total > 10 && prompt startsWith "Hi"`),
			Input{Vars: map[string]any{"segment": "vip"}, Tokens: report.Tokens{Total: 11}, Prompt: "Hi"}, true, 1, ""},
		{"expr score passes at threshold", as("expr", `len(output) / 10`), out("12345"), true, 0.5, `"len(output) / 10" >= 0.5; got 0.500`},
		{"expr score below threshold", as("expr", `len(output) / 10`), out("12"), false, 0.2, ""},
		{"expr score threshold", with(as("expr", `len(output) / 10`), num(0.1), nil), out("12"), true, 0.2, ""},
		{"expr score clamped", as("expr", `len(output)`), out("12"), true, 1, "got 2.000"},
		// 0.7 - 0.4 is 0.29999999999999993 in float64.
		{"expr score at the threshold after float arithmetic", with(as("expr", `0.7 - 0.4`), num(0.3), nil), out("x"), true, 0.3, `"0.7 - 0.4" >= 0.3; got 0.300`},
	}
}

func TestDeterministicAssertions(t *testing.T) {
	for _, tc := range deterministicRows() {
		t.Run(tc.name, func(t *testing.T) {
			for _, neg := range []bool{false, true} {
				a := tc.a
				if neg {
					a = *negated(tc.a)
				}
				got := check(mustCompile(t, &a, &Env{}), tc.in)
				wantPass, wantScore := tc.pass, tc.score
				if neg {
					wantPass, wantScore = !wantPass, 1-wantScore
				}
				if got.Error {
					t.Fatalf("%s: unexpected error result: %s", a.Type, got.Reason)
				}
				if got.Passed != wantPass || math.Abs(got.Score-wantScore) > 1e-9 {
					t.Errorf("%s: passed=%v score=%v, want passed=%v score=%v (reason: %s)",
						a.Type, got.Passed, got.Score, wantPass, wantScore, got.Reason)
				}
				if got.Type != a.Type || got.Weight != 1 {
					t.Errorf("%s: result type %q weight %v", a.Type, got.Type, got.Weight)
				}
				if !neg && !strings.Contains(got.Reason, tc.reason) {
					t.Errorf("%s: reason %q does not contain %q", a.Type, got.Reason, tc.reason)
				}
				if !strings.HasPrefix(got.Reason, "expected ") || !strings.Contains(got.Reason, "; got ") {
					t.Errorf("%s: reason %q does not say what was expected and seen", a.Type, got.Reason)
				}
			}
		})
	}
}

func TestNegatedReasons(t *testing.T) {
	for _, tc := range []struct {
		a    config.Assertion
		in   string
		want string
	}{
		{as("contains", "refund"), "your refund", `expected output not to contain "refund"; got "your refund"`},
		{as("equals", "x"), "x", `expected output not to equal "x"; got "x"`},
		{with(as("bleu", "a b c d"), num(0.5), nil), "a b c d", `expected BLEU < 0.5; got 1.000 for "a b c d"`},
		{as("regex", "^a"), "abc", `expected output not to match /^a/; got "abc"`},
		{as("is-refusal", nil), "I cannot assist with that.", `expected an answer that is not a refusal; got "I cannot assist with that."`},
	} {
		got := check(mustCompile(t, negated(tc.a), &Env{}), Input{Output: tc.in})
		if got.Passed || got.Reason != tc.want {
			t.Errorf("not-%s: passed=%v reason %q, want failed with %q", tc.a.Base, got.Passed, got.Reason, tc.want)
		}
	}
}

func TestResultCarriesMetricAndWeight(t *testing.T) {
	a := as("contains", "x")
	a.Metric, a.Weight = "tone", 2.5
	got := check(mustCompile(t, &a, nil), Input{Output: "x"})
	want := report.Assertion{Type: "contains", Metric: "tone", Weight: 2.5, Passed: true, Score: 1,
		Reason: `expected output to contain "x"; got "x"`}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Base left empty (a hand-built assertion): the not- prefix of Type still negates.
	b := config.Assertion{Type: "not-contains", Value: "x", Weight: 1}
	if got := check(mustCompile(t, &b, nil), Input{Output: "x"}); got.Passed || got.Type != "not-contains" {
		t.Errorf("not-contains with empty Base: %+v", got)
	}
}

func TestReasonShortensLongOutput(t *testing.T) {
	long := strings.Repeat("word ", 100) + "\nsecret tail"
	got := check(mustCompile(t, &config.Assertion{Type: "contains", Base: "contains", Value: "zzz", Weight: 1}, nil), Input{Output: long})
	if strings.Contains(got.Reason, "secret tail") || strings.Contains(got.Reason, "\n") || !strings.Contains(got.Reason, "…") {
		t.Errorf("reason not shortened to one line: %q", got.Reason)
	}
	if n := len([]rune(got.Reason)); n > 150 {
		t.Errorf("reason is %d characters long: %q", n, got.Reason)
	}
}

func TestEveryTypeCompilesAndNegates(t *testing.T) {
	judge := &fakeJudge{label: "judge", out: `{"reason": "fine", "score": 1, "pass": true}`}
	env := &Env{Judge: judge, Embedder: &fakeEmbedder{}}
	values := map[string]any{
		"equals": "x", "contains": "x", "icontains": "x", "contains-any": []any{"x"}, "contains-all": []any{"x"},
		"icontains-any": []any{"x"}, "icontains-all": []any{"x"}, "starts-with": "x", "regex": "x",
		"word-count": 1, "levenshtein": "x", "bleu": "x", "rouge-n": "x", "rouge-l": "x", "similar": "x",
		"llm-rubric": "is x", "factuality": "x", "json-schema": map[string]any{"type": "string"}, "expr": `output == "x"`,
	}
	// Every type the config loader accepts must compile here.
	listed := config.AssertionTypes
	if len(listed) != 26 {
		t.Errorf("config.AssertionTypes has %d types, the issue lists 26", len(listed))
	}
	for _, base := range listed {
		a := as(base, values[base])
		if base == "latency" || base == "cost" {
			a.Threshold = num(1)
		}
		in := Input{Output: "x", Vars: map[string]any{"context": "x"}}
		plain := check(mustCompile(t, &a, env), in)
		neg := check(mustCompile(t, negated(a), env), in)
		if plain.Error || neg.Error {
			t.Errorf("%s: error result: %s / %s", base, plain.Reason, neg.Reason)
			continue
		}
		if plain.Passed == neg.Passed || math.Abs(plain.Score+neg.Score-1) > 1e-9 {
			t.Errorf("%s: plain (%v, %v) and not- (%v, %v) do not flip", base, plain.Passed, plain.Score, neg.Passed, neg.Score)
		}
		if neg.Type != "not-"+base {
			t.Errorf("%s: negated type %q", base, neg.Type)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	pos := "plumb.yaml:7:9: "
	embed := &fakeEmbedder{}
	for _, tc := range []struct {
		name string
		a    config.Assertion
		env  *Env
		want string // the whole error text, hint included
	}{
		{"bad regex", as("regex", "(abc"), nil,
			pos + `invalid regex "(abc": missing closing )` +
				"\n\thint: Plumb uses Go's RE2 syntax: no lookahead, lookbehind or backreferences; (?i) makes a match case-insensitive"},
		{"lookahead", as("regex", "a(?=b)"), nil,
			pos + `invalid regex "a(?=b)": invalid or unsupported Perl syntax at "(?="` +
				"\n\thint: Plumb uses Go's RE2 syntax: no lookahead, lookbehind or backreferences; (?i) makes a match case-insensitive"},
		{"bad schema", as("json-schema", map[string]any{"type": "strin"}), nil,
			pos + `invalid JSON schema for json-schema: at '/type': value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'; at '/type': got string, want array` +
				"\n\thint: the value must be a JSON schema (draft 2020-12 unless it names another $schema), written inline; external $refs are not loaded"},
		{"schema not JSON", as("is-json", "{nope"), nil,
			pos + `invalid JSON schema for is-json: the value is not JSON: invalid character 'n' looking for beginning of object key string` +
				"\n\thint: the value must be a JSON schema (draft 2020-12 unless it names another $schema), written inline; external $refs are not loaded"},
		{"schema with external ref", as("json-schema", map[string]any{"$ref": "file:///etc/passwd"}), nil,
			pos + `invalid JSON schema for json-schema: failing loading "file:///etc/passwd": external schema file:///etc/passwd is not loaded; inline it` +
				"\n\thint: the value must be a JSON schema (draft 2020-12 unless it names another $schema), written inline; external $refs are not loaded"},
		{"bad expr", as("expr", `output contains`), nil,
			pos + `invalid expr "output contains": unexpected token EOF (line 1, column 15)` +
				"\n\thint: an expression sees output, vars, latency_ms, cost, tokens (prompt, completion, total, cached) and prompt; it returns true/false or a score from 0 to 1 (syntax: expr-lang.org)"},
		{"expr unknown name", as("expr", `outptu == "x"`), nil,
			pos + `invalid expr "outptu == \"x\"": unknown name outptu (line 1, column 1)` +
				"\n\thint: an expression sees output, vars, latency_ms, cost, tokens (prompt, completion, total, cached) and prompt; it returns true/false or a score from 0 to 1 (syntax: expr-lang.org)"},
		{"expr now disabled", as("expr", `now().Year() > 2000`), nil,
			pos + `invalid expr "now().Year() > 2000": unknown name now (line 1, column 1)` +
				"\n\thint: an expression sees output, vars, latency_ms, cost, tokens (prompt, completion, total, cached) and prompt; it returns true/false or a score from 0 to 1 (syntax: expr-lang.org)"},
		{"llm-rubric without judge", as("llm-rubric", "is polite"), &Env{Embedder: embed},
			pos + "no judge provider configured" +
				"\n\thint: llm-rubric is graded by a model: set the suite's judge provider (promptfoo: defaultTest.options.provider) or `provider:` on this assertion; Plumb never falls back to a default vendor"},
		{"factuality without judge", as("factuality", "Paris"), nil,
			pos + "no judge provider configured" +
				"\n\thint: factuality is graded by a model: set the suite's judge provider (promptfoo: defaultTest.options.provider) or `provider:` on this assertion; Plumb never falls back to a default vendor"},
		{"is-refusal judge without judge", with(as("is-refusal", nil), nil, map[string]any{"judge": true}), nil,
			pos + "no judge provider configured" +
				"\n\thint: is-refusal is graded by a model: set the suite's judge provider (promptfoo: defaultTest.options.provider) or `provider:` on this assertion; Plumb never falls back to a default vendor"},
		{"similar without embedder", as("similar", "x"), &Env{Judge: &fakeJudge{}},
			pos + "no embedding provider configured" +
				"\n\thint: similar compares embeddings: set the suite's embedding provider or `provider:` on this assertion (e.g. openai:embedding:text-embedding-3-small); Plumb never picks one for you"},
		{"unknown type", as("contain", "x"), nil,
			pos + `unknown assertion type "contain"` +
				"\n\thint: supported types: " + strings.Join(config.AssertionTypes, ", ") + "; any of them takes a not- prefix"},
		{"latency without threshold", as("latency", nil), nil,
			pos + "latency needs a threshold: the most it may take, in milliseconds\n\thint: e.g. threshold: 2000"},
		{"bleu threshold above 1", with(as("bleu", "x"), num(1.5), nil), nil,
			pos + "bleu threshold must be between 0 and 1, got 1.5\n\thint: this type scores from 0 to 1; e.g. threshold: 0.8"},
		{"contains with a list", as("contains", []any{"a", "b"}), nil,
			pos + "contains takes one string, not a list\n\thint: to match several strings use contains-any or contains-all (icontains-any, icontains-all)"},
		{"equals without value", as("equals", nil), nil,
			pos + "equals needs a value: the expected output\n\thint: add `value:` with the expected output"},
		{"word-count min > max", as("word-count", map[string]any{"min": 5, "max": 2}), nil,
			pos + "word-count min 5 is greater than max 2\n\thint: use `value: 50` for exactly 50 words, or `value: {min: 10, max: 50}`"},
		{"rouge measure", with(as("rouge-l", "x"), nil, map[string]any{"measure": "f2"}), nil,
			pos + `config.measure "f2" is not a ROUGE measure` + "\n\thint: use f1 (the default), recall or precision"},
		{"negative weight", func() config.Assertion { a := as("contains", "x"); a.Weight = -1; return a }(), nil,
			pos + "weight must be a number >= 0\n\thint: weight 0 reports the assertion without counting it in the score; the default is 1"},
		{"misspelt config key", with(as("rouge-n", "x"), nil, map[string]any{"mesure": "recall"}), nil,
			pos + `unknown config key "mesure" for rouge-n` + "\n\thint: did you mean \"measure\"? rouge-n reads the config keys measure, n"},
		{"several unknown config keys", with(as("rouge-n", "x"), nil, map[string]any{"nn": 2, "mesure": "recall", "zzzzzz": 1}), nil,
			pos + `unknown config keys "mesure", "nn", "zzzzzz" for rouge-n` +
				"\n\thint: did you mean \"measure\" for \"mesure\"? rouge-n reads the config keys measure, n"},
		{"config key another type reads", with(as("rouge-l", "x"), nil, map[string]any{"n": 2}), nil,
			pos + `unknown config key "n" for rouge-l` + "\n\thint: rouge-l reads the config keys measure"},
		{"config on a type without config", with(as("contains", "x"), nil, map[string]any{"ignoreCase": true}), nil,
			pos + `unknown config key "ignoreCase" for contains` + "\n\thint: contains reads no config keys: remove config"},
		{"config key misspelt on a negated type", with(*negated(as("is-refusal", nil)), nil, map[string]any{"jugde": true}), nil,
			pos + `unknown config key "jugde" for not-is-refusal` + "\n\thint: did you mean \"judge\"? not-is-refusal reads the config keys judge"},
		{"config.judge not a boolean", with(as("is-refusal", nil), num(0.5), map[string]any{"judge": "yes"}), nil,
			pos + "config.judge must be true or false, not a string"},
		{"threshold on contains", with(as("contains", "x"), num(0.5), nil), nil,
			pos + "contains has no threshold: it passes or fails outright" +
				"\n\thint: remove threshold; to change how much the assertion counts use `weight`, or give the test a `threshold` to pass on the weighted score"},
		{"threshold on not-is-json", with(*negated(as("is-json", nil)), num(1), nil), nil,
			pos + "not-is-json has no threshold: it passes or fails outright" +
				"\n\thint: remove threshold; to change how much the assertion counts use `weight`, or give the test a `threshold` to pass on the weighted score"},
		{"threshold on is-refusal heuristics", with(as("is-refusal", nil), num(0.8), nil), nil,
			pos + "is-refusal has no threshold unless config.judge is true" +
				"\n\thint: the shipped heuristics pass or fail outright; add `config: {judge: true}` to have the judge score refusals, or remove threshold"},
		{"rubricPrompt on contains", func() config.Assertion { a := as("contains", "x"); a.Rubric = "{{output}}"; return a }(), nil,
			pos + "rubricPrompt does not apply to contains" +
				"\n\thint: remove it: only model-graded assertions (llm-rubric, factuality, context-faithfulness, answer-relevance, and is-refusal with config.judge: true) take a rubricPrompt"},
		{"rubricPrompt on is-refusal heuristics", func() config.Assertion { a := as("is-refusal", nil); a.Rubric = "{{output}}"; return a }(), nil,
			pos + "rubricPrompt does not apply to is-refusal unless config.judge is true" +
				"\n\thint: add `config: {judge: true}` to have the judge grade refusals with this prompt, or remove rubricPrompt"},
		{"config.question the judge prompt does not use", with(as("llm-rubric", "x"), nil, map[string]any{"question": "ask"}), &Env{Judge: &fakeJudge{}},
			pos + "config.question has no effect: the judge prompt for llm-rubric does not use {{question}}" +
				"\n\thint: put {{question}} in rubricPrompt, or remove config.question"},
		{"config.context the judge prompt does not use", with(as("factuality", "x"), nil, map[string]any{"context": "docs"}), &Env{Judge: &fakeJudge{}},
			pos + "config.context has no effect: the judge prompt for factuality does not use {{context}}" +
				"\n\thint: put {{context}} in rubricPrompt, or remove config.context"},
		{"rubric prompt without output", func() config.Assertion { a := as("llm-rubric", "x"); a.Rubric = "Grade {{rubric}}"; return a }(),
			&Env{Judge: &fakeJudge{}},
			pos + "the judge prompt for llm-rubric does not use {{output}}\n\thint: the judge must see the output it grades: put {{output}} in the prompt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			_, err := Compile(&a, tc.env)
			if err == nil {
				t.Fatal("compiled; want an error")
			}
			ce, ok := err.(*config.Error)
			if !ok {
				t.Fatalf("error is %T, want *config.Error", err)
			}
			if ce.Pos != a.Pos {
				t.Errorf("error at %v, want %v", ce.Pos, a.Pos)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// Every key an assertion type reads is accepted, so that checking for ignored keys breaks no
// suite that works.
func TestAcceptedOptions(t *testing.T) {
	env := &Env{Judge: &fakeJudge{label: "j", out: `{"score": 1, "pass": true}`}, Embedder: &fakeEmbedder{}}
	rubric := func(a config.Assertion, p string) config.Assertion { a.Rubric = p; return a }
	for _, a := range []config.Assertion{
		with(as("levenshtein", "x"), num(3), nil),
		with(as("bleu", "x"), num(0.4), nil),
		with(as("rouge-n", "x"), num(0.5), map[string]any{"n": 2, "measure": "recall"}),
		with(as("rouge-l", "x"), num(0.5), map[string]any{"measure": "precision"}),
		with(as("similar", "x"), num(0.8), nil),
		with(as("llm-rubric", "x"), num(0.7), nil),
		rubric(with(as("llm-rubric", "x"), nil, map[string]any{"question": "ask", "context": "docs"}), "{{question}} {{context}} {{output}}"),
		with(as("factuality", "x"), num(0.7), map[string]any{"question": "ask"}),
		with(as("context-faithfulness", nil), num(0.8), map[string]any{"question": "ask", "context": "docs"}),
		rubric(with(as("context-faithfulness", nil), nil, map[string]any{"context": "docs"}), "Is {{output}} faithful?"),
		with(as("answer-relevance", nil), num(0.6), map[string]any{"question": "ask"}),
		rubric(with(as("is-refusal", nil), num(0.9), map[string]any{"judge": true}), "Refusal? {{output}}"),
		with(as("is-refusal", nil), nil, map[string]any{"judge": false}),
		with(as("latency", nil), num(100), nil),
		with(as("cost", nil), num(0.1), nil),
		with(as("expr", "0.5"), num(0.4), nil),
		with(*negated(as("bleu", "x")), num(0.4), nil),
		with(as("contains", "x"), nil, map[string]any{}),
	} {
		if _, err := Compile(&a, env); err != nil {
			t.Errorf("%s threshold %v config %v rubricPrompt %q: %v", a.Type, a.Threshold, a.Config, a.Rubric, err)
		}
	}
}

func TestExprRuntime(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		want       string // reason of the error result
	}{
		{"wrong result type", `output + "!"`, `expr "output + \"!\"" returned string; it must return true/false or a number`},
		{"runtime error", `int(vars.count) > 1`, `expr "int(vars.count) > 1" failed: invalid operation: int(many)`},
		{"memory budget", `len(map(1..2000000, # * 2)) > 0`, `expr "len(map(1..2000000, # * 2)) > 0" failed: memory budget exceeded`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, neg := range []bool{false, true} {
				a := as("expr", tc.code)
				if neg {
					a = *negated(a)
				}
				got := check(mustCompile(t, &a, nil), Input{Output: "x", Vars: map[string]any{"count": "many"}})
				if !got.Error || got.Passed || got.Score != 0 {
					t.Errorf("%s: %+v, want a failed error result", a.Type, got)
				}
				if !strings.HasPrefix(got.Reason, tc.want) {
					t.Errorf("%s: reason %q, want prefix %q", a.Type, got.Reason, tc.want)
				}
			}
		})
	}
}

// Checkers are shared by the runner's workers: run each kind from many goroutines (under
// go test -race this finds unsynchronised state, such as the embedding cache).
func TestConcurrentChecks(t *testing.T) {
	env := &Env{Judge: &fakeJudge{label: "j", out: `{"score": 1, "pass": true}`}, Embedder: &fakeEmbedder{}}
	var checkers []Checker
	for _, a := range []config.Assertion{as("similar", "refund"), as("llm-rubric", "ok"), as("expr", `output == "refund"`),
		as("json-schema", map[string]any{"type": "string"}), as("regex", "ref+und"), as("is-refusal", nil)} {
		checkers = append(checkers, mustCompile(t, &a, env))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range checkers {
				if got := check(c, Input{Output: "refund"}); got.Error {
					t.Errorf("%s: %s", got.Type, got.Reason)
				}
			}
		}()
	}
	wg.Wait()
}

// sum adds at run time, so that the test sees float64 rounding rather than Go's exact
// constant arithmetic.
func sum(xs ...float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

func TestScore(t *testing.T) {
	r := func(passed bool, score, weight float64) report.Assertion {
		return report.Assertion{Passed: passed, Score: score, Weight: weight}
	}
	for _, tc := range []struct {
		name      string
		results   []report.Assertion
		threshold *float64
		pass      bool
		score     float64
	}{
		{"no assertions", nil, nil, true, 1},
		{"all pass", []report.Assertion{r(true, 1, 1), r(true, 1, 1)}, nil, true, 1},
		// promptfoo's documented example: equals (weight 2) fails, contains (weight 1) passes → 1/3.
		{"weighted", []report.Assertion{r(false, 0, 2), r(true, 1, 1)}, nil, false, 1.0 / 3},
		{"threshold met", []report.Assertion{r(false, 0, 1), r(true, 1, 3)}, num(0.75), true, 0.75},
		{"threshold missed", []report.Assertion{r(false, 0, 2), r(true, 1, 1)}, num(0.5), false, 1.0 / 3},
		{"graded scores", []report.Assertion{r(true, 0.8, 1), r(true, 0.6, 1)}, nil, true, 0.7},
		{"weight 0 reports only", []report.Assertion{r(true, 1, 1), r(true, 0.2, 0)}, nil, true, 1},
		{"weight 0 failure still fails", []report.Assertion{r(true, 1, 1), r(false, 0, 0)}, nil, false, 1},
		{"all weights 0, passing", []report.Assertion{r(true, 0.3, 0)}, nil, true, 1},
		{"all weights 0, failing", []report.Assertion{r(false, 0.3, 0)}, nil, false, 0},
		// 1.2 / 1.6 is 0.75 exactly, computed as 0.7499999999999999.
		{"threshold met exactly by a float score", []report.Assertion{r(true, 1, 0.2), r(true, 1, 1), r(false, 0, 0.4)}, num(0.75), true, 0.75},
		{"error fails despite threshold", []report.Assertion{r(true, 1, 5), {Error: true, Weight: 1}}, num(0.5), false, 5.0 / 6},
	} {
		pass, score := Score(tc.results, tc.threshold)
		if pass != tc.pass || math.Abs(score-tc.score) > 1e-12 {
			t.Errorf("%s: Score = (%v, %v), want (%v, %v)", tc.name, pass, score, tc.pass, tc.score)
		}
	}
}
