package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/client"
	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// TestServeApprovals starts `plumb serve --tool-policy FILE --approval-webhook URL`: a
// policy file with a mistake and a webhook without its secret stop it with exit 2 and
// the place and the fix; a good setup serves: the approval API checks calls against the
// file, and the expiry sweep sends an expired approval to the webhook, signed.
func TestServeApprovals(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "plumb.db")
	ctx := context.Background()
	// An approval that waited an hour and expired half an hour ago: the sweep at start
	// marks it and sends it to the webhook.
	past := func() time.Time { return time.Now().Add(-90 * time.Minute) }
	st, err := store.Open(ctx, db, store.OpenOptions{Migrate: true, Now: past})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := st.CreateApproval(ctx, store.DefaultProjectID, store.NewApproval{Tool: "make_payment", CallID: "call_old",
		Args: `{"amount":300}`, ArgsHash: toolpolicy.Hash(`{"amount":300}`), Rule: "approve make_payment", RuleReason: "amount is 300, above 100",
		Requester: "gateway key app", ExpiresAt: past().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	secret, shown := auth.NewAPIKey()
	if _, err := st.CreateAPIKey(ctx, store.APIKey{ProjectID: store.DefaultProjectID, Name: "agent", Role: store.RoleEditor,
		Prefix: shown, KeyHash: store.HashToken(secret)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// A decision made with the CLI, in another process than the server, before it starts:
	// the server's sweep sends it to the webhook too.
	st, err = store.Open(ctx, db, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byCLI, err := st.CreateApproval(ctx, store.DefaultProjectID, store.NewApproval{Tool: "make_payment", CallID: "call_cli",
		Args: `{"amount":400}`, ArgsHash: toolpolicy.Hash(`{"amount":400}`), Rule: "approve make_payment", RuleReason: "amount is 400, above 100",
		Requester: "gateway key app", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	var cliOut bytes.Buffer
	if code := run(ctx, &env{stdin: strings.NewReader(""), stdout: &cliOut, stderr: &cliOut, getenv: func(k string) string {
		return map[string]string{"PLUMB_DB": db}[k]
	}, args: []string{"approvals", "reject", strconv.FormatInt(byCLI.ID, 10), "--as", "bob@example.com", "--reason", "unknown payee"}}); code != 0 {
		t.Fatalf("plumb approvals reject: exit %d %s", code, cliOut.String())
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("tools.yaml", "tools:\n  deny: [delete_account]\n  approve:\n    - tool: make_payment\n      above: {amount: 100}\n")
	bad := write("bad.yaml", "tools:\n  deny: [make_payment]\n  approve:\n    - tool: make_payment\n")

	var mu sync.Mutex
	var hooks []*http.Request
	var bodies [][]byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks, bodies = append(hooks, r), append(bodies, b)
		mu.Unlock()
	}))
	defer hook.Close()

	const whsec = "whsec-0123456789abcdef"
	start := func(vars map[string]string, args ...string) (chan int, *lockedBuffer, context.CancelFunc) {
		var out, errb lockedBuffer
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan int, 1)
		vars["PLUMB_DB"] = db
		go func() {
			done <- run(runCtx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
				getenv: func(k string) string { return vars[k] }, args: append([]string{"serve"}, args...)})
		}()
		return done, &errb, cancel
	}
	addr := freeAddr(t, "127.0.0.1:0")
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"bad policy", map[string]string{"PLUMB_APPROVAL_WEBHOOK_SECRET": whsec}, []string{"--tool-policy", bad, "--approval-webhook", hook.URL},
			`--tool-policy: ` + bad + `:4:7: tools.approve[0].tool: tool "make_payment" is denied`},
		{"no secret", map[string]string{}, []string{"--tool-policy", good, "--approval-webhook", hook.URL},
			"--approval-webhook: export PLUMB_APPROVAL_WEBHOOK_SECRET (at least 16 characters)"},
	} {
		done, errb, cancel := start(tc.vars, append([]string{"--addr", addr}, tc.args...)...)
		select {
		case code := <-done:
			if code != ExitUsage || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", tc.name, code, errb.String(), tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: plumb serve started", tc.name)
		}
		cancel()
		if c, err := http.Get("http://" + addr + "/healthz"); err == nil {
			c.Body.Close()
			t.Errorf("%s: something listens on %s", tc.name, addr)
		}
	}

	done, errb, cancel := start(map[string]string{"PLUMB_APPROVAL_WEBHOOK_SECRET": whsec},
		"--addr", addr, "--tool-policy", good, "--approval-webhook", hook.URL)
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	}()
	for i := 0; ; i++ {
		if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			break
		}
		if i > 500 {
			t.Fatalf("plumb serve did not start: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The approval API checks a call against the file.
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/projects/default/approvals",
		strings.NewReader(`{"tool": "make_payment", "call_id": "call_1", "arguments": "{\"amount\": 250}"}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var check struct {
		Action   string         `json:"action"`
		Approval store.Approval `json:"approval"`
	}
	if res.StatusCode != 200 || json.Unmarshal(b, &check) != nil || check.Action != "approve" || check.Approval.Status != store.ApprovalPending {
		t.Errorf("POST /approvals: %d %s", res.StatusCode, b)
	}
	// The sweep at start sent the stale approval, expired, and the CLI's rejection, each
	// once, signed with the secret.
	for i := 0; ; i++ {
		mu.Lock()
		n := len(hooks)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if i > 500 {
			t.Fatalf("%d webhooks, want the expired approval and the CLI's decision: %s", n, errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a duplicate would come now
	mu.Lock()
	defer mu.Unlock()
	if len(hooks) != 2 {
		t.Errorf("%d webhooks, want 2 (each decision once)", len(hooks))
	}
	got := map[int64]string{}
	for i, h := range hooks {
		if err := client.VerifyApprovalWebhook([]byte(whsec), h.Header.Get(toolpolicy.HeaderTimestamp), h.Header.Get(toolpolicy.HeaderSignature), bodies[i], time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var ev struct {
			Decision string         `json:"decision"`
			Approval store.Approval `json:"approval"`
		}
		if err := json.Unmarshal(bodies[i], &ev); err != nil {
			t.Fatalf("webhook body: %s", bodies[i])
		}
		got[ev.Approval.ID] = ev.Decision + " " + ev.Approval.Status + " " + ev.Approval.Approver
	}
	if got[stale.ID] != "expired expired " || got[byCLI.ID] != "reject rejected bob@example.com" {
		t.Errorf("webhooks by approval: %v", got)
	}
	if strings.Contains(errb.String(), whsec) {
		t.Errorf("the log shows the webhook secret")
	}
}
