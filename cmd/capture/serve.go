package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/redis"
	"github.com/captureapi/capture/server/store"
)

// serveOptions are the flags of capture serve.
type serveOptions struct {
	addr            string
	db              *string
	requestTimeout  time.Duration
	shutdownTimeout time.Duration
	publicURL       string
	logFormat       *choiceFlag
	rateLimit       int
	maxInFlight     int
	redis           string
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{logFormat: &choiceFlag{value: "json", choices: []string{"json", "text"}}}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server",
		Long: `Runs the Capture API: /v1, the reference at /docs, /metrics, /healthz and /readyz.
It creates and migrates the database if needed; on an empty database it creates
the account "default" and prints an admin key for it, once.

With --db postgres://… (an existing database) and --redis redis://…, several
servers on one PostgreSQL and one Redis behave as one service: run as many as
you need behind a load balancer.

On a terminal it starts with a short summary of where to reach it; request logs
go to stderr, one JSON line per request (--log-format text for people). SIGTERM
or Ctrl-C lets in-flight requests finish before it exits.`,
		Example: `  capture serve
  capture serve --addr :8080 --db /var/lib/capture/capture.db --public-url https://capture.example.com
  capture serve --addr :8081 --db postgres://capture@db.internal/capture --redis redis://cache.internal:6379/0
  CAPTURE_RATE_LIMIT=20 capture serve --log-format text`,
		Args: positional(0, ""),
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	o.db = dbFlag(cmd)
	f.DurationVar(&o.requestTimeout, "request-timeout", 10*time.Second, "longest a request may run before it answers 504")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "longest to wait for in-flight requests on SIGTERM")
	f.StringVar(&o.publicURL, "public-url", "", "where clients reach the server, for the doc_url of errors (default http://ADDR)")
	f.Var(o.logFormat, "log-format", "log lines as json (for machines) or text (for people)")
	f.IntVar(&o.rateLimit, "rate-limit", 100, "requests per second (and burst) per key, unless the key's account sets its own")
	f.IntVar(&o.maxInFlight, "max-in-flight", 512, "/v1 requests answered at once; past it the answer is a fast 503 overloaded")
	f.StringVar(&o.redis, "redis", "", "redis:// URL of a Redis that shares each key's rate limit among every replica (default: limits in this process)")
	_ = cmd.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions(o.logFormat.choices, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return serve(cmd, o) }
	return cmd
}

func serve(cmd *cobra.Command, o *serveOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if o.rateLimit < 1 {
		return usageError("--rate-limit must be at least 1, not %d", o.rateLimit)
	}
	if o.maxInFlight < 1 {
		return usageError("--max-in-flight must be at least 1, not %d", o.maxInFlight)
	}
	if o.requestTimeout <= 0 || o.shutdownTimeout < 0 {
		return usageError("--request-timeout must be positive and --shutdown-timeout not negative")
	}
	var logger *slog.Logger
	if o.logFormat.value == "text" {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	} else {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	slog.SetDefault(logger)

	// Listen first: a busy port must not leave a new database or an admin key behind.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return listenError(o.addr, err)
	}
	defer ln.Close()
	dbPath := *o.db
	if !postgres.IsURL(dbPath) {
		if dbPath, err = filepath.Abs(dbPath); err != nil {
			return failure("%v", err)
		}
	}
	db, err := openDB(ctx, dbPath)
	if err != nil {
		return failure("open database: %v", err)
	}
	defer db.Close()
	if err := bootstrap(ctx, db, stdout); err != nil {
		return failure("create the first account: %v", err)
	}
	base := cmp.Or(o.publicURL, "http://"+displayAddr(ln.Addr()))
	cfg := server.Config{Store: db, RequestTimeout: o.requestTimeout, Logger: logger,
		DefaultRateLimit: o.rateLimit, MaxInFlight: o.maxInFlight, PublicURL: base}
	if o.redis != "" {
		limiter, err := redis.Open(o.redis)
		if err != nil {
			return usageError("--redis: %v", err)
		}
		defer limiter.Close()
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := limiter.Ping(pctx); err != nil {
			logger.Warn("redis unreachable at start: each replica limits keys on its own until it answers", "error", err)
		}
		cancel()
		cfg.Limiter = limiter
	}
	api, err := server.New(cfg)
	if err != nil {
		return failure("%v", err)
	}
	srv := api.HTTPServer()
	go purgeIdempotency(ctx, db, logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(api.Listener(ln)) }()
	if isTerminal(stdout) {
		banner(stdout, base, displayDB(dbPath), o)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "db", displayDB(dbPath))

	select {
	case err := <-served:
		logger.Error("serve", "error", err)
		return &exitError{code: exitRequest}
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", o.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("shutdown", "error", err)
		return &exitError{code: exitRequest}
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		logger.Error("serve", "error", err)
		return &exitError{code: exitRequest}
	}
	logger.Info("stopped")
	return nil
}

// listenError says in one line why the server could not listen and what to do.
func listenError(addr string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	var sc *os.SyscallError
	if errors.As(err, &sc) {
		err = sc.Err
	}
	hint := ""
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		hint = " (is another capture serve running? stop it, or choose another --addr)"
	case errors.Is(err, syscall.EACCES):
		hint = " (ports below 1024 need privileges: choose another --addr)"
	}
	return failure("cannot listen on %s: %v%s", addr, err, hint)
}

// displayAddr is a listening address as people can reach it: an unspecified
// host (":8080", "0.0.0.0:8080") becomes localhost.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// banner tells a person at a terminal where the server is and what it enforces.
func banner(w io.Writer, base, dbPath string, o *serveOptions) {
	fmt.Fprintf(w, `Capture is serving (Ctrl-C stops it after in-flight requests finish)

  API       %s/v1
  Docs      %s/docs
  Metrics   %s/metrics
  Database  %s
  Limits    %d requests/s per key unless its account sets its own%s; requests time out after %s;
            at most %d API requests at once

Request logs follow on stderr, one %s line per request.
`, base, base, base, dbPath, o.rateLimit, limitsWhere(o), o.requestTimeout, o.maxInFlight, map[string]string{"json": "JSON", "text": "text"}[o.logFormat.value])
}

// limitsWhere says where rate limits are kept, for the banner.
func limitsWhere(o *serveOptions) string {
	if o.redis == "" {
		return ""
	}
	return " (kept in Redis, shared by every replica)"
}

// bootstrap gives an empty database an account "default" and prints its admin key once.
func bootstrap(ctx context.Context, db store.Store, stdout io.Writer) error {
	n, err := db.CountAccounts(ctx)
	if err != nil || n > 0 {
		return err
	}
	a, err := db.CreateAccount(ctx, "default", defaultProspectLimit, 0)
	if err != nil {
		// Replicas started together on one empty PostgreSQL database: one of
		// them made the account (its name is unique) and prints the key.
		if n, cerr := db.CountAccounts(ctx); cerr == nil && n > 0 {
			return nil
		}
		return err
	}
	k, secret, err := db.CreateKey(ctx, a.ID, store.RoleAdmin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created account \"default\" with admin key %s. Its secret is shown only this once:\n\n    %s\n\n", k.ID, secret)
	return nil
}

// purgeIdempotency deletes Idempotency-Key records past their 24 hours, hourly.
func purgeIdempotency(ctx context.Context, db store.Store, logger *slog.Logger) {
	for {
		n, err := db.PurgeIdempotency(ctx, time.Now().Add(-store.IdempotencyTTL))
		if err != nil && ctx.Err() == nil {
			logger.Warn("purge idempotency keys", "error", err)
		} else if n > 0 {
			logger.Info("purged idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}
