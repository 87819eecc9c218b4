package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/store"
)

// Shadow traffic: a route with a shadow mirrors a share of its chat calls to a candidate
// target in the background. The shadow call starts once the live call is admitted, runs on
// its own goroutine with its own timeout and context (the client's going away does not end
// it), is never counted against the client key's limits or budget, and is recorded as a
// trace with ShadowOf set to the live call's id. A streamed live call is shadowed as a
// plain call. At most max_in_flight shadow calls of a route run at once; a call beyond
// that is not shadowed and is counted in plumb_gateway_shadow_skipped_total.

// shadowing is the gateway's shadow state.
type shadowing struct {
	slots   map[string]chan struct{} // per route: a token per shadow call in flight
	targets map[string]*target
	calls   *prometheus.CounterVec
	skipped *prometheus.CounterVec
	cost    *prometheus.CounterVec
}

func newShadowing(g *Gateway, mkTarget func(prov, model string, weight int) *target) (*shadowing, error) {
	s := &shadowing{slots: map[string]chan struct{}{}, targets: map[string]*target{},
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_shadow_calls_total",
			Help: "Shadow calls made, by route, shadow target and outcome (ok, timeout, error, or the upstream's status)."}, []string{"route", "target", "outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_shadow_skipped_total",
			Help: "Calls not shadowed because the route's shadow calls in flight were at max_in_flight, by route."}, []string{"route"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_shadow_cost_usd_total",
			Help: "Spend of shadow calls in USD, by route and shadow target (never charged to a client key)."}, []string{"route", "target"}),
	}
	for name, r := range g.routes {
		if r.Shadow == nil {
			continue
		}
		s.slots[name] = make(chan struct{}, max(r.Shadow.MaxInFlight, 1))
		s.targets[name] = mkTarget(r.Shadow.Provider, r.Shadow.Model, 0)
	}
	for _, c := range []prometheus.Collector{s.calls, s.skipped, s.cost} {
		if err := g.registry.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// startShadow mirrors the call to its route's shadow, when it has one and the call is
// picked. It returns at once.
func (c *call) startShadow(liveID string) {
	g := c.g
	if g.shadow == nil || c.route == nil || c.route.Shadow == nil || c.endpoint != endpointChat {
		return
	}
	sh := c.route.Shadow
	if sh.Percent != nil && *sh.Percent < 100 && g.rand()*100 >= *sh.Percent {
		return
	}
	slots := g.shadow.slots[c.route.Name]
	select {
	case slots <- struct{}{}:
	default:
		g.shadow.skipped.WithLabelValues(c.route.Name).Inc()
		return
	}
	t := g.shadow.targets[c.route.Name]
	body := c.shadowBody(t)
	sc := &shadowCall{g: g, route: c.route, t: t, body: body, liveID: liveID, start: g.now()}
	if c.key != nil {
		sc.key, sc.project = c.key.name, c.key.project
	}
	g.inflight.Add(1)
	go func() {
		defer g.inflight.Done()
		defer func() { <-slots }()
		sc.run()
	}()
}

// shadowBody is the client's body for the shadow target: its model, and never a stream.
func (c *call) shadowBody(t *target) []byte {
	f := make(map[string]json.RawMessage, len(c.fields))
	for k, v := range c.fields {
		f[k] = v
	}
	f["model"], _ = json.Marshal(t.model)
	delete(f, "stream")
	delete(f, "stream_options")
	return marshal(f)
}

// shadowCall is one shadow call.
type shadowCall struct {
	g       *Gateway
	route   *route
	t       *target
	body    []byte
	liveID  string
	key     string
	project string
	start   time.Time
}

// run makes the shadow call and records it. Nothing it does reaches the client.
func (s *shadowCall) run() {
	g := s.g
	defer func() {
		// A shadow must never take the gateway down.
		if r := recover(); r != nil {
			g.log.Error("gateway: shadow call panicked", "route", s.route.Name, "panic", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.route.Shadow.TimeoutMS)*time.Millisecond)
	defer cancel()
	tr := store.Trace{Key: s.key, ProjectID: s.project, Endpoint: endpointChat, Route: s.route.Name,
		Provider: s.t.up.Name, Model: s.t.model, ShadowOf: s.liveID, StartedAt: s.start.UTC()}
	status, respBody, errText := s.do(ctx)
	end := g.now()
	tr.LatencyMS = float64(end.Sub(s.start).Microseconds()) / 1000
	tr.Status = status
	outcome := "ok"
	switch {
	case status == http.StatusOK:
		u := plainUsage(respBody)
		in, out := u.PromptTokens, u.CompletionTokens
		if !u.reported {
			in, out = len(s.body)/4, len(respBody)/4
		}
		tr.TokensIn, tr.TokensOut = in, out
		tr.CostUSD = provider.Cost(s.t.price, provider.Usage{PromptTokens: in, CompletionTokens: out})
	case ctx.Err() == context.DeadlineExceeded:
		tr.Status, tr.ErrorCode, outcome = http.StatusGatewayTimeout, "upstream_timeout", "timeout"
	case status == 0:
		tr.Status, tr.ErrorCode, outcome = http.StatusBadGateway, "upstream_error", "error"
	default:
		tr.ErrorCode, outcome = errorCode(respBody), strconv.Itoa(status)
		if tr.ErrorCode == "" {
			tr.ErrorCode = "upstream_error"
		}
	}
	tr.Attempts = []store.Attempt{{Provider: s.t.up.Name, Model: s.t.model, Status: status, Error: errText, LatencyMS: tr.LatencyMS}}
	g.shadow.calls.WithLabelValues(s.route.Name, s.t.label, outcome).Inc()
	if tr.CostUSD > 0 {
		g.shadow.cost.WithLabelValues(s.route.Name, s.t.label).Add(tr.CostUSD)
	}
	if g.recorder == nil {
		return
	}
	tr.ID = g.newTraceID(s.start)
	if g.opt.Bodies != nil && g.cfg.Bodies.Mode != "off" {
		tr.RequestBody = g.opt.Bodies(s.body)
		if len(respBody) > 0 {
			tr.ResponseBody = g.opt.Bodies(scrub(respBody, s.t.up.apiKey))
		}
	}
	g.recorder.Record(tr)
}

// do calls the shadow target once: no retries, no fallback, no breaker.
func (s *shadowCall) do(ctx context.Context) (status int, body []byte, errText string) {
	t := s.t
	req, err := t.up.dialect.request(ctx, t.up.Provider, endpointChat, s.body)
	if err != nil {
		return 0, nil, "cannot build the request: " + describe(err)
	}
	resp, err := s.g.client.Do(req)
	if err != nil {
		return 0, nil, describe(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		return resp.StatusCode, t.up.dialect.errorBody(resp.StatusCode, b), "status " + strconv.Itoa(resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, describe(err)
	}
	if !json.Valid(b) {
		return 0, nil, "the upstream's answer is not valid JSON"
	}
	out, err := t.up.dialect.plain(endpointChat, b, t.model)
	if err != nil {
		return 0, nil, describe(err)
	}
	return resp.StatusCode, out, ""
}
