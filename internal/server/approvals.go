package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/toolpolicy"
)

// The approval queue's API (docs/approvals.md): held tool calls, their decisions, the
// endpoint an agent polls, the outcome it reports, and the webhook a decision sends.

// ApprovalWebhook is where decisions are POSTed, signed with Secret (toolpolicy.Sign).
type ApprovalWebhook struct {
	URL    string
	Secret []byte
	// Attempts is how many times a delivery is tried (default 5), waiting Backoff, then
	// twice as long each time (default 1 s).
	Attempts int
	Backoff  time.Duration
	Client   *http.Client // nil: a client with a 10 s timeout
	// Sleep waits between attempts; nil waits on a timer (tests replace it).
	Sleep func(time.Duration)
}

func (s *Server) approvalRoutes(p string) []route {
	a := p + "/approvals/{approval_id}"
	return []route{
		{Method: "GET", Path: p + "/approvals", Access: project, Role: store.RoleViewer, Handle: s.listApprovals, Status: 200,
			Query:   []string{"status", "tool", "limit", "before"},
			Summary: "Held tool calls, newest first, by status (pending, approved, rejected, expired, all) and tool, a page at a time"},
		{Method: "POST", Path: p + "/approvals", Access: project, Role: store.RoleEditor, Handle: s.createApproval, Status: 200, Body: "ApprovalCheck",
			Summary: "Check a tool call against the server's tool policy (plumb serve --tool-policy): allow, deny, or a new pending approval"},
		{Method: "GET", Path: a, Access: project, Role: store.RoleViewer, Handle: s.getApproval, Status: 200,
			Summary: "A held tool call: tool, canonical arguments and hash, rule, requester, expiry, decision, outcome, and whether the caller may decide it"},
		{Method: "POST", Path: a + "/decide", Access: project, Role: store.RoleEditor, Handle: s.decideApproval, Status: 200, Body: "ApprovalDecision",
			Summary: "Approve, edit (new arguments) or reject a held call, with a reason; a person other than the requester; expired calls are 409"},
		{Method: "GET", Path: a + "/decision", Access: project, Role: store.RoleViewer, Handle: s.pollApproval, Status: 200,
			Query:   []string{"call_id", "arguments_hash"},
			Summary: "What the agent polls: the decision, and execute true only for the approved call with the approved arguments' hash; other arguments are 409"},
		{Method: "POST", Path: a + "/outcome", Access: project, Role: store.RoleEditor, Handle: s.approvalOutcome, Status: 200, Body: "ApprovalOutcome",
			Summary: "Record that the approved call ran (executed or failed), once, with the approved arguments' hash; another hash is refused (409) and audited"},
	}
}

func approvalID(r *http.Request) (int64, error) {
	v := r.PathValue("approval_id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, errorf(http.StatusNotFound, codeNotFound, "no approval %q: approvals are numbered 1, 2, ...", v)
	}
	return id, nil
}

// ApprovalRights is what the caller may do with an approval.
type ApprovalRights struct {
	MayDecide bool   `json:"may_decide"`
	Refusal   string `json:"refusal,omitempty"`
}

// ApprovalRightsOf applies the approval rules to a caller: deciding needs a person (not
// an API key) with the editor role, who is not the requester.
func ApprovalRightsOf(a store.Approval, person string, isUser bool, role store.Role, ids ...string) ApprovalRights {
	why := ""
	switch {
	case !isUser:
		why = "an API key cannot decide: an approval is a person's decision; log in as a member"
	case !role.AtLeast(store.RoleEditor):
		why = "deciding an approval needs the editor role; you are a " + string(role)
	default:
		why = a.Refusal(person, ids...)
	}
	return ApprovalRights{MayDecide: why == "", Refusal: why}
}

func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	f := store.ApprovalFilter{Status: q.Get("status"), Tool: q.Get("tool"), Limit: limit + 1}
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before < 1 {
			return errorf(http.StatusBadRequest, codeBadRequest, "before %q: give the next_before of the previous page", v)
		}
	}
	as, err := s.store.ListApprovals(r.Context(), c.project.ID, f)
	if err != nil {
		return err
	}
	var next int64
	if len(as) > limit {
		as = as[:limit]
		next = as[limit-1].ID
	}
	if as == nil {
		as = []store.Approval{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": as, "next_before": next})
	return nil
}

func (s *Server) getApproval(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := approvalID(r)
	if err != nil {
		return err
	}
	a, err := s.store.GetApproval(r.Context(), c.project.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"approval": a, "rights": ApprovalRightsOf(a, c.person(), c.user != nil, c.role, c.userID())})
	return nil
}

// ApprovalCheckBody is POST /approvals' body: a tool call to check against the server's
// policy.
type ApprovalCheckBody struct {
	Tool       string          `json:"tool"`
	CallID     string          `json:"call_id"`
	Arguments  json.RawMessage `json:"arguments"` // a JSON object, or a string holding one (as OpenAI sends it)
	OnBehalfOf string          `json:"on_behalf_of,omitempty"`
}

// argumentsText turns a body's arguments into the text a policy reads.
func argumentsText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func (s *Server) createApproval(w http.ResponseWriter, r *http.Request, c *call) error {
	var b ApprovalCheckBody
	// The arguments are the model's text: one with a repeated key is denied with the
	// policy's reason, like the gateway does, rather than refused as the client's mistake.
	if err := decodeJSON(w, r, s.maxBody, &b, "arguments"); err != nil {
		return err
	}
	if s.toolPolicy == nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "this server has no tool policy: start it with plumb serve --tool-policy FILE (docs/approvals.md)")
	}
	if b.Tool == "" {
		return fieldErr("tool", "tool is empty: name the tool the agent wants to call")
	}
	if b.CallID == "" {
		return fieldErr("call_id", "call_id is empty: give the tool call's id, which the agent polls with")
	}
	d := s.toolPolicy.Evaluate(b.Tool, argumentsText(b.Arguments))
	out := map[string]any{"action": d.Action, "rule": d.Rule, "reason": d.Reason, "arguments": d.Args, "arguments_hash": d.Hash}
	if d.Action == toolpolicy.ActionApprove {
		a, err := s.changes(c).CreateApproval(r.Context(), c.project.ID, store.NewApproval{Tool: b.Tool, CallID: b.CallID,
			Args: d.Args, ArgsHash: d.Hash, Rule: d.Rule, RuleReason: d.Reason, RuleSpec: string(d.Spec),
			Requester: c.person(), OnBehalfOf: b.OnBehalfOf, ExpiresAt: s.now().Add(d.TTL)})
		if err != nil {
			return err
		}
		out["approval"] = a
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ApprovalDecisionBody is POST /decide's body.
type ApprovalDecisionBody struct {
	Decision  string          `json:"decision"` // approve, edit or reject
	Reason    string          `json:"reason"`
	Arguments json.RawMessage `json:"arguments,omitempty"` // edit: the new arguments
}

func (s *Server) decideApproval(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := approvalID(r)
	if err != nil {
		return err
	}
	var b ApprovalDecisionBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	a, err := s.applyDecision(r.Context(), c, id, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"approval": a})
	return nil
}

// decideApproval applies the caller's rights and decides.
func (s *Server) applyDecision(ctx context.Context, c *call, id int64, b ApprovalDecisionBody) (store.Approval, error) {
	a, err := s.store.GetApproval(ctx, c.project.ID, id)
	if err != nil {
		return a, err
	}
	if rights := ApprovalRightsOf(a, c.person(), c.user != nil, c.role, c.userID()); !rights.MayDecide && a.Status == store.ApprovalPending {
		return a, errorf(http.StatusForbidden, codeForbidden, "%s", rights.Refusal)
	}
	d := store.ApprovalDecision{Decision: b.Decision, Approver: c.person(), ApproverIDs: []string{c.userID()}, Reason: b.Reason}
	switch b.Decision {
	case store.DecisionApprove, store.DecisionReject:
		if len(b.Arguments) > 0 {
			return a, fieldErr("arguments", "arguments go with decision edit only")
		}
	case store.DecisionEdit:
		if len(b.Arguments) == 0 {
			return a, fieldErr("arguments", "an edit needs the new arguments (a JSON object)")
		}
		if d.Args, d.ArgsHash, err = toolpolicy.CheckEdit(json.RawMessage(a.RuleSpec), a.Tool, argumentsText(b.Arguments)); err != nil {
			return a, fieldErr("arguments", "%v", err)
		}
	default:
		return a, fieldErr("decision", "decision %q: use approve, edit or reject", b.Decision)
	}
	out, err := s.changes(c).DecideApproval(ctx, c.project.ID, id, d)
	if err != nil {
		if errors.Is(err, store.ErrConflict) && out.ID != 0 && out.Status == store.ApprovalExpired {
			s.notifyApproval(out.ID) // this decision found it expired and marked it
		}
		return out, err
	}
	s.notifyApproval(out.ID)
	return out, nil
}

// ApprovalPoll is what an agent polling an approval gets.
type ApprovalPoll struct {
	ID       int64  `json:"id"`
	Status   string `json:"status"`
	Decision string `json:"decision,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Execute is true only when the call is approved, the call id is the approved one and
	// the agent's arguments hash is the one asked for or approved: run the call with
	// Arguments, whose hash is ArgumentsHash (an approver's edit changes them).
	Execute       bool      `json:"execute"`
	Arguments     string    `json:"arguments,omitempty"`
	ArgumentsHash string    `json:"arguments_hash,omitempty"`
	ExpiresAt     time.Time `json:"expires_at"`
	Outcome       string    `json:"outcome,omitempty"`
}

func (s *Server) pollApproval(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := approvalID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	callID, hash := q.Get("call_id"), q.Get("arguments_hash")
	if callID == "" || hash == "" {
		return errorf(http.StatusBadRequest, codeBadRequest, "give call_id and arguments_hash: the call's id and the SHA-256 of its canonical arguments, as plumb_approvals listed them")
	}
	a, err := s.store.GetApproval(r.Context(), c.project.ID, id)
	if err != nil {
		return err
	}
	if callID != a.CallID {
		return errorf(http.StatusConflict, codeConflict, "approval #%d is for call %q, not %q", id, a.CallID, callID)
	}
	if hash != a.ArgsHash && (a.ApprovedHash == "" || hash != a.ApprovedHash) {
		return errorf(http.StatusConflict, codeConflict, "the arguments (hash %s) are not the ones approval #%d was asked for: the call must not run", hash, id)
	}
	p := ApprovalPoll{ID: a.ID, Status: a.Status, Decision: a.Decision, Reason: a.Reason, ExpiresAt: a.ExpiresAt, Outcome: a.Outcome}
	if a.Status == store.ApprovalApproved {
		p.Arguments, p.ArgumentsHash = a.ApprovedArgs, a.ApprovedHash
		p.Execute = a.Outcome == ""
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// ApprovalOutcomeBody is POST /outcome's body.
type ApprovalOutcomeBody struct {
	CallID        string `json:"call_id"`
	ArgumentsHash string `json:"arguments_hash"`
	Outcome       string `json:"outcome"` // executed or failed
	Detail        string `json:"detail,omitempty"`
}

func (s *Server) approvalOutcome(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := approvalID(r)
	if err != nil {
		return err
	}
	var b ApprovalOutcomeBody
	if err := decodeJSON(w, r, s.maxBody, &b); err != nil {
		return err
	}
	a, err := s.changes(c).RecordApprovalOutcome(r.Context(), c.project.ID, id, b.CallID, b.ArgumentsHash, b.Outcome, b.Detail)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"approval": a})
	return nil
}

// notifyApproval sends the decision just made on approval id to the webhook, in the
// background, retrying with backoff. It claims the notice first, so that the sweep of this
// or another server does not send it too; a notice that could not be delivered stays due,
// and the sweep (SendApprovalNotices) tries again. The secret is never logged.
func (s *Server) notifyApproval(id int64) {
	if s.webhook == nil || s.webhook.URL == "" {
		return
	}
	s.webhooks.Add(1)
	go func() {
		defer s.webhooks.Done()
		ns, err := s.store.ClaimApprovalNotices(context.Background(), store.NoticeClaim{ID: id})
		if err != nil {
			s.log.Error("approval webhook: claim the notice", "approval", id, "err", err)
			return
		}
		for _, n := range ns {
			s.sendNotice(n)
		}
	}()
}

// SendApprovalNotices sends to the webhook every decision whose notice is due: those
// made in another process on the same store (plumb approvals approve|edit|reject), and
// those whose delivery failed earlier. plumb serve runs it at start and every minute. It
// returns how many it started sending.
func (s *Server) SendApprovalNotices(ctx context.Context) (int, error) {
	if s.webhook == nil || s.webhook.URL == "" {
		return 0, nil
	}
	ns, err := s.store.ClaimApprovalNotices(ctx, store.NoticeClaim{})
	for _, n := range ns {
		s.webhooks.Add(1)
		go func() {
			defer s.webhooks.Done()
			s.sendNotice(n)
		}()
	}
	return len(ns), err
}

// sendNotice delivers one claimed notice and records it as sent.
func (s *Server) sendNotice(n store.ApprovalNotice) {
	a := n.Approval
	decision := a.Decision
	if a.Status == store.ApprovalExpired {
		decision = store.ApprovalExpired
	}
	body, _ := json.Marshal(map[string]any{"event": "approval.decided", "decision": decision, "project": n.ProjectID, "approval": a})
	if err := s.deliver(s.webhook, body); err != nil {
		s.log.Error("approval webhook: not delivered; the sweep tries again", "approval", a.ID, "err", err)
		return
	}
	if err := s.store.ApprovalNoticeSent(context.Background(), a.ID); err != nil {
		s.log.Error("approval webhook: delivered, but not recorded as sent", "approval", a.ID, "err", err)
	}
}

func (s *Server) deliver(wh *ApprovalWebhook, body []byte) error {
	attempts, backoff := wh.Attempts, wh.Backoff
	if attempts <= 0 {
		attempts = 5
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	client := wh.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	sleep := wh.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			sleep(backoff << (i - 1))
		}
		ts := s.now().Unix()
		req, err := http.NewRequest(http.MethodPost, wh.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(toolpolicy.HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(toolpolicy.HeaderSignature, toolpolicy.Sign(wh.Secret, ts, body))
		resp, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil
		}
		last = fmt.Errorf("status %d", resp.StatusCode)
	}
	return fmt.Errorf("%d attempts: %w", attempts, last)
}

// ExpireApprovals marks the pending approvals past their expiry as expired, as the
// system (audited), and sends each to the webhook with decision "expired" (plumb serve
// runs it every minute). It returns how many expired.
func (s *Server) ExpireApprovals(ctx context.Context) (int, error) {
	ex, err := s.store.WithAudit(store.Actor{Type: store.ActorSystem}).ExpireApprovals(ctx)
	for _, e := range ex {
		s.notifyApproval(e.Approval.ID)
	}
	return len(ex), err
}

// WaitWebhooks waits for webhook deliveries in flight (tests, shutdown).
func (s *Server) WaitWebhooks() { s.webhooks.Wait() }

// DecideApprovalAs decides an approval of c.Project as c (the web UI's forms).
func (s *Server) DecideApprovalAs(ctx context.Context, c *Caller, id int64, b ApprovalDecisionBody) (store.Approval, error) {
	return s.applyDecision(ctx, c.c, id, b)
}

// ApprovalRights is what c may do with an approval.
func (c *Caller) ApprovalRights(a store.Approval) ApprovalRights {
	return ApprovalRightsOf(a, c.c.person(), c.c.user != nil, c.c.role, c.c.userID())
}
