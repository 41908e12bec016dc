// Package server is the Capture API's HTTP layer: the strict-server implementation of
// the generated interface in gen/, and the middleware that gives every answer a
// Request-Id and turns every failure, from any path, into the one JSON error object.
package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/docs"
	"github.com/captureapi/capture/server/store"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// keyCacheSize bounds the key-lookup cache, wrong secrets included.
const keyCacheSize = 10000

// Config is what a Server needs; Store is required, the rest have defaults.
type Config struct {
	Store store.Store
	// RequestTimeout bounds each request; past it the answer is 504 timeout. Default 10 s.
	RequestTimeout time.Duration
	// Logger gets one line per request; default slog.Default().
	Logger *slog.Logger
	// PublicURL is where clients reach the server (https://api.example.com), for
	// the doc_url of errors; without it doc_url is a path on the same host.
	PublicURL string
	// KeyCacheTTL is how long a key lookup is reused: a revoked key stops working
	// within it. Default 1 s; negative turns the cache off.
	KeyCacheTTL time.Duration
	// DefaultRateLimit is each key's requests per second unless its account overrides it. Default 100.
	DefaultRateLimit int
}

// Server is the API as an http.Handler.
type Server struct {
	cfg      Config
	router   routers.Router
	api      http.Handler   // the generated routes, behind the per-route middleware
	other    *http.ServeMux // paths outside the spec (docs, metrics)
	validate *openapi3filter.Options
	limits   *limiters
	maint    maintenanceFlag
	metrics  *metrics
	keys     *expirable.LRU[[sha256.Size]byte, *store.APIKey] // a nil value: no such key; nil LRU: no cache
}

// New builds the handler from the embedded spec.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.KeyCacheTTL == 0 {
		cfg.KeyCacheTTL = time.Second
	}
	if cfg.DefaultRateLimit <= 0 {
		cfg.DefaultRateLimit = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("server: load embedded spec: %w", err)
	}
	// The servers list documents where the API runs; routing must not depend on
	// the Host a client used.
	spec.Servers = nil
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, fmt.Errorf("server: build router: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		router:  router,
		other:   http.NewServeMux(),
		limits:  newLimiters(),
		metrics: newMetrics(),
		validate: &openapi3filter.Options{
			// authenticate checks keys, with the API's own errors.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// The strict handler binds the decoded body: no second parse.
			KeepValidatedValue:      true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{emailFormat},
		},
	}
	if cfg.KeyCacheTTL > 0 {
		s.keys = expirable.NewLRU[[sha256.Size]byte, *store.APIKey](keyCacheSize, nil, cfg.KeyCacheTTL)
	}
	strict := gen.NewStrictHandlerWithOptions(&handlers{store: cfg.Store, defaultRateLimit: cfg.DefaultRateLimit}, nil, gen.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, invalid(gen.ErrorCodeBodyInvalidJson, "", "The body is not valid JSON: %v.", err))
		},
		ResponseErrorHandlerFunc: s.writeError,
	})
	// The generated routes dispatch what kin-openapi's router matched; the two
	// can disagree on odd paths (an escaped slash in an id), and then the answer
	// must still be the JSON error.
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, routeNotFound(r)) })
	s.api = gen.HandlerWithOptions(strict, gen.StdHTTPServerOptions{
		BaseRouter: mux,
		// Parameters kin-openapi let through but the generated binding refuses
		// (a single-valued parameter given twice).
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, bindingError(err))
		},
	})
	s.other.Handle("GET /metrics", s.metrics.handler())
	docs.Mount(s)
	return s, nil
}

// Handle registers a handler for a path outside the API spec (docs, metrics).
// Such paths get a Request-Id and panic recovery but no key check.
func (s *Server) Handle(pattern string, h http.Handler) { s.other.Handle(pattern, h) }

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	ctx := context.WithValue(r.Context(), requestIDKey{}, newRequestID())
	r = r.WithContext(ctx)
	rec.Header().Set("Request-Id", requestID(ctx))
	defer func() {
		if p := recover(); p != nil {
			s.recoverPanic(rec, r, p)
		}
		latency := time.Since(start)
		s.metrics.observe(r, rec, latency)
		s.logRequest(r, rec, latency)
	}()

	route, pathParams, err := s.router.FindRoute(asGet(r))
	if err != nil { // not an API operation: a page, or nothing
		if h, pattern := s.other.Handler(r); pattern != "" {
			rec.route = pattern
			h.ServeHTTP(rec, r)
			return
		}
		s.writeError(rec, r, s.routeError(r))
		return
	}
	rec.route = route.Path
	s.serveAPI(rec, r, route, pathParams)
}

// asGet is r as the GET it stands for when it is a HEAD: every GET answers HEAD
// too (net/http sends the headers without the body).
func asGet(r *http.Request) *http.Request {
	if r.Method != http.MethodHead {
		return r
	}
	return withMethod(r, http.MethodGet)
}

// withMethod is a shallow copy of r with another method, for asking a router
// what it would do; nothing reads the copy's body or headers.
func withMethod(r *http.Request, method string) *http.Request {
	probe := *r
	probe.Method = method
	return &probe
}

// serveAPI runs the per-request checks in the order a client would expect them
// reported, then the generated handler.
func (s *Server) serveAPI(w *recorder, r *http.Request, route *routers.Route, pathParams map[string]string) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if strings.HasPrefix(route.Path, "/v1/") { // the probes answer whatever the Accept or the maintenance
		if err := negotiate(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.maint.check(r.Context(), s.cfg.Store); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if route.Operation.Security == nil || len(*route.Operation.Security) > 0 {
		key, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.keyID = key.ID
		r = r.WithContext(context.WithValue(r.Context(), keyContextKey{}, key))
		headers, err := s.limits.take(key.ID, cmp.Or(key.RateLimit, s.cfg.DefaultRateLimit))
		for k, v := range headers {
			w.Header()[k] = v
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	// The deadline covers reading the body too: a client trickling it in cannot
	// hold the request past it. (Writers that cannot set deadlines, as in tests,
	// are left as they are.)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.RequestTimeout))
	if err := readBody(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := unknownQueryParameter(r, route); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: pathParams, Route: route, Options: s.validate,
	})
	if err != nil {
		s.writeError(w, r, validationError(err))
		return
	}
	if key := r.Header.Get("Idempotency-Key"); key != "" && (r.Method == http.MethodPost || r.Method == http.MethodPatch) {
		s.serveIdempotent(w, r, key)
		return
	}
	s.api.ServeHTTP(w, r)
}

// routeError is the 404 or 405 for a request that matches no route: 405 when
// the path has routes for other methods, in the API or among the other pages.
func (s *Server) routeError(r *http.Request) *Error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := withMethod(r, m)
		_, _, err := s.router.FindRoute(probe)
		if _, pattern := s.other.Handler(probe); err == nil || pattern != "" {
			allow = append(allow, m)
		}
	}
	if slices.Contains(allow, http.MethodGet) {
		allow = slices.Insert(allow, 1, http.MethodHead)
	}
	if len(allow) == 0 {
		return routeNotFound(r)
	}
	e := requestError(http.StatusMethodNotAllowed, gen.ErrorCodeMethodNotAllowed,
		"%s is not allowed on %s; use one of: %s.", r.Method, r.URL.Path, strings.Join(allow, ", "))
	e.Header = http.Header{"Allow": {strings.Join(allow, ", ")}}
	return e
}

func routeNotFound(r *http.Request) *Error {
	return requestError(http.StatusNotFound, gen.ErrorCodeRouteNotFound,
		"Unrecognized request URL (%s %s). See the API reference at %s.", r.Method, r.URL.Path, docs.Path)
}

func (s *Server) logRequest(r *http.Request, rec *recorder, latency time.Duration) {
	attrs := []slog.Attr{
		slog.String("request_id", requestID(r.Context())),
		slog.String("method", r.Method),
		slog.String("route", rec.route),
		slog.Int("status", rec.status),
		slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
		slog.Int64("bytes", rec.bytes),
	}
	if rec.keyID != "" {
		attrs = append(attrs, slog.String("key_id", rec.keyID))
	}
	if rec.apiErr != nil {
		attrs = append(attrs, slog.String("error_type", string(rec.apiErr.Type)), slog.String("error_code", string(rec.apiErr.Code)))
	}
	s.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}
