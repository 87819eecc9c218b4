// Package gateway is Plumb's OpenAI-compatible gateway: it authenticates clients by key,
// routes each call by model name to upstream targets with ordered fallback, retries,
// weighted balancing, circuit breaking and canary shares, enforces per-key limits through
// a limit.Limiter, runs the guard pipeline, passes streams through event by event, and
// records every call (a Recorder) and its metrics (Prometheus).
package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/plumbhq/plumb/internal/gateway/limit"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/store"
)

// Recorder takes one trace record per call. It must not block: the trace package's
// recorder buffers records and writes them in batches.
type Recorder interface{ Record(store.Trace) }

// KeyStore finds project API keys by the hash of their secret (store.HashToken); the
// store implements it. With one, the gateway also accepts project API keys (plk_...).
type KeyStore interface {
	GetAPIKeyByHash(ctx context.Context, keyHash string) (store.APIKey, error)
}

// Options are the gateway's dependencies.
type Options struct {
	// Limiter counts each key's requests, tokens and spend. Required when a key has limits.
	Limiter limit.Limiter
	// Recorder gets one record per call; nil records nothing.
	Recorder Recorder
	// Bodies turns a request or response body into what a trace keeps (truncated,
	// redacted; see the trace package); nil leaves the bodies out of the records.
	Bodies func(raw []byte) string
	// Registry holds the gateway's metrics and is served at /metrics; nil makes one.
	Registry *prometheus.Registry
	// Guards are steps run after the config's guard steps, in order.
	Guards []Guard
	// Keys, when set, lets project API keys in, with ProjectKeyLimits.
	Keys             KeyStore
	ProjectKeyLimits limit.Limits
	Logger           *slog.Logger
	// Client calls the upstreams; nil uses a client tuned for many connections to few hosts.
	Client *http.Client
	// Now and Rand are the clock and the random source (canary, weights, jitter); nil
	// means the real ones.
	Now  func() time.Time
	Rand func() float64
	// Approvals stores the tool calls a route's tool policy holds (tools.go); required
	// when a route's policy has approve rules.
	Approvals ApprovalStore
	// Reviewer takes the cases a guard policy's review steps hold (review.go); nil drops
	// them (the trace still names the step).
	Reviewer Reviewer
	// Sleep waits between retries; nil waits on a timer (tests replace it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Gateway serves the OpenAI-compatible API. It is an http.Handler.
type Gateway struct {
	cfg      *Config
	opt      Options
	log      *slog.Logger
	limiter  limit.Limiter
	recorder Recorder
	client   *http.Client
	now      func() time.Time
	rand     func() float64
	sleep    func(ctx context.Context, d time.Duration) error

	providers map[string]*upstream
	routes    map[string]*route
	routeList []string
	keys      map[[32]byte]*clientKey
	guards    []Guard
	metrics   *metrics
	registry  *prometheus.Registry
	cache     *responseCache
	mux       *http.ServeMux
	shadow    *shadowing // shadow traffic (shadow.go)
	approvals ApprovalStore

	draining atomic.Bool
	seq      atomic.Uint64
	inflight sync.WaitGroup
}

// upstream is a provider with its dialect.
type upstream struct {
	*Provider
	dialect dialect
}

// route is a configured route, ready to serve.
type route struct {
	*Route
	targets []*target
	canary  *target
	total   int // sum of the targets' weights
}

// target is one provider and model, with its circuit breaker (shared by every route that
// names the same provider and model).
type target struct {
	up      *upstream
	model   string
	modelJS json.RawMessage // model as a JSON string, as the upstream body carries it
	weight  int
	label   string // provider/model, for metrics
	breaker *breaker
	price   provider.Price
}

// clientKey is who a call comes from.
type clientKey struct {
	name    string // metrics, traces and approvals show it
	limitID string // what the limiter counts under: the config key's name, a project API key's id
	project string
	limits  limit.Limits
	routes  map[string]bool // nil: every route
}

func (k *clientKey) limited() bool {
	return k.limits.RPM > 0 || k.limits.TPM > 0 || k.limits.BudgetUSDPerDay > 0
}

// New builds a gateway from a loaded config.
func New(cfg *Config, opt Options) (*Gateway, error) {
	g := &Gateway{cfg: cfg, opt: opt, limiter: opt.Limiter, recorder: opt.Recorder,
		providers: map[string]*upstream{}, routes: map[string]*route{}, keys: map[[32]byte]*clientKey{}}
	g.log = opt.Logger
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.now = opt.Now
	if g.now == nil {
		g.now = time.Now
	}
	g.rand = opt.Rand
	if g.rand == nil {
		g.rand = rand.Float64
	}
	g.sleep = opt.Sleep
	if g.sleep == nil {
		g.sleep = sleepCtx
	}
	g.client = opt.Client
	if g.client == nil {
		g.client = &http.Client{Transport: newTransport()}
	}
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		d, err := newDialect(p.Type)
		if err != nil {
			return nil, fmt.Errorf("%s: provider %q: %w", cfg.pos.at(fmt.Sprintf("providers[%d].type", i)), p.Name, err)
		}
		g.providers[p.Name] = &upstream{Provider: p, dialect: d}
	}
	cfg.classify = g.classify
	breakers := map[string]*target{}
	mkTarget := func(prov, model string, weight int) *target {
		label := prov + "/" + model
		modelJS, _ := json.Marshal(model)
		if t, ok := breakers[label]; ok {
			return &target{up: t.up, model: model, modelJS: modelJS, weight: weight, label: label, breaker: t.breaker, price: t.price}
		}
		t := &target{up: g.providers[prov], model: model, modelJS: modelJS, weight: weight, label: label,
			breaker: &breaker{failures: cfg.Breaker.Failures, cooldown: time.Duration(cfg.Breaker.CooldownMS) * time.Millisecond},
			price:   g.price(model)}
		breakers[label] = t
		return t
	}
	for i := range cfg.Routes {
		r := &route{Route: &cfg.Routes[i]}
		for _, t := range r.Targets {
			r.targets = append(r.targets, mkTarget(t.Provider, t.Model, t.Weight))
			r.total += t.Weight
		}
		if r.Canary != nil {
			r.canary = mkTarget(r.Canary.Provider, r.Canary.Model, 0)
		}
		g.routes[r.Name] = r
		g.routeList = append(g.routeList, r.Name)
	}
	for i := range cfg.Keys {
		k := &cfg.Keys[i]
		ck := &clientKey{name: k.Name, limitID: k.Name, project: k.Project,
			limits: limit.Limits{RPM: k.RPM, TPM: k.TPM, BudgetUSDPerDay: k.BudgetUSDPerDay}}
		if len(k.Routes) > 0 {
			ck.routes = map[string]bool{}
			for _, r := range k.Routes {
				ck.routes[r] = true
			}
		}
		if ck.limited() && g.limiter == nil {
			return nil, fmt.Errorf("%s: key %q has limits but the gateway was given no limiter", cfg.pos.at(fmt.Sprintf("keys[%d]", i)), k.Name)
		}
		g.keys[sha256.Sum256([]byte(k.secret))] = ck
	}
	if opt.Keys != nil && g.limiter == nil && (opt.ProjectKeyLimits != limit.Limits{}) {
		return nil, errors.New("project key limits need a limiter")
	}
	for i := range cfg.Guards {
		g.guards = append(g.guards, regexGuard{&cfg.Guards[i]})
	}
	g.guards = append(g.guards, opt.Guards...)
	g.registry = opt.Registry
	if g.registry == nil {
		g.registry = prometheus.NewRegistry()
	}
	var err error
	if g.metrics, err = newMetrics(g.registry, breakers); err != nil {
		return nil, err
	}
	// Shadow traffic (shadow.go).
	if g.shadow, err = newShadowing(g, mkTarget); err != nil {
		return nil, err
	}
	g.approvals = opt.Approvals
	for i := range cfg.Routes {
		if t := cfg.Routes[i].Tools; t != nil && len(t.Approve) > 0 && g.approvals == nil {
			return nil, fmt.Errorf("%s: route %q holds tool calls for approval, but the gateway was given no approval store", cfg.pos.at(fmt.Sprintf("routes[%d].tools.approve", i)), cfg.Routes[i].Name)
		}
	}
	g.cache = newResponseCache(g.now)
	g.mux = http.NewServeMux()
	g.mux.HandleFunc("POST /v1/chat/completions", g.serveChat)
	g.mux.HandleFunc("POST /v1/embeddings", g.serveEmbeddings)
	g.mux.HandleFunc("GET /v1/models", g.serveModels)
	g.mux.HandleFunc("POST /v1/messages", g.serveMessages)
	g.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	g.mux.HandleFunc("GET /readyz", g.serveReady)
	g.mux.Handle("GET /metrics", promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}))
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "unknown_url",
			Message: fmt.Sprintf("Unknown request URL: %s %s. The gateway serves POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models and POST /v1/messages.", r.Method, r.URL.Path)})
	})
	return g, nil
}

// price is a model's price: the config's prices, else Plumb's default table, else 0.
func (g *Gateway) price(model string) provider.Price {
	if p, ok := g.cfg.Prices[model]; ok {
		return provider.Price{Input: p.Input, Output: p.Output}
	}
	p, _ := provider.DefaultPrice(model)
	return p
}

// ServeHTTP serves the gateway's endpoints.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mux.ServeHTTP(w, r)
}

// Drain marks the gateway as shutting down: /readyz answers 503 so that a load balancer
// stops sending calls, while calls in flight finish.
func (g *Gateway) Drain() { g.draining.Store(true) }

// Wait blocks until the calls in flight have finished (their records handed to the
// Recorder) or ctx ends.
func (g *Gateway) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gateway) serveReady(w http.ResponseWriter, _ *http.Request) {
	if g.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// serveModels lists the route names, the models a client may ask for.
func (g *Gateway) serveModels(w http.ResponseWriter, r *http.Request) {
	k, aerr := g.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	data := make([]map[string]any, 0, len(g.routeList))
	for _, name := range g.routeList {
		if k.routes != nil && !k.routes[name] {
			continue
		}
		data = append(data, map[string]any{"id": name, "object": "model", "created": 0, "owned_by": "plumb"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	// Compression is the client's business: the gateway passes bodies through.
	t.DisableCompression = true
	return t
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
