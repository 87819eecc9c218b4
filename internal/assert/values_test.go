package assert

import (
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/provider"
)

func TestValueVars(t *testing.T) {
	vars := map[string]any{"expected": "Paris", "code": "AB", "n": uint64(42), "bad": "(", "ref": "the cat sat on the mat",
		"user": map[string]any{"name": "Ada", "address": map[any]any{"city": "Lyon"}, "tags": []any{"vip"}},
		"a.b":  "literal key"}
	for _, tc := range []struct {
		name   string
		a      config.Assertion
		out    string
		pass   bool
		isErr  bool
		reason string
	}{
		{"equals", as("equals", "{{expected}}"), "Paris", true, false, `expected output to equal "Paris"`},
		{"equals with spaces in braces", as("equals", "{{ expected }}"), "Paris", true, false, ""},
		{"number var", as("equals", "{{n}}"), "42", true, false, ""},
		{"contains", as("contains", "capital is {{expected}}"), "The capital is Paris.", true, false, `"capital is Paris"`},
		{"icontains", as("icontains", "{{expected}}"), "PARIS", true, false, ""},
		{"starts-with", as("starts-with", "{{code}}-"), "AB-12", true, false, ""},
		{"contains-all", as("contains-all", []any{"{{expected}}", "{{code}}"}), "Paris AB", true, false, `all of ["Paris", "AB"]`},
		{"icontains-any", as("icontains-any", []any{"{{expected}}", "Lyon"}), "paris", true, false, `found ["Paris"]`},
		{"regex", as("regex", `^{{code}}-\d+$`), "AB-12", true, false, `to match /^AB-\d+$/`},
		{"regex broken by a var", as("regex", `^{{bad}}x`), "x", false, true, `invalid regex "^(x" once vars are filled in: missing closing )`},
		{"levenshtein", as("levenshtein", "{{expected}}"), "Pari", true, false, `edit distance to "Paris" <= 5; got 1`},
		{"bleu", as("bleu", "{{ref}}"), "the cat sat on the mat", true, false, ""},
		{"rouge-n", as("rouge-n", "{{ref}}"), "the cat sat on the mat", true, false, ""},
		{"rouge-l", as("rouge-l", "{{ref}}"), "the cat sat on the mat", true, false, ""},
		{"unknown var stays visible", as("contains", "{{nope}}"), "anything", false, false, `expected output to contain "{{nope}}"`},
		// Dotted names reach into nested maps, as they do in prompts.
		{"dotted var", as("equals", "{{user.name}}"), "Ada", true, false, `expected output to equal "Ada"`},
		{"dotted var with spaces", as("contains", "Hi {{ user.name }}"), "Hi Ada!", true, false, `"Hi Ada"`},
		{"dotted var two levels deep", as("icontains", "{{user.address.city}}"), "lyon", true, false, `"Lyon"`},
		{"dotted var holding a list", as("contains", "{{user.tags}}"), "vip", true, false, ""},
		{"a key with a dot wins over the path", as("equals", "{{a.b}}"), "literal key", true, false, ""},
		{"dotted var missing", as("contains", "{{user.email}}"), "Ada", false, false, `"{{user.email}}"`},
		{"dotted var through a string", as("contains", "{{expected.x}}"), "Paris", false, false, `"{{expected.x}}"`},
	} {
		a := tc.a
		got := check(mustCompile(t, &a, nil), Input{Output: tc.out, Vars: vars})
		if got.Passed != tc.pass || got.Error != tc.isErr {
			t.Errorf("%s: %+v, want passed=%v error=%v", tc.name, got, tc.pass, tc.isErr)
		}
		if !strings.Contains(got.Reason, tc.reason) {
			t.Errorf("%s: reason %q does not contain %q", tc.name, got.Reason, tc.reason)
		}
	}
	// The fixed part of a templated regex is still checked when the suite loads.
	r := as("regex", "{{code}}(")
	if _, err := Compile(&r, nil); err == nil || !strings.Contains(err.Error(), `invalid regex "{{code}}(": missing closing )`) {
		t.Errorf("templated regex with a broken fixed part: %v", err)
	}
	// similar embeds each filled-in expected text once.
	emb := &fakeEmbedder{}
	s := as("similar", "{{want}}")
	c := mustCompile(t, &s, &Env{Embedder: emb})
	for _, w := range []string{"refund", "order", "refund"} {
		if got := check(c, Input{Output: w, Vars: map[string]any{"want": w}}); !got.Passed {
			t.Errorf("similar %q: %+v", w, got)
		}
	}
	if emb.callsFor("refund") != 3 || emb.callsFor("order") != 2 { // outputs each time, expected texts once
		t.Errorf("embedding calls: refund %d, order %d", emb.callsFor("refund"), emb.callsFor("order"))
	}
	// Judge values too.
	judge := &fakeJudge{label: "j", out: `{"score": 1, "pass": true}`}
	f := as("factuality", "{{expected}} is the capital.")
	check(mustCompile(t, &f, &Env{Judge: judge}), Input{Output: "Paris", Vars: vars})
	if p := judge.lastPrompt(); !strings.Contains(p, "```reference\nParis is the capital.\n```") {
		t.Errorf("factuality reference not filled in:\n%s", p)
	}
	// The reason quotes the reference as the judge saw it, not the template.
	if got := check(mustCompile(t, &f, &Env{Judge: judge}), Input{Output: "Paris", Vars: vars}); !strings.HasPrefix(got.Reason,
		`expected the judge to find the output consistent with the reference "Paris is the capital."; got `) {
		t.Errorf("factuality reason: %q", got.Reason)
	}
	nf := negated(f)
	nf.Threshold = num(0.9)
	if got := check(mustCompile(t, nf, &Env{Judge: judge}), Input{Output: "Paris", Vars: vars}); !strings.HasPrefix(got.Reason,
		`expected the judge to find the output inconsistent with the reference "Paris is the capital."; got `) {
		t.Errorf("not-factuality reason: %q", got.Reason)
	}
	l := as("llm-rubric", "Mentions {{expected}} and {{user.name}}")
	got := check(mustCompile(t, &l, &Env{Judge: judge}), Input{Output: "Paris", Vars: vars})
	if p := judge.lastPrompt(); !strings.Contains(p, "Rubric:\nMentions Paris and Ada\n") {
		t.Errorf("rubric not filled in:\n%s", p)
	}
	if !strings.HasPrefix(got.Reason, `expected the judge to pass the rubric "Mentions Paris and Ada"; got judge j: pass`) {
		t.Errorf("llm-rubric reason: %q", got.Reason)
	}
	if got := check(mustCompile(t, negated(l), &Env{Judge: judge}), Input{Output: "Paris", Vars: vars}); !strings.HasPrefix(got.Reason,
		`expected the judge to fail the rubric "Mentions Paris and Ada"; got `) {
		t.Errorf("not-llm-rubric reason: %q", got.Reason)
	}
}

func TestChatRubricPrompt(t *testing.T) {
	judge := &fakeJudge{label: "j", out: `{"score": 1, "pass": true}`}
	a := as("llm-rubric", "Is polite")
	// A promptfoo rubricPrompt given as a message list, as the config loader keeps it (JSON).
	a.Rubric = `[{"role":"system","content":"You grade against: {{rubric}}"},{"role":"user","content":"Grade this: {{output}}"}]`
	got := check(mustCompile(t, &a, &Env{Judge: judge}), Input{Output: `He said "hi" }]`})
	if !got.Passed {
		t.Fatalf("%+v", got)
	}
	judge.mu.Lock()
	msgs := judge.messages[len(judge.messages)-1]
	judge.mu.Unlock()
	want := []provider.Message{
		{Role: "system", Content: "You grade against: Is polite"},
		{Role: "user", Content: "Grade this: ```output\nHe said \"hi\" }]\n```"},
	}
	if len(msgs) != len(want) || msgs[0] != want[0] || msgs[1] != want[1] {
		t.Errorf("messages = %#v, want %#v", msgs, want)
	}
	// A chat without {{output}} in any message is refused.
	a.Rubric = `[{"role":"user","content":"Grade {{rubric}}"}]`
	if _, err := Compile(&a, &Env{Judge: judge}); err == nil || !strings.Contains(err.Error(), "does not use {{output}}") {
		t.Errorf("chat without output: %v", err)
	}
}
