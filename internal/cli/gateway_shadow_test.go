package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/gateway/shadowreport"
)

// plumb gateway records live and shadow calls; plumb gateway shadow-report reads them back.
func TestGatewayShadowReport(t *testing.T) {
	live, err := fakellm.Start(fakellm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	cand, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{{Match: "", Reply: "from the candidate"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cand.Close()
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
  - {name: primary, type: openai, base_url: "`+live.URL+`", api_key_env: PRIMARY_API_KEY}
  - {name: cand, type: openai, base_url: "`+cand.URL+`"}
routes:
  - name: support-bot
    targets: [{provider: primary, model: fake-1}]
    shadow:
      provider: cand
      model: cand-1
      assert:
        - type: icontains
          value: echo
keys:
  - {name: team-a, key_env: TEAM_A_KEY}
`), 0o600)
	db := "sqlite:" + filepath.Join(dir, "plumb.db")
	secrets := map[string]string{"PRIMARY_API_KEY": "sk-upstream-secret-42", "TEAM_A_KEY": "team-a-secret", "PLUMB_DB": db}
	getenv := func(k string) string { return secrets[k] }
	var out, errb lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: getenv, args: []string{"gateway", "-c", cfg}})
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
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
			strings.NewReader(`{"model":"support-bot","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer team-a-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("call %d: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
	// Shutting down waits for the shadow calls and flushes every record.
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("gateway exit %d: %s", code, errb.String())
	}
	var rout, rerr lockedBuffer
	code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &rout, stderr: &rerr, getenv: getenv,
		args: []string{"gateway", "shadow-report", "-c", cfg, "--route", "support-bot", "--format", "json"}})
	if code != 0 {
		t.Fatalf("shadow-report exit %d: %s", code, rerr.String())
	}
	var rep shadowreport.Report
	if err := json.Unmarshal([]byte(rout.String()), &rep); err != nil {
		t.Fatalf("%v: %s", err, rout.String())
	}
	a := rep.Assertions
	if rep.N != 3 || rep.Evaluated != 3 || rep.Agreement.K != 0 || len(a) != 1 || a[0].Live.K != 3 || a[0].Shadow.K != 0 || a[0].LiveOnly != 3 {
		t.Errorf("report: %s", rout.String())
	}
	if rep.Ready || !strings.HasPrefix(rep.Verdict, "not enough data: 3 pairs") {
		t.Errorf("verdict %q", rep.Verdict)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gateway", "shadow-report", "-c", cfg, "--route", "nope"}, `has no route "nope": its routes are support-bot`},
		{[]string{"gateway", "shadow-report", "-c", cfg}, "give the route with --route NAME"},
		{[]string{"gateway", "shadow-report", "-c", cfg, "--route", "support-bot", "--format", "xml"}, `--format "xml": use text, json, md`},
	} {
		var o, e lockedBuffer
		if code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &o, stderr: &e, getenv: getenv, args: tc.args}); code == 0 || !strings.Contains(e.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %s; want %q", tc.args, code, e.String(), tc.want)
		}
	}
	var o, e lockedBuffer
	if code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &o, stderr: &e, getenv: getenv,
		args: []string{"gateway", "shadow-report", "-c", cfg, "--route", "support-bot"}}); code != 0 || !strings.Contains(o.String(), "pairs: 3 (evaluated: 3)") {
		t.Errorf("text: %d %s %s", code, o.String(), e.String())
	}
}
