package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// decodeJSON reads the request body into v strictly: JSON only (415), at most limit bytes
// (413), one value with no field v does not have and every value of the right type (400,
// naming the field), no key written twice in one object (400, naming it). Every failure is
// the client's, so none is a 500. The values of the top-level fields named in own are
// not checked for repeated keys: the handler judges them itself (a tool call's arguments,
// which a policy denies with its own reason).
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, own ...string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, codeMediaType,
			"send the body as JSON with the header Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, codeTooLarge,
				"the body is larger than the limit of %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, codeBadRequest, "the body could not be read: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, dec)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, codeBadRequest,
			"unexpected data after the JSON value at byte offset %d: send exactly one JSON object", dec.InputOffset())
	}
	if rk := toolpolicy.RepeatedKey(body, own...); rk != nil {
		return fieldErr(rk.At, "the key %q appears twice (at %s): send each key once", rk.Key, rk.At)
	}
	return nil
}

// decodeError turns a json error into the envelope's terms.
func decodeError(err error, dec *json.Decoder) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge,
			"the body is larger than the limit of %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, codeBadRequest, "the body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, codeBadRequest,
			"malformed JSON: the body ends at byte offset %d in the middle of a value", dec.InputOffset())
	case errors.As(err, &se):
		return errorf(http.StatusBadRequest, codeBadRequest, "malformed JSON at byte offset %d: %s",
			se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return errorf(http.StatusBadRequest, codeBadRequest, "the body must be a JSON %s, not %s", jsonType(te.Type), te.Value)
		}
		return fieldErr(field, "field %q must be %s, not %s", field, jsonType(te.Type), te.Value)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
		name = strings.TrimSuffix(name, `"`)
		return fieldErr(name, "unknown field %q: check its spelling against /api/v1/openapi.json", name)
	}
	// What is left comes from a value's own decoder (a time that does not parse, ...):
	// still the client's input.
	return errorf(http.StatusBadRequest, codeBadRequest, "invalid JSON value: %s", strings.TrimPrefix(msg, "json: "))
}

// jsonType names a Go type the way the JSON it decodes from is called.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		if t.String() == "time.Time" {
			return "an RFC 3339 time string"
		}
		return "an object"
	}
	return "a " + t.String()
}
