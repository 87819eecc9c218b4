package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/plumbhq/plumb/internal/store"
)

// Approval is a tool call held for a person's decision (docs/approvals.md).
type Approval = store.Approval

// ApprovalPoll is what an agent polling an approval learns: Execute is true only for the
// approved call, and then Arguments (hash ArgumentsHash) are what to run.
type ApprovalPoll struct {
	ID            int64     `json:"id"`
	Status        string    `json:"status"`
	Decision      string    `json:"decision,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Execute       bool      `json:"execute"`
	Arguments     string    `json:"arguments,omitempty"`
	ArgumentsHash string    `json:"arguments_hash,omitempty"`
	ExpiresAt     time.Time `json:"expires_at"`
	Outcome       string    `json:"outcome,omitempty"`
}

// PollApproval asks for the decision on a held call, naming the call and the hash of the
// arguments the agent holds; arguments other than those asked for or approved are an
// error (409).
func (c *Client) PollApproval(ctx context.Context, project string, id int64, callID, argsHash string) (ApprovalPoll, error) {
	var out ApprovalPoll
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("%s/approvals/%d/decision", projectPath(project), id),
		url.Values{"call_id": {callID}, "arguments_hash": {argsHash}}, nil, &out)
	return out, err
}

// ReportApprovalOutcome records that the approved call ran ("executed") or failed
// ("failed"), with the hash of the arguments it ran with.
func (c *Client) ReportApprovalOutcome(ctx context.Context, project string, id int64, callID, argsHash, outcome, detail string) (Approval, error) {
	var out struct {
		Approval Approval `json:"approval"`
	}
	err := c.doJSON(ctx, http.MethodPost, fmt.Sprintf("%s/approvals/%d/outcome", projectPath(project), id),
		map[string]string{"call_id": callID, "arguments_hash": argsHash, "outcome": outcome, "detail": detail}, &out)
	return out.Approval, err
}

// ListApprovals lists a project's approvals by status ("" for all).
func (c *Client) ListApprovals(ctx context.Context, project, status string) ([]Approval, error) {
	var out struct {
		Approvals []Approval `json:"approvals"`
	}
	v := url.Values{}
	if status != "" {
		v.Set("status", status)
	}
	err := c.do(ctx, http.MethodGet, projectPath(project)+"/approvals", v, nil, &out)
	return out.Approvals, err
}

// VerifyApprovalWebhook checks a decision webhook's signature (headers X-Plumb-Timestamp
// and X-Plumb-Signature) over its body, and that it was sent within maxAge of now.
func VerifyApprovalWebhook(secret []byte, timestamp, signature string, body []byte, now time.Time, maxAge time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook timestamp %q is not Unix seconds", timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxAge || d < -maxAge {
		return fmt.Errorf("webhook sent at %s, outside %s of now: refused as a replay", time.Unix(ts, 0).UTC(), maxAge)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp + "."))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return fmt.Errorf("webhook signature does not match")
	}
	return nil
}
