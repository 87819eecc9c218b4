package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// A redaction in a /v1/messages request to an Anthropic upstream is written into the
// request as sent: the tool result's is_error and the blocks' cache_control survive it.
func TestMessagesRedactionKeepsNativeFields(t *testing.T) {
	h, up := policyGatewayUp(t, "anthropic", guardPolicies, "strict", "done", nil)
	body := `{"model":"support-bot","max_tokens":100,
	  "system":[{"type":"text","text":"You help customers.","cache_control":{"type":"ephemeral"}}],
	  "messages":[
	  {"role":"user","content":[{"type":"text","text":"mail the customer at bob@example.com","cache_control":{"type":"ephemeral"}}]},
	  {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"send_email","input":{"to":"bob@example.com"}}]},
	  {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"could not reach bob@example.com"}]}]}`
	if resp, out := h.postMessages(teamAKey, body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	raw := string(up.Requests()[0].Body)
	if strings.Contains(raw, "bob@example.com") {
		t.Fatalf("not redacted: %s", raw)
	}
	var got struct {
		System []struct {
			Text         string
			CacheControl json.RawMessage `json:"cache_control"`
		}
		Messages []struct {
			Content []struct {
				Type, Text   string
				IsError      *bool           `json:"is_error"`
				CacheControl json.RawMessage `json:"cache_control"`
				Content      string
				Input        map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil || len(got.Messages) != 3 || len(got.System) != 1 {
		t.Fatalf("upstream got %s (%v)", raw, err)
	}
	user, call, result := got.Messages[0].Content[0], got.Messages[1].Content[0], got.Messages[2].Content[0]
	if string(got.System[0].CacheControl) != `{"type":"ephemeral"}` || string(user.CacheControl) != `{"type":"ephemeral"}` {
		t.Errorf("cache_control lost: %s", raw)
	}
	if user.Text != "mail the customer at <EMAIL>" || result.Content != "could not reach <EMAIL>" || call.Input["to"] != "<EMAIL>" {
		t.Errorf("texts: %s", raw)
	}
	if result.Type != "tool_result" || result.IsError == nil || !*result.IsError {
		t.Errorf("is_error lost: %s", raw)
	}
}

// A text the translation joins from several blocks (a system prompt in two blocks) cannot
// be rewritten in place: the request goes as the redacted translation, never unredacted.
func TestMessagesRedactionJoinedTextFallsBack(t *testing.T) {
	h, up := policyGatewayUp(t, "anthropic", guardPolicies, "strict", "done", nil)
	body := `{"model":"support-bot","max_tokens":100,
	  "system":[{"type":"text","text":"You help customers."},{"type":"text","text":"Escalate to boss@example.com."}],
	  "messages":[{"role":"user","content":"hi"}]}`
	if resp, out := h.postMessages(teamAKey, body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	raw := string(up.Requests()[0].Body)
	if strings.Contains(raw, "boss@example.com") || !strings.Contains(raw, "Escalate to \\u003cEMAIL\\u003e") && !strings.Contains(raw, "Escalate to <EMAIL>") {
		t.Fatalf("upstream got %s", raw)
	}
	if !strings.Contains(raw, `"system":"You help customers.\n\nEscalate to`) {
		t.Fatalf("not the translation: %s", raw)
	}
}

// A /v1/messages field of the wrong type is refused in JSON's words, no Go type names.
func TestMessagesTypeErrorWords(t *testing.T) {
	h, _ := policyGatewayUp(t, "openai", guardPolicies, "strict", "done", nil)
	for body, want := range map[string]string{
		`{"model":"support-bot","max_tokens":10,"messages":"hi"}`:                                 "messages must be a list of {role, content}, not a string",
		`{"model":"support-bot","max_tokens":"lots","messages":[{"role":"user","content":"hi"}]}`: "max_tokens must be a whole number, not a string",
	} {
		resp, out := h.postMessages(teamAKey, body)
		if resp.StatusCode != 400 || !strings.Contains(out, want) || strings.Contains(out, "Go ") || strings.Contains(out, "anthropic.") {
			t.Errorf("%s: %d %s", body, resp.StatusCode, out)
		}
	}
}
