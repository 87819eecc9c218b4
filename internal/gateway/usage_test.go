package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand"
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

// reads returns one part per Read: the upstream's writes as the gateway reads them.
type reads []string

func (r *reads) Read(p []byte) (int, error) {
	if len(*r) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*r)[0])
	if n == len((*r)[0]) {
		*r = (*r)[1:]
	} else {
		(*r)[0] = (*r)[0][n:]
	}
	return n, nil
}

// Events that reach the gateway together leave it in one flush; the last ones, read with
// [DONE], are left for the end of the response, which the caller sends at once; the usage
// chunk the client did not ask for is left out.
func TestCopySSEFlushesEventsThatArriveTogetherOnce(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		var dst bytes.Buffer
		var flushed []string
		src := reads{sseRole + sseHello, sseHello + sseUsage + sseDone}
		u, err := copySSE(&dst, func() { flushed = append(flushed, dst.String()) }, &src, includeUsage)
		if err != nil {
			t.Fatal(err)
		}
		want := sseRole + sseHello + sseHello + sseDone
		if includeUsage {
			want = sseRole + sseHello + sseHello + sseUsage + sseDone
		}
		if dst.String() != want {
			t.Errorf("include_usage %v: client got %q, want %q", includeUsage, dst.String(), want)
		}
		if len(flushed) != 1 || flushed[0] != sseRole+sseHello {
			t.Errorf("include_usage %v: flushes %q, want one of the first read's events", includeUsage, flushed)
		}
		if !u.reported || u.PromptTokens != 3 || u.CompletionTokens != 1 {
			t.Errorf("include_usage %v: usage %+v", includeUsage, u)
		}
	}
}

// An event is flushed before the gateway waits for the next one: a client never waits for
// an event that the upstream has not sent yet. The upstream here sends one event (in two
// writes), then waits until the client has it before sending the next.
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
		half := len(ev) / 2
		if _, err := pw.Write([]byte(ev[:half])); err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write([]byte(ev[half:])); err != nil {
			t.Fatal(err)
		}
		sent += ev
		if ev == sseUsage+sseDone {
			break // the end of the response carries these
		}
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
	if dst.String() != sent {
		t.Fatalf("client got %q, want %q", dst.String(), sent)
	}
}

// A stream that fails still flushes what reached the gateway before the failure, and says
// why it failed.
func TestCopySSEFailures(t *testing.T) {
	long := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + strings.Repeat("x", 40<<10) + "\"}}]}\n\n"
	for _, tc := range []struct {
		name, in, client string
		err              error
		errText          string
	}{
		{name: "cut before [DONE]", in: sseRole + sseHello, client: sseRole + sseHello, err: errStreamCut},
		{name: "cut mid-event", in: sseRole + "data: {\"choi", client: sseRole, err: errStreamCut},
		{name: "not JSON", in: sseRole + "data: {\"choices\":[\n\n" + sseDone, client: sseRole, errText: "not JSON"},
		{name: "CRLF lines", in: strings.ReplaceAll(sseRole+sseHello+sseDone, "\n", "\r\n"),
			client: strings.ReplaceAll(sseRole+sseHello+sseDone, "\n", "\r\n")},
		{name: "a line longer than the reader's buffer", in: sseRole + long + sseDone, client: sseRole + long + sseDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dst bytes.Buffer
			flushedAll := false
			_, err := copySSE(&dst, func() { flushedAll = dst.Len() == len(tc.client) }, strings.NewReader(tc.in), true)
			switch {
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("error %v, want %v", err, tc.err)
			case tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)):
				t.Errorf("error %v, want one saying %q", err, tc.errText)
			case tc.err == nil && tc.errText == "" && err != nil:
				t.Errorf("error %v", err)
			}
			if dst.String() != tc.client {
				t.Errorf("client got %q, want %q", dst.String(), tc.client)
			}
			if err != nil && !flushedAll { // (a stream that ends well ends with the response)
				t.Errorf("what the client got was not flushed at the end")
			}
		})
	}
}

// chunkUsage answers as chunkUsageSlow (json.Unmarshal of the whole chunk) does, on chunks
// made of the fields that can mislead a shortcut: names in other cases or with escapes,
// fields given twice, usage or choices of the wrong type, nested look-alikes.
func TestChunkUsageAgreesWithUnmarshal(t *testing.T) {
	keys := []string{`"usage"`, `"choices"`, `"Usage"`, `"CHOICES"`, `"us\u0061ge"`, `"id"`, `"model"`, `"u\u017fage"`, `"usage "`}
	values := []string{`{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}`, `{"prompt_tokens":1}`, `null`, `[]`, ` [ ] `,
		`[{"index":0,"delta":{"content":"usage"}}]`, `{"usage":{"prompt_tokens":9}}`, `"usage"`, `5`, `-1.5e3`, `true`,
		`{"prompt_tokens":"x"}`, `{"completion_tokens":2,"prompt_tokens":3}`, `[{"a":"]}"}]`, `{}`}
	r := rand.New(rand.NewSource(3))
	check := func(data string) {
		t.Helper()
		if !json.Valid([]byte(data)) {
			return
		}
		gu, gn := chunkUsage([]byte(data))
		wu, wn := chunkUsageSlow([]byte(data))
		if (gu == nil) != (wu == nil) || gu != nil && (*gu != *wu || gn != wn) {
			t.Fatalf("chunkUsage(%s) = %+v, %v; json.Unmarshal gives %+v, %v", data, gu, gn, wu, wn)
		}
	}
	for _, c := range []string{`{}`, `[]`, `"usage"`, ` {"usage" : {"prompt_tokens" : 3} , "choices" : [ ] } `,
		`{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":6}}`} {
		check(c)
	}
	for n := 0; n < 20000; n++ {
		var b strings.Builder
		b.WriteString("{")
		for i := r.Intn(5); i > 0; i-- {
			if b.Len() > 1 {
				b.WriteString(",")
			}
			b.WriteString([]string{"", " ", "\n"}[r.Intn(3)] + keys[r.Intn(len(keys))] + ":" + values[r.Intn(len(values))])
		}
		b.WriteString("}")
		check(b.String())
	}
}

// decodeUsage decodes usage objects as json.Unmarshal into a *usage does (keys in other
// cases, with escapes, given twice; numbers with fractions, out of range, null; other
// fields skipped), and plainUsage reads answers as its json.Unmarshal did.
func TestDecodeUsageAgreesWithUnmarshal(t *testing.T) {
	keys := []string{`"prompt_tokens"`, `"completion_tokens"`, `"PROMPT_TOKENS"`, `"completion_Tokens"`, `"prompt_tokens_details"`,
		`"total_tokens"`, `"prompt_tok\u0065ns"`, `"\u017fx"`, `"x"`}
	values := []string{`12`, `0`, `-3`, `1.5`, `1e2`, `null`, `"7"`, `true`, `[]`, `{"cached_tokens":2}`, `99999999999999999999`, `-0`}
	r := rand.New(rand.NewSource(11))
	for n := 0; n < 20000; n++ {
		var b strings.Builder
		switch r.Intn(10) {
		case 0:
			b.WriteString([]string{`null`, `[]`, `7`, `"x"`}[r.Intn(4)])
		default:
			b.WriteString("{")
			for i := r.Intn(5); i > 0; i-- {
				if b.Len() > 1 {
					b.WriteString(",")
				}
				b.WriteString([]string{"", " "}[r.Intn(2)] + keys[r.Intn(len(keys))] + ":" + values[r.Intn(len(values))])
			}
			b.WriteString("}")
		}
		raw := []byte(b.String())
		var want *usage
		if json.Unmarshal(raw, &want) != nil {
			want = nil
		}
		got := decodeUsage(raw)
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Fatalf("decodeUsage(%s) = %+v; json.Unmarshal gives %+v", raw, got, want)
		}
		body := []byte(`{"id":"x","choices":[],"usage":` + string(raw) + `}`)
		var v struct {
			Usage *usage `json:"usage"`
		}
		wantPlain := usage{}
		if json.Unmarshal(body, &v) == nil && v.Usage != nil {
			wantPlain, wantPlain.reported = *v.Usage, true
		}
		if gotPlain := plainUsage(body); gotPlain != wantPlain {
			t.Fatalf("plainUsage(%s) = %+v; json.Unmarshal gives %+v", body, gotPlain, wantPlain)
		}
	}
	if got := plainUsage([]byte(`{"usage":{"prompt_tokens":1}`)); got != (usage{}) {
		t.Errorf("plainUsage of a cut answer = %+v, want none", got)
	}
}
