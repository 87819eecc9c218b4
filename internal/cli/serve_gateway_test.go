package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/store"
)

// TestServeWithGateway runs `plumb serve --gateway`: the gateway answers on its own port
// over the server's store, a project API key made on the server gets in (a config key
// too), and the server's API shows both calls in the project's traces and traffic, held
// against the route's SLA.
func TestServeWithGateway(t *testing.T) {
	up, err := fakellm.Start(fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "plumb.db")
	ctx := context.Background()
	st, err := store.Open(ctx, db, store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	secret, shown := auth.NewAPIKey()
	if _, err := st.CreateAPIKey(ctx, store.APIKey{ProjectID: store.DefaultProjectID, Name: "app", Role: store.RoleViewer,
		Prefix: shown, KeyHash: store.HashToken(secret)}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	srvAddr, gwAddr := freeAddr(t, "127.0.0.1:0"), freeAddr(t, "127.0.0.1:0")
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(`listen: `+gwAddr+`
providers:
  - {name: primary, type: openai, base_url: "`+up.URL+`", api_key_env: PRIMARY_API_KEY}
routes:
  - name: support-bot
    targets: [{provider: primary, model: fake-1}]
    sla_p95_ms: 800
    shadow: {provider: primary, model: fake-2, assert: [{type: icontains, value: HI}]}
keys:
  - {name: team-a, key_env: TEAM_A_KEY, rpm: 100}
project_keys: {rpm: 100}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"PRIMARY_API_KEY": "sk-upstream-secret-42", "TEAM_A_KEY": "team-a-secret", "PLUMB_DB": db}
	var out, errb lockedBuffer
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(runCtx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
			getenv: func(k string) string { return vars[k] }, args: []string{"serve", "--addr", srvAddr, "--gateway", cfg}})
	}()
	call := func(method, url, key, body string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for i := 0; ; i++ {
		if res, err := http.Get("http://" + gwAddr + "/readyz"); err == nil {
			res.Body.Close()
			break
		}
		if i > 300 {
			t.Fatalf("the gateway did not start: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	chat := `{"model":"support-bot","messages":[{"role":"user","content":"hi"}]}`
	for _, key := range []string{secret, "team-a-secret"} {
		if status, body := call("POST", "http://"+gwAddr+"/v1/chat/completions", key, chat); status != 200 || !strings.Contains(body, "echo: hi") {
			t.Fatalf("gateway call with %s: %d %s", key[:6], status, body)
		}
	}
	if status, _ := call("POST", "http://"+gwAddr+"/v1/chat/completions", "plk_wrong", chat); status != 401 {
		t.Fatalf("a wrong key got %d, want 401", status)
	}

	// The recorder flushes within a second; the server shows the three calls, the refused
	// one included.
	var list struct {
		Traces []store.Trace `json:"traces"`
	}
	for i := 0; ; i++ {
		status, body := call("GET", "http://"+srvAddr+"/api/v1/projects/default/traces", secret, "")
		if status == 200 && json.Unmarshal([]byte(body), &list) == nil && len(list.Traces) == 3 {
			break
		}
		if i > 100 {
			t.Fatalf("traces: %d %s", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	keys := map[string]bool{}
	for _, tr := range list.Traces {
		if tr.Status == 401 {
			if tr.ErrorCode != "invalid_api_key" || tr.Key != "" {
				t.Errorf("refused call's trace %+v", tr)
			}
			continue
		}
		keys[tr.Key] = true
		if tr.Route != "support-bot" || tr.Status != 200 {
			t.Errorf("trace %+v", tr)
		}
	}
	// A project API key is named by its name, never by its id.
	if !keys["team-a"] || !keys["app"] || len(keys) != 2 {
		t.Errorf("trace keys %v, want team-a and the API key's name app", keys)
	}
	status, body := call("GET", "http://"+srvAddr+"/api/v1/projects/default/traffic", secret, "")
	if status != 200 || !strings.Contains(body, `"route":"support-bot"`) || !strings.Contains(body, `"requests":2`) ||
		!strings.Contains(body, `"key":"app"`) {
		t.Errorf("traffic: %d %s", status, body)
	}

	// The shadow report of the server runs the route's shadow assertions from the config.
	var rep struct {
		N          int `json:"n"`
		Assertions []struct {
			Name string `json:"name"`
		} `json:"assertions"`
	}
	for i := 0; ; i++ {
		status, body = call("GET", "http://"+srvAddr+"/api/v1/projects/default/shadow?route=support-bot&since=1h", secret, "")
		if status == 200 && json.Unmarshal([]byte(body), &rep) == nil && rep.N == 2 {
			break
		}
		if i > 100 {
			t.Fatalf("shadow report: %d %s", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(rep.Assertions) != 1 || !strings.Contains(rep.Assertions[0].Name, "icontains") {
		t.Errorf("shadow report assertions = %+v, want the config's icontains", rep.Assertions)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if strings.Contains(errb.String(), "sk-upstream-secret-42") || strings.Contains(errb.String(), secret) {
		t.Errorf("a secret reached the logs: %s", errb.String())
	}
}
