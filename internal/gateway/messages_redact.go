package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"

	"github.com/plumbhq/plumb/internal/gateway/anthropic"
)

// When input steps rewrite an Anthropic client's request, the texts are rewritten in the
// request as the client sent it, so that an Anthropic upstream still gets every other field
// (a tool result's is_error, cache_control, citations...). The rewrite is checked: the
// rewritten request, translated again, must give exactly the texts the steps produced;
// when it does not (a text the translation joined from several blocks, say), the request
// is sent as the rewritten translation, as before, which loses what OpenAI's shape cannot
// hold but never a redaction.

// rewriteNative writes the steps' replacements (old texts and arguments to new) into the
// client's request; it reports whether the rewritten request reads as the guarded one.
func (c *call) rewriteNative(oldTexts, newTexts, oldArgs, newArgs []string) bool {
	texts := map[string]string{}
	for i, o := range oldTexts {
		if newTexts[i] != o {
			texts[o] = newTexts[i]
		}
	}
	args := map[string]string{}
	for i, o := range oldArgs {
		if newArgs[i] != o {
			args[compactJSON(o)] = newArgs[i]
		}
	}
	out := make(map[string]json.RawMessage, len(c.native))
	for k, v := range c.native {
		out[k] = rewriteTexts(k, v, texts, args)
	}
	var model string
	_ = json.Unmarshal(out["model"], &model)
	chat, err := anthropic.MessagesToChat(marshal(out), model)
	if err != nil {
		return false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(chat, &fields) != nil {
		return false
	}
	got := inputTexts(c.endpoint, fields)
	want := inputTexts(c.endpoint, c.fields)
	if !slices.Equal(got.texts, want.texts) || len(got.args) != len(want.args) {
		return false
	}
	for i := range got.args {
		if !sameJSON(got.args[i], want.args[i]) {
			return false
		}
	}
	c.native = out
	return true
}

// rewriteTexts replaces, in v (the value of key), the strings of text-bearing keys found in
// texts and the tool inputs found in args, keeping everything else as it was.
func rewriteTexts(key string, v json.RawMessage, texts, args map[string]string) json.RawMessage {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return v
	}
	switch t[0] {
	case '"':
		var s string
		if json.Unmarshal(t, &s) != nil {
			return v
		}
		if n, ok := texts[s]; ok && (key == "text" || key == "content" || key == "system" || key == "description") {
			return marshal(n)
		}
	case '{':
		if key == "input" {
			if n, ok := args[compactJSON(string(t))]; ok {
				return json.RawMessage(n)
			}
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(t, &m) != nil {
			return v
		}
		for k, x := range m {
			m[k] = rewriteTexts(k, x, texts, args)
		}
		return marshal(m)
	case '[':
		var a []json.RawMessage
		if json.Unmarshal(t, &a) != nil {
			return v
		}
		for i, x := range a {
			a[i] = rewriteTexts(key, x, texts, args)
		}
		return marshal(a)
	}
	return v
}

// compactJSON is s without insignificant spaces (s itself when it is not JSON).
func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

// sameJSON reports whether a and b are the same JSON value (escapes and spaces aside).
func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
