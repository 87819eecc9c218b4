package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus metrics. Labels: route (the model name clients
// send), target (provider/model that answered, "none" when none did) and key (the client
// key's name).
type metrics struct {
	requests    *prometheus.CounterVec
	errors      *prometheus.CounterVec
	fallbacks   *prometheus.CounterVec
	cacheHits   *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	blocked     *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	cost        *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	ttft        *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, targets map[string]*target) (*metrics, error) {
	rtk := []string{"route", "target", "key"}
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_requests_total",
			Help: "Calls answered, by route, target, key and the HTTP status the client got."}, append(rtk, "status")),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_errors_total",
			Help: "Calls that failed, by route, target, key and error code."}, append(rtk, "code")),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_fallbacks_total",
			Help: "Times a call moved on to another target, by route, the target moved to, and key."}, rtk),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_cache_hits_total",
			Help: "Calls answered from the response cache, by route and key."}, []string{"route", "key"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_rate_limited_total",
			Help: "Calls refused by a key's limits, by key and limit (rpm, tpm, budget)."}, []string{"key", "reason"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_guard_blocked_total",
			Help: "Calls blocked by a guard step, by route, key, step and stage."}, []string{"route", "key", "step", "stage"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_tokens_total",
			Help: "Tokens used, by route, target, key and direction (input, output)."}, append(rtk, "direction")),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_cost_usd_total",
			Help: "Spend in USD from the price table, by route, target and key."}, rtk),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "plumb_gateway_upstream_attempts_total",
			Help: "Calls to upstream targets, by target and outcome (ok, timeout, error, or the upstream's status)."}, []string{"target", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "plumb_gateway_request_duration_seconds",
			Help: "Time from a call's arrival to its last byte, by route, target and key.", Buckets: buckets}, rtk),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "plumb_gateway_ttft_seconds",
			Help: "Time from a streamed call's arrival to its first event, by route, target and key.", Buckets: buckets}, rtk),
	}
	open := prometheus.NewGaugeFunc // one gauge per target, read when scraped
	cs := []prometheus.Collector{m.requests, m.errors, m.fallbacks, m.cacheHits, m.rateLimited, m.blocked, m.tokens, m.cost, m.attempts, m.latency, m.ttft}
	for label, t := range targets {
		b := t.breaker
		cs = append(cs, open(prometheus.GaugeOpts{Name: "plumb_gateway_circuit_open",
			Help: "1 while a target's circuit breaker refuses calls.", ConstLabels: prometheus.Labels{"target": label}},
			func() float64 {
				if b.open() {
					return 1
				}
				return 0
			}))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
