package store

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Traces keeps the gateway's trace log: one record per call a client made through the
// gateway, and one per shadow call beside it. Records are written in batches by the
// gateway's recorder, never on a request's path.
type Traces interface {
	// SaveTraces inserts a batch of records in one transaction. A record whose project
	// does not exist is stored in the default project; a record without an id gets one
	// (NewTraceID). The batch's records are updated with the id and project stored. An id
	// already stored is ErrConflict.
	SaveTraces(ctx context.Context, batch []Trace) error
	// ListTraces returns one page of a project's records matching f, newest first, and the
	// cursor of the next page ("" after the last); cursor and limit work as ListResults'
	// do. The bodies are left out (GetTrace has them). A malformed cursor is ErrInvalid.
	ListTraces(ctx context.Context, projectID string, f TraceFilter, cursor string, limit int) (page []Trace, next string, err error)
	// GetTrace returns one record of a project with its bodies, or ErrNotFound.
	GetTrace(ctx context.Context, projectID, id string) (Trace, error)
	// TrafficStats sums a project's records since a time, per route and per day: what the
	// traffic page shows.
	TrafficStats(ctx context.Context, projectID string, since time.Time) (TrafficStats, error)
	// DeleteTracesBefore deletes every project's records (and their bodies) that started
	// before a time: the retention job. It returns how many it deleted.
	DeleteTracesBefore(ctx context.Context, before time.Time) (int64, error)
	// ShadowPairs returns a route's shadow records started since a time, oldest first and
	// at most limit of them, each with the live record it shadows, bodies included: what
	// the shadow comparison report reads (traces_shadow.go).
	ShadowPairs(ctx context.Context, projectID, route string, since time.Time, limit int) ([]ShadowPair, error)
	// ShadowRoutes returns the routes of a project with shadow records started since a
	// time, by name, with how many: the shadow page's route picker (traces_shadow.go).
	ShadowRoutes(ctx context.Context, projectID string, since time.Time) ([]ShadowRoute, error)
}

// Trace is one call through the gateway.
type Trace struct {
	ID        string    `json:"id"` // time-ordered: sorts as the calls started
	ProjectID string    `json:"project_id"`
	Key       string    `json:"key"`                // the client key's name: a config key's, or a project API key's
	Endpoint  string    `json:"endpoint"`           // chat.completions, embeddings, messages
	Route     string    `json:"route"`              // the model name the client sent
	Provider  string    `json:"provider,omitempty"` // the target that answered
	Model     string    `json:"model,omitempty"`    // the upstream model that answered
	Attempts  []Attempt `json:"attempts,omitempty"` // every target tried, in order
	Fallbacks int       `json:"fallbacks"`          // targets tried after the first
	Stream    bool      `json:"stream"`
	Cached    bool      `json:"cached"` // answered from the response cache
	Canary    bool      `json:"canary"` // the route's canary target was picked
	// ShadowOf is the id of the live call this record shadows ("" for a live call).
	ShadowOf  string    `json:"shadow_of,omitempty"`
	Status    int       `json:"status"`               // the HTTP status the client got
	ErrorCode string    `json:"error_code,omitempty"` // the OpenAI error code, when it failed
	Blocked   string    `json:"blocked,omitempty"`    // the guard step or tool rule that blocked it, or HeldBlocked
	StartedAt time.Time `json:"started_at"`
	LatencyMS float64   `json:"latency_ms"`
	TTFTMS    *float64  `json:"ttft_ms,omitempty"` // time to the first streamed token
	TokensIn  int       `json:"tokens_in"`
	TokensOut int       `json:"tokens_out"`
	CostUSD   float64   `json:"cost_usd"`
	// The bodies as recorded (full, truncated or left out, with secrets and PII redacted).
	RequestBody  string `json:"request_body,omitempty"`
	ResponseBody string `json:"response_body,omitempty"`
}

// Attempt is one target tried for a call.
type Attempt struct {
	Provider  string  `json:"provider"`
	Model     string  `json:"model"`
	Status    int     `json:"status"`          // the upstream's status; 0 when it was not reached
	Error     string  `json:"error,omitempty"` // why it failed: timeout, connection refused, ...
	LatencyMS float64 `json:"latency_ms"`
}

// TraceFilter narrows ListTraces; zero values mean no filter.
type TraceFilter struct {
	Route  string
	Key    string
	Status string // "ok" (2xx without an error code), "error" (anything else: a stream cut after its 200 too), or "" for all
	Shadow bool   // shadow records instead of live ones
	Since  time.Time
	Until  time.Time
}

// TrafficStats are a project's traffic numbers over a period.
type TrafficStats struct {
	Routes []RouteTraffic `json:"routes"`
	Days   []DayTraffic   `json:"days"`
	Keys   []KeyTraffic   `json:"keys"` // by requests, most first
}

// RouteTraffic sums one route's live calls.
type RouteTraffic struct {
	Route     string  `json:"route"`
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	Fallbacks int     `json:"fallbacks"`
	Cached    int     `json:"cached"`
	P50MS     float64 `json:"p50_ms"`
	P95MS     float64 `json:"p95_ms"`
	P99MS     float64 `json:"p99_ms"`
	TokensIn  int     `json:"tokens_in"`
	TokensOut int     `json:"tokens_out"`
	CostUSD   float64 `json:"cost_usd"`
}

// DayTraffic sums one UTC day's live calls.
type DayTraffic struct {
	Day       time.Time `json:"day"`
	Requests  int       `json:"requests"`
	Errors    int       `json:"errors"`
	TokensIn  int       `json:"tokens_in"`
	TokensOut int       `json:"tokens_out"`
	CostUSD   float64   `json:"cost_usd"`
}

// KeyTraffic sums one client key's live calls.
type KeyTraffic struct {
	Key      string  `json:"key"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	CostUSD  float64 `json:"cost_usd"`
}

// heldPrefix starts a trace's Blocked when the call's tool calls were held for approval.
const heldPrefix = "approval:"

// HeldBlocked is the Blocked value of a call whose tool calls were held for a person's
// approval: "approval:" and the approval ids, comma-separated (docs/approvals.md).
func HeldBlocked(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return heldPrefix + strings.Join(parts, ",")
}

// HeldApprovals is the ids of the approvals the call's held tool calls wait for (nil when
// none were held).
func (t Trace) HeldApprovals() []int64 {
	rest, ok := strings.CutPrefix(t.Blocked, heldPrefix)
	if !ok {
		return nil
	}
	var ids []int64
	for _, p := range strings.Split(rest, ",") {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// BlockedBy is what blocked the call: Blocked, unless it names held approvals.
func (t Trace) BlockedBy() string {
	if strings.HasPrefix(t.Blocked, heldPrefix) {
		return ""
	}
	return t.Blocked
}
