package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plumbhq/plumb/client"
	"github.com/plumbhq/plumb/internal/auth"
	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
)

const gatewayYAML = `
providers:
  - {name: fake, type: openai, base_url: FAKE_URL}
routes:
  - name: agent
    targets: [{provider: fake, model: m}]
    tools:
      allow: [lookup_invoice]
      approve:
        - tool: make_payment
          name: payments
          above: {amount: 100}
          max: {amount: 500}
keys:
  - {name: agent-app, key_env: AGENT_KEY}
`

// world is the fake upstream, the gateway with the policy, and the server, over one store.
type world struct {
	st       store.Store
	gwURL    string
	plumb    *client.Client
	agentKey string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "plumb.db"), store.OpenOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fake, err := fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{
		{Match: "invoice 42", ToolCalls: []fakellm.ToolCall{{Name: "make_payment", Arguments: `{"to": "acme", "amount": 250}`}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, err := gateway.Parse([]byte(strings.Replace(gatewayYAML, "FAKE_URL", fake.URL, 1)), "gateway.yaml",
		func(string) string { return "agent-gateway-secret" })
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(cfg, gateway.Options{Approvals: st.WithAudit(store.Actor{Type: store.ActorSystem})})
	if err != nil {
		t.Fatal(err)
	}
	gwSrv := httptest.NewServer(gw)
	t.Cleanup(gwSrv.Close)
	api := httptest.NewServer(server.New(server.Config{Store: st}).Handler())
	t.Cleanup(api.Close)
	secret, shown := auth.NewAPIKey()
	if _, err := st.CreateAPIKey(ctx, store.APIKey{ProjectID: store.DefaultProjectID, Name: "agent", Role: store.RoleEditor,
		Prefix: shown, KeyHash: store.HashToken(secret)}); err != nil {
		t.Fatal(err)
	}
	pc, err := client.New(api.URL, client.WithAPIKey(secret))
	if err != nil {
		t.Fatal(err)
	}
	return &world{st: st, gwURL: gwSrv.URL, plumb: pc, agentKey: "agent-gateway-secret"}
}

// decideWhenHeld waits for the held call and decides it as a person would.
func (w *world) decideWhenHeld(t *testing.T, d store.ApprovalDecision) {
	ctx := context.Background()
	for range 500 {
		as, err := w.st.ListApprovals(ctx, store.DefaultProjectID, store.ApprovalFilter{Status: store.ApprovalPending})
		if err == nil && len(as) == 1 {
			if _, err := w.st.WithAudit(store.Actor{Type: store.ActorSystem}).DecideApproval(ctx, store.DefaultProjectID, as[0].ID, d); err != nil {
				t.Error(err)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("no call was held")
}

func (w *world) agent(log *bytes.Buffer, paid *[]map[string]any) *Agent {
	return &Agent{GatewayURL: w.gwURL, GatewayKey: w.agentKey, Model: "agent", Plumb: w.plumb, Project: store.DefaultProjectID,
		Poll: 10 * time.Millisecond, Log: log, Tools: map[string]Tool{"make_payment": func(args map[string]any) (string, error) {
			*paid = append(*paid, args)
			return pay(args)
		}}}
}

func TestAgentPaysOnlyAfterApproval(t *testing.T) {
	for _, tc := range []struct {
		name     string
		decision store.ApprovalDecision
		paid     string // the amount paid, "" for none
		answer   string
		outcome  string
	}{
		{"approve", store.ApprovalDecision{Decision: store.DecisionApprove, Approver: "bob@example.com"}, "250", "tool result: paid 250 to acme", store.OutcomeExecuted},
		{"edit", store.ApprovalDecision{Decision: store.DecisionEdit, Approver: "bob@example.com", Reason: "cap at 200",
			Args: `{"amount":200,"to":"acme"}`, ArgsHash: sha(`{"amount":200,"to":"acme"}`)}, "200", "tool result: paid 200 to acme", store.OutcomeExecuted},
		{"reject", store.ApprovalDecision{Decision: store.DecisionReject, Approver: "bob@example.com", Reason: "unknown invoice"}, "", "tool result: not executed: a person rejected this call (unknown invoice)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			var log bytes.Buffer
			var paid []map[string]any
			done := make(chan struct{})
			go func() { defer close(done); w.decideWhenHeld(t, tc.decision) }()
			answer, err := w.agent(&log, &paid).Run(context.Background(), "pay invoice 42 to acme")
			<-done
			if err != nil {
				t.Fatalf("agent: %v\n%s", err, log.String())
			}
			if answer != tc.answer {
				t.Errorf("answer %q, want %q\n%s", answer, tc.answer, log.String())
			}
			if tc.paid == "" && len(paid) != 0 || tc.paid != "" && (len(paid) != 1 || fmt.Sprint(paid[0]["amount"]) != tc.paid) {
				t.Errorf("payments %v, want %s", paid, tc.paid)
			}
			if !strings.Contains(log.String(), "held: make_payment {\"amount\":250,\"to\":\"acme\"}") {
				t.Errorf("log: %s", log.String())
			}
			as, _ := w.st.ListApprovals(context.Background(), store.DefaultProjectID, store.ApprovalFilter{})
			if len(as) != 1 || as[0].Outcome != tc.outcome || as[0].Requester != "gateway key agent-app" {
				t.Errorf("approval %+v", as)
			}
		})
	}
}
