package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/plumbhq/plumb/internal/gateway/trace"
	"github.com/plumbhq/plumb/internal/server"
	"github.com/plumbhq/plumb/internal/store"
	"github.com/plumbhq/plumb/internal/web"
)

// shutdownGrace is how long in-flight requests may take to finish after SIGINT or SIGTERM.
const shutdownGrace = 30 * time.Second

func newServeCmd(e *env) *cobra.Command {
	var (
		addr                       string
		migrate                    bool
		logFormat                  string
		purgeEvery                 time.Duration
		traceDays                  int
		gwPath                     string
		toolPolicyPath, webhookURL string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the JSON API (and web UI) over the store",
		Long: `Serve the Plumb API under /api/v1 on one port, over the store named by --db (the
embedded SQLite database by default, or PostgreSQL so that several instances can run behind
a load balancer).

The server does not change the database schema unless --migrate is given: run
` + "`plumb migrate`" + ` after upgrading plumb, or pass --migrate. On an empty database, create the
first admin with ` + "`plumb user create --email EMAIL --admin`" + `.

Every --purge-every (default 1h; 0 turns it off) the server purges datasets by their
retention and consent policies, as ` + "`plumb dataset purge`" + ` does, for every project, and logs
the counts. As often, it deletes the gateway's trace records older than
--trace-retention-days (default 30; 0 keeps them).

With --gateway gateway.yaml the gateway (docs/gateway.md) also runs, on the config's own
listen address, over the same store: the projects' API keys get in, every call is recorded
where the traffic and traces pages read it, and the routes' sla_p95_ms are shown there.

SIGINT or SIGTERM stops accepting connections and lets requests in flight finish (up to
30s) before exiting.`,
		Example: "  plumb serve --addr 127.0.0.1:8080 --db postgres://plumb@db:5432/plumb\n  plumb serve --gateway gateway.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h slog.Handler
			switch logFormat {
			case "text":
				h = slog.NewTextHandler(e.stderr, nil)
			case "json":
				h = slog.NewJSONHandler(e.stderr, nil)
			default:
				return usageErr("--log-format %q: use text or json", logFormat)
			}
			log := slog.New(h)
			dsn := dbDSN(cmd, e)
			if _, _, err := store.ParseDSN(dsn); err != nil {
				return usageErr("--db: %v", err)
			}
			st, err := store.Open(cmd.Context(), dsn, store.OpenOptions{Migrate: migrate})
			if errors.Is(err, store.ErrSchemaOutdated) {
				return usageErr("%v\nrun `plumb migrate` or pass --migrate", err)
			}
			if err != nil {
				return fmt.Errorf("open the store: %w", err)
			}
			defer st.Close()
			// A policy or webhook that cannot work stops serve before it listens.
			toolPolicy, webhook, err := approvalServeConfig(e, toolPolicyPath, webhookURL)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return usageErr("--addr %s: %v", addr, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if purgeEvery < 0 || (purgeEvery > 0 && purgeEvery < time.Minute) {
				return usageErr("--purge-every %s: use at least 1m, or 0 to turn the scheduled purge off", purgeEvery)
			}
			if traceDays < 0 || traceDays > store.MaxRetentionDays {
				return usageErr("--trace-retention-days %d: use a number of days from 1 to %d, or 0 to keep traces for ever", traceDays, store.MaxRetentionDays)
			}
			if purgeEvery > 0 {
				go purgeDatasets(ctx, st, log, purgeEvery)
			}
			go trace.Retain(ctx, st, traceDays, purgeEvery, time.Now, log)
			var gw *servedGateway
			if gwPath != "" {
				if gw, err = openServedGateway(cmd.Context(), gwPath, e, st, log); err != nil {
					ln.Close()
					return err
				}
				defer gw.closeLim()
			}
			return serve(ctx, ln, st, log, gw, server.Config{ToolPolicy: toolPolicy, ApprovalWebhook: webhook})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().BoolVar(&migrate, "migrate", false, "bring the database schema up to date before serving")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().DurationVar(&purgeEvery, "purge-every", time.Hour, "purge datasets by their retention and consent policies this often (0: never)")
	cmd.Flags().StringVar(&gwPath, "gateway", "", "also run the gateway of this config (gateway.yaml) on its own listen address, over this store")
	cmd.Flags().StringVar(&toolPolicyPath, "tool-policy", "", "a tool policy file (docs/approvals.md) that POST /approvals checks applications' tool calls against")
	cmd.Flags().StringVar(&webhookURL, "approval-webhook", "", "POST each approval decision here, signed with $PLUMB_APPROVAL_WEBHOOK_SECRET")
	cmd.Flags().IntVar(&traceDays, "trace-retention-days", 30, "delete gateway trace records older than this many days, every --purge-every (0: keep them)")
	return cmd
}

// serve runs the server on ln until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, ln net.Listener, st store.Store, log *slog.Logger, gw *servedGateway, ac server.Config) error {
	sc := server.Config{Store: st, Logger: log, CacheTTL: time.Second, ToolPolicy: ac.ToolPolicy, ApprovalWebhook: ac.ApprovalWebhook}
	if gw != nil {
		sc.ShadowChecks = gw.shadowChecks
	}
	api := server.New(sc)
	wc := web.Config{Server: api, Store: st, Logger: log}
	gwDone := make(chan error, 1)
	if gw != nil {
		wc.RouteSLAs = gw.routeSLAs()
		go func() { gwDone <- runGateway(ctx, gw.ln, gw.gw, gw.rec.Close, log, 0) }()
	} else {
		gwDone <- nil
	}
	ui, err := web.New(wc)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           ui.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// A request body (a run upload, up to 64 MiB) must arrive within this: a client
		// trickling bytes cannot hold a connection for ever.
		ReadTimeout: 5 * time.Minute,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go sweepSessions(ctx, st, log)
	go expireApprovals(ctx, api, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", "http://"+ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// The gateway drains its calls and flushes its trace records on the same signal.
	if err := <-gwDone; err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	log.Info("stopped")
	return nil
}

// sweepSessions deletes expired sessions hourly, so that the table does not grow forever.
func sweepSessions(ctx context.Context, st store.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := st.DeleteExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			log.Warn("delete expired sessions", "err", err)
		} else if n > 0 {
			log.Info("deleted expired sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// purgeDatasets applies every dataset's retention and consent policy at start and then
// every interval, until ctx ends, as the system (audited), logging what it deleted.
func purgeDatasets(ctx context.Context, st store.Store, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	au := st.WithAudit(store.Actor{Type: store.ActorSystem})
	for {
		res, err := au.PurgeDatasets(ctx, "", "", false)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("dataset purge", "err", err)
		case err == nil:
			total := 0
			for _, r := range res {
				if r.Purged > 0 {
					total += r.Purged
					log.Info("dataset purged", "project_id", r.ProjectID, "dataset", r.Dataset, "items", r.Purged,
						"retention", r.Retention, "revoked", r.Revoked, "versions", r.Versions)
				}
			}
			log.Info("dataset purge done", "datasets", len(res), "items", total)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
