package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The stable error codes of the envelope.
const (
	codeBadRequest   = "bad_request"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeCSRF         = "csrf"
	codeNotFound     = "not_found"
	codeConflict     = "conflict"
	codeTooLarge     = "too_large"
	codeMediaType    = "unsupported_media_type"
	codeRateLimited  = "rate_limited"
	codeInternal     = "internal"
)

// apiError is an error meant for the client: its status, code and message are sent as
// they are.
type apiError struct {
	Status     int
	Code       string
	Message    string
	Field      string        // the JSON path of the body value at fault, if any
	RetryAfter time.Duration // for rate_limited
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorf makes a client error.
func errorf(status int, code, format string, a ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// fieldErr is a 400 about one field of the body.
func fieldErr(field, format string, a ...any) *apiError {
	e := errorf(http.StatusBadRequest, codeBadRequest, format, a...)
	e.Field = field
	return e
}

// envelope is the one error body of the API.
type envelope struct {
	Error envelopeError `json:"error"`
}

type envelopeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError is the one place an error becomes a response. Client errors (apiError, and
// the store's not-found, conflict and invalid errors, whose messages are written for
// users) are sent as they are; anything else is a bug or an outage: it is logged with the
// request id and the client gets a generic message with that id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := s.ClientError(r, err)
	var ae *apiError
	if errors.As(err, &ae) && status < 500 {
		if ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(ae.RetryAfter.Round(time.Second)/time.Second)))
		}
		writeJSON(w, status, envelope{Error: envelopeError{Code: code, Message: msg, Field: ae.Field}})
		return
	}
	writeJSON(w, status, envelope{Error: envelopeError{Code: code, Message: msg}})
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do about it
}
