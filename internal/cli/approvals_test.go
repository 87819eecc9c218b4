package cli

import (
	"context"
	"path/filepath"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// holdApproval (hold TOOL ARGUMENTS_JSON [TTL]) stores a pending approval in the script's
// store as the gateway holds a call: requester "gateway key app", on behalf of
// customer@example.com, with a rule capping amount at 500.
func holdApproval(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: hold TOOL ARGUMENTS_JSON [TTL]")
	}
	ttl := time.Hour
	if len(args) > 2 {
		var err error
		ttl, err = time.ParseDuration(args[2])
		ts.Check(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(ts.Getenv("WORK"), ".plumb", "plumb.db"), store.OpenOptions{Migrate: true})
	ts.Check(err)
	defer st.Close()
	_, canon, hash, err := toolpolicy.Canonical(args[1])
	ts.Check(err)
	_, err = st.WithAudit(store.Actor{Type: store.ActorSystem}).CreateApproval(ctx, store.DefaultProjectID, store.NewApproval{
		Tool: args[0], CallID: "call_1", Args: canon, ArgsHash: hash, Rule: "payments", RuleReason: "amount above 100",
		RuleSpec: `{"name":"payments","tool":"make_payment","max":{"amount":500}}`, Requester: "gateway key app",
		OnBehalfOf: "customer@example.com", ExpiresAt: time.Now().Add(ttl)})
	ts.Check(err)
}
