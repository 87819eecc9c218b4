package gateway

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

const (
	sseRole  = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
	sseHello = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"}}]}\n\n"
	sseUsage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n"
	sseDone  = "data: [DONE]\n\n"
)

// Events that reach the gateway together leave it in one flush; the usage chunk the client
// did not ask for is left out, and nothing written is left unflushed at the end.
func TestCopySSEFlushesEventsThatArriveTogetherOnce(t *testing.T) {
	var dst bytes.Buffer
	flushes := 0
	var flushed []string
	u, err := copySSE(&dst, func() { flushes++; flushed = append(flushed, dst.String()) },
		strings.NewReader(sseRole+sseHello+sseUsage+sseDone), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := sseRole + sseHello + sseDone; dst.String() != want {
		t.Errorf("client got %q, want %q", dst.String(), want)
	}
	if flushes != 1 || flushed[0] != dst.String() {
		t.Errorf("%d flushes (%q), want 1 after everything", flushes, flushed)
	}
	if !u.reported || u.PromptTokens != 3 || u.CompletionTokens != 1 {
		t.Errorf("usage %+v", u)
	}
}

// An event is flushed before the gateway waits for the next one: a client never waits for
// an event that the upstream has not sent yet. The upstream here sends one event, then
// waits until the client has it before sending the next.
func TestCopySSEFlushesBeforeWaitingForTheUpstream(t *testing.T) {
	pr, pw := io.Pipe()
	var dst bytes.Buffer
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		_, err := copySSE(&dst, func() { got <- dst.String() }, pr, true)
		done <- err
	}()
	sent := ""
	for _, ev := range []string{sseRole, sseHello, sseUsage + sseDone} {
		// An event split across two writes: the first half alone must not be flushed.
		half := len(ev) / 2
		if _, err := pw.Write([]byte(ev[:half])); err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write([]byte(ev[half:])); err != nil {
			t.Fatal(err)
		}
		sent += ev
		select {
		case s := <-got:
			if s != sent {
				t.Fatalf("flushed %q, want %q", s, sent)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %q was not flushed while the upstream waited", ev)
		}
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
