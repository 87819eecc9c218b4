// Command scripted is a small OpenAI-compatible server that plays both the Lumen support
// assistant and its judge from examples/support/answers.yaml, so that the example suite's
// cassette can be recorded with `plumb eval --record` where no LLM vendor can be reached.
//
// Everything it says was written by hand for the demo: it is not a model. For an assistant
// call it finds the test question in the last user message and replies with the example
// answer; for a judge call (recognised by the judge prompts that ship with Plumb, read from
// --judge-prompts) it finds the answer being graded and replies with the recorded verdict.
// Anything else gets HTTP 400 saying why, so a changed suite fails loudly instead of being
// recorded with a wrong answer.
//
// Replies take a realistic, deterministic time (a few hundred milliseconds, longer for long
// answers) and carry plausible token usage, so the recorded latencies and costs look like a
// real run.
//
// Usage, from the repository root:
//
//	go run ./examples/support/scripted
//	OPENAI_BASE_URL=http://127.0.0.1:8089/v1 OPENAI_API_KEY=unused \
//	    plumb eval -c examples/support/plumb.yaml --record
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "listen address")
	answers := flag.String("answers", "examples/support/answers.yaml", "the example answers and judge verdicts to serve")
	prompts := flag.String("judge-prompts", "internal/assert/prompts", "folder of Plumb's judge prompts (TYPE.txt), to recognise judge calls")
	fast := flag.Bool("no-delay", false, "answer at once instead of taking a realistic time")
	flag.Parse()

	book, err := loadBook(*answers)
	if err != nil {
		log.Fatalf("scripted: %v", err)
	}
	judges, err := loadJudgePrompts(*prompts)
	if err != nil {
		log.Fatalf("scripted: %v", err)
	}
	s := &server{book: book, judges: judges, delay: !*fast, logf: log.Printf}

	srv := &http.Server{Addr: *addr, Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
		<-stop
		_ = srv.Close()
	}()
	log.Printf("scripted: serving %d example answers (judge prompts: %s) on http://%s/v1", len(book.byQuestion), strings.Join(judgeNames(judges), ", "), *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("scripted: %v", err)
	}
}

// entry is one test case's example answer and the verdicts its judge gives.
type entry struct {
	Question string       `yaml:"question"`
	Answer   string       `yaml:"answer"`
	Verdicts []judgedNote `yaml:"verdicts"`
}

// judgedNote is the verdict for one model-graded assertion of a case.
type judgedNote struct {
	Type string `yaml:"type"`
	// Rubric is a snippet of the llm-rubric it answers, needed only when a case has several.
	Rubric  string  `yaml:"rubric"`
	Verdict verdict `yaml:"verdict"`
}

// verdict is the judge's JSON answer, in the field order the judge prompts ask for.
type verdict struct {
	Claims []claim `yaml:"claims" json:"claims,omitempty"`
	Reason string  `yaml:"reason" json:"reason"`
	Score  float64 `yaml:"score" json:"score"`
	Pass   bool    `yaml:"pass" json:"pass"`
}

type claim struct {
	Claim     string `yaml:"claim" json:"claim"`
	Supported bool   `yaml:"supported" json:"supported"`
}

// book is answers.yaml, indexed.
type book struct {
	entries    []*entry
	byQuestion map[string]*entry
	byAnswer   map[string]*entry
}

// judgeTypes are the model-graded assertion types the book may hold verdicts for.
var judgeTypes = map[string]bool{
	"llm-rubric": true, "context-faithfulness": true, "factuality": true,
	"answer-relevance": true, "is-refusal": true,
}

func loadBook(path string) (*book, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read answers: %w (run from the repository root, or pass --answers)", err)
	}
	var f struct {
		Answers []*entry `yaml:"answers"`
	}
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return indexBook(path, f.Answers)
}

func indexBook(path string, entries []*entry) (*book, error) {
	b := &book{entries: entries, byQuestion: map[string]*entry{}, byAnswer: map[string]*entry{}}
	var problems []string
	for i, e := range entries {
		e.Question = strings.TrimSpace(e.Question)
		e.Answer = strings.TrimSpace(e.Answer)
		switch {
		case e.Question == "":
			problems = append(problems, fmt.Sprintf("entry %d has no question", i+1))
			continue
		case e.Answer == "":
			problems = append(problems, fmt.Sprintf("%q has no answer", e.Question))
			continue
		}
		if _, dup := b.byQuestion[e.Question]; dup {
			problems = append(problems, fmt.Sprintf("%q appears twice", e.Question))
		}
		if _, dup := b.byAnswer[e.Answer]; dup {
			problems = append(problems, fmt.Sprintf("the answer to %q is also another question's answer; judge calls could not tell them apart", e.Question))
		}
		b.byQuestion[e.Question] = e
		b.byAnswer[e.Answer] = e
		for _, v := range e.Verdicts {
			if !judgeTypes[v.Type] {
				problems = append(problems, fmt.Sprintf("%q has a verdict for unknown type %q", e.Question, v.Type))
			}
			if v.Verdict.Score < 0 || v.Verdict.Score > 1 {
				problems = append(problems, fmt.Sprintf("%q has a %s score outside 0..1", e.Question, v.Type))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s:\n  %s", path, strings.Join(problems, "\n  "))
	}
	return b, nil
}

// judgePrompt recognises one of Plumb's judge prompts by its fixed opening: the template's
// text before its first {{placeholder}}.
type judgePrompt struct {
	typ    string
	prefix string
}

func loadJudgePrompts(dir string) ([]judgePrompt, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no judge prompts (*.txt) in %s: run from the repository root, or pass --judge-prompts", dir)
	}
	var out []judgePrompt
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		text := string(data)
		if i := strings.Index(text, "{{"); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			return nil, fmt.Errorf("judge prompt %s starts with a placeholder, so it cannot be recognised", f)
		}
		out = append(out, judgePrompt{typ: strings.TrimSuffix(filepath.Base(f), ".txt"), prefix: text})
	}
	// The longest opening first, in case one prompt's opening starts another's.
	sort.Slice(out, func(i, j int) bool { return len(out[i].prefix) > len(out[j].prefix) })
	return out, nil
}

func judgeNames(js []judgePrompt) []string {
	names := make([]string, len(js))
	for i, j := range js {
		names[i] = j.typ
	}
	sort.Strings(names)
	return names
}

// server answers OpenAI-compatible chat completions from the book.
type server struct {
	book   *book
	judges []judgePrompt
	delay  bool // sleep for the reply's simulated latency
	logf   func(format string, args ...any)
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, fmt.Sprintf("this scripted server only answers POST /v1/chat/completions, not %s %s", r.Method, r.URL.Path))
	})
	return mux
}

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream bool `json:"stream"`
}

func (s *server) chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		fail(w, http.StatusBadRequest, "cannot read the request body: "+err.Error())
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		fail(w, http.StatusBadRequest, "the request body is not chat-completions JSON: "+err.Error())
		return
	}
	if req.Stream {
		fail(w, http.StatusBadRequest, "this scripted server does not stream: remove `stream: true` from the provider")
		return
	}
	last := ""
	var all strings.Builder
	for _, m := range req.Messages {
		all.WriteString(m.Content)
		all.WriteByte('\n')
		if m.Role == "user" {
			last = m.Content
		}
	}
	if last == "" {
		fail(w, http.StatusBadRequest, "the request has no user message")
		return
	}
	reply, kind, key, err := s.reply(last)
	if err != nil {
		s.logf("400 %s", err)
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	usage := map[string]int{
		"prompt_tokens":     tokens(all.String()) + 4*len(req.Messages),
		"completion_tokens": tokens(reply),
	}
	usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
	wait := latency(kind, key, usage["completion_tokens"])
	if s.delay {
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
	}
	s.logf("%-22s %5dms  %s", kind, wait.Milliseconds(), shorten(key, 70))
	model := req.Model
	if model == "" {
		model = "scripted"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      fmt.Sprintf("chatcmpl-scripted-%x", hash(kind+"\x00"+key)),
		"object":  "chat.completion",
		"created": 1767225600, // fixed, so recordings do not change from run to run
		"model":   model,
		"choices": []map[string]any{{
			"index":         0,
			"message":       map[string]string{"role": "assistant", "content": reply},
			"finish_reason": "stop",
		}},
		"usage":              usage,
		"system_fingerprint": "scripted-demo",
	})
}

// reply decides what to say to one request: a verdict when the message is one of Plumb's
// judge prompts, else the example answer to the question it contains. kind names the call
// ("assistant" or "judge TYPE") and key what it was about, for the log and the latency.
func (s *server) reply(msg string) (reply, kind, key string, err error) {
	for _, j := range s.judges {
		if strings.HasPrefix(strings.TrimSpace(msg), j.prefix) {
			v, e, err := s.verdictFor(j.typ, msg)
			if err != nil {
				return "", "", "", err
			}
			data, _ := json.Marshal(v)
			return string(data), "judge " + j.typ, e.Question, nil
		}
	}
	e := s.questionIn(msg)
	if e == nil {
		return "", "", "", fmt.Errorf("no example answer for this request: its last user message contains none of the %d questions in the answers file, and it is not one of Plumb's judge prompts (message starts %q)", len(s.book.entries), shorten(msg, 80))
	}
	return e.Answer, "assistant", e.Question, nil
}

// questionIn finds the test question quoted in an assistant prompt; the longest one wins, so
// that a question that is part of another does not shadow it.
func (s *server) questionIn(msg string) *entry {
	var best *entry
	for _, e := range s.book.entries {
		if strings.Contains(msg, e.Question) && (best == nil || len(e.Question) > len(best.Question)) {
			best = e
		}
	}
	return best
}

// verdictFor finds the answer a judge prompt grades and the recorded verdict for it.
func (s *server) verdictFor(typ, msg string) (verdict, *entry, error) {
	out, ok := fenced(msg, "output")
	if !ok {
		return verdict{}, nil, fmt.Errorf("judge %s: the prompt has no fenced output to grade", typ)
	}
	e := s.book.byAnswer[strings.TrimSpace(out)]
	if e == nil {
		return verdict{}, nil, fmt.Errorf("judge %s: the graded output is none of the example answers (it starts %q)", typ, shorten(out, 80))
	}
	var found []judgedNote
	for _, v := range e.Verdicts {
		if v.Type == typ {
			found = append(found, v)
		}
	}
	if len(found) > 1 {
		// Several rubrics for one answer: pick the one whose snippet the prompt quotes.
		var match []judgedNote
		for _, v := range found {
			if v.Rubric != "" && strings.Contains(msg, v.Rubric) {
				match = append(match, v)
			}
		}
		found = match
	}
	switch len(found) {
	case 1:
		return found[0].Verdict, e, nil
	case 0:
		return verdict{}, nil, fmt.Errorf("judge %s: no recorded %s verdict for the answer to %q", typ, typ, e.Question)
	}
	return verdict{}, nil, fmt.Errorf("judge %s: several %s verdicts for the answer to %q match; give each a distinct `rubric` snippet", typ, typ, e.Question)
}

// fenced returns the text of the code fence labelled label, as Plumb writes untrusted text
// into judge prompts: a line of three or more backticks followed by the label, the text, and
// the same backticks on a line of their own.
func fenced(msg, label string) (string, bool) {
	for i := 0; i < len(msg); {
		j := strings.Index(msg[i:], "```")
		if j < 0 {
			return "", false
		}
		start := i + j
		n := start
		for n < len(msg) && msg[n] == '`' {
			n++
		}
		fence := msg[start:n]
		if (start == 0 || msg[start-1] == '\n') && strings.HasPrefix(msg[n:], label+"\n") {
			body := n + len(label) + 1
			if end := strings.Index(msg[body:], "\n"+fence+"\n"); end >= 0 {
				return msg[body : body+end], true
			}
			if strings.HasSuffix(msg, "\n"+fence) {
				return msg[body : len(msg)-len(fence)-1], true
			}
		}
		i = n
	}
	return "", false
}

func (s *server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data":   []map[string]any{{"id": "gpt-4o-mini", "object": "model", "owned_by": "scripted-demo"}},
	})
}

// tokens estimates a token count the way people do for English: about four characters each.
func tokens(s string) int {
	return (utf8.RuneCountInString(s) + 3) / 4
}

// latency is how long a reply takes: a fixed part, a part per generated token, and a jitter
// that depends only on what was asked, so that re-recording gives the same spread.
func latency(kind, key string, completion int) time.Duration {
	h := hash(kind + "\x00" + key)
	if kind == "assistant" {
		return time.Duration(280+4*completion+int(h%220)) * time.Millisecond
	}
	// Judges answer with a short JSON verdict.
	return time.Duration(150+2*completion+int(h%180)) * time.Millisecond
}

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// fail answers with an error in OpenAI's shape, so that clients show the message.
func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": "scripted server: " + msg, "type": "invalid_request_error", "code": nil,
	}})
}
