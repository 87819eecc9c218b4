package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
)

// msgStream is an Anthropic Messages stream as a client reads it.
type msgStream struct {
	text      string     // the text blocks' text
	tools     [][]string // each tool_use block: its name and its input as streamed
	indexes   []int      // the content_block_start indexes, in order
	stop      string     // message_delta's stop_reason
	approvals []HeldCall // message_delta's plumb_approvals
	errType   string     // the error event's error type and message
	errMsg    string
	stopped   bool // message_stop arrived
}

func readMsgStream(t *testing.T, body string) msgStream {
	t.Helper()
	var s msgStream
	tools := map[int]int{} // block index -> s.tools index
	for _, ev := range strings.Split(body, "\n\n") {
		var name, data string
		for _, line := range strings.Split(ev, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			}
		}
		if data == "" {
			continue
		}
		var e struct {
			Type         string `json:"type"`
			Index        int    `json:"index"`
			ContentBlock struct {
				Type, Name, Text string
			} `json:"content_block"`
			Delta struct {
				Type        string `json:"type"`
				Text        string `json:"text"`
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			} `json:"delta"`
			Approvals []HeldCall `json:"plumb_approvals"`
			Error     struct{ Type, Message string }
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil || e.Type != name {
			t.Fatalf("bad event %q %q", name, data)
		}
		switch e.Type {
		case "content_block_start":
			s.indexes = append(s.indexes, e.Index)
			s.text += e.ContentBlock.Text
			if e.ContentBlock.Type == "tool_use" {
				tools[e.Index] = len(s.tools)
				s.tools = append(s.tools, []string{e.ContentBlock.Name, ""})
			}
		case "content_block_delta":
			s.text += e.Delta.Text
			if i, ok := tools[e.Index]; ok {
				s.tools[i][1] += e.Delta.PartialJSON
			}
		case "message_delta":
			s.stop, s.approvals = e.Delta.StopReason, e.Approvals
		case "message_stop":
			s.stopped = true
		case "error":
			s.errType, s.errMsg = e.Error.Type, e.Error.Message
		}
	}
	return s
}

// contiguous reports whether the blocks are numbered 0, 1, 2...
func (s msgStream) contiguous() bool {
	for i, x := range s.indexes {
		if x != i {
			return false
		}
	}
	return true
}

func streamMessages(text string) string {
	return `{"model":"support-bot","max_tokens":100,"stream":true,"messages":[{"role":"user","content":` + string(marshal(text)) + `}]}`
}

// memReviewer keeps the cases review steps hold.
type memReviewer struct {
	mu    sync.Mutex
	cases []ReviewCase
}

func (m *memReviewer) Review(_ context.Context, rc ReviewCase) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cases = append(m.cases, rc)
	return nil
}

func (m *memReviewer) all() []ReviewCase {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ReviewCase(nil), m.cases...)
}

// policyGateway is a gateway whose support-bot route runs the policy named policy from
// policies (a policies: block), its primary upstream of type typ answering reply, and its
// review cases going to rv (when not nil).
func policyGateway(t *testing.T, typ, policies, policy, reply string, rv *memReviewer) *harness {
	t.Helper()
	h, _ := policyGatewayUp(t, typ, policies, policy, reply, rv)
	return h
}

// policyGatewayUp is policyGateway, and its primary upstream.
func policyGatewayUp(t *testing.T, typ, policies, policy, reply string, rv *memReviewer) (*harness, *fakellm.Server) {
	t.Helper()
	return policyGatewayRules(t, typ, policies, policy, []fakellm.Rule{{Match: "", Reply: reply}}, rv)
}

// policyGatewayRules is policyGatewayUp with an upstream answering by rules.
func policyGatewayRules(t *testing.T, typ, policies, policy string, rules []fakellm.Rule, rv *memReviewer) (*harness, *fakellm.Server) {
	t.Helper()
	up, err := fakellm.Start(fakellm.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	cfg := strings.Replace(twoTargets, "keys:", policies, 1)
	cfg = strings.Replace(cfg, "    timeout_ms: 10000\n", "    timeout_ms: 10000\n    policy: "+policy+"\n", 1)
	cfg = strings.Replace(cfg, "base_url: PRIMARY_URL", "base_url: "+up.URL, 1)
	cfg = strings.Replace(cfg, "  - name: primary\n    type: openai", "  - name: primary\n    type: "+typ, 1)
	opt := func(o *Options) {
		if rv != nil {
			o.Reviewer = rv
		}
	}
	return newHarness(t, noLimits(cfg), harnessOpts{opt: opt}), up
}

// Streamed Messages answers are checked by the route's guard policy, from an OpenAI
// upstream (translated) and from an Anthropic one (passed through).
func TestGuardPolicyMessagesStream(t *testing.T) {
	for _, typ := range []string{"openai", "anthropic"} {
		t.Run(typ, func(t *testing.T) {
			// The card number comes word by word; it is held back until whole and redacted.
			h := policyGateway(t, typ, guardPolicies, "strict", "Your card 4111 1111 1111 1111 is on file, thanks for asking about it today.", nil)
			resp, body := h.postMessages(teamAKey, streamMessages("hi"))
			s := readMsgStream(t, body)
			if resp.StatusCode != 200 || s.text != "Your card <CREDIT_CARD> is on file, thanks for asking about it today." ||
				!s.stopped || s.stop != "end_turn" || s.errType != "" || strings.Contains(body, "4111") || !s.contiguous() {
				t.Fatalf("%d %+v\n%s", resp.StatusCode, s, body)
			}
			if tr := h.record(1); tr.Blocked != "" || tr.ErrorCode != "" || tr.Endpoint != "messages" || !tr.Stream {
				t.Fatalf("trace %+v", tr)
			}

			// A review step's finding mid-stream: an error event, no message_stop; the case
			// goes to review with the text the step judged.
			rv := &memReviewer{}
			h = policyGateway(t, typ, guardPolicies, "strict", strings.Repeat("All is well. ", 30)+"the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123 enjoy", rv)
			resp, body = h.postMessages(teamAKey, streamMessages("hi"))
			s = readMsgStream(t, body)
			if resp.StatusCode != 200 || s.stopped || s.errType != "invalid_request_error" || !strings.Contains(s.errMsg, "held for human review") ||
				!strings.HasPrefix(s.text, "All is well. ") || strings.Contains(body, "abcdefghij") {
				t.Fatalf("%d %+v\n%s", resp.StatusCode, s, body)
			}
			if tr := h.record(1); tr.Blocked != "strict/secrets (review)" || tr.ErrorCode != "content_blocked" {
				t.Fatalf("trace %+v", tr)
			}
			if m := h.scrape(); !strings.Contains(m, `plumb_gateway_guard_blocked_total{key="team-a",route="support-bot",stage="output",step="strict/secrets (review)"} 1`) {
				t.Fatalf("metrics:\n%s", grep(m, "blocked"))
			}
			if cs := waitCases(rv, 1); len(cs) != 1 || cs[0].Stage != StageOutput || cs[0].Policy != "strict" || cs[0].Step != "secrets" ||
				!strings.Contains(cs[0].Text, "the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123") || cs[0].TraceID == "" {
				t.Fatalf("review cases %+v", cs)
			}
		})
	}
}

// waitCases waits briefly for n review cases (they are handed over after the answer).
func waitCases(rv *memReviewer, n int) []ReviewCase {
	for range 200 {
		if cs := rv.all(); len(cs) >= n {
			return cs
		}
		time.Sleep(5 * time.Millisecond)
	}
	return rv.all()
}

// The chat stream's review case holds the window its step judged too.
func TestGuardPolicyStreamReviewCase(t *testing.T) {
	rv := &memReviewer{}
	h := policyGateway(t, "openai", guardPolicies, "strict", strings.Repeat("All is well. ", 30)+"the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123 enjoy", rv)
	_, _, out := h.call("/v1/chat/completions", teamAKey, streamChat("hi"))
	if _, done, errEv := streamed(t, out); done || !strings.Contains(errEv, "held for human review") {
		t.Fatalf("%s", out)
	}
	cs := waitCases(rv, 1)
	if len(cs) != 1 || !strings.Contains(cs[0].Text, "the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123") || len(cs[0].Text) > 1024+200 || cs[0].Step != "secrets" {
		t.Fatalf("review cases %+v", cs)
	}
}

const shapePolicies = `policies:
  shape:
    output:
      - detector: json_schema
        options: {schema: {type: object, required: [answer]}}
        action: block
        message: The answer is not the JSON we expect.
  short:
    output:
      - detector: length
        options: {max_chars: 40}
        action: review
keys:`

// Whole-text steps judge a streamed answer when it ends, before its normal end goes out;
// a length maximum ends the stream as soon as the text would pass it.
func TestGuardPolicyStreamWholeText(t *testing.T) {
	long := strings.Repeat("word ", 20) // 100 characters
	for _, tc := range []struct {
		policy, reply string
		// text is what the client gets; blocked the trace's blocked step ("" when the
		// stream ends normally).
		text, blocked string
	}{
		{"shape", `{"answer": 42}`, `{"answer": 42}`, ""},
		{"shape", `{"response": 42}`, `{"response": 42}`, "shape/json_schema"},
		{"short", "A short answer.", "A short answer.", ""},
		{"short", long, long[:39], "short/length (review)"}, // the deltas are " word"
	} {
		for _, ep := range []string{"chat", "openai", "anthropic"} {
			name := tc.policy + " " + tc.reply[:8] + " " + ep
			rv := &memReviewer{}
			typ := ep
			if ep == "chat" {
				typ = "openai"
			}
			h := policyGateway(t, typ, shapePolicies, tc.policy, tc.reply, rv)
			var text, errMsg string
			var ended bool
			if ep == "chat" {
				_, _, out := h.call("/v1/chat/completions", teamAKey, streamChat("hi"))
				text, ended, errMsg = streamed(t, out)
			} else {
				_, body := h.postMessages(teamAKey, streamMessages("hi"))
				s := readMsgStream(t, body)
				text, ended, errMsg = s.text, s.stopped, s.errMsg
				if tc.blocked != "" && s.errType != "invalid_request_error" {
					t.Errorf("%s: error type %q", name, s.errType)
				}
			}
			tr := h.record(1)
			if text != tc.text || ended != (tc.blocked == "") || (errMsg != "") != (tc.blocked != "") || tr.Blocked != tc.blocked {
				t.Errorf("%s: text %q ended %v error %q blocked %q", name, text, ended, errMsg, tr.Blocked)
			}
			if tc.blocked == "short/length (review)" {
				// The case holds the text the step judged: what went out and the delta
				// that would have passed the maximum.
				if cs := waitCases(rv, 1); len(cs) != 1 || !strings.HasPrefix(cs[0].Text, tc.text) || len(cs[0].Text) <= 40 {
					t.Errorf("%s: review cases %+v", name, cs)
				}
			}
		}
	}
}

// Tool policies judge the tool_use blocks of a streamed Messages answer, from an OpenAI
// upstream (translated) and from an Anthropic one (passed through), as they judge a chat
// stream's calls.
func TestToolPolicyMessagesStream(t *testing.T) {
	for _, typ := range []string{"openai", "anthropic"} {
		t.Run(typ, func(t *testing.T) {
			m := &memApprovals{}
			rec := &memRecorder{}
			srv := toolsGatewayType(t, m, rec, typ)
			post := func(text string) msgStream {
				t.Helper()
				_, b := postMessagesTo(t, srv, `{"model":"agent","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"`+text+`"}]}`)
				s := readMsgStream(t, b)
				if !s.contiguous() {
					t.Errorf("%s: block indexes %v\n%s", text, s.indexes, b)
				}
				return s
			}

			// Allowed: the call arrives whole.
			s := post("small")
			if !reflect.DeepEqual(s.tools, [][]string{{"make_payment", `{"amount": 20, "to": "acme"}`}}) || s.stop != "tool_use" || !s.stopped || len(s.approvals) != 0 {
				t.Errorf("small: %+v", s)
			}
			// Held: no part of the call reaches the client; message_delta lists the approval.
			s = post("big")
			if len(s.tools) != 0 || s.text != "Paying now." || s.stop != "end_turn" || !s.stopped || len(s.approvals) != 1 ||
				s.approvals[0].Tool != "make_payment" || s.approvals[0].ApprovalID != 1 || len(m.held) != 1 || m.held[0].Route != "agent" {
				t.Errorf("big: %+v %+v", s, m.held)
			}
			// Held with no text: the gateway says what it held.
			s = post("silent")
			if len(s.tools) != 0 || s.text != "Held for human approval: make_payment (approval #2)." || s.stop != "end_turn" || len(s.approvals) != 1 {
				t.Errorf("silent: %+v", s)
			}
			// Mixed: the allowed call is sent, the held one is not.
			s = post("both")
			if !reflect.DeepEqual(s.tools, [][]string{{"search_orders", `{"q": "x"}`}}) || s.stop != "tool_use" || len(s.approvals) != 1 || len(m.held) != 3 {
				t.Errorf("both: %+v", s)
			}
			// Forbidden: an error event ends the stream; nothing of the call got out.
			for text, want := range map[string]string{"delete": "never allowed", "huge": "above the limit of 500", "broken": "malformed"} {
				s = post(text)
				if len(s.tools) != 0 || s.stopped || s.errType != "permission_error" || !strings.Contains(s.errMsg, want) {
					t.Errorf("%s: %+v", text, s)
				}
			}
			if len(m.held) != 3 {
				t.Errorf("a blocked answer stored approvals: %d", len(m.held))
			}
			all := rec.traces()
			for len(all) < 7 {
				time.Sleep(5 * time.Millisecond)
				all = rec.traces()
			}
			// A stream that reached its client is recorded just after its response ended:
			// records need not arrive in the calls' order.
			held, rules := map[string]bool{}, map[string]bool{}
			for _, tr := range all {
				switch {
				case tr.ErrorCode == "tool_call_blocked":
					rules[tr.Blocked] = true
				case strings.HasPrefix(tr.Blocked, "approval:"):
					held[tr.Blocked] = true
				case tr.Blocked != "" || tr.ErrorCode != "":
					t.Errorf("trace %+v", tr)
				}
			}
			if !reflect.DeepEqual(held, map[string]bool{"approval:1": true, "approval:2": true, "approval:3": true}) {
				t.Errorf("held traces name %v", held)
			}
			if !reflect.DeepEqual(rules, map[string]bool{"deny delete_account": true, "payments": true, "malformed arguments": true}) {
				t.Errorf("blocked traces name %v", rules)
			}
			if typ == "anthropic" {
				// What the translation cannot express would pass through with its tools
				// unread: refused on a route with a tool policy.
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(
					`{"model":"agent","max_tokens":10,"top_k":5,"tools":[{"name":"delete_account","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"small"}]}`))
				req.Header.Set("X-Api-Key", teamAKey)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 400 || !strings.Contains(string(b), "top_k") {
					t.Errorf("untranslatable request: %d %s", resp.StatusCode, b)
				}
			}
		})
	}
}

// An Anthropic upstream's stream passes through event by event even when it arrives in
// pieces that cut events, and unchanged where the policies change nothing.
func TestMessagesStreamPassThroughPieces(t *testing.T) {
	events := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		": a comment\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":7}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n" // no last blank line
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := 0; i < len(events); i += 37 {
			_, _ = io.WriteString(w, events[i:min(i+37, len(events))])
			f.Flush()
		}
	}))
	t.Cleanup(up.Close)
	rec := &memRecorder{}
	srv := toolsGatewayAt(t, &memApprovals{}, rec, "anthropic", up.URL)
	_, b := postMessagesTo(t, srv, `{"model":"agent","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if want := events + "\n"; b != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	for range 200 {
		if all := rec.traces(); len(all) == 1 {
			if all[0].TokensIn != 5 || all[0].TokensOut != 7 || all[0].ErrorCode != "" {
				t.Fatalf("trace %+v", all[0])
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no trace")
}

// eventRecorder keeps the writes it gets.
type eventRecorder struct{ got []string }

func (e *eventRecorder) Write(p []byte) (int, error) {
	e.got = append(e.got, string(p))
	return len(p), nil
}

// The splitter hands on whole events, wherever the pieces cut them.
func TestEventSplitter(t *testing.T) {
	in := "event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\n: comment\n\nevent: c\ndata: 3\n"
	want := []string{"event: a\ndata: 1\n\n", "event: b\r\ndata: 2\r\n\r\n", ": comment\n\n", "event: c\ndata: 3\n\n"}
	for size := 1; size <= len(in); size++ {
		rec := &eventRecorder{}
		sp := &eventSplitter{w: rec}
		for i := 0; i < len(in); i += size {
			if _, err := sp.Write([]byte(in[i:min(i+size, len(in))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := sp.Close(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rec.got, want) {
			t.Fatalf("pieces of %d: %q", size, rec.got)
		}
	}
}
