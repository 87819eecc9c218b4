package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/gateway"
	"github.com/plumbhq/plumb/internal/gateway/limit"
	"github.com/plumbhq/plumb/internal/gateway/trace"
	"github.com/plumbhq/plumb/internal/store"
)

func newGatewayCmd(e *env) *cobra.Command {
	var (
		cfgPath    string
		listen     string
		logFormat  string
		check      bool
		drainDelay time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gateway -c gateway.yaml",
		Short: "Run the OpenAI-compatible gateway",
		Long: `Run the gateway alone: an OpenAI-compatible endpoint (POST /v1/chat/completions, plain
and streamed, POST /v1/embeddings, GET /v1/models; POST /v1/messages for Anthropic clients)
that authenticates clients by key, routes
each call by model name to upstream targets with fallback, retries and circuit breaking,
enforces per-key limits (in memory, or shared in Redis with redis_url), runs the guard pipeline and serves Prometheus metrics at /metrics,
with /healthz and /readyz for a load balancer. The config is described in docs/gateway.md.

Secrets come from the environment variables the config names (api_key_env, key_env).

SIGINT or SIGTERM makes /readyz answer 503, keeps serving for --drain-delay (default 0) so
that a load balancer polling /readyz stops sending first, then stops accepting connections
and lets the calls in flight, streams included, finish (up to 30s) before exiting.`,
		Example: "  plumb gateway -c gateway.yaml\n  plumb gateway -c gateway.yaml --check",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usageErr("give the gateway config with -c gateway.yaml (see docs/gateway.md)")
			}
			log, err := newLogger(e, logFormat)
			if err != nil {
				return err
			}
			cfg, err := gateway.LoadFile(cfgPath, e.getenv)
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Listen = listen
			}
			reg := prometheus.NewRegistry()
			lim, closeLim, err := gatewayLimiter(cfg, reg, log)
			if err != nil {
				return usageErr("%s: %v", cfgPath, err)
			}
			defer closeLim()
			if check {
				// Project references are checked against the store --db (or PLUMB_DB) names;
				// without one, the check says they were not.
				if dbGiven(cmd, e) {
					st, err := openStore(cmd, e)
					if err != nil {
						return err
					}
					err = resolveGatewayProjects(cmd.Context(), cfg, st)
					st.Close()
					if err != nil {
						return err
					}
				} else if refs := cfg.ProjectRefs(); len(refs) > 0 {
					fmt.Fprintf(e.stderr, "warning: project references not checked (no --db): %s; pass --db to check them against the store\n", strings.Join(refs, ", "))
				}
				if _, err := gateway.New(cfg, gateway.Options{Limiter: lim, Registry: reg, Approvals: noApprovals{}}); err != nil {
					return usageErr("%v", err)
				}
				fmt.Fprintf(e.stdout, "%s: ok: %d providers, %d routes, %d keys\n", cfgPath, len(cfg.Providers), len(cfg.Routes), len(cfg.Keys))
				return nil
			}
			tuneGatewayGC(e.getenv)
			// The gateway only appends trace records: a small page cache keeps it lean
			// (bench/README.md: 118 MB peak with the default cache, 58 MB with this one).
			st, err := openStore(cmd, e, func(o *store.OpenOptions) { o.SQLiteCacheKiB = gatewaySQLiteCacheKiB })
			if err != nil {
				return err
			}
			defer st.Close()
			if err := resolveGatewayProjects(cmd.Context(), cfg, st); err != nil {
				return err
			}
			rec, bodies := gatewayRecorder(st, cfg, reg, log)
			gw, err := gateway.New(cfg, gateway.Options{Limiter: lim, Recorder: rec, Bodies: bodies, Logger: log,
				Registry: reg, Keys: st, ProjectKeyLimits: projectKeyLimits(cfg), Approvals: system(st),
				Reviewer: queueReviewer{system(st)}})
			if err != nil {
				return usageErr("%v", err)
			}
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return usageErr("listen %s: %v", cfg.Listen, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runGateway(ctx, ln, gw, rec.Close, log, drainDelay)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "the gateway config (gateway.yaml)")
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default: the config's listen)")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().BoolVar(&check, "check", false, "check the config and exit")
	cmd.Flags().DurationVar(&drainDelay, "drain-delay", 0, "on SIGTERM, keep serving this long with /readyz answering 503 before closing the listener, so a load balancer stops sending first (e.g. 5s)")
	cmd.AddCommand(newGatewayShadowReportCmd(e)) // gateway_shadow.go
	return cmd
}

func newLogger(e *env, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, nil)), nil
	}
	return nil, usageErr("--log-format %q: use text or json", format)
}

// gatewayLimiter builds the per-key limiter: in memory for one instance; with redis_url, in
// Redis, shared by every instance on that Redis, failing open to per-instance limits in
// memory while Redis cannot be reached (each failure counted in
// plumb_gateway_limiter_redis_errors_total and logged at most every 10 s). closeLim closes
// the limiter and its Redis client.
func gatewayLimiter(cfg *gateway.Config, reg prometheus.Registerer, log *slog.Logger) (lim limit.Limiter, closeLim func(), err error) {
	if cfg.RedisURL == "" {
		lim = limit.NewMemory(nil)
		return lim, func() { _ = lim.Close() }, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The URL may hold a password: name the key, not the value.
		return nil, nil, fmt.Errorf("redis_url: %v", redactURL(err, cfg.RedisURL))
	}
	// A limiter that waits on a dead Redis delays every call: fail fast, then fall back.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries = time.Second, 500*time.Millisecond, 500*time.Millisecond, 1
	// go-redis logs failed dials on its own to stderr; the failover below logs them once
	// every 10 s in the gateway's log format instead.
	redis.SetLogger(discardRedisLog{})
	rdb := redis.NewClient(opt)
	errs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "plumb_gateway_limiter_redis_errors_total",
		Help: "Limiter calls Redis failed, answered from this instance's in-memory limits instead.",
	})
	if err := reg.Register(errs); err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	var mu sync.Mutex
	var last time.Time
	var suppressed int
	onError := func(err error) {
		errs.Inc()
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 10*time.Second {
			suppressed++
			return
		}
		log.Warn("gateway: Redis is unreachable: enforcing limits per instance, in memory, until it answers", "err", err, "suppressed", suppressed)
		last, suppressed = time.Now(), 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Warn("gateway: Redis does not answer; limits are per instance until it does", "err", err)
	}
	lim = limit.NewFailover(limit.NewRedis(rdb, "", nil), limit.NewMemory(nil), onError)
	return lim, func() { _ = lim.Close(); _ = rdb.Close() }, nil
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// redactURL is err's message with the URL's password, if any, left out.
func redactURL(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// gatewayRecorder builds the trace recorder, which writes the gateway's records to the
// store in batches off the request path, and the body recording of cfg.Bodies (secrets
// always redacted; PII when the config asks).
func gatewayRecorder(st store.Traces, cfg *gateway.Config, reg prometheus.Registerer, log *slog.Logger) (*trace.Recorder, func([]byte) string) {
	rec := trace.NewRecorder(st, trace.Options{Registerer: reg, Logger: log})
	b := cfg.Bodies
	if b.Mode == "off" {
		return rec, nil
	}
	return rec, func(raw []byte) string { return trace.Body(raw, b.Mode, b.MaxBytes, b.RedactPII) }
}

// projectKeyLimits are the limits of project API keys, which the config does not list.
func projectKeyLimits(cfg *gateway.Config) limit.Limits {
	p := cfg.ProjectKeys
	return limit.Limits{RPM: p.RPM, TPM: p.TPM, BudgetUSDPerDay: p.BudgetUSDPerDay}
}

// runGateway serves until ctx ends, then drains: /readyz turns 503 (and calls are still
// served for drainDelay, so that a load balancer that polls /readyz stops sending first),
// the listener closes, calls in flight finish, and the recorder flushes.
func runGateway(ctx context.Context, ln net.Listener, gw *gateway.Gateway, closeRec func(context.Context) error, log *slog.Logger, drainDelay time.Duration) error {
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("gateway listening", "addr", "http://"+ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing calls in flight", "grace", shutdownGrace)
	gw.Drain()
	if drainDelay > 0 {
		log.Info("draining: /readyz answers 503; still serving", "drain_delay", drainDelay)
		time.Sleep(drainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if werr := gw.Wait(sctx); err == nil {
		err = werr
	}
	if closeRec != nil {
		if cerr := closeRec(sctx); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// gatewaySQLiteCacheKiB is the page cache of `plumb gateway`'s SQLite store, which it only
// appends to.
const gatewaySQLiteCacheKiB = 2000

// servedGateway is a gateway that `plumb serve --gateway` runs on its own port beside the
// server, over the server's store: project API keys get in, and calls are recorded there.
type servedGateway struct {
	cfg *gateway.Config
	gw  *gateway.Gateway
	rec *trace.Recorder
	ln  net.Listener
	// closeLim releases the limiter (and its Redis connection) after the gateway stopped.
	closeLim func()
}

// resolveGatewayProjects turns the config's project references (slugs or ids) into the
// store's project ids; an unknown one is a usage error at its place in the file.
func resolveGatewayProjects(ctx context.Context, cfg *gateway.Config, st store.Store) error {
	projects, err := st.AllProjects(ctx)
	if err != nil {
		return err
	}
	if err := cfg.ResolveProjects(projects); err != nil {
		return usageErr("%v", err)
	}
	return nil
}

// openServedGateway loads the gateway config at path and builds the gateway over st,
// listening on the config's address.
func openServedGateway(ctx context.Context, path string, e *env, st store.Store, log *slog.Logger) (*servedGateway, error) {
	cfg, err := gateway.LoadFile(path, e.getenv)
	if err != nil {
		return nil, err
	}
	if err := resolveGatewayProjects(ctx, cfg, st); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	lim, closeLim, err := gatewayLimiter(cfg, reg, log)
	if err != nil {
		return nil, usageErr("%s: %v", path, err)
	}
	rec, bodies := gatewayRecorder(st, cfg, reg, log)
	gw, err := gateway.New(cfg, gateway.Options{Limiter: lim, Recorder: rec, Bodies: bodies, Logger: log,
		Registry: reg, Keys: st, ProjectKeyLimits: projectKeyLimits(cfg), Approvals: system(st),
		Reviewer: queueReviewer{system(st)}})
	if err != nil {
		rec.Close(context.Background())
		closeLim()
		return nil, usageErr("%v", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		rec.Close(context.Background())
		closeLim()
		return nil, usageErr("%s: listen %s: %v", path, cfg.Listen, err)
	}
	return &servedGateway{cfg: cfg, gw: gw, rec: rec, closeLim: closeLim, ln: ln}, nil
}

// routeSLAs are the routes' p95 targets, for the traffic page.
func (g *servedGateway) routeSLAs() map[string]float64 {
	out := map[string]float64{}
	for _, r := range g.cfg.Routes {
		if r.SLAP95MS > 0 {
			out[r.Name] = r.SLAP95MS
		}
	}
	return out
}

// shadowChecks are a route's shadow assertions, for the server's shadow report.
func (g *servedGateway) shadowChecks(route string) []gateway.ShadowCheck {
	for _, r := range g.cfg.Routes {
		if r.Name == route && r.Shadow != nil {
			return r.Shadow.Checks()
		}
	}
	return nil
}
