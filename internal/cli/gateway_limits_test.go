package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
)

// freeAddr is addr when nothing listens there, else a free port on loopback.
func freeAddr(t *testing.T, addr string) string {
	t.Helper()
	if !strings.HasSuffix(addr, ":0") {
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !strings.HasSuffix(addr, ":0") {
		t.Logf("%s is taken: using %s", addr, ln.Addr())
	}
	return ln.Addr().String()
}

// runGatewayCmd runs `plumb gateway -c gateway.yaml` with cfg and the issue's secrets, waits
// until it is ready and returns its base URL, its stderr and a stop function that returns
// the exit code.
func runGatewayCmd(t *testing.T, cfg, listen string) (base string, errb *lockedBuffer, stop func() int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"PRIMARY_API_KEY": "sk-primary-secret-1", "BACKUP_API_KEY": "sk-backup-secret-2", "TEAM_A_KEY": "team-a-secret"}
	var out lockedBuffer
	errb = &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := []string{"gateway", "-c", path, "--listen", listen}
	go func() {
		done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: errb,
			getenv: func(k string) string { return secrets[k] }, args: args})
	}()
	base = "http://" + listen
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("plumb gateway exited %d: %s", code, errb.String())
		default:
		}
		if i > 300 {
			t.Fatalf("the gateway did not start: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := false
	stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(10 * time.Second):
			t.Fatal("the gateway did not stop")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return base, errb, stop
}

func postChat(t *testing.T, base, key string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"support-bot","messages":[{"role":"user","content":"hi"}],"max_tokens":10}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The issue's config, as written (its upstream and listen ports, when free), runs with its
// key's limits in memory: rpm 60 lets 60 calls through and refuses the 61st with 429.
func TestGatewayIssueConfigRunsWithLimits(t *testing.T) {
	cfg, err := os.ReadFile("../gateway/testdata/issue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	for _, port := range []string{"9001", "9002"} {
		addr := freeAddr(t, "127.0.0.1:"+port)
		up, err := fakellm.Start(fakellm.Options{Addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		defer up.Close()
		text = strings.Replace(text, "http://127.0.0.1:"+port+"/v1", up.URL, 1)
	}
	base, errb, stop := runGatewayCmd(t, text, freeAddr(t, "127.0.0.1:4000"))
	for i := 1; i <= 60; i++ {
		resp, body := postChat(t, base, "team-a-secret")
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
		}
		if i == 1 && (resp.Header.Get("X-Ratelimit-Limit-Requests") != "60" || resp.Header.Get("X-Ratelimit-Remaining-Requests") != "59" ||
			resp.Header.Get("X-Ratelimit-Limit-Tokens") != "100000") {
			t.Errorf("x-ratelimit headers of the first call: %v", resp.Header)
		}
	}
	resp, body := postChat(t, base, "team-a-secret")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"rate_limit_exceeded"`) {
		t.Fatalf("call 61: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// With redis_url set and Redis down, the gateway still serves and enforces limits per
// instance, logs the fallback and counts it in /metrics.
func TestGatewayRedisDownFailsOpenToLocalLimits(t *testing.T) {
	up, err := fakellm.Start(fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	dead := freeAddr(t, "127.0.0.1:0") // nothing listens here
	cfg := `redis_url: redis://:hunter2-redis-pw@` + dead + `/0
providers:
  - {name: primary, type: openai, base_url: "` + up.URL + `", api_key_env: PRIMARY_API_KEY}
routes:
  - name: support-bot
    targets: [{provider: primary, model: fake-1}]
keys:
  - {name: team-a, key_env: TEAM_A_KEY, rpm: 3}
`
	base, errb, stop := runGatewayCmd(t, cfg, freeAddr(t, "127.0.0.1:0"))
	for i := 1; i <= 3; i++ {
		if resp, body := postChat(t, base, "team-a-secret"); resp.StatusCode != 200 {
			t.Fatalf("call %d with Redis down: %d %s", i, resp.StatusCode, body)
		}
	}
	if resp, body := postChat(t, base, "team-a-secret"); resp.StatusCode != 429 {
		t.Fatalf("call 4 with Redis down: %d %s (the in-memory limit should hold)", resp.StatusCode, body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "plumb_gateway_limiter_redis_errors_total 4") {
		t.Errorf("metrics lack 4 Redis errors:\n%s", grepLines(string(m), "limiter"))
	}
	stop()
	logs := errb.String()
	if !strings.Contains(logs, "Redis is unreachable") || strings.Count(logs, "Redis is unreachable") > 1 {
		t.Errorf("want one (rate-limited) Redis warning, logs:\n%s", logs)
	}
	if strings.Contains(logs, "hunter2-redis-pw") {
		t.Errorf("the Redis password reached the logs:\n%s", logs)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
