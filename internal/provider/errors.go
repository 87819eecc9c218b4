package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Error kinds, the values of Error.Kind.
const (
	KindTimeout     = "timeout"      // no answer within the per-attempt timeout
	KindConnection  = "connection"   // could not connect, or the connection broke mid-answer
	KindRateLimited = "rate_limited" // HTTP 429
	KindServer      = "server"       // HTTP 5xx, or the provider program failed
	KindClient      = "client"       // the request was refused as invalid (4xx), or is unsendable
	KindMalformed   = "malformed"    // the answer could not be parsed
	KindAuth        = "auth"         // missing or rejected credentials (no key, 401, 403)
)

// Error is a classified provider failure. Its message never contains a secret: API keys and
// header values read from the environment are scrubbed before an Error is built.
type Error struct {
	Kind       string        // one of the Kind constants
	Status     int           // HTTP status, 0 when there was no HTTP answer
	Provider   string        // the provider's label
	Msg        string        // what went wrong and, where obvious, how to fix it
	Code       string        // the vendor's error code (error.code in OpenAI's shape), when it gave one
	RetryAfter time.Duration // what the server asked us to wait, when it said

	// retry and unreachable drive the retry loop; they are not part of the message.
	retry       bool
	unreachable bool
}

// Error returns a one-line message: "LABEL: HTTP 401: ... check the API key in $OPENAI_API_KEY".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider)
		b.WriteString(": ")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Retryable reports whether another attempt could succeed (408/409/429/5xx, timeouts,
// broken connections).
func (e *Error) Retryable() bool { return e.retry }

// callSite is what an error message may say about where a call went. Its base URL is already
// stripped of credentials and query strings.
type callSite struct {
	label   string
	keyEnv  string // "" when the provider type takes no key (http, exec)
	model   string
	baseURL string
}

// statusError turns an HTTP error answer into an Error with the vendor's own message and a hint.
func (s *callSite) statusError(status int, body []byte, retryAfter time.Duration, hadKey bool, secrets []string) *Error {
	msg := vendorMessage(body)
	if msg == "" {
		msg = strings.ToLower(statusText(status))
	}
	e := &Error{Status: status, Provider: s.label, RetryAfter: retryAfter, Code: vendorCode(body)}
	switch {
	case status == 401:
		e.Kind = KindAuth
		switch {
		case s.keyEnv == "":
			msg += " (check the credentials in the provider's headers)"
		case !hadKey:
			msg += fmt.Sprintf(" (the server at %s wants an API key: set $%s)", s.baseURL, s.keyEnv)
		default:
			msg += fmt.Sprintf(" (check the API key in $%s)", s.keyEnv)
		}
	case status == 403:
		e.Kind = KindAuth
		if s.keyEnv != "" {
			msg += fmt.Sprintf(" (the key in $%s is not allowed to do this; check its permissions and the model name %q)", s.keyEnv, s.model)
		}
	case status == 404:
		e.Kind = KindClient
		if s.model != "" {
			msg += fmt.Sprintf(" (check the model name %q and the base URL %s)", s.model, s.baseURL)
		} else {
			msg += fmt.Sprintf(" (check the URL %s)", s.baseURL)
		}
	case status == 408:
		e.Kind, e.retry = KindTimeout, true
	case status == 429:
		e.Kind, e.retry = KindRateLimited, true
		msg += " (rate limited: lower -j or set the provider's rpm)"
	case status == 409:
		e.Kind, e.retry = KindClient, true
	case status >= 500:
		e.Kind, e.retry = KindServer, true
	default:
		e.Kind = KindClient
	}
	e.Msg = scrub(msg, secrets)
	return e
}

// transportError classifies a failure that produced no HTTP status: a dial error, a broken
// connection, a timeout of this attempt, or something that was never sent.
func (s *callSite) transportError(err error, attempt context.Context, secrets []string) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	e := &Error{Provider: s.label}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(attempt.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.retry = KindTimeout, true
		e.Msg = fmt.Sprintf("no answer from %s in time (raise the provider's timeout if the model is slow)", s.baseURL)
	case errors.As(err, &dnsErr):
		e.Kind, e.retry, e.unreachable = KindConnection, true, true
		e.Msg = fmt.Sprintf("cannot resolve host %q (check the base URL %s and the network)", dnsErr.Name, s.baseURL)
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind, e.retry, e.unreachable = KindConnection, true, true
		e.Msg = fmt.Sprintf("connection refused (is the server at %s running?)", s.baseURL)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		e.Kind, e.retry, e.unreachable = KindConnection, true, true
		e.Msg = fmt.Sprintf("cannot connect: %s (is the server at %s reachable?)", innermost(err), s.baseURL)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		e.Kind, e.retry = KindConnection, true
		e.Msg = fmt.Sprintf("connection to %s broke before the answer was complete", s.baseURL)
	default:
		var ue *url.Error
		var ne net.Error
		if errors.As(err, &ne) || errors.As(err, &ue) {
			e.Kind, e.retry = KindConnection, true
		} else {
			e.Kind = KindClient
		}
		e.Msg = fmt.Sprintf("request to %s failed: %s", s.baseURL, innermost(err))
	}
	e.Msg = scrub(e.Msg, secrets)
	return e
}

// malformed is an answer that could not be parsed.
func (s *callSite) malformed(format string, args ...any) *Error {
	return &Error{Kind: KindMalformed, Provider: s.label, Msg: fmt.Sprintf(format, args...)}
}

// innermost is the message of the deepest wrapped error: url.Error and net.OpError repeat the
// full URL (which may carry a query-string key), the inner error does not.
func innermost(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// vendorMessage pulls the human message out of an error body in OpenAI's, Anthropic's or
// Ollama's shape, or returns a short excerpt of a body in no known shape.
func vendorMessage(body []byte) string {
	var v struct {
		Error   any    `json:"error"`
		Message string `json:"message"`
		Detail  any    `json:"detail"`
	}
	if err := json.Unmarshal(body, &v); err == nil {
		switch e := v.Error.(type) {
		case string:
			return oneLine(e, 300)
		case map[string]any:
			if m, ok := e["message"].(string); ok && m != "" {
				return oneLine(m, 300)
			}
		}
		if v.Message != "" {
			return oneLine(v.Message, 300)
		}
		if d, ok := v.Detail.(string); ok && d != "" {
			return oneLine(d, 300)
		}
	}
	return oneLine(string(body), 200)
}

// vendorCode is the error code of an error body in OpenAI's shape, {"error": {"code": ...}}
// (the Plumb gateway's content_blocked, for one), or "".
func vendorCode(body []byte) string {
	var v struct {
		Error struct {
			Code any `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	if c, ok := v.Error.Code.(string); ok {
		return oneLine(c, 100)
	}
	return ""
}

// oneLine collapses whitespace and cuts s to at most n runes, marking the cut with "…".
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// keyLike matches API-key-shaped tokens that vendors echo back in error messages (OpenAI
// prints most of a rejected key). Removing them is cheaper than auditing every vendor.
var keyLike = regexp.MustCompile(`\b(sk|pk|rk|gsk|xai)[-_][A-Za-z0-9_\-\*\.]{6,}`)

// scrub removes every secret, and anything shaped like an API key, from s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return keyLike.ReplaceAllString(s, "[redacted]")
}

// publicURL is a base URL fit for a message: no user info, no query string, no fragment.
// PublicURL is raw without what may hold a secret (user info, query, fragment), fit for a
// message or a run's provenance.
func PublicURL(raw string) string { return publicURL(raw) }

func publicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment, u.ForceQuery = nil, "", "", false
	return u.String()
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "error"
}
