package cli

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
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
	// Each hold is another call: call_1, call_2, ...
	all, err := st.ListApprovals(ctx, store.DefaultProjectID, store.ApprovalFilter{Status: "all"})
	ts.Check(err)
	_, err = st.WithAudit(store.Actor{Type: store.ActorSystem}).CreateApproval(ctx, store.DefaultProjectID, store.NewApproval{
		Tool: args[0], CallID: fmt.Sprintf("call_%d", len(all)+1), Args: canon, ArgsHash: hash, Rule: "payments", RuleReason: "amount above 100",
		RuleSpec: `{"name":"payments","tool":"make_payment","max":{"amount":500}}`, Requester: "gateway key app",
		OnBehalfOf: "customer@example.com", ExpiresAt: time.Now().Add(ttl)})
	ts.Check(err)
}

// TestApprovalsCLIUserAndProject: --as EMAIL is refused when the agent acted for that
// person under their user id (as the API refuses it), and --project takes a slug or an id,
// an unknown one being an error rather than an empty queue.
func TestApprovalsCLIUserAndProject(t *testing.T) {
	ctx := context.Background()
	dsn, st, team := storeWithTeam(t)
	bob, err := st.CreateUser(ctx, store.User{Email: "bob@example.com", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, canon, hash, _ := toolpolicy.Canonical(`{"amount": 250}`)
	if _, err := st.CreateApproval(ctx, team.ID, store.NewApproval{Tool: "make_payment", CallID: "call_1", Args: canon, ArgsHash: hash,
		Rule: "payments", RuleReason: "amount is 250, above 100", Requester: "gateway key app", OnBehalfOf: bob.ID,
		ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	checkCommands(t, dsn, "approvals", []commandCase{
		{[]string{"list", "--project", "team-b"}, ExitOK, "make_payment"},
		{[]string{"list", "--project", team.ID}, ExitOK, "make_payment"},
		{[]string{"list", "--project", "default"}, ExitOK, "no pending approvals"},
		{[]string{"list"}, ExitOK, "no pending approvals"},
		{[]string{"list", "--project", "p_nope"}, ExitUsage, `--project "p_nope": no such project`},
		{[]string{"show", "1", "--project", "team-c"}, ExitUsage, `--project "team-c": no such project`},
		{[]string{"show", "1", "--project", "team-b"}, ExitOK, "for user:   " + bob.ID},
		// The agent acted for bob by his id: bob may not approve under his e-mail.
		{[]string{"approve", "1", "--project", "team-b", "--as", "bob@example.com"}, ExitUsage, "on your behalf"},
		{[]string{"reject", "1", "--project", "team-b", "--as", "Bob@Example.com", "--reason", "no"}, ExitUsage, "on your behalf"},
		// --as is an e-mail address, bare: anything else is recorded nowhere.
		{[]string{"approve", "1", "--project", "team-b", "--as", "not an email <script>"}, ExitUsage, `--as "not an email <script>" is not an email address`},
		{[]string{"approve", "1", "--project", "team-b", "--as", "Carol <carol@example.com>"}, ExitUsage, "is not an email address"},
		{[]string{"approve", "1", "--project", "team-b", "--as", "carol@example.com"}, ExitOK, "approve by carol@example.com (no reason given)\n"},
	})
}

// commandCase is a run of `plumb COMMAND args...`: its exit code and a text its output holds.
type commandCase struct {
	args []string
	code int
	want string
}

// checkCommands runs each case as `plumb command args...` on the store dsn (PLUMB_DB).
func checkCommands(t *testing.T, dsn, command string, cases []commandCase) {
	t.Helper()
	for _, tc := range cases {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, args: append([]string{command}, tc.args...),
			getenv: func(k string) string {
				if k == "PLUMB_DB" {
					return dsn
				}
				return ""
			}}
		code := run(context.Background(), e)
		if got := out.String() + errb.String(); code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("plumb %s %s: exit %d, %q; want exit %d and %q", command, strings.Join(tc.args, " "), code, got, tc.code, tc.want)
		}
	}
}
