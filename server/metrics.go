package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, on a registry of its own so that
// several servers in one process (as in tests) do not collide.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	errors      *prometheus.CounterVec
	rateLimited prometheus.Counter
	// limiterFallbacks counts requests limited in-process because the shared limiter failed.
	limiterFallbacks prometheus.Counter
	replays          prometheus.Counter
	clientGone       *prometheus.CounterVec
	// series holds each request series met so far (seriesKey -> series):
	// WithLabelValues checks and hashes its labels on every call.
	series sync.Map
}

type seriesKey struct {
	route, method string
	status        int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capture_http_requests_total", Help: "Requests answered, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "capture_http_request_duration_seconds", Help: "Time to answer a request, by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capture_errors_total", Help: "Error answers, by the error object's type and code.",
		}, []string{"type", "code"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "capture_rate_limited_total", Help: "Requests refused with 429 rate_limit.",
		}),
		limiterFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "capture_rate_limit_fallbacks_total",
			Help: "Requests whose rate limit this replica decided alone because the shared limiter (Redis) failed.",
		}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "capture_idempotent_replays_total", Help: "Answers replayed for a repeated Idempotency-Key.",
		}),
		clientGone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capture_client_disconnects_total",
			Help: "Requests whose client went away before the answer, by route template (recorded as status 499, not a server error).",
		}, []string{"route"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.errors, m.rateLimited, m.limiterFallbacks, m.replays, m.clientGone,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one answered request.
func (m *metrics) observe(r *http.Request, rec *recorder, latency time.Duration) {
	route := rec.route
	if route == "" {
		route = "unmatched" // unknown paths must not each become a series
	}
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "OTHER" // any client can invent methods; each must not become a series
	}
	k := seriesKey{route, method, rec.status}
	v, ok := m.series.Load(k)
	if !ok { // the label sets are bounded: routes, methods and statuses
		v, _ = m.series.LoadOrStore(k, series{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(rec.status)),
			latency:  m.latency.WithLabelValues(route, method),
		})
	}
	sr := v.(series)
	sr.requests.Inc()
	sr.latency.Observe(latency.Seconds())
	if rec.clientGone {
		m.clientGone.WithLabelValues(route).Inc()
	}
	if e := rec.apiErr; e != nil {
		m.errors.WithLabelValues(string(e.Type), string(e.Code)).Inc()
		if rec.status == http.StatusTooManyRequests {
			m.rateLimited.Inc()
		}
	}
	if rec.replayed {
		m.replays.Inc()
	}
}

// MetricsHandler serves the server's series at GET /metrics in the Prometheus
// text format. It belongs on a listener of its own (capture serve
// --metrics-addr), as exporters commonly do: the API's port does not serve it,
// so scrapes neither reach clients nor compete with them.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{Registry: s.metrics.registry}))
	return mux
}

// MetricsHTTPServer is the net/http server for MetricsHandler, with the API's
// deadlines on headers and idle connections and its cap on header bytes.
func (s *Server) MetricsHTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.MetricsHandler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readHeaderTimeout,
		WriteTimeout:      readHeaderTimeout + s.cfg.RequestTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
}
