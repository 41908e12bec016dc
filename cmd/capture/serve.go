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
	"time"

	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/store"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("capture serve", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	dsn := dbFlag(fs)
	requestTimeout := fs.Duration("request-timeout", 10*time.Second, "longest a request may run before it answers 504")
	shutdownTimeout := fs.Duration("shutdown-timeout", 15*time.Second, "longest to wait for in-flight requests on SIGTERM")
	publicURL := fs.String("public-url", "", "where clients reach the server, for the doc_url of errors (default http://ADDR)")
	logFormat := fs.String("log-format", "json", "log lines as json (for machines) or text (for people)")
	rateLimit := fs.Int("rate-limit", 100, "requests per second (and burst) per key, unless the key's account sets its own")
	maxInFlight := fs.Int("max-in-flight", 512, "API requests answered at once; past it the answer is 503 overloaded")
	if pos, err := parse(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			fmt.Fprintf(stderr, "capture serve: unexpected arguments %q\n", pos)
		}
		return exitUsage
	}
	var logger *slog.Logger
	switch *logFormat {
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	default:
		fmt.Fprintf(stderr, "capture serve: --log-format must be json or text, not %q\n", *logFormat)
		return exitUsage
	}
	slog.SetDefault(logger)

	db, err := openDB(ctx, *dsn)
	if err != nil {
		logger.Error("open database", "error", err)
		return 1
	}
	defer db.Close()
	if err := bootstrap(ctx, db, stdout); err != nil {
		logger.Error("bootstrap", "error", err)
		return 1
	}
	api, err := server.New(server.Config{Store: db, RequestTimeout: *requestTimeout, Logger: logger,
		DefaultRateLimit: *rateLimit, MaxInFlight: *maxInFlight, PublicURL: cmp.Or(*publicURL, "http://"+*addr)})
	if err != nil {
		logger.Error("build server", "error", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("listen", "error", err)
		return 1
	}
	srv := api.HTTPServer()
	go purgeIdempotency(ctx, db, logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(api.Listener(ln)) }()
	logger.Info("serving", "addr", ln.Addr().String(), "db", *dsn)

	select {
	case err := <-served:
		logger.Error("serve", "error", err)
		return 1
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("shutdown", "error", err)
		return 1
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		logger.Error("serve", "error", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// bootstrap gives an empty database an account "default" and prints its admin key once.
func bootstrap(ctx context.Context, db store.Store, stdout io.Writer) error {
	n, err := db.CountAccounts(ctx)
	if err != nil || n > 0 {
		return err
	}
	secret, keyID, err := createKey(ctx, db, "default", store.RoleAdmin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created account \"default\" with admin key %s. Its secret is shown only this once:\n\n    %s\n\n", keyID, secret)
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
