// Command agent-approval is a small agent loop that runs behind Plumb's gateway with a
// tool policy: the model proposes a payment, the gateway holds it for approval, and the
// agent executes the payment only after a person approved it, and only with the
// arguments whose SHA-256 the approval names. See docs/approvals.md.
//
//	GATEWAY_URL=http://127.0.0.1:4000 GATEWAY_KEY=... PLUMB_URL=http://127.0.0.1:8080 \
//	PLUMB_API_KEY=plk_... go run ./examples/agent-approval "pay invoice 42 to acme"
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/plumbhq/plumb/client"
)

func main() {
	task := "pay invoice 42 to acme"
	if len(os.Args) > 1 {
		task = os.Args[1]
	}
	pc, err := client.New(os.Getenv("PLUMB_URL"), client.WithAPIKey(os.Getenv("PLUMB_API_KEY")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	a := &Agent{GatewayURL: os.Getenv("GATEWAY_URL"), GatewayKey: os.Getenv("GATEWAY_KEY"), Model: envOr("MODEL", "agent"),
		Plumb: pc, Project: envOr("PLUMB_PROJECT", "p_default"), Poll: 2 * time.Second, Log: os.Stdout,
		Tools: map[string]Tool{"make_payment": pay}}
	answer, err := a.Run(context.Background(), task)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
	fmt.Println("answer:", answer)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// pay is the irreversible tool: here it only prints what it would do.
func pay(args map[string]any) (string, error) {
	return fmt.Sprintf("paid %v to %v", args["amount"], args["to"]), nil
}

// Tool runs a tool call with its arguments and returns its result.
type Tool func(args map[string]any) (string, error)

// Agent is the loop: ask the model, run the calls it may run, wait for held ones.
type Agent struct {
	GatewayURL, GatewayKey, Model string
	Plumb                         *client.Client
	Project                       string
	Poll                          time.Duration // between polls of a held call
	Log                           io.Writer
	Tools                         map[string]Tool
	HTTP                          *http.Client
}

type message struct {
	Role       string     `json:"role"`
	Content    *string    `json:"content"`
	ToolCalls  []toolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// held is an entry of the gateway's plumb_approvals.
type held struct {
	ApprovalID int64  `json:"approval_id"`
	CallID     string `json:"call_id"`
	Tool       string `json:"tool"`
	Arguments  string `json:"arguments"`
	ArgsHash   string `json:"arguments_hash"`
	Reason     string `json:"reason"`
}

type chatResponse struct {
	Choices []struct {
		Message      message `json:"message"`
		FinishReason string  `json:"finish_reason"`
	} `json:"choices"`
	Approvals []held `json:"plumb_approvals"`
}

var toolsSpec = []map[string]any{{"type": "function", "function": map[string]any{"name": "make_payment",
	"description": "Pay an amount to a supplier", "parameters": map[string]any{"type": "object",
		"properties": map[string]any{"amount": map[string]any{"type": "number"}, "to": map[string]any{"type": "string"}}}}}}

func str(s string) *string { return &s }

// Run runs the loop for a task and returns the model's final answer.
func (a *Agent) Run(ctx context.Context, task string) (string, error) {
	msgs := []message{{Role: "user", Content: str(task)}}
	for turn := 0; turn < 8; turn++ {
		resp, err := a.chat(ctx, msgs)
		if err != nil {
			return "", err
		}
		if len(resp.Choices) == 0 {
			return "", errors.New("the gateway's answer has no choices")
		}
		m := resp.Choices[0].Message
		// Calls the policy allowed arrive as tool_calls; run them now.
		var results []message
		for _, tc := range m.ToolCalls {
			out, err := a.run(tc.Function.Name, tc.Function.Arguments)
			if err != nil {
				out = "error: " + err.Error()
			}
			results = append(results, message{Role: "tool", ToolCallID: tc.ID, Content: str(out)})
		}
		// Held calls are listed in plumb_approvals: wait for each decision.
		for _, h := range resp.Approvals {
			fmt.Fprintf(a.Log, "held: %s %s (approval #%d: %s)\n", h.Tool, h.Arguments, h.ApprovalID, h.Reason)
			out, err := a.await(ctx, h)
			if err != nil {
				return "", err
			}
			m.ToolCalls = append(m.ToolCalls, toolCall{ID: h.CallID, Type: "function"})
			last := &m.ToolCalls[len(m.ToolCalls)-1]
			last.Function.Name, last.Function.Arguments = h.Tool, out.args
			results = append(results, message{Role: "tool", ToolCallID: h.CallID, Content: str(out.result)})
		}
		if len(results) == 0 {
			if m.Content == nil {
				return "", nil
			}
			return *m.Content, nil
		}
		if len(m.ToolCalls) > 0 {
			m.Content = nil
		}
		msgs = append(msgs, m)
		msgs = append(msgs, results...)
	}
	return "", errors.New("no final answer after 8 turns")
}

type executed struct{ args, result string }

// await polls a held call until it is decided. Approved: it runs the call with the
// approved arguments, after checking that their SHA-256 is the approved hash, and
// reports the outcome. Rejected or expired: the tool's result says so and nothing runs.
func (a *Agent) await(ctx context.Context, h held) (executed, error) {
	if sha(h.Arguments) != h.ArgsHash {
		return executed{}, fmt.Errorf("approval #%d: the held arguments do not match their hash: refusing", h.ApprovalID)
	}
	for {
		p, err := a.Plumb.PollApproval(ctx, a.Project, h.ApprovalID, h.CallID, h.ArgsHash)
		if err != nil {
			return executed{}, fmt.Errorf("poll approval #%d: %w", h.ApprovalID, err)
		}
		switch {
		case p.Execute:
			if sha(p.Arguments) != p.ArgumentsHash {
				return executed{}, fmt.Errorf("approval #%d: the approved arguments do not match the approved hash: refusing", h.ApprovalID)
			}
			if p.Decision == "edit" {
				fmt.Fprintf(a.Log, "approval #%d: approved with edited arguments %s (%s)\n", h.ApprovalID, p.Arguments, p.Reason)
			} else {
				fmt.Fprintf(a.Log, "approval #%d: approved\n", h.ApprovalID)
			}
			result, runErr := a.run(h.Tool, p.Arguments)
			outcome, detail := "executed", result
			if runErr != nil {
				outcome, detail, result = "failed", runErr.Error(), "error: "+runErr.Error()
			}
			if _, err := a.Plumb.ReportApprovalOutcome(ctx, a.Project, h.ApprovalID, h.CallID, p.ArgumentsHash, outcome, detail); err != nil {
				return executed{}, fmt.Errorf("report the outcome of approval #%d: %w", h.ApprovalID, err)
			}
			return executed{args: p.Arguments, result: result}, nil
		case p.Status == "rejected", p.Status == "expired":
			fmt.Fprintf(a.Log, "approval #%d: %s %s\n", h.ApprovalID, p.Status, p.Reason)
			return executed{args: h.Arguments, result: fmt.Sprintf("not executed: a person %s this call (%s)", map[string]string{"rejected": "rejected", "expired": "did not approve in time"}[p.Status], p.Reason)}, nil
		case p.Status != "pending":
			return executed{args: h.Arguments, result: "not executed: approval is " + p.Status}, nil
		}
		select {
		case <-ctx.Done():
			return executed{}, ctx.Err()
		case <-time.After(a.Poll):
		}
	}
}

func (a *Agent) run(tool, arguments string) (string, error) {
	t, ok := a.Tools[tool]
	if !ok {
		return "", fmt.Errorf("unknown tool %q", tool)
	}
	var args map[string]any
	if err := json.Unmarshal([]byte(arguments), &args); err != nil {
		return "", fmt.Errorf("malformed arguments: %v", err)
	}
	return t(args)
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (a *Agent) chat(ctx context.Context, msgs []message) (chatResponse, error) {
	body, _ := json.Marshal(map[string]any{"model": a.Model, "messages": msgs, "tools": toolsSpec})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.GatewayURL+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return chatResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.GatewayKey)
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return chatResponse{}, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return chatResponse{}, fmt.Errorf("gateway: %d %s", res.StatusCode, bytes.TrimSpace(data))
	}
	var out chatResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return chatResponse{}, fmt.Errorf("gateway answer: %w", err)
	}
	return out, nil
}
