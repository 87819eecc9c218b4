package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/guard/policy"
	"github.com/plumbhq/plumb/internal/store"
)

const argsPolicies = `policies:
  strict:
    output:
      - detector: secrets
        action: review
      - detector: pii
        options: {types: [credit_card, email]}
        action: redact
      - detector: length
        options: {max_chars: 500}
        action: block
keys:`

// The answers of the tool argument tests' upstream.
var argsRules = []fakellm.Rule{
	{Match: "clean", Reply: "Looking.", ToolCalls: []fakellm.ToolCall{{Name: "search_orders", Arguments: `{"q": "blue shoes", "limit": 5}`}}},
	{Match: "leak", Reply: "Sending.", ToolCalls: []fakellm.ToolCall{
		{Name: "send_email", Arguments: `{"to": "bob@example.com", "body": "card 4111 1111 1111 1111, thanks"}`},
		{Name: "search_orders", Arguments: `{"q": "x"}`}}},
	{Match: "secret", ToolCalls: []fakellm.ToolCall{{Name: "send_email", Arguments: `{"to": "ops", "body": "key sk-proj-abcdefghijklmnopqrstuvwxyz0123"}`}}},
}

// gotCall is a tool call as a client reads it: its name and its arguments (chat) or input
// (messages) as JSON text.
type gotCall struct{ name, args string }

// answerCalls reads the tool calls of an answer in the client's shape (chat or messages,
// plain or streamed), and its error message.
func answerCalls(t *testing.T, messages, stream bool, body string) ([]gotCall, string) {
	t.Helper()
	var calls []gotCall
	switch {
	case messages && stream:
		s := readMsgStream(t, body)
		for _, c := range s.tools {
			calls = append(calls, gotCall{c[0], c[1]})
		}
		return calls, s.errMsg
	case messages:
		var m struct {
			Content []struct {
				Type, Name string
				Input      json.RawMessage
			}
			Error struct{ Message string }
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("bad answer %s", body)
		}
		for _, b := range m.Content {
			if b.Type == "tool_use" {
				calls = append(calls, gotCall{b.Name, string(b.Input)})
			}
		}
		return calls, m.Error.Message
	case stream:
		byIndex := map[int]*gotCall{}
		var errMsg string
		for _, line := range strings.Split(body, "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok || data == "[DONE]" {
				continue
			}
			var ev struct {
				Choices []struct {
					Delta struct {
						ToolCalls []struct {
							Index    int
							Function struct{ Name, Arguments string }
						} `json:"tool_calls"`
					}
				}
				Error struct{ Message string }
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("bad event %q", data)
			}
			errMsg += ev.Error.Message
			for _, ch := range ev.Choices {
				for _, p := range ch.Delta.ToolCalls {
					if byIndex[p.Index] == nil {
						byIndex[p.Index] = &gotCall{}
					}
					byIndex[p.Index].name += p.Function.Name
					byIndex[p.Index].args += p.Function.Arguments
				}
			}
		}
		for i := range len(byIndex) {
			calls = append(calls, *byIndex[i])
		}
		return calls, errMsg
	}
	var r struct {
		Choices []struct {
			Message struct {
				ToolCalls []struct {
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			}
		}
		Error struct{ Message string }
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("bad answer %s", body)
	}
	for _, ch := range r.Choices {
		for _, c := range ch.Message.ToolCalls {
			calls = append(calls, gotCall{c.Function.Name, c.Function.Arguments})
		}
	}
	return calls, r.Error.Message
}

// A route's guard policy checks the arguments of the model's tool calls, in every shape:
// chat and messages clients, OpenAI and Anthropic upstreams, plain and streamed answers.
func TestGuardPolicyToolArguments(t *testing.T) {
	for _, typ := range []string{"openai", "anthropic"} {
		for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
			for _, stream := range []bool{false, true} {
				messages := path == "/v1/messages"
				name := typ + path
				if stream {
					name += "/stream"
				}
				t.Run(name, func(t *testing.T) {
					rv := &memReviewer{}
					h, _ := policyGatewayRules(t, typ, argsPolicies, "strict", argsRules, rv)
					ask := func(text string) (int, []gotCall, string, string) {
						body := `{"model":"support-bot","max_tokens":100,"stream":` + marshalString(stream) +
							`,"messages":[{"role":"user","content":"` + text + `"}]}`
						status, _, out := h.call(path, teamAKey, body)
						calls, errMsg := answerCalls(t, messages, stream, out)
						return status, calls, errMsg, out
					}

					// Nothing found: the call passes as the model made it.
					status, calls, errMsg, out := ask("clean")
					want := `{"q": "blue shoes", "limit": 5}`
					if status != 200 || errMsg != "" || len(calls) != 1 || calls[0].name != "search_orders" || !sameJSON(calls[0].args, want) {
						t.Fatalf("clean: %d %+v %q\n%s", status, calls, errMsg, out)
					}
					if typ == "openai" && !messages && calls[0].args != want {
						t.Fatalf("clean: the arguments changed: %q", calls[0].args)
					}

					// A card and an address are redacted in the JSON, which stays JSON; the
					// next call passes whole.
					status, calls, errMsg, out = ask("leak")
					if status != 200 || errMsg != "" || len(calls) != 2 || calls[0].name != "send_email" || !json.Valid([]byte(calls[0].args)) ||
						!sameJSON(calls[0].args, `{"to": "<EMAIL>", "body": "card <CREDIT_CARD>, thanks"}`) ||
						calls[1].name != "search_orders" || !sameJSON(calls[1].args, `{"q": "x"}`) {
						t.Fatalf("leak: %d %+v %q\n%s", status, calls, errMsg, out)
					}
					if strings.Contains(out, "4111") || strings.Contains(out, "bob@example.com") {
						t.Fatalf("leak: the values reached the client:\n%s", out)
					}
					// The text still comes first and whole; a stream ends as the model ended it.
					switch {
					case messages && stream:
						if s := readMsgStream(t, out); s.text != "Sending." || !s.contiguous() || s.stop != "tool_use" || !s.stopped {
							t.Fatalf("leak: %+v\n%s", s, out)
						}
					case stream:
						text, done, _ := streamed(t, out)
						if text != "Sending." || !done || !strings.Contains(out, `"finish_reason":"tool_calls"`) ||
							strings.Index(out, "Sending") > strings.Index(out, "send_email") {
							t.Fatalf("leak: %q done=%v\n%s", text, done, out)
						}
					}

					// A secret: held for review, as a text would be.
					status, calls, errMsg, out = ask("secret")
					wantStatus := 400
					if stream {
						wantStatus = 200 // the stream had begun: its error event says it
					}
					if status != wantStatus || len(calls) != 0 || !strings.Contains(errMsg, `held for human review by the guard policy's step "secrets"`) ||
						strings.Contains(out, "abcdefghij") {
						t.Fatalf("secret: %d %+v %q\n%s", status, calls, errMsg, out)
					}
					// A stream is recorded after its response ends: the calls' records may come
					// in another order.
					h.record(3)
					var tr store.Trace
					for _, x := range h.rec.traces() {
						if strings.Contains(x.RequestBody, `"secret"`) {
							tr = x
						}
					}
					if tr.Blocked != "strict/secrets (review)" || tr.ErrorCode != "content_blocked" {
						t.Fatalf("trace %+v", tr)
					}
					if cs := waitCases(rv, 1); len(cs) != 1 || cs[0].Step != "secrets" || cs[0].Stage != StageOutput ||
						!sameJSON(cs[0].Text, argsRules[2].ToolCalls[0].Arguments) {
						t.Fatalf("review cases %+v", cs)
					}
					if m := h.scrape(); !strings.Contains(m, `plumb_gateway_guard_blocked_total{key="team-a",route="support-bot",stage="output",step="strict/secrets (review)"} 1`) {
						t.Fatalf("metrics:\n%s", grep(m, "blocked"))
					}
					if logs := h.logs.String(); !strings.Contains(logs, "type=email") || !strings.Contains(logs, "type=credit_card") ||
						strings.Contains(logs, "4111") || strings.Contains(logs, "bob@example.com") || strings.Contains(logs, "abcdefghij") {
						t.Fatalf("logs:\n%s", logs)
					}
				})
			}
		}
	}
}

func marshalString(v any) string { return string(marshal(v)) }

// A route with a guard policy and a tool policy: the tool policy judges, and holds for
// approval, the arguments as the guard policy redacted them; each call reaches the client
// once.
func TestGuardPolicyToolArgumentsWithToolPolicy(t *testing.T) {
	for _, typ := range []string{"openai", "anthropic"} {
		fake, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{
			{Match: "pay", Reply: "Paying.", ToolCalls: []fakellm.ToolCall{
				{Name: "search_orders", Arguments: `{"q": "card 4111 1111 1111 1111"}`},
				{Name: "make_payment", Arguments: `{"amount": 250, "to": "bob@example.com"}`}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fake.Close)
		yaml := strings.Replace(toolsConfig, "keys:", strings.TrimSuffix(argsPolicies, "keys:")+"keys:", 1)
		yaml = strings.Replace(yaml, "    tools:\n", "    policy: strict\n    tools:\n", 1)
		m := &memApprovals{}
		srv := toolsGatewayYAML(t, m, nil, typ, fake.URL, yaml)
		for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
			for _, stream := range []bool{false, true} {
				body := `{"model":"agent","max_tokens":100,"stream":` + marshalString(stream) + `,"messages":[{"role":"user","content":"pay"}]}`
				var out string
				if path == "/v1/messages" {
					_, out = postMessagesTo(t, srv, body)
				} else {
					var status int
					status, _, out = postTools(t, srv, body)
					if status != 200 {
						t.Fatalf("%s %s: %d %s", typ, path, status, out)
					}
				}
				calls, errMsg := answerCalls(t, path == "/v1/messages", stream, out)
				if errMsg != "" || len(calls) != 1 || calls[0].name != "search_orders" || !sameJSON(calls[0].args, `{"q": "card <CREDIT_CARD>"}`) ||
					strings.Contains(out, "4111") || strings.Contains(out, "bob@example.com") || !strings.Contains(out, `"plumb_approvals"`) {
					t.Fatalf("%s %s stream=%v: %+v %q\n%s", typ, path, stream, calls, errMsg, out)
				}
				held := m.held[len(m.held)-1]
				if held.Tool != "make_payment" || !sameJSON(held.Args, `{"amount": 250, "to": "<EMAIL>"}`) {
					t.Fatalf("%s %s stream=%v: approval %+v", typ, path, stream, held)
				}
			}
		}
		if len(m.held) != 4 {
			t.Fatalf("%s: %d approvals", typ, len(m.held))
		}
	}
}

// A streamed call goes out as soon as it is whole: when the next call starts, before the
// choice finishes.
func TestGuardStreamReleasesWholeCalls(t *testing.T) {
	pol, err := policy.Parse([]byte("output:\n  - {detector: pii, options: {types: [email]}, action: redact}\n"), "p.yaml", policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dst strings.Builder
	c := &call{g: &Gateway{log: slog.New(slog.DiscardHandler)}}
	s := newGuardStream(context.Background(), c, &dst, "p", pol)
	write := func(delta string) {
		t.Helper()
		if _, err := s.Write([]byte(`data: {"id":"c1","choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}` + "\n\n")); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"send_email","arguments":"{\"to\": \"bob@exa"}}]}`)
	write(`{"tool_calls":[{"index":0,"function":{"arguments":"mple.com\"}"}}]}`)
	if dst.Len() != 0 {
		t.Fatalf("a call went out before it was whole: %s", dst.String())
	}
	write(`{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"noop","arguments":"{}"}}]}`)
	want := `data: {"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\"to\":\"<EMAIL>\"}","name":"send_email"},"id":"call_a","index":0,"type":"function"}]},"finish_reason":null,"index":0}],"id":"c1"}` + "\n\n"
	if dst.String() != want {
		t.Fatalf("got  %q\nwant %q", dst.String(), want)
	}
	// More of the call already sent would reach the client unchecked: the stream ends.
	dst.Reset()
	_, err = s.Write([]byte(`data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"x"}}]},"finish_reason":null}]}` + "\n\n"))
	if !errors.Is(err, errGuardBlocked) || !strings.Contains(dst.String(), `"code":"content_blocked"`) || strings.Contains(dst.String(), `"x"`) {
		t.Fatalf("%v %s", err, dst.String())
	}
}

// Without a tool policy, a Messages stream's tool_use block goes out checked at its
// content_block_stop; input for it after that ends the stream.
func TestMessagesStreamReleasesWholeCalls(t *testing.T) {
	pol, err := policy.Parse([]byte("output:\n  - {detector: pii, options: {types: [email]}, action: redact}\n"), "p.yaml", policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dst strings.Builder
	c := &call{g: &Gateway{log: slog.New(slog.DiscardHandler)}, route: &route{}}
	m := &messagesStream{c: c, ctx: context.Background(), dst: &dst, name: "p", pol: pol, st: pol.Stream(),
		index: map[int]int{}, text: map[int]bool{}, held: map[int]*toolBlock{}, sent: map[int]bool{}}
	for _, ev := range []string{
		`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"send_email","input":{}}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"to\": \"bob@exa"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"mple.com\"}"}}`,
	} {
		if _, err := m.Write(msgEvent(ev[9:strings.Index(ev, `","`)], json.RawMessage(ev))); err != nil {
			t.Fatal(err)
		}
	}
	if dst.Len() != 0 {
		t.Fatalf("a call went out before it was whole: %s", dst.String())
	}
	if _, err := m.Write(msgEvent("content_block_stop", json.RawMessage(`{"type":"content_block_stop","index":0}`))); err != nil {
		t.Fatal(err)
	}
	s := readMsgStream(t, dst.String())
	if len(s.tools) != 1 || s.tools[0][0] != "send_email" || s.tools[0][1] != `{"to":"<EMAIL>"}` || !s.contiguous() {
		t.Fatalf("%+v\n%s", s, dst.String())
	}
	dst.Reset()
	_, err = m.Write(msgEvent("content_block_delta", json.RawMessage(`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"x"}}`)))
	if !errors.Is(err, errGuardBlocked) || !strings.Contains(dst.String(), "event: error") || strings.Contains(dst.String(), `"x"`) {
		t.Fatalf("%v %s", err, dst.String())
	}
}
