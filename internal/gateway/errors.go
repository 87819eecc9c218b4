package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// apiError is an error the gateway answers with, in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	Status     int
	Type       string
	Code       string
	Param      string
	Message    string
	RetryAfter time.Duration // sent as Retry-After when set
}

func (e *apiError) Error() string { return e.Message }

// The error types and codes the gateway answers with (docs/gateway.md lists them).
const (
	typeInvalidRequest = "invalid_request_error"
	typeRateLimit      = "rate_limit_exceeded"
	typeQuota          = "insufficient_quota"
	typeServer         = "server_error"
	typePermission     = "permission_error"
)

func errorBody(e *apiError) []byte {
	var param, code any
	if e.Param != "" {
		param = e.Param
	}
	if e.Code != "" {
		code = e.Code
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": e.Message, "type": e.Type, "param": param, "code": code,
	}})
	return b
}

// writeError answers with e in OpenAI's error shape.
func writeError(w http.ResponseWriter, e *apiError) {
	writeErrorBody(w, e, errorBody(e))
}

// writeErrorBody answers with e's status and Retry-After, and body.
func writeErrorBody(w http.ResponseWriter, e *apiError, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
