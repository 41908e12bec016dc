package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/riverqueue/river"
	"github.com/spf13/cobra"

	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/redis"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// serveOptions are the flags of capture serve.
type serveOptions struct {
	addr            string
	metricsAddr     string
	db              *string
	requestTimeout  time.Duration
	shutdownTimeout time.Duration
	publicURL       string
	logFormat       *choiceFlag
	rateLimit       int
	maxInFlight     int
	redis           string

	webhooksAllowPrivate bool
	webhookRetries       []time.Duration
	webhookSecretKey     string

	captchaVerifyURL string
	trustedProxies   []string

	stdout, stderr io.Writer // the banner and the first admin key; the logs
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{logFormat: &choiceFlag{value: "auto", choices: []string{"auto", "json", "text"}}}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server",
		Long: `Runs the Capture API: /v1, the reference at /docs, /healthz and /readyz, and
Prometheus metrics at /metrics on an address of their own (--metrics-addr).
It creates and migrates the database if needed; on an empty database it creates
the account "default" and prints an admin key for it, once.

With --db postgres://… (an existing database) and --redis redis://…, several
servers on one PostgreSQL and one Redis behave as one service: run as many as
you need behind a load balancer.

On a terminal it starts with a short summary of where to reach it, and, when
the database had accounts already (so no key was printed), the command that
makes a new admin key. Request logs go to stderr, one line per request: text
for people when stderr is a terminal, JSON otherwise (--log-format json|text
chooses). SIGTERM or Ctrl-C lets in-flight requests finish before it exits.`,
		Example: `  capture serve
  capture serve --addr :8080 --db /var/lib/capture/capture.db --public-url https://capture.example.com
  capture serve --addr :8081 --db postgres://capture@db.internal/capture --redis redis://cache.internal:6379/0
  capture serve --addr :8080 --metrics-addr 10.0.0.5:9464   # a Prometheus on another machine scrapes 10.0.0.5
  CAPTURE_RATE_LIMIT=20 capture serve --log-format json 2>>capture.log`,
		Args: positional(0, ""),
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.metricsAddr, "metrics-addr", "127.0.0.1:9464", "address to serve Prometheus metrics (/metrics) on, apart from the API")
	o.db = dbFlag(cmd)
	f.DurationVar(&o.requestTimeout, "request-timeout", 10*time.Second, "longest a request may run before it answers 504")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "longest to wait for in-flight requests on SIGTERM")
	f.StringVar(&o.publicURL, "public-url", "", "where clients reach the server, for the doc_url of errors (default http://ADDR)")
	f.Var(o.logFormat, "log-format", "log lines as json (for machines), text (for people), or auto: text when stderr is a terminal, else json")
	f.IntVar(&o.rateLimit, "rate-limit", 100, "requests per second (and burst) per key, unless the key's account sets its own")
	f.IntVar(&o.maxInFlight, "max-in-flight", 512, "/v1 requests answered at once; past it the answer is a fast 503 overloaded")
	f.StringVar(&o.redis, "redis", "", "redis:// URL of a Redis that shares each key's rate limit among every replica (default: limits in this process)")
	f.BoolVar(&o.webhooksAllowPrivate, "webhooks-allow-private", false,
		"let webhook endpoints use http:// and reach loopback and private addresses (development and tests only)")
	f.DurationSliceVar(&o.webhookRetries, "webhook-retry-schedule", server.DefaultRetrySchedule,
		"wait before each retry of a failed webhook delivery (each with ±10% jitter)")
	f.StringVar(&o.webhookSecretKey, "webhook-secret-key", "",
		"base64 of 32 bytes that seal webhook signing secrets in the database (AES-256-GCM); prefer the environment variable")
	f.StringVar(&o.captchaVerifyURL, "captcha-verify-url", "",
		"where forms' captcha tokens are verified, in place of the providers' siteverify addresses (tests)")
	f.StringSliceVar(&o.trustedProxies, "trusted-proxies", nil,
		"CIDRs of the proxies whose X-Forwarded-For names a form submitter's address (default: none is believed)")
	_ = cmd.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions(o.logFormat.choices, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
		return serveRun(cmd.Context(), o)
	}
	return cmd
}

// serveRun serves until ctx ends, then lets in-flight requests finish.
func serveRun(ctx context.Context, o *serveOptions) error {
	stdout, stderr := o.stdout, o.stderr
	if o.rateLimit < 1 {
		return usageError("--rate-limit must be at least 1, not %d", o.rateLimit)
	}
	if o.maxInFlight < 1 {
		return usageError("--max-in-flight must be at least 1, not %d", o.maxInFlight)
	}
	if o.requestTimeout <= 0 || o.shutdownTimeout < 0 {
		return usageError("--request-timeout must be positive and --shutdown-timeout not negative")
	}
	var proxies []netip.Prefix
	for _, c := range o.trustedProxies {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return usageError("--trusted-proxies takes CIDRs such as 10.0.0.0/8,::1/128, not %q", c)
		}
		proxies = append(proxies, p.Masked())
	}
	var sealKey []byte
	if o.webhookSecretKey != "" {
		k, err := base64.StdEncoding.DecodeString(o.webhookSecretKey)
		if err != nil || len(k) != 32 {
			return usageError("--webhook-secret-key must be the base64 of 32 bytes (openssl rand -base64 32)")
		}
		sealKey = k
	}
	for _, d := range o.webhookRetries {
		if d <= 0 {
			return usageError("--webhook-retry-schedule takes positive durations, not %s", d)
		}
	}
	logFormat := o.logFormat.value
	if logFormat == "auto" {
		logFormat = "json"
		if isTerminal(stderr) {
			logFormat = "text"
		}
	}
	logger, stopLog := newServeLogger(stderr, logFormat)
	defer stopLog()
	slog.SetDefault(logger)

	// Listen first: a busy port must not leave a new database or an admin key behind.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return listenError(o.addr, "--addr", err)
	}
	defer ln.Close()
	metricsLn, err := net.Listen("tcp", o.metricsAddr)
	if err != nil {
		return listenError(o.metricsAddr, "--metrics-addr", err)
	}
	defer metricsLn.Close()
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
	created, err := bootstrap(ctx, db, stdout)
	if err != nil {
		return failure("create the first account: %v", err)
	}
	base := cmp.Or(o.publicURL, "http://"+displayAddr(ln.Addr()))
	cfg := server.Config{Store: db, RequestTimeout: o.requestTimeout, Logger: logger,
		DefaultRateLimit: o.rateLimit, MaxInFlight: o.maxInFlight, PublicURL: base}
	if o.redis != "" {
		limiter, err := redis.Open(o.redis, logger)
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
	engine, ok := db.(eventsEngine)
	if !ok {
		return failure("%s keeps no events and webhooks", displayDB(dbPath))
	}
	if sealKey != nil {
		if err := engine.SetSecretKey(sealKey); err != nil {
			return failure("%v", err)
		}
	} else {
		logger.Warn("no --webhook-secret-key: webhook signing secrets are kept unsealed in the database")
	}
	cfg.Events, cfg.Webhooks, cfg.WebhooksAllowPrivate = engine, engine, o.webhooksAllowPrivate
	cfg.CaptchaVerifyURL, cfg.TrustedProxies = o.captchaVerifyURL, proxies
	api, err := server.New(cfg)
	if err != nil {
		return failure("%v", err)
	}
	// Webhook deliveries run in this process, from the queue in the database:
	// whatever was pending when the last one stopped is delivered now.
	queue := server.DeliveryConfig(server.DeliveryOptions{
		Webhooks: engine, AllowPrivate: o.webhooksAllowPrivate, RetrySchedule: o.webhookRetries, Logger: logger,
		Metrics: api.Metrics()})
	// The same queue runs the daily retention sweep, in one replica at a time.
	if privacy, ok := db.(store.PrivacyStore); ok {
		server.AddRetention(queue, server.RetentionOptions{Store: privacy, Logger: logger, Metrics: api.Metrics()})
	}
	stopDeliveries, err := startDeliveries(context.WithoutCancel(ctx), db, queue)
	if err != nil {
		return failure("start webhook deliveries: %v", err)
	}
	srv := api.HTTPServer()
	metricsSrv := api.MetricsHTTPServer()
	go func() {
		if err := metricsSrv.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve metrics", "error", err)
		}
	}()
	defer metricsSrv.Close() // scrapes need no draining
	go purgeIdempotency(ctx, db, logger)
	go purgeEvents(ctx, engine, logger)
	if sq, ok := db.(*sqlite.DB); ok {
		go mergeSearchIndex(ctx, sq, logger)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(api.Listener(ln)) }()
	if isTerminal(stdout) {
		if !created {
			fmt.Fprintf(stdout, "The database has accounts already, so no admin key was printed. To make one:\n\n    %s\n\n",
				newAdminKeyCommand(ctx, db, *o.db))
		}
		banner(stdout, base, "http://"+displayAddr(metricsLn.Addr()), displayDB(dbPath), logFormat, o)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "metrics_addr", metricsLn.Addr().String(), "db", displayDB(dbPath))

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
	// Deliveries in flight finish (or are retried by the next process).
	if err := stopDeliveries(sctx); err != nil {
		logger.Warn("stop webhook deliveries", "error", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		logger.Error("serve", "error", err)
		return &exitError{code: exitRequest}
	}
	logger.Info("stopped")
	return nil
}

// listenError says in one line why the server could not listen and what to do.
func listenError(addr, flag string, err error) error {
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
		hint = " (is another capture serve running? stop it, or choose another " + flag + ")"
	case errors.Is(err, syscall.EACCES):
		hint = " (ports below 1024 need privileges: choose another " + flag + ")"
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
func banner(w io.Writer, base, metricsBase, dbPath, logFormat string, o *serveOptions) {
	fmt.Fprintf(w, `Capture is serving (Ctrl-C stops it after in-flight requests finish)

  API       %s/v1
  Docs      %s/docs
  Metrics   %s/metrics
  Database  %s
  Limits    %d requests/s per key unless its account sets its own%s; requests time out after %s;
            at most %d API requests at once

Request logs follow on stderr, one %s line per request.
`, base, base, metricsBase, dbPath, o.rateLimit, limitsWhere(o), o.requestTimeout, o.maxInFlight, map[string]string{"json": "JSON", "text": "text"}[logFormat])
}

// limitsWhere says where rate limits are kept, for the banner.
func limitsWhere(o *serveOptions) string {
	if o.redis == "" {
		return ""
	}
	return " (kept in Redis, shared by every replica)"
}

// bootstrap gives an empty database an account "default" and prints its admin
// key once; created tells whether it did.
func bootstrap(ctx context.Context, db store.Store, stdout io.Writer) (created bool, err error) {
	n, err := db.CountAccounts(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	a, err := db.CreateAccount(ctx, "default", defaultProspectLimit, 0)
	if err != nil {
		// Replicas started together on one empty PostgreSQL database: one of
		// them made the account (its name is unique) and prints the key.
		if n, cerr := db.CountAccounts(ctx); cerr == nil && n > 0 {
			return false, nil
		}
		return false, err
	}
	k, secret, err := db.CreateKey(ctx, a.ID, store.RoleAdmin)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(stdout, "Created account \"default\" with admin key %s. Its secret is shown only this once:\n\n    %s\n\n", k.ID, secret)
	return true, nil
}

// newAdminKeyCommand is the command that makes an admin key for the database
// serve opened (dsn, as given): for the account "default", or the oldest one
// when there is no "default".
func newAdminKeyCommand(ctx context.Context, db store.Store, dsn string) string {
	account := "default"
	if _, err := db.AccountByName(ctx, account); err != nil {
		if all, err := db.ListAccounts(ctx); err == nil && len(all) > 0 {
			account = all[0].Name
		}
	}
	cmd := "capture keys create --account " + shellQuote(account) + " --role admin"
	if dsn != defaultDB {
		cmd += " --db " + shellQuote(displayDB(dsn))
	}
	return cmd
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// eventsEngine is a database that keeps the events log and the webhook
// endpoints beside the prospects.
type eventsEngine interface {
	store.EventStore
	store.WebhookStore
	// SetSecretKey seals webhook signing secrets in the database with key.
	SetSecretKey(key []byte) error
}

// startDeliveries runs the database's webhook delivery queue in this process;
// stop lets the deliveries in flight finish.
func startDeliveries(ctx context.Context, db database, cfg *river.Config) (stop func(context.Context) error, err error) {
	switch db := db.(type) {
	case *sqlite.DB:
		c, err := db.StartQueue(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return c.Stop, nil
	case *postgres.DB:
		// Every replica works the one queue in the database.
		c, err := db.StartQueue(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return c.Stop, nil
	}
	return nil, fmt.Errorf("%T keeps no webhook delivery queue", db)
}

// purgeEvents deletes events past their 30 days, and old delivery attempts, hourly.
func purgeEvents(ctx context.Context, db store.EventStore, logger *slog.Logger) {
	for {
		n, err := db.PurgeEvents(ctx, time.Now().Add(-store.EventRetention))
		if err != nil && ctx.Err() == nil {
			logger.Warn("purge events", "error", err)
		} else if n > 0 {
			logger.Info("purged events", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// mergeSearchIndex keeps SQLite's search index merged, at the start and hourly.
func mergeSearchIndex(ctx context.Context, db *sqlite.DB, logger *slog.Logger) {
	for {
		if err := db.MergeSearchIndex(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("merge the search index", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
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
