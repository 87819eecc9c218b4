package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/provider"
)

// summary renders a suite's tests one per line, as a user would list them: index,
// description, segment, vars, and assertions (with the grader they use, if any).
func summary(s *Suite) []string {
	var out []string
	for _, t := range s.Tests {
		var vars []string
		for k, v := range t.Vars {
			vars = append(vars, fmt.Sprintf("%s=%v", k, v))
		}
		sort.Strings(vars)
		var asserts []string
		for _, a := range t.Assert {
			x := a.Type
			if a.Value != nil {
				x += fmt.Sprintf(" %v", a.Value)
			}
			if a.Threshold != nil {
				x += fmt.Sprintf(" >=%g", *a.Threshold)
			}
			if a.Metric != "" {
				x += " metric=" + a.Metric
			}
			if a.Provider != nil {
				x += " by " + a.Provider.Config.Label
			}
			if a.Rubric != "" {
				x += " rubric=" + a.Rubric
			}
			asserts = append(asserts, x)
		}
		line := fmt.Sprintf("#%d %q", t.Index, t.Description)
		if t.Segment != "" {
			line += " [" + t.Segment + "]"
		}
		if t.Threshold != nil {
			line += fmt.Sprintf(" threshold=%g", *t.Threshold)
		}
		if t.Repeat != 0 {
			line += fmt.Sprintf(" repeat=%d", t.Repeat)
		}
		line += " {" + strings.Join(vars, ", ") + "} " + strings.Join(asserts, "; ")
		out = append(out, line)
	}
	return out
}

func eqLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadPlumbExample(t *testing.T) {
	s, err := Load("testdata/plumb/plumb.yaml", LoadOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Compat != "plumb" || s.Description != "Support assistant" || s.Dir != "testdata/plumb" {
		t.Errorf("Compat, Description, Dir = %q, %q, %q", s.Compat, s.Description, s.Dir)
	}
	if s.Repeat != 3 || s.Concurrency != 8 {
		t.Errorf("Repeat, Concurrency = %d, %d; want 3, 8", s.Repeat, s.Concurrency)
	}

	if len(s.Prompts) != 2 {
		t.Fatalf("%d prompts, want 2", len(s.Prompts))
	}
	chat, short := s.Prompts[0], s.Prompts[1]
	wantMsgs := []provider.Message{
		{Role: "system", Content: "You are a support agent for {{product}}."},
		{Role: "user", Content: "{{question}}"},
	}
	if chat.Label != "support-chat" || !reflect.DeepEqual(chat.Messages, wantMsgs) ||
		chat.Text != `[{"role":"system","content":"You are a support agent for {{product}}."},{"role":"user","content":"{{question}}"}]` {
		t.Errorf("chat prompt = %+v", chat)
	}
	if short.Label != "prompts/short.txt" || short.Text != "Answer in one sentence about {{ product }}: {{question}}" || short.Messages != nil {
		t.Errorf("file prompt = %+v", short)
	}
	for _, p := range s.Prompts {
		sum := sha256.Sum256([]byte(p.Text))
		if p.Hash != hex.EncodeToString(sum[:])[:12] {
			t.Errorf("prompt %q hash %q is not the first 12 hex digits of sha256(text)", p.Label, p.Hash)
		}
		if !slices.Equal(p.Vars, []string{"product", "question"}) {
			t.Errorf("prompt %q vars = %v", p.Label, p.Vars)
		}
	}

	wantProviders := []ProviderSpec{
		{ID: "openai:chat:gpt-4o-mini", Pos: Pos{"testdata/plumb/plumb.yaml", 11, 5}, Config: provider.Config{
			Label: "mini", Type: "openai", Model: "gpt-4o-mini", BaseURL: "http://localhost:11434/v1", APIKeyEnv: "MY_KEY",
			Params:  provider.Params{Temperature: ptr(0.0), MaxTokens: ptr(200), Seed: ptr(7), Stop: []string{"\n\n"}},
			Timeout: 30 * time.Second, MaxRetries: 2, RPM: 60, Price: &provider.Price{Input: 0.15, Output: 0.6},
		}},
		{ID: `exec:python3 "my app.py" --fast`, Pos: Pos{"testdata/plumb/plumb.yaml", 20, 5}, Config: provider.Config{
			Label: `exec:python3 "my app.py" --fast`, Type: "exec", Command: []string{"python3", "my app.py", "--fast"}, Dir: "testdata/plumb",
		}},
		{ID: "echo", Pos: Pos{"testdata/plumb/plumb.yaml", 21, 5}, Config: provider.Config{Label: "echo", Type: "echo"}},
	}
	if !reflect.DeepEqual(s.Providers, wantProviders) {
		t.Errorf("providers:\n%+v\nwant:\n%+v", s.Providers, wantProviders)
	}
	if s.Judge == nil || s.Judge.Config.Type != "anthropic" || s.Judge.Config.Model != "claude-3-5-haiku-latest" {
		t.Errorf("judge = %+v", s.Judge)
	}
	if s.Embedder == nil || s.Embedder.Config.Type != "openai-embedding" || s.Embedder.Config.Model != "text-embedding-3-small" {
		t.Errorf("embedding = %+v", s.Embedder)
	}

	// defaultTest's latency assertion comes first in every test; the CSV glob and the JSONL
	// file follow the inline test; a list var expands into one test per value.
	eqLines(t, "tests", summary(s), []string{
		`#0 "refund policy" [billing] {product=Acme, question=How do I get a refund?} latency >=2000; contains refund; llm-rubric Explains the refund policy politely metric=helpfulness`,
		`#1 "cards" [billing] {product=Acme, question=Can I pay by card?} latency >=2000; icontains card`,
		`#2 "tracking" [orders] {product=Acme, question=Where is my order, please?} latency >=2000; contains-any [shipping delivery]`,
		`#3 "" {product=Acme Pro, question=Do you ship abroad?} latency >=2000; not-contains no`,
		`#4 "" {product=Acme, question=hi} latency >=2000; similar Hello! How can I help? >=0.8`,
		`#5 "" {product=Acme, question=hello} latency >=2000; similar Hello! How can I help? >=0.8`,
	})
	if p := s.Tests[2].Pos; p != (Pos{"testdata/plumb/tests/billing.csv", 3, 0}) {
		t.Errorf("CSV test position = %v", p)
	}
	if p := s.Tests[3].Pos; p != (Pos{"testdata/plumb/tests/cases.jsonl", 1, 1}) {
		t.Errorf("JSONL test position = %v", p)
	}

	wantGates := []Gate{
		{Metric: "pass_rate", Min: ptr(0.9), Confidence: 0.95, Pos: Pos{"testdata/plumb/plumb.yaml", 46, 5}},
		{Metric: "latency_p95_ms", Max: ptr(2000.0), Pos: Pos{"testdata/plumb/plumb.yaml", 49, 5}},
		{Metric: "helpfulness", Min: ptr(0.8), Pos: Pos{"testdata/plumb/plumb.yaml", 51, 5}},
	}
	if !reflect.DeepEqual(s.Gates, wantGates) {
		t.Errorf("gates = %+v", s.Gates)
	}
	if s.Baseline != "run-123" || s.Cassette != filepath.Join("testdata", "plumb", "cassettes", "support.json") {
		t.Errorf("Baseline, Cassette = %q, %q", s.Baseline, s.Cassette)
	}
	if want := (map[string]provider.Price{"gpt-4o-mini": {Input: 0.15, Output: 0.6, Cached: 0.075}}); !reflect.DeepEqual(s.Prices, want) {
		t.Errorf("prices = %v", s.Prices)
	}
	if got := s.JudgePrompts["llm-rubric"]; !strings.HasPrefix(got, "Grade the answer against the rubric.\n") {
		t.Errorf("judge prompt = %q", got)
	}
	if len(s.Hash) != 64 {
		t.Errorf("hash = %q", s.Hash)
	}
}

func TestLoadPromptfooExample(t *testing.T) {
	s, err := Load("testdata/promptfoo/promptfooconfig.yaml", LoadOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Compat != "promptfoo" || s.Repeat != 2 || s.Concurrency != 2 || !slices.Equal(s.OutputPaths, []string{"results.json"}) {
		t.Errorf("Compat, Repeat, Concurrency, OutputPaths = %q, %d, %d, %v", s.Compat, s.Repeat, s.Concurrency, s.OutputPaths)
	}
	var labels []string
	for _, p := range s.Prompts {
		labels = append(labels, p.Label)
	}
	// prompts.txt holds two prompts separated by a `---` line; the JSON string is a chat.
	eqLines(t, "prompt labels", labels, []string{"prompts.txt#1", "prompts.txt#2", "Translate to {{language}}"})
	if s.Prompts[1].Text != "You are a translator. Output only the {{language}} translation of:\n{{input}}" {
		t.Errorf("second prompt of prompts.txt = %q", s.Prompts[1].Text)
	}
	if len(s.Prompts[2].Messages) != 2 || s.Prompts[2].Messages[1].Content != "{{input}}" {
		t.Errorf("JSON chat prompt = %+v", s.Prompts[2])
	}

	var got []string
	for _, p := range s.Providers {
		c := p.Config
		got = append(got, fmt.Sprintf("%s | %s %s %s key=%s out=%s %s %v %v", c.Label, c.Type, c.Model, c.BaseURL+c.URL, c.APIKeyEnv, c.OutputPath, c.Method, c.Headers, c.Body))
	}
	eqLines(t, "providers", got, []string{
		"openai:chat:gpt-4o-mini | openai gpt-4o-mini http://localhost:8080/v1 key=LOCAL_KEY out=  map[] <nil>",
		"openai:gpt-4o | openai gpt-4o  key= out=  map[] <nil>",
		"anthropic:messages:claude-3-5-sonnet-latest | anthropic claude-3-5-sonnet-latest  key=CLAUDE_KEY out=  map[] <nil>",
		"my-api | http  https://example.com/generate key= out=choices.0.message.content POST map[Authorization:Bearer {{env.MY_TOKEN}}] map[prompt:{{prompt}}]",
	})
	if p := s.Providers[0].Config.Params; *p.Temperature != 0.2 || *p.MaxTokens != 128 {
		t.Errorf("params = %+v", p)
	}

	// defaultTest.options.provider grades every llm-rubric; CSV shorthands become assertions.
	eqLines(t, "tests", summary(s), []string{
		`#0 "" threshold=0.5 {input=Hello, language=French} llm-rubric is a faithful translation by openai:chat:gpt-4o-mini; icontains bonjour; not-contains hello`,
		`#1 "" {input=Thank you, language=German} llm-rubric is a faithful translation by openai:chat:gpt-4o-mini; equals danke; llm-rubric is polite >=0.7 by openai:chat:gpt-4o-mini`,
	})
}

// TestLoadInline checks features on small suites written inline.
func TestLoadInline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		env   map[string]string
		check func(t *testing.T, s *Suite)
	}{
		{
			name: "defaults and a long first line as the label",
			files: map[string]string{"plumb.yaml": `prompts:
  - |
    You are a very helpful assistant for the Acme Corporation help desk.
    Question: {{question}}
providers: echo
tests:
  - vars: {question: q}
`},
			check: func(t *testing.T, s *Suite) {
				if s.Repeat != 1 || s.Concurrency != 4 || s.Compat != "plumb" || s.Judge != nil || s.Embedder != nil {
					t.Errorf("defaults: %+v", s)
				}
				if got := s.Prompts[0].Label; got != "You are a very helpful assistant for th…" || len([]rune(got)) != 40 {
					t.Errorf("label = %q", got)
				}
			},
		},
		{
			name: "list vars expand into one test per combination unless disabled",
			files: map[string]string{"plumb.yaml": `prompts: "{{lang}} {{tone}} {{items}}"
providers: [echo]
defaultTest:
  vars: {items: [a, b]}
  options: {disableVarExpansion: true}
tests:
  - vars:
      lang: [en, fr]
      tone: [formal, casual]
    options: {disableVarExpansion: false}
  - vars: {lang: de, tone: [dry]}
`},
			check: func(t *testing.T, s *Suite) {
				eqLines(t, "tests", summary(s), []string{
					`#0 "" {items=a, lang=en, tone=formal} `,
					`#1 "" {items=b, lang=en, tone=formal} `,
					`#2 "" {items=a, lang=en, tone=casual} `,
					`#3 "" {items=b, lang=en, tone=casual} `,
					`#4 "" {items=a, lang=fr, tone=formal} `,
					`#5 "" {items=b, lang=fr, tone=formal} `,
					`#6 "" {items=a, lang=fr, tone=casual} `,
					`#7 "" {items=b, lang=fr, tone=casual} `,
					`#8 "" {items=[a b], lang=de, tone=[dry]} `,
				})
			},
		},
		{
			name: "defaultTest merges into every test; the test wins",
			files: map[string]string{"plumb.yaml": `prompts: "{{a}} {{b}}"
providers: [echo]
judge: echo
defaultTest:
  vars: {a: default-a, b: default-b}
  assert:
    - type: llm-rubric
      value: polite
  threshold: 0.5
  metadata: {segment: general, owner: support}
  options:
    rubricPrompt: "Be strict: {{rubric}}"
    repeat: 2
tests:
  - vars: {a: own-a}
    assert: [{type: equals, value: x}]
  - vars: {a: own, b: own}
    threshold: 0.9
    metadata: {segment: vip}
    options: {repeat: 5}
`},
			check: func(t *testing.T, s *Suite) {
				eqLines(t, "tests", summary(s), []string{
					`#0 "" [general] threshold=0.5 repeat=2 {a=own-a, b=default-b} llm-rubric polite rubric=Be strict: {{rubric}}; equals x`,
					`#1 "" [vip] threshold=0.9 repeat=5 {a=own, b=own} llm-rubric polite rubric=Be strict: {{rubric}}`,
				})
				if md := s.Tests[1].Metadata; md["owner"] != "support" || md["segment"] != "vip" {
					t.Errorf("merged metadata = %v", md)
				}
			},
		},
		{
			name: "promptfoo provider settings: apiHost, env references, apiKey from env, targets, single-key map",
			files: map[string]string{"promptfooconfig.yaml": `prompts: ["{{q}}"]
targets:
  - id: openai:chat:gpt-4o-mini
    config:
      apiHost: llm.internal.example
      apiKey: "{{ env.INTERNAL_KEY }}"
      cost: 0.000002
      timeout: 1500
      passthrough: {user: eval-bot}
      response_format: {type: json_object}
  - openai:llama3:8b:
      label: local
      config:
        apiBaseUrl: "{{env.OLLAMA_URL}}/v1"
        stop: "###"
  - id: http
    config:
      url: https://api.example.com/run
      transformResponse: json["data"].items[2].text
tests: [{vars: {q: hi}}]
`},
			env: map[string]string{"OLLAMA_URL": "http://localhost:11434"},
			check: func(t *testing.T, s *Suite) {
				c := s.Providers[0].Config
				if c.BaseURL != "https://llm.internal.example/v1" || c.APIKeyEnv != "INTERNAL_KEY" || c.Timeout != 1500*time.Millisecond ||
					c.Price == nil || c.Price.Input != 2 || c.Price.Output != 2 {
					t.Errorf("first provider = %+v", c)
				}
				if want := map[string]any{"user": "eval-bot", "response_format": map[string]any{"type": "json_object"}}; !reflect.DeepEqual(c.Params.Extra, want) {
					t.Errorf("extra params = %v", c.Params.Extra)
				}
				c = s.Providers[1].Config
				if s.Providers[1].ID != "openai:llama3:8b" || c.Label != "local" || c.Model != "llama3:8b" || c.BaseURL != "http://localhost:11434/v1" || !slices.Equal(c.Params.Stop, []string{"###"}) {
					t.Errorf("second provider = %+v", s.Providers[1])
				}
				c = s.Providers[2].Config
				if c.Type != "http" || c.URL != "https://api.example.com/run" || c.OutputPath != "data.items.2.text" || c.Label != "http" {
					t.Errorf("third provider = %+v", c)
				}
			},
		},
		{
			name: "Plumb's type + model form, and openai:MODEL as an embedding under `embedding:`",
			files: map[string]string{"plumb.yaml": `prompts: "{{q}}"
providers:
  - type: anthropic
    model: claude-3-5-haiku-latest
    stream: true
    params:
      extra: {top_k: 5}
embedding: openai:text-embedding-3-large
tests: [{vars: {q: hi}, assert: [{type: similar, value: hello}]}]
`},
			check: func(t *testing.T, s *Suite) {
				p := s.Providers[0]
				if p.ID != "anthropic:messages:claude-3-5-haiku-latest" || p.Config.Label != p.ID || !p.Config.Stream || p.Config.Params.Extra["top_k"] != 5 {
					t.Errorf("provider = %+v", p)
				}
				if s.Embedder.Config.Type != "openai-embedding" || s.Embedder.Config.Model != "text-embedding-3-large" {
					t.Errorf("embedding = %+v", s.Embedder)
				}
			},
		},
		{
			name: "options.provider as {text, embedding}; an assertion's own provider wins",
			files: map[string]string{"plumb.yaml": `prompts: "{{q}}"
providers: [echo]
defaultTest:
  options:
    provider:
      text: {id: openai:chat:gpt-4o, label: grader}
      embedding: openai:embedding:text-embedding-3-small
tests:
  - vars: {q: hi}
    assert:
      - {type: factuality, value: hi}
      - {type: answer-relevance, provider: {id: anthropic:claude-3-5-haiku-latest, label: own}}
      - {type: similar, value: hello}
      - {type: is-refusal}
      - {type: not-is-refusal, config: {judge: true}}
`},
			check: func(t *testing.T, s *Suite) {
				eqLines(t, "tests", summary(s), []string{
					`#0 "" {q=hi} factuality hi by grader; answer-relevance by own; similar hello by openai:embedding:text-embedding-3-small; is-refusal; not-is-refusal by grader`,
				})
			},
		},
		{
			name: "files: JSON and YAML tests, YAML and JSON chat prompts, prompt globs in order, var and value files",
			files: map[string]string{
				"plumb.yaml": `prompts:
  - file://prompts/*.txt
  - id: file://chat.yaml
    label: chat
  - file://chat.json
  - file://plain.json
providers: [echo]
tests:
  - file://cases.json
  - cases.yaml
  - vars:
      q: file://docs/q.txt
    assert:
      - type: json-schema
        value: file://schema.yaml
`,
				"prompts/b.txt":  "B {{q}}",
				"prompts/a.txt":  "A {{q}}",
				"chat.yaml":      "- role: system\n  content: Be brief.\n- role: user\n  content: '{{q}}'\n",
				"chat.json":      `[{"role": "user", "content": "JSON {{q}}"}]`,
				"plain.json":     `{"note": "not a chat: {{q}}"}`,
				"cases.json":     `[{"vars": {"q": "from json"}, "assert": [{"type": "equals", "value": "x", "weight": 2}]}]`,
				"cases.yaml":     "- description: from yaml\n  vars: {q: y}\n",
				"docs/q.txt":     "a question from a file\n",
				"schema.yaml":    "type: object\nrequired: [answer]\n",
				"unused/x.txt":   "not referenced",
				"prompts/c.json": "[]",
			},
			check: func(t *testing.T, s *Suite) {
				var got []string
				for _, p := range s.Prompts {
					got = append(got, fmt.Sprintf("%s: %s", p.Label, p.Text))
				}
				eqLines(t, "prompts", got, []string{
					"prompts/a.txt: A {{q}}",
					"prompts/b.txt: B {{q}}",
					`chat: [{"role":"system","content":"Be brief."},{"role":"user","content":"{{q}}"}]`,
					`chat.json: [{"role":"user","content":"JSON {{q}}"}]`,
					`plain.json: {"note": "not a chat: {{q}}"}`,
				})
				eqLines(t, "tests", summary(s), []string{
					`#0 "" {q=from json} equals x`,
					`#1 "from yaml" {q=y} `,
					`#2 "" {q=a question from a file
} json-schema map[required:[answer] type:object]`,
				})
				if w := s.Tests[0].Assert[0].Weight; w != 2 {
					t.Errorf("weight = %g", w)
				}
			},
		},
		{
			name: "CSV specials: metric, threshold, metadata lists, shorthand thresholds, quoted multi-line cells",
			files: map[string]string{
				"plumb.yaml": `prompts: "{{question}}"
providers: [echo]
embedding: openai:embedding:text-embedding-3-small
tests: file://cases.csv
gates:
  - metric: correctness
    min: 0.8
    confidence: 0.9
`,
				"cases.csv": "question,__expected1,__expected2,__metric,__threshold,__metadata:tags[],__description\n" +
					"\"line one\nline two\",similar(0.85): two lines,is-json,correctness,0.75,\"a, b\",multi\n" +
					"plain,\"icontains-all: x , y\",not-regex: ^no,correctness,,,\n",
			},
			check: func(t *testing.T, s *Suite) {
				eqLines(t, "tests", summary(s), []string{
					`#0 "multi" threshold=0.75 {question=line one
line two} similar two lines >=0.85 metric=correctness; is-json metric=correctness`,
					`#1 "" {question=plain} icontains-all [x y] metric=correctness; not-regex ^no metric=correctness`,
				})
				if tags := s.Tests[0].Metadata["tags"]; !reflect.DeepEqual(tags, []any{"a", "b"}) {
					t.Errorf("metadata tags = %#v", tags)
				}
				if p := s.Tests[1].Pos; p.Line != 4 {
					t.Errorf("second row is on line %d, want 4 (the first row spans two lines)", p.Line)
				}
			},
		},
		{
			// promptfoo 0.123.1 trims the cell, then the value after the type.
			name: "CSV __expected cells and shorthand values are trimmed, as promptfoo does",
			files: map[string]string{"plumb.yaml": "prompts: \"{{q}}\"\nproviders: [echo]\ntests: file://t.csv\n",
				"t.csv": "q,__expected1,__expected2,__expected3\na,equals: Paris,\" exactly this \",\"  not-contains:  x \"\n"},
			check: func(t *testing.T, s *Suite) {
				eqLines(t, "tests", summary(s), []string{`#0 "" {q=a} equals Paris; equals exactly this; not-contains x`})
			},
		},
		{
			name: "CSV lists: quoted contains-any items keep their commas; escaped commas in metadata lists",
			files: map[string]string{"plumb.yaml": "prompts: \"{{q}}\"\nproviders: [echo]\ntests: file://t.csv\n",
				"t.csv": "q,__expected,__metadata:tags[]\n" +
					"a,\"contains-any: \"\"Hello, world\"\",xyz\",\"a\\,b,c\"\n" +
					"b,\"not-icontains-all: \"\"say \\\"\"hi\\\"\"\"\" , ,plain item\",\" x , ,y \"\n"},
			check: func(t *testing.T, s *Suite) {
				var got []string
				for _, tc := range s.Tests {
					got = append(got, fmt.Sprintf("%q %q", tc.Assert[0].Value, tc.Metadata["tags"]))
				}
				eqLines(t, "values and tags", got, []string{
					`["Hello, world" "xyz"] ["a,b" "c"]`,
					`["say \"hi\"" "plain item"] ["x" "" "y"]`,
				})
			},
		},
		{
			name: "file:// in response_format, passthrough and params.extra: .json/.yaml parsed (nested references too), other files as text",
			files: map[string]string{
				"promptfooconfig.yaml": `prompts: ["{{q}}"]
providers:
  - id: openai:chat:gpt-4.1-nano
    config:
      response_format: file://schemas/format.json
      passthrough:
        metadata: {note: file://note.txt}
        prediction: file://prediction.yaml
  - type: openai
    model: gpt-4o
    label: plumb-form
    params:
      response_format: file://schemas/format.json
tests: [{vars: {q: hi}}]
`,
				"schemas/format.json": `{"type": "json_schema", "json_schema": {"name": "x", "schema": "file://schemas/schema.yaml"}}`,
				"schemas/schema.yaml": "type: object\nrequired: [answer]\n",
				"note.txt":            "from a file\n",
				"prediction.yaml":     "type: content\ncontent: [a, b]\n",
			},
			check: func(t *testing.T, s *Suite) {
				format := map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "x",
					"schema": map[string]any{"type": "object", "required": []any{"answer"}}}}
				want := map[string]any{
					"response_format": format,
					"metadata":        map[string]any{"note": "from a file\n"},
					"prediction":      map[string]any{"type": "content", "content": []any{"a", "b"}},
				}
				if got := s.Providers[0].Config.Params.Extra; !reflect.DeepEqual(got, want) {
					t.Errorf("extra params = %#v\nwant %#v", got, want)
				}
				if got := s.Providers[1].Config.Params.Extra; !reflect.DeepEqual(got, map[string]any{"response_format": format}) {
					t.Errorf("params.extra = %#v", got)
				}
			},
		},
		{
			name: "a file:// glob var expands into one test per file, sorted, folders skipped; also in CSV cells",
			files: map[string]string{
				"plumb.yaml": `prompts: ["{{article}} / {{lang}}"]
providers: [echo]
tests:
  - vars:
      article: file://articles/*
      lang: [en, fr]
  - vars:
      article: [file://articles/b.md, file://extra/*.txt]
      lang: de
  - vars:
      article: file://articles/*.md
      lang: all
    options: {disableVarExpansion: true}
  - file://t.csv
`,
				"articles/b.md":     "B",
				"articles/a.md":     "A",
				"articles/sub/x.md": "in a folder: not matched by articles/*",
				"extra/c.txt":       "C",
				"t.csv":             "article,lang\nfile://extra/*.txt,csv\n",
			},
			check: func(t *testing.T, s *Suite) {
				eqLines(t, "tests", summary(s), []string{
					`#0 "" {article=A, lang=en} `,
					`#1 "" {article=A, lang=fr} `,
					`#2 "" {article=B, lang=en} `,
					`#3 "" {article=B, lang=fr} `,
					`#4 "" {article=B, lang=de} `,
					`#5 "" {article=C, lang=de} `,
					`#6 "" {article=[A B], lang=all} `,
					`#7 "" {article=C, lang=csv} `,
				})
			},
		},
		{
			name: "assertionTemplates: a $ref before the templates, its own keys winning, in defaultTest and tests files",
			files: map[string]string{
				"promptfooconfig.yaml": `prompts: ["{{q}}"]
providers: [echo]
defaultTest:
  assert:
    - $ref: '#/assertionTemplates/short'
tests:
  - vars: {q: hi}
    assert:
      - $ref: "#/assertionTemplates/containsPirateNoise"
      - $ref: "#/assertionTemplates/containsPirateNoise"
        value: yarr
        metric: pirate
        config: {b: 2}
      - $ref: "#/assertionTemplates/a~1b%20c"
  - file://more.yaml
assertionTemplates:
  containsPirateNoise:
    type: icontains
    value: arrr
    weight: 2
    config: {a: 1, b: 1}
  short: {$ref: '#/assertionTemplates/wordCount'}
  wordCount: {type: word-count, value: {max: 50}}
  a/b c: {type: contains, value: slash}
`,
				"more.yaml": "- vars: {q: more}\n  assert: [{$ref: '#/assertionTemplates/containsPirateNoise'}]\n",
			},
			check: func(t *testing.T, s *Suite) {
				eqLines(t, "tests", summary(s), []string{
					`#0 "" {q=hi} word-count map[max:50]; icontains arrr; icontains yarr metric=pirate; contains slash`,
					`#1 "" {q=more} word-count map[max:50]; icontains arrr`,
				})
				a := s.Tests[0].Assert[2]
				if a.Weight != 2 || !reflect.DeepEqual(a.Config, map[string]any{"a": 1, "b": 2}) {
					t.Errorf("merged assertion: weight %g, config %v; want 2 and map[a:1 b:2]", a.Weight, a.Config)
				}
				if a.Pos.Line != 10 {
					t.Errorf("merged assertion at line %d, want 10 (the $ref)", a.Pos.Line)
				}
			},
		},
		{
			// promptfoo's custom-grading-prompt example: the rubricPrompt carries the instructions.
			name: "llm-rubric without a value loads when a rubricPrompt carries the instructions",
			files: map[string]string{"promptfooconfig.yaml": `prompts: ["Talk about {{topic}}"]
providers: [echo]
judge_prompts:
  llm-rubric: "Grade: {{output}}"
defaultTest:
  options:
    provider: echo
    rubricPrompt:
      - role: system
        content: Did the output mention {{x}}?
      - role: user
        content: 'Output: {{ output }}'
tests:
  - vars: {topic: economy, x: the Fed}
    assert:
      - type: llm-rubric
      - type: llm-rubric
        rubricPrompt: "Own: {{output}}"
  - vars: {topic: economy, x: the Fed}
    options: {rubricPrompt: "Test's: {{output}}"}
    assert: [{type: llm-rubric}]
`},
			check: func(t *testing.T, s *Suite) {
				eqLines(t, "tests", summary(s), []string{
					`#0 "" {topic=economy, x=the Fed} llm-rubric by echo rubric=[{"role":"system","content":"Did the output mention {{x}}?"},{"role":"user","content":"Output: {{ output }}"}]; llm-rubric by echo rubric=Own: {{output}}`,
					`#1 "" {topic=economy, x=the Fed} llm-rubric by echo rubric=Test's: {{output}}`,
				})
			},
		},
		{
			name: "dotted variables resolve through nested vars; context-faithfulness reads config.context",
			files: map[string]string{"plumb.yaml": `prompts: "{{user.name}} asks {{question}}"
providers: [echo]
judge: echo
tests:
  - vars:
      user: {name: Ada}
      question: q
      docs: The manual says...
    assert:
      - type: context-faithfulness
        config: {context: docs}
`},
			check: func(t *testing.T, s *Suite) {
				if got := s.Prompts[0].Vars; !slices.Equal(got, []string{"question", "user.name"}) {
					t.Errorf("vars = %v", got)
				}
			},
		},
		{
			name: "promptfoo's map of prompts to labels, and a bare tests path",
			files: map[string]string{
				"promptfooconfig.yaml": "prompts:\n  file://p.md: Markdown prompt\n  'Inline {{x}}': inline\nproviders: [echo]\ntests: t.jsonl\n",
				"p.md":                 "# Task\n\nSay {{x}}.\n",
				"t.jsonl":              "{\"vars\": {\"x\": 1}}\n",
			},
			check: func(t *testing.T, s *Suite) {
				if s.Prompts[0].Label != "Markdown prompt" || s.Prompts[0].Text != "# Task\n\nSay {{x}}.\n" || s.Prompts[1].Label != "inline" {
					t.Errorf("prompts = %+v", s.Prompts)
				}
				if s.Tests[0].Vars["x"] != 1 {
					t.Errorf("vars = %v", s.Tests[0].Vars)
				}
			},
		},
		{
			name: "cassette as a map: the path and the variables that mean run live",
			files: map[string]string{"plumb.yaml": `prompts: "{{q}}"
providers: [echo]
tests: [{vars: {q: hi}}]
cassette:
  path: file://cassettes/support.json
  live_when_env: [OPENAI_API_KEY, OLLAMA_BASE_URL]
`},
			check: func(t *testing.T, s *Suite) {
				if want := filepath.Join(s.Dir, "cassettes", "support.json"); s.Cassette != want {
					t.Errorf("Cassette = %q, want %q", s.Cassette, want)
				}
				if want := []string{"OPENAI_API_KEY", "OLLAMA_BASE_URL"}; !slices.Equal(s.CassetteLiveEnv, want) {
					t.Errorf("CassetteLiveEnv = %q, want %q", s.CassetteLiveEnv, want)
				}
			},
		},
		{
			name:  "cassette map with one variable name as a string",
			files: map[string]string{"plumb.yaml": "prompts: x\nproviders: [echo]\ntests: [{}]\ncassette: {path: c.json, live_when_env: OPENAI_API_KEY}\n"},
			check: func(t *testing.T, s *Suite) {
				if s.Cassette != filepath.Join(s.Dir, "c.json") || !slices.Equal(s.CassetteLiveEnv, []string{"OPENAI_API_KEY"}) {
					t.Errorf("Cassette, CassetteLiveEnv = %q, %q", s.Cassette, s.CassetteLiveEnv)
				}
			},
		},
		{
			name:  "cassette as a path never runs live on its own",
			files: map[string]string{"plumb.yaml": "prompts: x\nproviders: [echo]\ntests: [{}]\ncassette: c.json\n"},
			check: func(t *testing.T, s *Suite) {
				if s.Cassette != filepath.Join(s.Dir, "c.json") || s.CassetteLiveEnv != nil {
					t.Errorf("Cassette, CassetteLiveEnv = %q, %q", s.Cassette, s.CassetteLiveEnv)
				}
			},
		},
		{
			name: "JSON prompts: chats inline, under raw and in files; other JSON is text",
			files: map[string]string{
				"plumb.yaml": `prompts:
  - '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{q}}"}]'
  - {label: raw-chat, raw: '[{"role": "user", "content": "raw {{q}}"}]'}
  - '[{"q": "{{q}}"}]'
  - '["{{q}}", "b"]'
  - file://records.json
providers: [echo]
tests: [{vars: {q: hi}}]
`,
				"records.json": "\ufeff[{\"question\": \"{{q}}\", \"answer\": \"\"}]",
			},
			check: func(t *testing.T, s *Suite) {
				var got []string
				for _, p := range s.Prompts {
					got = append(got, fmt.Sprintf("%s chat=%v: %s", p.Label, p.Messages != nil, p.Text))
				}
				eqLines(t, "prompts", got, []string{
					`Be brief. chat=true: [{"role":"system","content":"Be brief."},{"role":"user","content":"{{q}}"}]`,
					`raw-chat chat=true: [{"role":"user","content":"raw {{q}}"}]`,
					`[{"q": "{{q}}"}] chat=false: [{"q": "{{q}}"}]`,
					`["{{q}}", "b"] chat=false: ["{{q}}", "b"]`,
					"records.json chat=false: \ufeff[{\"question\": \"{{q}}\", \"answer\": \"\"}]",
				})
			},
		},
		{
			name: "promptfoo split files: a YAML list of prompts, providers from a file",
			files: map[string]string{
				"promptfooconfig.yaml": `prompts:
  - file://prompts.yaml
  - id: file://more.yaml
    label: more
providers: file://providers.yaml
tests: [{vars: {q: hi}}]
`,
				"prompts.yaml": `- "Answer: {{q}}"
- {label: formal, raw: "Dear customer, {{q}}"}
- id: file://p.txt
- label: chatty
  messages: [{role: user, content: "{{q}}"}]
`,
				"more.yaml":      "- One {{q}}\n- Two {{q}}\n",
				"p.txt":          "From a file: {{q}}",
				"providers.yaml": "- openai:chat:gpt-4o-mini\n- id: anthropic:messages:claude-3-5-haiku-latest\n  label: haiku\n",
			},
			check: func(t *testing.T, s *Suite) {
				var got []string
				for _, p := range s.Prompts {
					got = append(got, fmt.Sprintf("%s: %s", p.Label, p.Text))
				}
				eqLines(t, "prompts", got, []string{
					"Answer: {{q}}: Answer: {{q}}",
					"formal: Dear customer, {{q}}",
					"p.txt: From a file: {{q}}",
					`chatty: [{"role":"user","content":"{{q}}"}]`,
					"more#1: One {{q}}",
					"more#2: Two {{q}}",
				})
				got = nil
				for _, p := range s.Providers {
					got = append(got, fmt.Sprintf("%s %s %s:%d:%d", p.Config.Label, p.Config.Model, filepath.Base(p.Pos.File), p.Pos.Line, p.Pos.Col))
				}
				eqLines(t, "providers", got, []string{
					"openai:chat:gpt-4o-mini gpt-4o-mini providers.yaml:1:3",
					"haiku claude-3-5-haiku-latest providers.yaml:2:3",
				})
			},
		},
		{
			name: "pass_at_k and pass_hat_k are built-in rates a gate may use with confidence",
			files: map[string]string{"plumb.yaml": `prompts: x
providers: [echo]
tests: [{assert: [{type: contains, value: x, metric: tone}]}]
gates:
  - {metric: pass_at_k, min: 0.95, confidence: 0.9}
  - {metric: pass_hat_k, min: 0.8}
  - {metric: tone, min: 1}
`},
			check: func(t *testing.T, s *Suite) {
				var got []string
				for _, g := range s.Gates {
					got = append(got, fmt.Sprintf("%s min=%g confidence=%g", g.Metric, *g.Min, g.Confidence))
				}
				eqLines(t, "gates", got, []string{"pass_at_k min=0.95 confidence=0.9", "pass_hat_k min=0.8 confidence=0", "tone min=1 confidence=0"})
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, errText := load(t, tc.files, tc.env)
			if errText != "" {
				t.Fatalf("Load failed:\n%s", errText)
			}
			tc.check(t, s)
		})
	}
}

// TestTransformResponse checks the JSON paths transformResponse accepts and the dotted form the
// http provider receives: it must read back, through provider.ParseOutputPath, to the same steps.
func TestTransformResponse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"json.choices[0].message.content", "choices.0.message.content"},
		{"choices.0.message.content", "choices.0.message.content"},
		{"$.choices[0].message.content", "choices.0.message.content"},
		{"$.data[0].text", "data.0.text"},
		{"output", "output"},
		{".output", "output"},
		{`json["data"].items[2].text`, "data.items.2.text"},
		{`json['generated-text']`, "generated-text"},
		{`json["a.b"].c`, `["a.b"].c`},
		{`json["it's"]`, `["it's"]`},
		{`$["$ref"].x`, `["$ref"].x`},
		{"json", ""},
		{"$", ""},
		{"$.json.answer", "json.answer"},
		{" json.results[ 1 ].text ", "results.1.text"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s, errText := load(t, map[string]string{"plumb.yaml": fmt.Sprintf(
				"prompts: x\nproviders:\n  - id: https://api.example.com/run\n    config: {transformResponse: %q}\ntests: [{}]\n", tc.in)}, nil)
			if errText != "" {
				t.Fatalf("Load failed:\n%s", errText)
			}
			got := s.Providers[0].Config.OutputPath
			if got != tc.want {
				t.Errorf("OutputPath = %q, want %q", got, tc.want)
			}
			if _, err := provider.ParseOutputPath(got); err != nil {
				t.Errorf("the http provider cannot read %q: %v", got, err)
			}
		})
	}
}

// TestLoadHash checks// TestLoadHash checks that the suite hash covers the config and every file it reads, and
// nothing else.
func TestLoadHash(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hash := func() string {
		s, err := Load(filepath.Join(dir, "plumb.yaml"), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Hash
	}
	write("plumb.yaml", "prompts: file://p.txt\nproviders: [echo, {id: openai:chat:m, config: {response_format: file://rf.json}}]\ntests: file://t.csv\n")
	write("p.txt", "Say {{x}}")
	write("t.csv", "x\n1\n")
	write("rf.json", `{"type": "json_object"}`)
	write("other.txt", "unrelated")
	h1 := hash()
	if h1 != hash() {
		t.Fatal("the hash differs between two loads of the same files")
	}
	write("other.txt", "changed")
	if hash() != h1 {
		t.Error("a file the suite does not read changed the hash")
	}
	write("t.csv", "x\n2\n")
	h2 := hash()
	if h2 == h1 {
		t.Error("changing the tests file did not change the hash")
	}
	write("p.txt", "Say {{x}}!")
	h3 := hash()
	if h3 == h2 {
		t.Error("changing the prompt file did not change the hash")
	}
	write("rf.json", `{"type": "text"}`)
	if h4 := hash(); h4 == h3 {
		t.Error("changing a provider setting file did not change the hash")
	} else {
		h3 = h4
	}
	// The same files elsewhere (another checkout, another working directory) hash the same.
	moved := filepath.Join(t.TempDir(), "suite")
	if err := os.CopyFS(moved, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(filepath.Join(moved, "plumb.yaml"), LoadOptions{}); err != nil || s.Hash != h3 {
		t.Errorf("the same suite in another folder hashes differently (err %v)", err)
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct {
		word  string
		cands []string
		want  string
	}{
		{"contians", AssertionTypes, "contains"},
		{"icontain", AssertionTypes, "icontains"},
		{"llm-rubrik", AssertionTypes, "llm-rubric"},
		{"javascript", AssertionTypes, ""},
		{"promts", topKeys, "prompts"},
		{"Prompts", topKeys, "prompts"},
		{"defaulttest", topKeys, "defaultTest"},
		{"tset", []string{"test", "tests"}, "test"},
		{"xyz", topKeys, ""},
		{"id", []string{"ids"}, "ids"},
		{"ab", []string{"xy"}, ""},
		{"anything", nil, ""},
	} {
		if got := Suggest(tc.word, tc.cands); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}

func TestTemplateVars(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		errOff  int
		errText string
	}{
		{in: "no variables at all", want: nil},
		{in: "Hi {{name}}, {{ user.first_name }} from {{city}}", want: []string{"name", "user.first_name", "city"}},
		{in: `JSON {"a": {"b": 1}} is fine`, want: nil},
		{in: "a { b } c {", want: nil},
		{in: "x {{ name | upper }}", errOff: 2, errText: "{{ name | upper }}: filters/tags are not supported"},
		{in: "{% for x in xs %}{{x}}{% endfor %}", errOff: 0, errText: "{% for x in xs %}: filters/tags are not supported"},
		{in: "ok {# note #}", errOff: 3, errText: "{# note #}: filters/tags are not supported"},
		{in: "{{ a + b }}", errOff: 0, errText: "{{ a + b }}: only plain variables are supported"},
		{in: "{{ items[0] }}", errOff: 0, errText: "{{ items[0] }}: only plain variables are supported"},
		{in: "oops {{name", errOff: 5, errText: "unclosed {{ in the template"},
		{in: "{{ }}", errOff: 0, errText: "empty {{ }} in the template"},
	} {
		got, err := templateVars(tc.in)
		switch {
		case tc.errText != "":
			if err == nil || err.msg != tc.errText || err.off != tc.errOff {
				t.Errorf("templateVars(%q) error = %+v, want %q at %d", tc.in, err, tc.errText, tc.errOff)
			}
		case err != nil:
			t.Errorf("templateVars(%q) error = %+v", tc.in, err)
		case !slices.Equal(got, tc.want):
			t.Errorf("templateVars(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "python app.py", want: []string{"python", "app.py"}},
		{in: `  node "my app.js"  --name 'Ada Lovelace' `, want: []string{"node", "my app.js", "--name", "Ada Lovelace"}},
		{in: `echo "say \"hi\"" a\ b 'it''s'`, want: []string{"echo", `say "hi"`, "a b", "its"}},
		{in: `./run.sh $HOME *.txt`, want: []string{"./run.sh", "$HOME", "*.txt"}}, // no shell: nothing expands
		{in: `"" x`, want: []string{"", "x"}},
		{in: `python "app.py`, err: `unterminated " quote`},
		{in: `python 'app.py`, err: `unterminated ' quote`},
	} {
		got, err := splitCommand(tc.in)
		if err != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("splitCommand(%q) = %q, %q; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// FuzzLoad checks that no input makes Load panic, and that every failure is a list of
// positioned errors with a message and a hint.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	cases, _ := filepath.Glob("testdata/errors/*.txtar")
	seeds = append(seeds, cases...)
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: &x [*x, *x]\nb: *x\n"))
	f.Add([]byte("prompts: [\"{{\"]\nproviders: [{}]\ntests: [[], 1, null, {vars: {a: [[]]}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "plumb.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var s *Suite
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			s, err = Load(path, LoadOptions{Getenv: func(string) string { return "" }})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Load hangs on %q", data)
		}
		if err == nil {
			if s == nil || len(s.Prompts) == 0 || len(s.Providers) == 0 || len(s.Tests) == 0 {
				t.Fatalf("Load succeeded with an incomplete suite: %+v", s)
			}
			return
		}
		es, ok := err.(Errors)
		if !ok || len(es) == 0 {
			t.Fatalf("error %T %v is not a non-empty Errors", err, err)
		}
		for _, e := range es {
			if e.Pos.File == "" || e.Msg == "" || e.Hint == "" {
				t.Fatalf("incomplete error %q", e.Error())
			}
		}
	})
}

// TestPromptfooDefaults checks the parameters OpenAI chat providers send when a config sets
// none: promptfoo's (temperature 0, max_tokens 1024, neither for reasoning models) when the
// suite is read as promptfoo's, nothing when it is Plumb's own. Each line is a provider (or
// judge) with the temperature and max_tokens it sends; "-" is none.
func TestPromptfooDefaults(t *testing.T) {
	suite := `prompts: ["{{q}}"]
providers:
  - openai:gpt-4.1
  - openai:o4-mini
  - openai:chat:gpt-5-mini
  - openai:chat:openrouter/openai/o3
  - {id: openai:chat:gpt-4o, label: warm, config: {temperature: 0.7}}
  - {id: openai:chat:gpt-4o, label: short, config: {max_tokens: 200}}
  - {id: openai:chat:gpt-4o, label: omit, config: {omitDefaults: true}}
  - {id: openai:chat:gpt-4o, label: pass, config: {passthrough: {temperature: 1, max_completion_tokens: 50}}}
  - {type: openai, model: llama3:8b, label: plumb-form, base_url: "http://localhost:11434/v1"}
  - anthropic:messages:claude-3-5-haiku-latest
judge: openai:chat:gpt-4.1-mini
embedding: openai:embedding:text-embedding-3-small
defaultTest:
  options:
    provider: {text: {id: openai:gpt-4o-mini, label: grader}}
tests:
  - vars: {q: hi}
    assert:
      - {type: llm-rubric, value: polite, provider: {id: openai:gpt-4o, label: own-judge}}
`
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"promptfooconfig.yaml", []string{
			"openai:gpt-4.1 0 1024", "openai:o4-mini - -", "openai:chat:gpt-5-mini - -",
			"openai:chat:openrouter/openai/o3 - -", "warm 0.7 1024", "short 0 200", "omit - -",
			"pass - -", "plumb-form 0 1024", "anthropic:messages:claude-3-5-haiku-latest - -",
			"judge openai:chat:gpt-4.1-mini 0 1024", "embedding openai:embedding:text-embedding-3-small - -",
			"llm-rubric own-judge 0 1024",
			"defaultTest grader 0 1024",
		}},
		{"plumb.yaml", []string{
			"openai:gpt-4.1 - -", "openai:o4-mini - -", "openai:chat:gpt-5-mini - -",
			"openai:chat:openrouter/openai/o3 - -", "warm 0.7 -", "short - 200", "omit - -",
			"pass - -", "plumb-form - -", "anthropic:messages:claude-3-5-haiku-latest - -",
			"judge openai:chat:gpt-4.1-mini - -", "embedding openai:embedding:text-embedding-3-small - -",
			"llm-rubric own-judge - -",
			"defaultTest grader - -",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s, errText := load(t, map[string]string{tc.file: suite}, nil)
			if errText != "" {
				t.Fatalf("Load failed:\n%s", errText)
			}
			params := func(p *ProviderSpec) string {
				temp, maxTok := "-", "-"
				if x := p.Config.Params.Temperature; x != nil {
					temp = fmt.Sprint(*x)
				}
				if x := p.Config.Params.MaxTokens; x != nil {
					maxTok = fmt.Sprint(*x)
				}
				return p.Config.Label + " " + temp + " " + maxTok
			}
			var got []string
			for i := range s.Providers {
				got = append(got, params(&s.Providers[i]))
			}
			got = append(got, "judge "+params(s.Judge), "embedding "+params(s.Embedder))
			for _, a := range s.Tests[0].Assert {
				got = append(got, a.Base+" "+params(a.Provider))
			}
			// options.provider reaches assertions without their own; read it back from a
			// suite with one llm-rubric that has none.
			s2, errText := load(t, map[string]string{tc.file: strings.Replace(suite, ", provider: {id: openai:gpt-4o, label: own-judge}", "", 1)}, nil)
			if errText != "" {
				t.Fatalf("Load failed:\n%s", errText)
			}
			got = append(got, "defaultTest "+params(s2.Tests[0].Assert[0].Provider))
			eqLines(t, "temperature and max_tokens", got, tc.want)
			if tc.file == "promptfooconfig.yaml" {
				if x := s.Providers[7].Config.Params.Extra; x["temperature"] != 1 || x["max_completion_tokens"] != 50 {
					t.Errorf("passthrough = %v", x)
				}
			}
		})
	}
}

// TestPromptfooReasoningModel checks which models promptfoo 0.123.1 sends neither temperature
// nor max_tokens to (its OpenAiGenericProvider.isReasoningModel).
func TestPromptfooReasoningModel(t *testing.T) {
	for model, want := range map[string]bool{
		"o1": true, "o1-mini": true, "o3-mini": true, "o4-mini": true, "gpt-5": true, "gpt-5-nano": true,
		"openrouter/openai/o3": true, "azure/gpt-5-chat": true, "ft:o4-mini:org::abc": true,
		"gpt-daybreak-blue-latest": true, "gpt-6-astra": true, "gpt-6-astra-mini": true,
		"gpt-4.1": false, "gpt-4o-mini": false, "ft:gpt-4o-mini:org::abc": false, "llama3:8b": false,
		"omni-moderation": false, "claude-o1": false, "gpt-daybreak-green-latest": false,
	} {
		if got := promptfooReasoningModel(model); got != want {
			t.Errorf("promptfooReasoningModel(%q) = %v, want %v", model, got, want)
		}
	}
}

// TestSplitAssertionList checks the value lists of contains-any shorthands against promptfoo
// 0.123.1's parseCommaSeparatedAssertionValues.
func TestSplitAssertionList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{`a, b ,c`, []string{"a", "b", "c"}, ""},
		{`"Hello, world",xyz`, []string{"Hello, world", "xyz"}, ""},
		{` "a, b" , Paris,,`, []string{"a, b", "Paris"}, ""},
		{`"say \"hi\"", "it""s", "back\\slash"`, []string{`say "hi"`, `it"s`, `back\slash`}, ""},
		{`" padded "`, []string{" padded "}, ""},
		{`say "hi" there, x`, []string{`say "hi" there`, "x"}, ""},
		{``, nil, ""},
		{`"open, x`, nil, `unterminated " in the list of values`},
		{`"a" b, c`, nil, "a comma must follow a quoted item"},
	} {
		got, err := splitAssertionList(tc.in)
		if !slices.Equal(got, tc.want) || err != tc.err {
			t.Errorf("splitAssertionList(%q) = %q, %q; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestSplitMetadataList checks __metadata:KEY[] cells against promptfoo 0.123.1, which splits
// at commas not preceded by a backslash, trims, then turns \, into a comma.
func TestSplitMetadataList(t *testing.T) {
	for in, want := range map[string][]string{
		`a\,b,c`:                           {"a,b", "c"},
		`physics,advanced\,theory,quantum`: {"physics", "advanced,theory", "quantum"},
		` x , ,y `:                         {"x", "", "y"},
		`one`:                              {"one"},
		`trailing\,`:                       {"trailing,"},
	} {
		if got := splitMetadataList(in); !slices.Equal(got, want) {
			t.Errorf("splitMetadataList(%q) = %q, want %q", in, got, want)
		}
	}
}
