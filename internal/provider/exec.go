package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// stderrTail is how much of a failed program's stderr an error quotes.
const stderrTail = 1000

// execProvider runs a program per call: the request as JSON on stdin, the answer on stdout.
// It is not retried: a program that fails usually fails the same way again.
type execProvider struct {
	label   string
	command []string
	dir     string
	timeout time.Duration
	price   *Price
}

func newExec(cfg Config, _ Options) (*execProvider, error) {
	label := labelOf(&cfg)
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, fmt.Errorf("provider %s: an exec provider needs a command", label)
	}
	return &execProvider{label: label, command: cfg.Command, dir: cfg.Dir, timeout: policyOf(&cfg).timeout, price: priceOf(&cfg)}, nil
}

// Label is the provider's id in results.
func (p *execProvider) Label() string { return p.label }

// execInput is what the program reads on stdin.
type execInput struct {
	Prompt   string         `json:"prompt"`
	Messages []Message      `json:"messages"`
	Vars     map[string]any `json:"vars"`
}

// Call runs the program once, with no shell in between.
func (p *execProvider) Call(ctx context.Context, req *Request) (*Response, error) {
	in := execInput{Prompt: req.Prompt, Messages: req.Messages, Vars: req.Vars}
	if in.Messages == nil {
		in.Messages = []Message{}
	}
	if in.Vars == nil {
		in.Vars = map[string]any{}
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		return nil, &Error{Kind: KindClient, Provider: p.label, Msg: "cannot encode the vars as JSON: " + err.Error()}
	}
	actx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	cmd := exec.CommandContext(actx, p.command[0], p.command[1:]...)
	cmd.Dir = p.dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A child that keeps the pipes open after the program is killed must not hang the run.
	cmd.WaitDelay = time.Second
	began := time.Now()
	err = cmd.Run()
	lat := time.Since(began)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, p.runError(err, actx, stderr.String())
	}
	return p.parse(stdout.String(), lat), nil
}

func (p *execProvider) runError(err error, actx context.Context, stderr string) *Error {
	tail := strings.TrimSpace(stderr)
	if r := []rune(tail); len(r) > stderrTail {
		tail = "…" + string(r[len(r)-stderrTail:])
	}
	var msg string
	var exitErr *exec.ExitError
	switch {
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return &Error{Kind: KindTimeout, Provider: p.label, Msg: fmt.Sprintf("%s did not finish within %s and was stopped (raise the provider's timeout if it is slow)", p.command[0], p.timeout)}
	case errors.Is(err, exec.ErrNotFound):
		return &Error{Kind: KindClient, Provider: p.label, Msg: fmt.Sprintf("cannot run %s: not found (is it installed and on PATH?)", p.command[0])}
	case errors.As(err, &exitErr):
		msg = fmt.Sprintf("%s failed (%s)", p.command[0], exitErr.ProcessState)
	default:
		msg = fmt.Sprintf("cannot run %s: %s", p.command[0], innermost(err))
	}
	if tail != "" {
		msg += ": " + tail
	}
	return &Error{Kind: KindServer, Provider: p.label, Msg: scrub(msg, nil)}
}

// parse reads stdout: a JSON object with an "output" key (and optional tokens and cost), or
// else plain text, trimmed as promptfoo trims it.
func (p *execProvider) parse(stdout string, lat time.Duration) *Response {
	out := strings.TrimSpace(stdout)
	if strings.HasPrefix(out, "{") {
		var v struct {
			Output *json.RawMessage `json:"output"`
			Tokens json.RawMessage  `json:"tokens"`
			Cost   *float64         `json:"cost"`
		}
		if json.Unmarshal([]byte(out), &v) == nil && v.Output != nil {
			r := &Response{Output: rawText(*v.Output), Usage: tokensOf(v.Tokens), Latency: lat}
			if v.Cost != nil {
				r.Cost = *v.Cost
			} else if p.price != nil {
				r.Cost = Cost(*p.price, r.Usage)
			}
			return r
		}
	}
	return &Response{Output: out, Latency: lat}
}

// rawText is a JSON string's value, or any other JSON value as compact text.
func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// tokensOf reads "tokens" as a total count or as {prompt, completion, total} (promptfoo's
// tokenUsage names, or OpenAI's *_tokens names).
func tokensOf(raw json.RawMessage) Usage {
	if len(raw) == 0 {
		return Usage{}
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return Usage{TotalTokens: n}
	}
	var t struct {
		Prompt           int `json:"prompt"`
		Completion       int `json:"completion"`
		Total            int `json:"total"`
		Cached           int `json:"cached"`
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	if json.Unmarshal(raw, &t) != nil {
		return Usage{}
	}
	u := Usage{
		PromptTokens:     max(t.Prompt, t.PromptTokens),
		CompletionTokens: max(t.Completion, t.CompletionTokens),
		TotalTokens:      max(t.Total, t.TotalTokens),
		CachedTokens:     t.Cached,
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return u
}
