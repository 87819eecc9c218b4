package anthropic

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// StatusToOpenAI is the HTTP status an OpenAI client gets for an Anthropic status: 529
// (overloaded) becomes 503, which OpenAI clients know and retry.
func StatusToOpenAI(status int) int {
	if status == 529 {
		return http.StatusServiceUnavailable
	}
	return status
}

// StatusToAnthropic is the HTTP status an Anthropic client gets for an OpenAI status; they
// are the same (an Anthropic client retries 503 as it does 529).
func StatusToAnthropic(status int) int { return status }

// anthropicType is the Anthropic error type for an HTTP status.
func anthropicType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 503, 529:
		return "overloaded_error"
	case 504:
		return "timeout_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// openAIType is the OpenAI error type and code for an Anthropic error type, with the HTTP
// status deciding when the type is unknown.
func openAIType(kind string, status int) (typ string, code string) {
	switch kind {
	case "invalid_request_error":
		return "invalid_request_error", ""
	case "authentication_error":
		return "authentication_error", "invalid_api_key"
	case "billing_error":
		return "insufficient_quota", "insufficient_quota"
	case "permission_error":
		return "permission_error", ""
	case "not_found_error":
		return "invalid_request_error", "not_found"
	case "request_too_large":
		return "invalid_request_error", "request_too_large"
	case "rate_limit_error":
		return "rate_limit_error", "rate_limit_exceeded"
	case "overloaded_error":
		return "server_error", "overloaded"
	case "timeout_error":
		return "server_error", "timeout"
	case "api_error":
		return "server_error", ""
	}
	switch {
	case status == 401:
		return "authentication_error", "invalid_api_key"
	case status == 403:
		return "permission_error", ""
	case status == 429:
		return "rate_limit_error", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", ""
	}
	return "invalid_request_error", ""
}

type openAIError struct {
	Error openAIErrorBody `json:"error"`
}

type openAIErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

type anthropicError struct {
	Type  string             `json:"type"`
	Error anthropicErrorBody `json:"error"`
}

type anthropicErrorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// defaultMessage describes a status when the body says nothing readable.
func defaultMessage(status int, body []byte) string {
	msg := http.StatusText(status)
	if status == 529 {
		msg = "Overloaded"
	}
	if msg == "" {
		msg = "HTTP status " + strconv.Itoa(status)
	}
	if s := oneLine(string(body), 200); s != "" {
		msg += " (the upstream said: " + s + ")"
	}
	return "the upstream answered " + msg
}

// ErrorToOpenAI turns an Anthropic error body (or any body, with the status deciding) into
// OpenAI's error shape: {"error": {"message", "type", "param", "code"}}.
func ErrorToOpenAI(status int, body []byte) []byte {
	var in anthropicError
	msg, kind := "", ""
	if json.Unmarshal(body, &in) == nil && in.Error.Message != "" {
		msg, kind = in.Error.Message, in.Error.Type
	} else {
		msg = defaultMessage(status, body)
	}
	typ, code := openAIType(kind, status)
	return mustJSON(openAIError{Error: openAIErrorBody{Message: msg, Type: typ, Code: strPtr(code)}})
}

// ErrorToAnthropic turns an OpenAI error body (or any body, with the status deciding) into
// Anthropic's error shape: {"type": "error", "error": {"type", "message"}}.
func ErrorToAnthropic(status int, body []byte) []byte {
	var in openAIError
	msg := ""
	if json.Unmarshal(body, &in) == nil && in.Error.Message != "" {
		msg = in.Error.Message
		if in.Error.Param != nil && *in.Error.Param != "" {
			msg = *in.Error.Param + ": " + msg
		}
	} else {
		msg = defaultMessage(status, body)
	}
	return mustJSON(anthropicError{Type: "error", Error: anthropicErrorBody{Type: anthropicType(status), Message: msg}})
}

// OpenAIError is err in OpenAI's error shape, with the status to answer: a translation
// *Error keeps its status and names its param; anything else is a 502.
func OpenAIError(err error) (int, []byte) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{Status: http.StatusBadGateway, Message: err.Error()}
	}
	typ := "invalid_request_error"
	if e.Status >= 500 {
		typ = "server_error"
	}
	return e.Status, mustJSON(openAIError{Error: openAIErrorBody{Message: e.Error(), Type: typ, Param: strPtr(e.Param)}})
}

// AnthropicError is err in Anthropic's error shape, with the status to answer.
func AnthropicError(err error) (int, []byte) {
	e, ok := err.(*Error)
	if !ok {
		e = &Error{Status: http.StatusBadGateway, Message: err.Error()}
	}
	return e.Status, mustJSON(anthropicError{Type: "error", Error: anthropicErrorBody{Type: anthropicType(e.Status), Message: e.Error()}})
}
