package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// load writes files into a fresh folder and loads the config among them (plumb.yaml, or
// promptfooconfig.yaml when present). It returns the suite, and the error text with the
// folder's path removed, as a user running Plumb inside that folder would read it.
func load(t *testing.T, files map[string]string, env map[string]string) (*Suite, string) {
	t.Helper()
	dir := t.TempDir()
	name := "plumb.yaml"
	for n, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(n, "promptfooconfig") {
			name = n
		}
	}
	s, err := Load(filepath.Join(dir, name), LoadOptions{Getenv: func(k string) string { return env[k] }})
	if err == nil {
		return s, ""
	}
	if s != nil {
		t.Errorf("Load returned both a suite and an error")
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Load error is %T, want config.Errors: %v", err, err)
	}
	return s, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
}

// okPrefix is a valid suite start for cases about one later section.
const okPrefix = `prompts: "Answer: {{question}}"
providers: [echo]
`

// TestLoadErrors checks the exact text of every error a user sees for bad configs: position,
// message and hint.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "several errors in one file, in file order",
			files: map[string]string{"plumb.yaml": `promts:
  - "Hi {{name}}"
prompts: "Hi {{name}}"
providers:
  - openai:chat:gpt-4o-mini
  - id: anthropic:messages:claude-3-5-haiku-latest
    config:
      temprature: 0
tests:
  - vars: {name: Bob}
    assert:
      - type: contians
        value: Bob
      - {type: equals, value: Hi Bob, weight: -1}
concurrency: zero
`},
			want: ``,
		},
		{
			name:  "unknown top-level key with a suggestion",
			files: map[string]string{"plumb.yaml": okPrefix + "tests: [{vars: {question: q}}]\ndefaulTest: {}\n"},
			want:  ``,
		},
		{
			name:  "a string where a list is expected",
			files: map[string]string{"plumb.yaml": okPrefix + "tests:\n  - vars: {question: q}\n    assert: contains\ngates: pass_rate\n"},
			want:  ``,
		},
		{
			name:  "missing tests file",
			files: map[string]string{"plumb.yaml": okPrefix + "tests: file://cases.csv\n"},
			want:  ``,
		},
		{
			name:  "tests glob matching nothing",
			files: map[string]string{"plumb.yaml": okPrefix + "tests:\n  - file://cases/*.yaml\n"},
			want:  ``,
		},
		{
			name:  "empty tests file",
			files: map[string]string{"plumb.yaml": okPrefix + "tests: file://cases.yaml\n", "cases.yaml": "# nothing yet\n"},
			want:  ``,
		},
		{
			name: "CSV without a column a prompt uses, reported once",
			files: map[string]string{
				"plumb.yaml": `prompts: "Translate to {{language}}: {{text}}"
providers: [echo]
tests: file://cases.csv
`,
				"cases.csv": "text,__expected\nhello,bonjour\nbye,au revoir\n",
			},
			want: ``,
		},
		{
			name: "undefined variable",
			files: map[string]string{"plumb.yaml": okPrefix + `tests:
  - description: typo
    vars: {questoin: What is 2+2?}
  - description: fine
    vars: {question: What is 3+3?}
`},
			want: ``,
		},
		{
			name: "inline API key refused, never echoed",
			files: map[string]string{"plumb.yaml": `prompts: "{{question}}"
providers:
  - id: openai:chat:gpt-4o-mini
    config:
      apiKey: sk-live-123456
  - id: anthropic:claude-3-5-haiku-latest
    api_key: sk-ant-987
  - id: https://api.example.com/chat
    config:
      headers:
        Authorization: Bearer sk-abc
tests: [{vars: {question: q}}]
`},
			want: ``,
		},
		{
			name: "gates: unknown metric, both min and max, confidence on a quantile, a percent",
			files: map[string]string{"plumb.yaml": okPrefix + `tests:
  - vars: {question: q}
    assert: [{type: contains, value: x, metric: tone}]
gates:
  - metric: pass_rat
    min: 0.9
  - metric: pass_rate
    min: 0.8
    max: 1
  - metric: latency_p95_ms
    max: 2000
    confidence: 0.95
  - metric: accuracy
    min: 90
  - metric: tones
    min: 0.5
`},
			want: ``,
		},
		{
			name: "JavaScript transformResponse refused",
			files: map[string]string{"plumb.yaml": `prompts: "{{question}}"
providers:
  - id: https://api.example.com/generate
    config:
      transformResponse: "(json, text) => json.output.trim()"
tests: [{vars: {question: q}}]
`},
			want: ``,
		},
		{
			name:  "promptfoo keys Plumb refuses",
			files: map[string]string{"promptfooconfig.yaml": okPrefix + "tests: [{vars: {question: q}}]\nscenarios:\n  - config: [{vars: {a: 1}}]\nenv:\n  OPENAI_API_KEY: sk-123\nevaluateOptions:\n  delay: 100\n"},
			want:  ``,
		},
		{
			name: "duplicate provider labels",
			files: map[string]string{"plumb.yaml": `prompts: "{{question}}"
providers:
  - id: openai:chat:gpt-4o-mini
    label: fast
  - id: openai:chat:gpt-4o
    label: fast
tests: [{vars: {question: q}}]
`},
			want: ``,
		},
		{
			name:  "YAML syntax error",
			files: map[string]string{"plumb.yaml": "prompts: [\"a\",\nproviders: [echo]\n"},
			want:  ``,
		},
		{
			name:  "duplicate key",
			files: map[string]string{"plumb.yaml": okPrefix + "tests: [{vars: {question: q}}]\nrepeat: 2\nrepeat: 3\n"},
			want:  ``,
		},
		{
			name:  "empty config",
			files: map[string]string{"plumb.yaml": "# todo\n"},
			want:  ``,
		},
		{
			name:  "nothing to run",
			files: map[string]string{"plumb.yaml": "description: nothing\n"},
			want:  ``,
		},
		{
			name: "unknown and unsupported provider ids",
			files: map[string]string{"plumb.yaml": `prompts: "{{question}}"
providers:
  - ollama:chat:llama3
  - openai:completion:gpt-3.5-turbo-instruct
  - exec:python "app.py
  - file://provider.js
tests: [{vars: {question: q}}]
`},
			want: ``,
		},
		{
			name: "Nunjucks filters and tags, at their position in a prompt file",
			files: map[string]string{
				"plumb.yaml": `prompts:
  - file://prompt.txt
  - "Hi {% if name %}{{name}}{% endif %}"
providers: [echo]
tests: [{vars: {name: Bob, question: q}}]
`,
				"prompt.txt": "You are helpful.\nQuestion: {{ question | trim }}\n",
			},
			want: ``,
		},
		{
			name: "judge and embedding providers are never defaulted",
			files: map[string]string{"plumb.yaml": okPrefix + `tests:
  - vars: {question: q}
    assert:
      - type: llm-rubric
        value: is polite
      - type: similar
        value: hello
      - type: context-faithfulness
`},
			want: ``,
		},
		{
			name: "unsupported assertion types and assertion keys",
			files: map[string]string{"plumb.yaml": okPrefix + `tests:
  - vars: {question: q}
    assert:
      - type: python
        value: file://check.py
      - type: not-is-xml
      - type: contains
        vaule: x
      - type: equals
        value: x
        provider: openai:chat:gpt-4o-mini
`},
			want: ``,
		},
		{
			name: "bad lines in JSONL and CSV tests files",
			files: map[string]string{
				"plumb.yaml": okPrefix + "tests:\n  - file://a.jsonl\n  - file://b.csv\n",
				"a.jsonl":    "{\"vars\": {\"question\": \"q\"}}\n{\"vars\": {\"question\": \"q\"},}\n[1, 2]\n",
				"b.csv":      "question,__expected,__prefix\nq,contains: x,>\n",
			},
			want: ``,
		},
		{
			name: "CSV row with a missing cell and a JavaScript assertion",
			files: map[string]string{
				"plumb.yaml": okPrefix + "tests: file://b.csv\n",
				"b.csv":      "question,__expected\nq1,\"javascript: output.length > 1\"\nq2\n",
			},
			want: ``,
		},
		{
			name: "test and options keys",
			files: map[string]string{"plumb.yaml": okPrefix + `defaultTest:
  description: shared
tests:
  - vars: {question: q}
    asert: []
    options:
      transform: output.trim()
    provider: openai:chat:gpt-4o
`},
			want: ``,
		},
		{
			name: "chat prompts: unknown role, image content",
			files: map[string]string{
				"plumb.yaml": okPrefix + "  - file://chat.yaml\ntests: [{vars: {question: q}}]\n",
				"chat.yaml":  "- role: sytem\n  content: Be brief.\n- role: user\n  content: [{type: image_url}]\n",
			},
			want: ``,
		},
		{
			name: "embedding must be an embedding model, targets must not be",
			files: map[string]string{"plumb.yaml": `prompts: "{{question}}"
providers: [openai:embedding:text-embedding-3-small]
embedding: openai:chat:gpt-4o-mini
judge: {type: anthropic}
tests: [{vars: {question: q}}]
`},
			want: ``,
		},
		{
			name: "env reference to an unset variable",
			files: map[string]string{"plumb.yaml": `prompts: "{{question}}"
providers:
  - id: openai:chat:llama3
    config:
      apiBaseUrl: "{{env.LLM_BASE_URL}}"
tests: [{vars: {question: q}}]
`},
			want: ``,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := load(t, tc.files, nil)
			if got != tc.want {
				t.Errorf("errors:\n%s\n\nwant:\n%s", got, tc.want)
			}
		})
	}
}
