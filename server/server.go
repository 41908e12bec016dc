// Package server is the Capture API's HTTP layer: the strict-server implementation of
// the generated interface in gen/, and the middleware that gives every answer a
// Request-Id and turns every failure, from any path, into the one JSON error object.
package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/docs"
	"github.com/captureapi/capture/server/store"
)

// keyCacheSize bounds the key-lookup cache, wrong secrets included.
const keyCacheSize = 10000

// Config is what a Server needs; Store is required, the rest have defaults.
type Config struct {
	Store store.Store
	// Events reads the events log; default Store, when it is an EventStore too.
	Events store.EventStore
	// Webhooks keeps webhook endpoints; default Store, when it is a WebhookStore too.
	Webhooks store.WebhookStore
	// WebhooksAllowPrivate accepts http:// endpoint URLs (deliveries to private
	// addresses are allowed by the deliverer's own option), for development and tests.
	WebhooksAllowPrivate bool
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
	// MaxInFlight caps the API requests answered at once; past it the answer is
	// 503 overloaded. Default 512.
	MaxInFlight int
	// Limiter, if set, shares each key's rate limit among every replica (package
	// redis). While it fails, the server limits keys in its own process.
	Limiter Limiter
	// Forms keeps forms and their submissions; default Store, when it is a FormStore too.
	Forms store.FormStore
	// CaptchaVerifyURL, if set, is where every form's captcha token is verified,
	// in place of its provider's siteverify address (tests).
	CaptchaVerifyURL string
	// TrustedProxies are the peers whose X-Forwarded-For names a submission's
	// client address; by default none is believed.
	TrustedProxies []netip.Prefix
	// SubmissionsPerMinute is how many submissions each client address may send
	// to a form a minute. Default 10.
	SubmissionsPerMinute int
}

// Server is the API as an http.Handler.
type Server struct {
	// otherPaths has the patterns of other without their methods: routeError
	// asks other about each method only for a path that has one of them.
	otherPaths *http.ServeMux

	cfg      Config
	routes   *routes
	api      http.Handler   // the generated routes, behind the per-route middleware
	handlers *handlers      // the API's handlers, for the steps that act ahead of them (checkBatch)
	other    *http.ServeMux // paths outside the spec (docs)
	validate *openapi3filter.Options
	limits   *limiters
	shared   *sharedLimiter // nil without Config.Limiter
	inFlight inFlight
	maint    maintenanceFlag
	metrics  *metrics
	keys     *lru.Cache[[sha256.Size]byte, cachedKey] // nil: no cache
	// submissions limits each client address's submissions to a form (form_spam.go).
	submissions   minuteLimits
	captchaClient *http.Client
	// claimsInTx: the store claims an Idempotency-Key in the request's own
	// transaction (store.TransactionalClaims): holdKey hands the claim to execute.
	claimsInTx bool
}

// New builds the handler from the embedded spec.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.Events == nil {
		cfg.Events, _ = cfg.Store.(store.EventStore)
	}
	if cfg.Webhooks == nil {
		cfg.Webhooks, _ = cfg.Store.(store.WebhookStore)
	}
	if cfg.Forms == nil {
		cfg.Forms, _ = cfg.Store.(store.FormStore)
	}
	if cfg.Events == nil || cfg.Webhooks == nil || cfg.Forms == nil {
		return nil, errors.New("server: Config.Events, Config.Webhooks and Config.Forms are required")
	}
	if cfg.SubmissionsPerMinute <= 0 {
		cfg.SubmissionsPerMinute = DefaultSubmissionsPerMinute
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
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 512
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
	routes, err := newRoutes(spec)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		cfg:           cfg,
		routes:        routes,
		other:         http.NewServeMux(),
		limits:        newLimiters(),
		inFlight:      newInFlight(cfg.MaxInFlight),
		metrics:       newMetrics(),
		captchaClient: &http.Client{Timeout: CaptchaTimeout},
		validate: &openapi3filter.Options{
			// authenticate checks keys, with the API's own errors (and the
			// routes kin-openapi is given have no security requirements).
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// The strict handler binds the decoded body (oapi-codegen's
			// runtime.BindJSONBody takes the validated value): no second parse.
			KeepValidatedValue: true,
			// The handlers apply the spec's defaults (limit 10, on_conflict error)
			// themselves: setting one in a body re-encodes the whole body, a
			// 500-item batch included, to add one field.
			SkipSettingDefaults:     true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{emailFormat},
		},
	}
	if tc, ok := cfg.Store.(store.TransactionalClaims); ok {
		s.claimsInTx = tc.ClaimsInTransaction()
	}
	if cfg.Limiter != nil {
		s.shared = &sharedLimiter{limiter: cfg.Limiter}
	}
	if cfg.KeyCacheTTL > 0 {
		s.keys, _ = lru.New[[sha256.Size]byte, cachedKey](keyCacheSize) // errors only on a size below 1
	}
	s.otherPaths = http.NewServeMux()
	items, err := newItemRules(spec)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	h := &handlers{store: cfg.Store, events: cfg.Events, webhooks: cfg.Webhooks, forms: cfg.Forms, webhooksAllowPrivate: cfg.WebhooksAllowPrivate,
		defaultRateLimit: cfg.DefaultRateLimit, items: items, publicURL: cfg.PublicURL}
	h.privacy, _ = cfg.Store.(store.PrivacyStore)
	s.handlers = h
	strict := gen.NewStrictHandlerWithOptions(h, nil, gen.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, invalid(gen.ErrorCodeBodyInvalidJson, "", "The body is not valid JSON: %v.", err))
		},
		ResponseErrorHandlerFunc: s.writeError,
	})
	// The generated routes dispatch only what routes matched to an operation, on
	// the same paths; should the two ever differ, the answer is still the JSON
	// error.
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
	docs.Mount(s)
	s.Handle("GET "+ThankYouPath, http.HandlerFunc(thankYouPage))
	s.metrics.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "capture_http_requests_in_flight", Help: "API requests being answered now (capped by MaxInFlight).",
	}, func() float64 { return float64(len(s.inFlight)) }))
	return s, nil
}

// Metrics is the registry MetricsHandler serves, for the series of parts beside the
// server such as webhook deliveries (DeliveryOptions.Metrics).
func (s *Server) Metrics() prometheus.Registerer { return s.metrics.registry }

// Handle registers a handler for a path outside the API spec (docs).
// Such paths get a Request-Id and panic recovery but no key check.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.other.Handle(pattern, h)
	path := pattern // "[METHOD ]path"
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		path = strings.TrimLeft(pattern[i:], " \t")
	}
	func() {
		defer func() { _ = recover() }() // the path is there already, for another method
		s.otherPaths.Handle(path, http.NotFoundHandler())
	}()
}

// logRequest writes the request's line. It hands the record to the handler
// itself, as slog's own wrappers do, without the caller's program counter that
// Logger looks up for every line: the line says where it comes from (a handler
// with AddSource writes an empty source for it).
func (s *Server) logRequest(r *http.Request, rec *recorder, latency time.Duration) {
	ctx := r.Context()
	h := s.cfg.Logger.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return // a logger that drops the line costs no attributes
	}
	attrs := make([]slog.Attr, 0, 9) // room for every attribute: the record grows once
	attrs = append(attrs,
		slog.String("request_id", rec.requestID),
		slog.String("method", r.Method),
		slog.String("route", rec.route),
		slog.Int("status", rec.status),
		slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
		slog.Int64("bytes", rec.bytes),
	)
	if rec.key != nil {
		attrs = append(attrs, slog.String("key_id", rec.key.ID))
	}
	if rec.apiErr != nil {
		attrs = append(attrs, slog.String("error_type", string(rec.apiErr.Type)), slog.String("error_code", string(rec.apiErr.Code)))
	}
	line := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	line.AddAttrs(attrs...)
	_ = h.Handle(ctx, line) // as Logger does: a line that cannot be written is not the request's failure
}
