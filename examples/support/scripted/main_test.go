package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// The suite's files, relative to this package.
var (
	answersFile = filepath.Join("..", "answers.yaml")
	testsFile   = filepath.Join("..", "tests.yaml")
	promptsDir  = filepath.Join("..", "..", "..", "internal", "assert", "prompts")
)

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	b, err := loadBook(answersFile)
	if err != nil {
		t.Fatal(err)
	}
	js, err := loadJudgePrompts(promptsDir)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{book: b, judges: js, logf: func(string, ...any) {}}
	ts := httptest.NewServer(s.routes())
	t.Cleanup(ts.Close)
	return ts
}

// ask sends one user message and returns the status and the reply or error message.
func ask(t *testing.T, ts *httptest.Server, msg string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"model":    "gpt-4o-mini",
		"messages": []map[string]string{{"role": "system", "content": "policy"}, {"role": "user", "content": msg}},
	})
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
		Error struct{ Message string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, out.Error.Message
	}
	if out.Usage.PromptTokens == 0 || out.Usage.CompletionTokens == 0 {
		t.Errorf("reply to %q has no token usage", shorten(msg, 40))
	}
	return resp.StatusCode, out.Choices[0].Message.Content
}

type suiteTest struct {
	Description string
	Vars        map[string]string
	Assert      []map[string]any
}

func loadSuiteTests(t *testing.T) []suiteTest {
	t.Helper()
	data, err := os.ReadFile(testsFile)
	if err != nil {
		t.Fatal(err)
	}
	var tests []suiteTest
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatal(err)
	}
	if len(tests) < 55 {
		t.Fatalf("tests.yaml has %d cases; the example promises at least 55", len(tests))
	}
	return tests
}

// judgeMessage renders a shipped judge prompt the way Plumb does: untrusted text fenced.
func judgeMessage(t *testing.T, typ string, vars map[string]string, rubric, output string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(promptsDir, typ+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(
		"{{output}}", "```output\n"+output+"\n```",
		"{{context}}", "```context\n"+vars["context"]+"\n```",
		"{{question}}", "```question\n"+vars["question"]+"\n```",
		"{{rubric}}", rubric,
	).Replace(string(data))
}

// TestEveryCaseIsAnswered checks that recording the suite would find an answer for every
// test and a verdict for every model-graded assertion, and that the verdicts that fail are
// exactly the demo's deliberate mistakes.
func TestEveryCaseIsAnswered(t *testing.T) {
	ts := newTestServer(t)
	var failing []string
	for _, tc := range loadSuiteTests(t) {
		q := tc.Vars["question"]
		msg := "Customer plan: " + tc.Vars["plan"] + "\n\nHelp-centre context:\n" + tc.Vars["context"] + "\n\nCustomer message:\n" + q
		status, answer := ask(t, ts, msg)
		if status != http.StatusOK {
			t.Errorf("%s: status %d: %s", tc.Description, status, answer)
			continue
		}
		for _, a := range tc.Assert {
			typ, _ := a["type"].(string)
			rubric, _ := a["value"].(string)
			if cfg, ok := a["config"].(map[string]any); typ == "is-refusal" && (!ok || cfg["judge"] != true) {
				continue // graded by heuristics, no judge call
			}
			if !judgeTypes[typ] {
				continue
			}
			status, reply := ask(t, ts, judgeMessage(t, typ, tc.Vars, rubric, answer))
			if status != http.StatusOK {
				t.Errorf("%s: judge %s: status %d: %s", tc.Description, typ, status, reply)
				continue
			}
			var v verdict
			if err := json.Unmarshal([]byte(reply), &v); err != nil {
				t.Errorf("%s: judge %s replied %q: %v", tc.Description, typ, reply, err)
				continue
			}
			if v.Reason == "" {
				t.Errorf("%s: judge %s gives no reason", tc.Description, typ)
			}
			if typ == "context-faithfulness" && len(v.Claims) == 0 {
				t.Errorf("%s: the faithfulness verdict lists no claims", tc.Description)
			}
			if !v.Pass {
				failing = append(failing, tc.Description+" / "+typ)
			}
		}
	}
	sort.Strings(failing)
	want := []string{
		"billing: annual refund after 14 days must be escalated / llm-rubric",
		"how-to: CSV import (French) / llm-rubric",
		"how-to: import from Jira (not a supported source) / context-faithfulness",
	}
	if strings.Join(failing, "\n") != strings.Join(want, "\n") {
		t.Errorf("failing verdicts:\n%s\nwant:\n%s", strings.Join(failing, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnknownRequestsAreRefused(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name string
		msg  string
		want string
	}{
		{"question not in the answers", "Customer message:\nHow do I bake bread?", "no example answer for this request"},
		{"judge grading an unknown answer", judgeMessage(t, "llm-rubric", nil, "Is polite.", "Some answer nobody wrote."), "none of the example answers"},
		{"judge without a fenced output", strings.Replace(judgeMessage(t, "llm-rubric", nil, "Is polite.", "x"), "```output\nx\n```", "x", 1), "no fenced output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := ask(t, ts, tt.msg)
			if status != http.StatusBadRequest || !strings.Contains(msg, tt.want) {
				t.Errorf("got %d %q, want 400 with %q", status, msg, tt.want)
			}
		})
	}
}

func TestFenced(t *testing.T) {
	tests := []struct {
		name, msg, want string
		ok              bool
	}{
		{"plain", "Answer:\n```output\nhello\n```\n\nmore", "hello", true},
		{"at the end", "```output\nhello\nworld\n```", "hello\nworld", true},
		{"longer fence around backticks", "x\n````output\nuse ```code```\n````\n", "use ```code```", true},
		{"other label first", "```context\nctx\n```\n```output\nout\n```\n", "out", true},
		{"no fence", "nothing here", "", false},
		{"unclosed", "```output\nhello", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := fenced(tt.msg, "output")
			if got != tt.want || ok != tt.ok {
				t.Errorf("fenced = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLatencyIsDeterministicAndRealistic(t *testing.T) {
	short := latency("assistant", "How do I reset my password?", 60)
	long := latency("assistant", "What's the minimum number of seats for Enterprise?", 300)
	if short != latency("assistant", "How do I reset my password?", 60) {
		t.Error("the same question got two latencies")
	}
	if short.Milliseconds() < 300 || short.Milliseconds() > 900 {
		t.Errorf("a short answer takes %v, want 300–900 ms", short)
	}
	if long <= short || long.Milliseconds() > 2000 {
		t.Errorf("a long answer takes %v (short %v), want longer but under 2 s", long, short)
	}
}
