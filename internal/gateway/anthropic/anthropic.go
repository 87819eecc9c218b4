// Package anthropic translates between OpenAI's chat completions and Anthropic's Messages
// API, both ways: requests, plain responses, server-sent event streams (event by event, as
// they arrive) and errors. It is pure translation: no HTTP, no state between calls.
//
// A request the other API cannot express is refused with an *Error naming the field (status
// 400); a malformed upstream answer is an *Error with status 502. Fields that change nothing
// the client can observe are dropped; docs/gateway.md lists which.
package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// DefaultMaxTokens is the max_tokens sent to Anthropic when an OpenAI request sets neither
// max_tokens nor max_completion_tokens: the Messages API requires one.
const DefaultMaxTokens = 4096

// Usage is the tokens one call used. InputTokens counts every prompt token, including
// those Anthropic read from or wrote to its prompt cache; CachedInputTokens is the part read
// from the cache (OpenAI's prompt_tokens_details.cached_tokens).
type Usage struct {
	InputTokens, OutputTokens int
	CachedInputTokens         int
}

// Error is a translation that cannot be done: the client's request uses something the other
// API cannot express (Status 400), or the upstream's answer is malformed (Status 502).
type Error struct {
	Status  int
	Param   string // the offending field, as a JSON path (messages[2].content[0].type)
	Message string
}

func (e *Error) Error() string {
	if e.Param != "" {
		return e.Param + ": " + e.Message
	}
	return e.Message
}

// refuse is a client's request the target API cannot express.
func refuse(param, format string, args ...any) *Error {
	return &Error{Status: 400, Param: param, Message: fmt.Sprintf(format, args...)}
}

// malformed is an upstream answer that cannot be read.
func malformed(format string, args ...any) *Error {
	return &Error{Status: 502, Message: "the upstream's answer is malformed: " + fmt.Sprintf(format, args...)}
}

// obj is a JSON object read field by field, so that unknown fields can be named.
type obj map[string]json.RawMessage

func readObj(b []byte, what string) (obj, *Error) {
	var o obj
	if err := json.Unmarshal(b, &o); err != nil || o == nil {
		return nil, refuse("", "the %s is not a JSON object: %s", what, jsonErr(err))
	}
	return o, nil
}

// jsonErr is err's message, shortened: encoding/json's messages name Go types.
func jsonErr(err error) string {
	if err == nil {
		return "null"
	}
	return oneLine(err.Error(), 160)
}

// isNull tells whether a field is absent or JSON null.
func isNull(r json.RawMessage) bool {
	s := strings.TrimSpace(string(r))
	return s == "" || s == "null"
}

// field decodes o[name] into v when present and not null.
func (o obj) field(name string, v any) (bool, *Error) {
	r, ok := o[name]
	if !ok || isNull(r) {
		return false, nil
	}
	if err := json.Unmarshal(r, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return false, refuse(name, "%s", wrongType(name, te))
		}
		return false, refuse(name, "has the wrong type: %s", jsonErr(err))
	}
	return true, nil
}

// fieldShapes says in words what the request fields read with field hold.
var fieldShapes = map[string]string{
	"messages":            "a list of {role, content}",
	"max_tokens":          "a whole number",
	"stop_sequences":      "a list of strings",
	"tools":               "a list of {name, description, input_schema}",
	"tool_choice":         `an object such as {"type": "auto"}`,
	"metadata":            `an object such as {"user_id": "..."}`,
	"thinking":            `an object such as {"type": "enabled", "budget_tokens": 1024}`,
	"temperature":         "a number",
	"top_p":               "a number",
	"stream":              "true or false",
	"model":               "a string",
	"n":                   "a whole number",
	"user":                "a string",
	"response_format":     `an object such as {"type": "json_object"}`,
	"parallel_tool_calls": "true or false",
}

// wrongType says, in JSON's words (no Go type names), which value of field name has the
// wrong type and what it must be.
func wrongType(name string, te *json.UnmarshalTypeError) string {
	got := map[string]string{"string": "a string", "number": "a number", "bool": "true or false", "array": "a list", "object": "an object"}[te.Value]
	if got == "" {
		got = strings.TrimPrefix(te.Value, "number ") // "number 1.5": a number out of range or not whole
	}
	if te.Field == "" || te.Field == name {
		if shape, ok := fieldShapes[name]; ok {
			return fmt.Sprintf("%s must be %s, not %s", name, shape, got)
		}
	}
	at := name
	if te.Field != "" {
		at = name + "[…]." + te.Field
	}
	return fmt.Sprintf("%s must be %s, not %s", at, typeWords(te.Type), got)
}

// typeWords names a Go type as the JSON a request must send for it.
func typeWords(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeWords(t.Elem())
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another type"
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// mustJSON marshals values this package built itself, which cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("anthropic: marshal: " + err.Error())
	}
	return b
}

// rawJSON is a value already encoded as JSON.
func rawJSON(v any) json.RawMessage { return json.RawMessage(mustJSON(v)) }

func nowFunc() time.Time { return time.Now() }
