package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/store"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestGatewayServesAndDrains runs `plumb gateway`, calls it, then stops it while a call is
// in flight: the call must still complete and the command exit 0.
func TestGatewayServesAndDrains(t *testing.T) {
	up, err := fakellm.Start(fakellm.Options{Latency: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(`listen: `+addr+`
providers:
  - {name: primary, type: openai, base_url: "`+up.URL+`", api_key_env: PRIMARY_API_KEY}
routes:
  - name: support-bot
    targets: [{provider: primary, model: fake-1}]
keys:
  - {name: team-a, key_env: TEAM_A_KEY}
`), 0o600)
	db := "sqlite:" + filepath.Join(dir, "plumb.db")
	secrets := map[string]string{"PRIMARY_API_KEY": "sk-upstream-secret-42", "TEAM_A_KEY": "team-a-secret", "PLUMB_DB": db}
	var out, errb lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
			getenv: func(k string) string { return secrets[k] }, args: []string{"gateway", "-c", cfg}})
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			t.Fatalf("the gateway did not start: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
			strings.NewReader(`{"model":"support-bot","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer team-a-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := post(); status != 200 || !strings.Contains(body, "echo: hi") {
		t.Fatalf("call: %d %s", status, body)
	}
	inflight := make(chan string, 1)
	go func() {
		status, body := post()
		inflight <- strings.Join([]string{http.StatusText(status), body}, " ")
	}()
	time.Sleep(100 * time.Millisecond) // the call is waiting on the upstream
	cancel()
	select {
	case got := <-inflight:
		if !strings.HasPrefix(got, "OK") || !strings.Contains(got, "echo: hi") {
			t.Fatalf("the call in flight during shutdown got %s", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call in flight did not finish")
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway did not stop")
	}
	if logs := errb.String(); strings.Contains(logs, "sk-upstream-secret-42") || !strings.Contains(logs, "shutting down") {
		t.Fatalf("logs: %s", logs)
	}
	// Both calls are in the trace log: the recorder flushed on shutdown.
	st, err := store.Open(context.Background(), db, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	traces, _, err := st.ListTraces(context.Background(), store.DefaultProjectID, store.TraceFilter{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 2 {
		t.Fatalf("%d traces stored, want the 2 calls", len(traces))
	}
	for _, tr := range traces {
		if tr.Route != "support-bot" || tr.Key != "team-a" || tr.Status != 200 || tr.Provider != "primary" {
			t.Errorf("trace %+v, want support-bot by team-a answered 200 by primary", tr)
		}
		full, err := st.GetTrace(context.Background(), store.DefaultProjectID, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(full.RequestBody, `"content":"hi"`) || !strings.Contains(full.ResponseBody, "echo: hi") ||
			strings.Contains(full.RequestBody+full.ResponseBody, "sk-upstream-secret-42") {
			t.Errorf("trace bodies: %q / %q", full.RequestBody, full.ResponseBody)
		}
	}
}

// TestGatewayDrainDelay: with --drain-delay, a stopping gateway keeps its listener open for
// that long with /readyz answering 503, so that a load balancer polling it stops sending
// before connections are refused; calls that still arrive are served.
func TestGatewayDrainDelay(t *testing.T) {
	up, err := fakellm.Start(fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(`listen: `+addr+`
providers:
  - {name: primary, type: openai, base_url: "`+up.URL+`", api_key_env: PRIMARY_API_KEY}
routes:
  - name: support-bot
    targets: [{provider: primary, model: fake-1}]
keys:
  - {name: team-a, key_env: TEAM_A_KEY}
`), 0o600)
	secrets := map[string]string{"PRIMARY_API_KEY": "sk-upstream", "TEAM_A_KEY": "team-a-secret", "PLUMB_DB": "sqlite:" + filepath.Join(dir, "plumb.db")}
	var out, errb lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
			getenv: func(k string) string { return secrets[k] }, args: []string{"gateway", "-c", cfg, "--drain-delay", "1s"}})
	}()
	base := "http://" + addr
	ready := func() int {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; ready() != 200; i++ {
		if i > 200 {
			t.Fatalf("the gateway did not start: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	time.Sleep(200 * time.Millisecond)
	if got := ready(); got != 503 {
		t.Fatalf("/readyz while draining: %d, want 503", got)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"support-bot","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer team-a-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a call during the drain delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a call during the drain delay: %d", resp.StatusCode)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway did not stop")
	}
	if got := ready(); got != 0 {
		t.Fatalf("/readyz after the drain: %d, want the connection refused", got)
	}
}

// plumb gateway collects garbage at a target of 200% over the live heap, with a heap of
// gatewayHeapFloor at least, unless GOGC or GOMEMLIMIT says otherwise.
func TestGatewayGCTarget(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	stop := tuneGatewayGC(func(string) string { return "" })
	// This test's live heap is a few MB: after a collection, the target is the one at which
	// it grows to the floor.
	var got int
	for range 50 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the cleanup that resets the target runs after the collection
		got = debug.SetGCPercent(-1)
		debug.SetGCPercent(got)
		if got > gatewayGCPercent {
			break
		}
	}
	stop()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got <= gatewayGCPercent {
		t.Errorf("GC target without GOGC, with a live heap far below %d MiB = %d%%, want above %d%%", gatewayHeapFloor>>20, got, gatewayGCPercent)
	}
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		debug.SetGCPercent(100)
		tuneGatewayGC(func(k string) string {
			if k == env {
				return "100"
			}
			return ""
		})()
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("GC target with %s set = %d%%, want it left as it was (100%%)", env, got)
		}
	}
}

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 200},             // not measured yet
		{4 * mib, 700},       // 4 MiB × 8 = 32 MiB
		{5 * mib, 550},       // 540% rounded up to a multiple of 50
		{10 * mib, 250},      // 220% rounded up
		{11 * mib, 200},      // 11 × 3 = 33 MiB: above the floor
		{100 * mib, 200},     // far above
		{1024, 5000},         // a tiny heap: bounded
		{32 * mib, 200},      // at the floor
		{32*mib - 1, 200},    // just under the floor, 200% above it
		{6 * mib / 10, 5000}, // 0.6 MiB: 5,233% bounded
	} {
		if got := gcPercentFor(c.live, 32*mib, 200); got != c.want {
			t.Errorf("gcPercentFor(%d bytes live, floor 32 MiB, 200%%) = %d, want %d", c.live, got, c.want)
		}
		// The heap the target lets grow reaches the floor.
		if got := gcPercentFor(c.live, 32*mib, 200); c.live > 0 && got < 5000 && c.live*uint64(100+got)/100 < 32*mib {
			t.Errorf("live %d bytes at %d%%: heap goal %d below the 32 MiB floor", c.live, got, c.live*uint64(100+got)/100)
		}
	}
}
