package anthropic

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden stream transcripts")

// translate runs the translator a golden file's name asks for.
func translate(name string, dst io.Writer, flush func(), src io.Reader) (Usage, error) {
	if strings.HasPrefix(name, "anthropic_") {
		return messagesStreamToChat(dst, flush, src, "support-bot", !strings.Contains(name, "nousage"), fixedNow)
	}
	return ChatStreamToMessages(dst, flush, src, "claude-route")
}

// TestStreamGolden translates the recorded streams in testdata/stream and compares the
// output, the usage and the error with the transcript (go test -update rewrites them).
func TestStreamGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/stream/*.txtar")
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in := ar.Files[0].Data
			if strings.Contains(name, "_tools") {
				in = bytes.ReplaceAll(in, []byte("\n"), []byte("\r\n"))
			}
			var out bytes.Buffer
			flushes := 0
			u, err := translate(name, &out, func() { flushes++ }, bytes.NewReader(in))
			got := out.String() + fmt.Sprintf("-- result: usage %+v, error: %v\n", u, err)
			if flushes != strings.Count(out.String(), "\n\n") {
				t.Errorf("%d flushes for %d events: every event must be flushed", flushes, strings.Count(out.String(), "\n\n"))
			}
			if *update {
				ar.Files = []txtar.File{ar.Files[0], {Name: "out", Data: []byte(got)}}
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(ar.Files) < 2 || string(ar.Files[1].Data) != got {
				t.Fatalf("got\n%s", got)
			}
		})
	}
}

// notifyWriter signals each write, so a test can tell when output appears.
type notifyWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	select {
	case w.ch <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestStreamIsNotBuffered feeds a stream one byte at a time through a pipe and checks that
// each event's translation is written before the source sends the next event: nothing waits
// for the end of the answer.
func TestStreamIsNotBuffered(t *testing.T) {
	for _, file := range []string{"anthropic_text", "chat_text"} {
		t.Run(file, func(t *testing.T) {
			ar, err := txtar.ParseFile("testdata/stream/" + file + ".txtar")
			if err != nil {
				t.Fatal(err)
			}
			events := strings.SplitAfter(string(ar.Files[0].Data), "\n\n")
			pr, pw := io.Pipe()
			dst := &notifyWriter{ch: make(chan struct{}, 1)}
			done := make(chan error, 1)
			go func() {
				_, err := translate(file, dst, nil, pr)
				done <- err
			}()
			// The first event of either stream makes output of its own (the role chunk,
			// message_start); so do the text deltas.
			for i, ev := range events {
				for j := 0; j < len(ev); j++ {
					if _, err := pw.Write([]byte{ev[j]}); err != nil {
						t.Fatal(err)
					}
				}
				if i == 0 || strings.Contains(ev, "Hello") {
					want := "Hello"
					if i == 0 {
						want = "data: "
						if file == "chat_text" {
							want = "message_start"
						}
					}
					deadline := time.After(5 * time.Second)
					for !strings.Contains(dst.String(), want) {
						select {
						case <-dst.ch:
						case <-deadline:
							t.Fatalf("after event %d the output is still %q: the translator waits for more input", i, dst.String())
						}
					}
				}
			}
			pw.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStreamRoundTrip: an Anthropic stream translated to OpenAI chunks and back to
// Anthropic events says the same: text, tool input, stop reason and usage.
func TestStreamRoundTrip(t *testing.T) {
	ar, err := txtar.ParseFile("testdata/stream/anthropic_tools_nousage.txtar")
	if err != nil {
		t.Fatal(err)
	}
	var chat, back bytes.Buffer
	u1, err := MessagesStreamToChat(&chat, nil, bytes.NewReader(ar.Files[0].Data), "m", true)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := ChatStreamToMessages(&back, nil, &chat, "claude-x")
	if err != nil {
		t.Fatal(err)
	}
	if u1 != u2 || u1.InputTokens != 400 || u1.OutputTokens != 89 {
		t.Fatalf("usage %+v then %+v, want 400 in and 89 out both times", u1, u2)
	}
	out := back.String()
	for _, want := range []string{`"text":"Checking."`, `"id":"toolu_A","name":"weather"`, `"partial_json":"{\"city\": \"Pa"`,
		`"id":"toolu_B"`, `"stop_reason":"tool_use"`, "event: message_stop"} {
		if !strings.Contains(out, want) {
			t.Errorf("round trip lost %s:\n%s", want, out)
		}
	}
}
