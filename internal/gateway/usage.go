package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// usage is what a call used, as the upstream reported it.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	reported         bool
}

// plainUsage reads the usage of an OpenAI-shaped answer (chat or embeddings).
func plainUsage(body []byte) usage {
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

// copySSE copies an OpenAI chat completion stream event by event, flushing after each, and
// returns the usage it reported. The gateway always asks the upstream for usage; when the
// client did not (includeUsage false), the usage-only final chunk is left out, as the
// upstream would have done. An event whose data is not JSON ends the copy with an error.
func copySSE(dst io.Writer, flush func(), src io.Reader, includeUsage bool) (usage, error) {
	var u usage
	br := bufio.NewReaderSize(src, 16<<10)
	var event bytes.Buffer
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: gather it whole.
			rest, err2 := br.ReadBytes('\n')
			line = append(append([]byte(nil), line...), rest...)
			err = err2
		}
		if len(line) > 0 {
			if event.Len()+len(line) > maxEventBytes {
				return u, fmt.Errorf("an event of the upstream's stream is larger than %d bytes", maxEventBytes)
			}
			event.Write(line)
		}
		blank := len(bytes.TrimRight(line, "\r\n")) == 0 && len(line) > 0
		if blank && event.Len() > 0 {
			done, skip, perr := inspectEvent(event.Bytes(), &u, includeUsage)
			if perr != nil {
				return u, perr
			}
			if !skip {
				if _, werr := dst.Write(event.Bytes()); werr != nil {
					return u, werr
				}
				flush()
			}
			event.Reset()
			if done {
				return u, nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return u, errStreamCut
			}
			return u, err
		}
	}
}

var (
	dataPrefix = []byte("data:")
	doneData   = []byte("[DONE]")
	usageKey   = []byte(`"usage"`)
)

// inspectEvent looks at one event: whether it is [DONE], whether to leave it out (the
// usage-only chunk a client did not ask for), and the usage it carries.
func inspectEvent(ev []byte, u *usage, includeUsage bool) (done, skip bool, err error) {
	for _, line := range bytes.Split(ev, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		data, ok := bytes.CutPrefix(line, dataPrefix)
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		if bytes.Equal(data, doneData) {
			return true, false, nil
		}
		if !json.Valid(data) {
			return false, false, errors.New("the upstream's stream holds an event that is not JSON")
		}
		if !bytes.Contains(data, usageKey) {
			continue
		}
		var v struct {
			Choices []json.RawMessage `json:"choices"`
			Usage   *usage            `json:"usage"`
		}
		if json.Unmarshal(data, &v) == nil && v.Usage != nil {
			*u = *v.Usage
			u.reported = true
			if !includeUsage && len(v.Choices) == 0 {
				skip = true
			}
		}
	}
	return false, skip, nil
}
