// Command upstream is the gateway benchmark's fake LLM provider: it answers
// POST /v1/chat/completions at once with a fixed OpenAI-shaped completion, as one JSON body
// or, when the request asks for "stream": true, as a server-sent event stream (a role chunk,
// three content chunks, a finish chunk, a usage chunk and [DONE], each flushed as its own
// event). Its answers are prepared once, so it costs far less per request than any proxy in
// front of it; it prints its base URL on the first line of stdout and serves until killed.
//
//	upstream -addr 127.0.0.1:19001
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

const created = "1764115200"

var (
	plain = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":` + created +
		`,"model":"fake-1","choices":[{"index":0,"message":{"role":"assistant","content":"The benchmark answer is short."},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}`)
	events = func() [][]byte {
		chunk := func(delta, finish string) []byte {
			return []byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":` + created +
				`,"model":"fake-1","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]}` + "\n\n")
		}
		return [][]byte{
			chunk(`{"role":"assistant","content":""}`, "null"),
			chunk(`{"content":"The benchmark "}`, "null"),
			chunk(`{"content":"answer is "}`, "null"),
			chunk(`{"content":"short."}`, "null"),
			chunk(`{}`, `"stop"`),
			[]byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":` + created +
				`,"model":"fake-1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}` + "\n\n"),
			[]byte("data: [DONE]\n\n"),
		}
	}()
	plainLen  = strconv.Itoa(len(plain))
	streamKey = []byte(`"stream"`)
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free port)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
	fmt.Printf("http://%s/v1\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(serve), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
	os.Exit(1)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"only POST /v1/chat/completions","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if !wantsStream(body) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{plainLen}
		w.Write(plain)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream"}
	h["Cache-Control"] = []string{"no-cache"}
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	for _, e := range events {
		if _, err := w.Write(e); err != nil {
			return
		}
		if f != nil {
			f.Flush()
		}
	}
}

// wantsStream reports whether the JSON body has "stream": true (whitespace allowed after the
// colon). A benchmark fake need not parse the body: the clients here send either form.
func wantsStream(body []byte) bool {
	i := bytes.Index(body, streamKey)
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(body[i+len(streamKey):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(rest[1:], " \t\r\n"), []byte("true"))
}
