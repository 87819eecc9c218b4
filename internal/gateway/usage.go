package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// usage is what a call used, as the upstream reported it.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	reported         bool
}

// plainUsage reads the usage of an OpenAI-shaped answer (chat or embeddings).
func plainUsage(body []byte) usage {
	if validJSON(body) {
		if raw, _, ok := usageFields(body); ok {
			u := decodeUsage(raw)
			if u == nil {
				return usage{}
			}
			u.reported = true
			return *u
		}
	}
	var v struct {
		Usage *usage `json:"usage"`
	}
	if json.Unmarshal(body, &v) != nil || v.Usage == nil {
		return usage{}
	}
	u := *v.Usage
	u.reported = true
	return u
}

// errStreamCut is a stream that ended before its [DONE] event.
var errStreamCut = errors.New("the upstream's stream ended before [DONE]")

// maxEventBytes bounds one server-sent event, so that an upstream cannot make the gateway
// hold an unbounded line.
const maxEventBytes = 8 << 20

// copySSE copies an OpenAI chat completion stream event by event and returns the usage it
// reported. Each event is written whole (the tool and guard writers take events), and what
// was written is flushed before any read that may wait on the upstream: events that arrived
// in one read go out in one write, as a reverse proxy sends them, and none waits for an
// event the upstream has not sent yet. The last events, read with [DONE], are the exception:
// the stream is over, and the end of the response, which the caller sends at once, carries
// them in the same write (a write fewer per call). The gateway always asks the upstream for usage; when
// the client did not (includeUsage false), the usage-only final chunk is left out, as the
// upstream would have done. An event whose data is not JSON ends the copy with an error.
func copySSE(dst io.Writer, flush func(), src io.Reader, includeUsage bool) (u usage, err error) {
	r := sseReaders.Get().(*sseReader)
	br := r.br
	br.Reset(src)
	defer func() {
		br.Reset(nil) // the pool must not keep the upstream's body
		if cap(r.event) <= 64<<10 {
			sseReaders.Put(r)
		}
	}()
	pending := false // written, not yet flushed
	defer func() {
		if pending {
			flush()
		}
	}()
	event := r.event[:0]
	defer func() { r.event = event[:0] }()
	for {
		if pending && !eventBuffered(br) { // the next read may wait: send what is written
			flush()
			pending = false
		}
		line, rerr := br.ReadSlice('\n')
		if errors.Is(rerr, bufio.ErrBufferFull) {
			// A long line: gather it whole (copying its start first: reading on reuses the
			// reader's buffer).
			line = append([]byte(nil), line...)
			var rest []byte
			rest, rerr = br.ReadBytes('\n')
			line = append(line, rest...)
		}
		if len(line) > 0 {
			if len(event)+len(line) > maxEventBytes {
				return u, fmt.Errorf("an event of the upstream's stream is larger than %d bytes", maxEventBytes)
			}
			event = append(event, line...)
		}
		if len(line) > 0 && len(bytes.TrimRight(line, "\r\n")) == 0 { // a blank line ends the event
			done, skip, perr := inspectEvent(event, &u, includeUsage)
			if perr != nil {
				return u, perr
			}
			if !skip {
				if _, werr := dst.Write(event); werr != nil {
					return u, werr
				}
				pending = true
			}
			event = event[:0]
			if done {
				pending = false // the end of the response carries it (see above)
				return u, nil
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return u, errStreamCut
			}
			return u, rerr
		}
	}
}

// sseReader is what copySSE reads a stream with: the reader, and the event being gathered.
type sseReader struct {
	br    *bufio.Reader
	event []byte
}

// sseReaders keeps the readers of finished streams for the next ones: a stream's reader is
// larger than the rest of what a streamed call allocates. One that gathered a large event
// is not kept.
var sseReaders = sync.Pool{New: func() any {
	return &sseReader{br: bufio.NewReaderSize(nil, 16<<10), event: make([]byte, 0, 1024)}
}}

// eventBuffered reports whether br already holds the end of an event (a blank line; br is
// read from a line's start), so that reading on up to it cannot wait on the upstream.
func eventBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.HasPrefix(b, []byte("\n")) || bytes.HasPrefix(b, []byte("\r\n")) ||
		bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\n\r\n"))
}

var (
	dataPrefix = []byte("data:")
	doneData   = []byte("[DONE]")
	usageKey   = []byte(`"usage"`)
)

// inspectEvent looks at one event: whether it is [DONE], whether to leave it out (the
// usage-only chunk a client did not ask for), and the usage it carries.
func inspectEvent(ev []byte, u *usage, includeUsage bool) (done, skip bool, err error) {
	for rest := ev; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		data, ok := bytes.CutPrefix(line, dataPrefix)
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		if bytes.Equal(data, doneData) {
			return true, false, nil
		}
		if !validJSON(data) {
			return false, false, errors.New("the upstream's stream holds an event that is not JSON")
		}
		if !bytes.Contains(data, usageKey) {
			continue
		}
		if cu, noChoices := chunkUsage(data); cu != nil {
			*u = *cu
			u.reported = true
			if !includeUsage && noChoices {
				skip = true
			}
		}
	}
	return false, skip, nil
}

// chunkUsage reads a chunk's usage (nil when it has none, or when json.Unmarshal would fail
// on it) and whether its choices are empty, as chunkUsageSlow does, but decoding the usage
// alone: the chunk, valid JSON, is only walked to find its top-level fields.
func chunkUsage(data []byte) (*usage, bool) {
	raw, choices, ok := usageFields(data)
	if !ok {
		return chunkUsageSlow(data)
	}
	if len(choices) > 0 && choices[0] != '[' && string(choices) != "null" {
		return nil, false // choices that are not a list fail json.Unmarshal
	}
	u := decodeUsage(raw)
	if u == nil {
		return nil, false
	}
	return u, len(choices) == 0 || choices[0] == 'n' || len(bytes.TrimLeft(choices[1:], " \t\r\n")) == 1
}

// decodeUsage is json.Unmarshal of the valid JSON raw into a *usage (nil for none, for
// null, or for an error), without reflection where the usage is what upstreams send: an
// object whose keys are exactly prompt_tokens and completion_tokens with whole numbers or
// null, and others that neither field matches (skipped). Anything else — a key in another
// case or with an escape, a number with a fraction — is json.Unmarshal's.
func decodeUsage(raw []byte) *usage {
	slow := func() *usage {
		var u *usage
		if raw == nil || json.Unmarshal(raw, &u) != nil {
			return nil
		}
		return u
	}
	u := &usage{}
	if !eachField(raw, func(k, v []byte) bool {
		var field *int
		switch key := string(k); key {
		case "prompt_tokens":
			field = &u.PromptTokens
		case "completion_tokens":
			field = &u.CompletionTokens
		default:
			return plainKey(key) && !strings.EqualFold(key, "prompt_tokens") && !strings.EqualFold(key, "completion_tokens")
		}
		if string(v) == "null" {
			return true
		}
		if bytes.ContainsAny(v, ".eE") || v[0] == '"' || v[0] == '{' || v[0] == '[' || v[0] == 't' || v[0] == 'f' {
			return false
		}
		n, err := strconv.Atoi(string(v))
		*field = n
		return err == nil
	}) {
		return slow()
	}
	return u
}

// chunkUsageSlow is chunkUsage by json.Unmarshal of the whole chunk.
func chunkUsageSlow(data []byte) (*usage, bool) {
	var v struct {
		Choices []json.RawMessage `json:"choices"`
		Usage   *usage            `json:"usage"`
	}
	if json.Unmarshal(data, &v) != nil {
		return nil, false
	}
	return v.Usage, len(v.Choices) == 0
}

// usageFields finds the values of the "usage" and "choices" fields of the valid JSON object
// data. It gives up (ok false) where json.Unmarshal's field matching is more than an exact
// comparison: data not an object, a key with an escape or a non-ASCII byte, a key that
// differs from either name only in case, or either field given twice.
func usageFields(data []byte) (usage, choices []byte, ok bool) {
	if !eachField(data, func(key, value []byte) bool {
		switch {
		case string(key) == "usage" && usage == nil:
			usage = value
		case string(key) == "choices" && choices == nil:
			choices = value
		case !plainKey(string(key)) || bytes.EqualFold(key, []byte("usage")) || bytes.EqualFold(key, []byte("choices")):
			return false // (a second usage or choices too)
		}
		return true
	}) {
		return nil, nil, false
	}
	return usage, choices, true
}
