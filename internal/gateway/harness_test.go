package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbhq/plumb/internal/fakellm"
	"github.com/plumbhq/plumb/internal/gateway/limit"
	"github.com/plumbhq/plumb/internal/store"
)

// Secrets of the test configs: an upstream key must never reach a client, a log or a trace.
const (
	primaryKey = "sk-primary-SECRET-0123456789"
	backupKey  = "sk-backup-SECRET-9876543210"
	teamAKey   = "team-a-secret"
	teamBKey   = "team-b-secret"
)

func testEnv(name string) string {
	return map[string]string{
		"PRIMARY_API_KEY": primaryKey, "BACKUP_API_KEY": backupKey,
		"TEAM_A_KEY": teamAKey, "TEAM_B_KEY": teamBKey,
	}[name]
}

// harness is a gateway in front of two fake upstreams.
type harness struct {
	t        *testing.T
	primary  *fakellm.Server
	backup   *fakellm.Server
	gw       *Gateway
	srv      *httptest.Server
	logs     *syncBuffer
	rec      *memRecorder
	lim      *memLimiter
	slept    []time.Duration
	sleptMu  sync.Mutex
	clockMu  sync.Mutex
	clock    time.Time
	useClock bool
}

// harnessOpts change the harness before the gateway is built.
type harnessOpts struct {
	fakeClock bool
	seed      uint64
	opt       func(*Options)
}

// newHarness starts the upstreams and a gateway whose config is yaml with PRIMARY and
// BACKUP replaced by the upstreams' URLs.
func newHarness(t *testing.T, yaml string, ho ...harnessOpts) *harness {
	t.Helper()
	var o harnessOpts
	if len(ho) > 0 {
		o = ho[0]
	}
	h := &harness{t: t, logs: &syncBuffer{}, rec: &memRecorder{}, lim: newMemLimiter(), clock: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), useClock: o.fakeClock}
	var err error
	if h.primary, err = fakellm.Start(fakellm.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.primary.Close)
	if h.backup, err = fakellm.Start(fakellm.Options{Rules: []fakellm.Rule{{Match: "", Reply: "from backup"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.backup.Close)
	yaml = strings.NewReplacer("PRIMARY_URL", h.primary.URL, "BACKUP_URL", h.backup.URL).Replace(yaml)
	cfg, err := Parse([]byte(yaml), "gateway.yaml", testEnv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r := rand.New(rand.NewPCG(o.seed, 1))
	var rmu sync.Mutex
	opt := Options{
		Limiter:  h.lim,
		Recorder: h.rec,
		Bodies:   func(b []byte) string { return string(b) },
		Logger:   slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Rand:     func() float64 { rmu.Lock(); defer rmu.Unlock(); return r.Float64() },
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.sleptMu.Lock()
			h.slept = append(h.slept, d)
			h.sleptMu.Unlock()
			return nil
		},
	}
	if o.fakeClock {
		opt.Now = h.now
	}
	if o.opt != nil {
		o.opt(&opt)
	}
	if h.gw, err = New(cfg, opt); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.gw)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) now() time.Time {
	h.clockMu.Lock()
	defer h.clockMu.Unlock()
	return h.clock
}

func (h *harness) advance(d time.Duration) {
	h.clockMu.Lock()
	h.clock = h.clock.Add(d)
	h.clockMu.Unlock()
}

// post sends body to path with the key as a Bearer token.
func (h *harness) post(path, key, body string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// call posts and reads the whole answer.
func (h *harness) call(path, key, body string) (int, http.Header, string) {
	h.t.Helper()
	resp := h.post(path, key, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func chat(model, text string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"` + text + `"}]}`
}

// apiErr decodes an OpenAI-shaped error body, failing the test when it is not one.
func apiErr(t *testing.T, body string) (typ, code, msg string) {
	t.Helper()
	var v struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   any     `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error == nil {
		t.Fatalf("not an OpenAI error body: %s", body)
	}
	if v.Error.Code != nil {
		code = *v.Error.Code
	}
	return v.Error.Type, code, v.Error.Message
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// memRecorder keeps the records.
type memRecorder struct {
	mu  sync.Mutex
	all []store.Trace
}

func (m *memRecorder) Record(t store.Trace) {
	m.mu.Lock()
	m.all = append(m.all, t)
	m.mu.Unlock()
}

func (m *memRecorder) traces() []store.Trace {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.Trace(nil), m.all...)
}

// last waits briefly for the n-th record (the gateway records after the answer is sent).
func (h *harness) record(n int) store.Trace {
	h.t.Helper()
	for i := 0; i < 200; i++ {
		if all := h.rec.traces(); len(all) >= n {
			return all[n-1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("no record %d; have %d", n, len(h.rec.traces()))
	return store.Trace{}
}

// memLimiter is a minimal limiter that keeps the Limiter contract: requests and reserved
// tokens in the current minute, spend in the current day, with settles recorded.
type memLimiter struct {
	mu      sync.Mutex
	reqs    map[string]int
	tokens  map[string]int
	spend   map[string]float64
	settled []limit.Usage
}

func newMemLimiter() *memLimiter {
	return &memLimiter{reqs: map[string]int{}, tokens: map[string]int{}, spend: map[string]float64{}}
}

func (m *memLimiter) Admit(_ context.Context, key string, l limit.Limits, est limit.Usage) (limit.Decision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case l.RPM > 0 && m.reqs[key]+1 > l.RPM:
		return limit.Decision{Reason: "rpm", RetryAfter: 30 * time.Second, Limit: float64(l.RPM)}, nil
	case l.TPM > 0 && m.tokens[key]+est.Tokens > l.TPM:
		return limit.Decision{Reason: "tpm", RetryAfter: 20 * time.Second, Limit: float64(l.TPM)}, nil
	case l.BudgetUSDPerDay > 0 && m.spend[key]+est.CostUSD > l.BudgetUSDPerDay:
		return limit.Decision{Reason: "budget", RetryAfter: 3 * time.Hour, Limit: l.BudgetUSDPerDay}, nil
	}
	m.reqs[key]++
	m.tokens[key] += est.Tokens
	m.spend[key] += est.CostUSD
	return limit.Decision{Allowed: true}, nil
}

func (m *memLimiter) Settle(_ context.Context, key string, _ limit.Limits, est, actual limit.Usage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens[key] += actual.Tokens - est.Tokens
	m.spend[key] += actual.CostUSD - est.CostUSD
	m.settled = append(m.settled, actual)
	return nil
}

func (m *memLimiter) Close() error { return nil }

// twoTargets is the config with the test upstreams.
const twoTargets = `
listen: 127.0.0.1:4000
providers:
  - name: primary
    type: openai
    base_url: PRIMARY_URL
    api_key_env: PRIMARY_API_KEY
  - name: backup
    type: openai
    base_url: BACKUP_URL
    api_key_env: BACKUP_API_KEY
routes:
  - name: support-bot
    targets:
      - provider: primary
        model: fake-1
      - provider: backup
        model: fake-1
    timeout_ms: 10000
keys:
  - name: team-a
    key_env: TEAM_A_KEY
    rpm: 60
    tpm: 100000
    budget_usd_per_day: 5
`

// noLimits drops the key's limits from a config, for tests that make many calls.
func noLimits(cfg string) string {
	return strings.NewReplacer("    rpm: 60\n", "", "    tpm: 100000\n", "", "    budget_usd_per_day: 5\n", "").Replace(cfg)
}
