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
)

func newGatewayCmd(e *env) *cobra.Command {
	var (
		cfgPath   string
		listen    string
		logFormat string
		check     bool
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

SIGINT or SIGTERM makes /readyz answer 503, stops accepting connections and lets the calls
in flight, streams included, finish (up to 30s) before exiting.`,
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
				if _, err := gateway.New(cfg, gateway.Options{Limiter: lim, Registry: reg}); err != nil {
					return usageErr("%v", err)
				}
				fmt.Fprintf(e.stdout, "%s: ok: %d providers, %d routes, %d keys\n", cfgPath, len(cfg.Providers), len(cfg.Routes), len(cfg.Keys))
				return nil
			}
			rec, bodies, closeRec, err := gatewayRecorder(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			gw, err := gateway.New(cfg, gateway.Options{Limiter: lim, Recorder: rec, Bodies: bodies, Logger: log, Registry: reg})
			if err != nil {
				return usageErr("%v", err)
			}
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return usageErr("listen %s: %v", cfg.Listen, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runGateway(ctx, ln, gw, closeRec, log)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "the gateway config (gateway.yaml)")
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default: the config's listen)")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().BoolVar(&check, "check", false, "check the config and exit")
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

// gatewayRecorder builds the trace recorder and the body recording of cfg.Bodies.
//
// Integration point: the trace package is not in this build yet. Wire it here: open the
// store (--db), rec := trace.NewRecorder(st, trace.Options{...}); bodies is
// func(raw []byte) string { return trace.Body(raw, cfg.Bodies.Mode, cfg.Bodies.MaxBytes,
// cfg.Bodies.RedactPII) }; closeRec is rec.Close, which flushes. Until then calls are not
// recorded (metrics still count them), and the gateway says so when it starts.
func gatewayRecorder(_ context.Context, _ *gateway.Config, log *slog.Logger) (rec gateway.Recorder, bodies func([]byte) string, closeRec func(context.Context) error, err error) {
	log.Warn("trace recording is not in this build: calls are counted in /metrics but not recorded")
	return nil, nil, nil, nil
}

// runGateway serves until ctx ends, then drains: /readyz turns 503, the listener closes,
// calls in flight finish, and the recorder flushes.
func runGateway(ctx context.Context, ln net.Listener, gw *gateway.Gateway, closeRec func(context.Context) error, log *slog.Logger) error {
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
