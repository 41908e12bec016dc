// Package apitest runs the real Capture handler stack on a fresh SQLite database
// (or, with NewPostgres, a PostgreSQL schema of the test's own) for tests, and checks every response it gives against openapi.yaml with
// kin-openapi's response validation: an undocumented status, a missing required
// header or a body that does not match its schema fails the test that caused it.
//
// The check is stricter than the contract itself. openapi.yaml keeps answers
// open so that clients tolerate additions (no additionalProperties: false on
// what the server sends, growing sets as x-extensible-enum, a default response
// on every operation); the tests read it in [StrictSpec] form, so that the
// server can never send a field, a code, a status value or an HTTP status the
// reference does not document.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// Server is a running test server with an account "acme" and two keys.
type Server struct {
	URL         string
	MetricsURL  string      // the metrics listener's, which serves /metrics (the API's URL does not)
	Store       store.Store // the server's store, on either engine
	DB          *sqlite.DB  // the SQLite store; nil on PostgreSQL
	DBPath      string      // the SQLite file; "" on PostgreSQL
	PostgresURL string      // the PostgreSQL schema's URL; "" on SQLite
	Handler     *server.Server
	AdminKey    string // admin key of account "acme"
	StandardKey string // standard key of account "acme"
	HTTP        *httptest.Server
	report      func(format string, args ...any)
}

// CheckOnClientSide stops the server from failing the test on its own when a
// response breaks the contract: fuzz targets, which may not report through the
// testing.F that started the server, check each answer with Check instead.
func (s *Server) CheckOnClientSide() { s.report = nil }

// New starts a server; configure, if given, adjusts its Config before it is built.
func New(t testing.TB, configure ...func(*server.Config)) *Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capture.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return start(t, &Server{Store: db, DB: db, DBPath: path}, configure)
}

// NewPostgres starts a server as New does, on a PostgreSQL schema of the
// test's own; without CAPTURE_TEST_POSTGRES_URL the test is skipped.
func NewPostgres(t testing.TB, configure ...func(*server.Config)) *Server {
	t.Helper()
	dsn := pgtest.URL(t)
	return NewOnPostgres(t, dsn, configure...)
}

// NewOnPostgres starts a server on the PostgreSQL database at dsn (such as a
// pgtest.URL reached through a proxy the test controls).
func NewOnPostgres(t testing.TB, dsn string, configure ...func(*server.Config)) *Server {
	t.Helper()
	db := pgtest.OpenURL(t, dsn)
	return start(t, &Server{Store: db, PostgresURL: dsn}, configure)
}

// NewFunc starts a test server, as New and NewPostgres do.
type NewFunc func(t testing.TB, configure ...func(*server.Config)) *Server

// Engine is a store a server test can run on.
type Engine struct {
	Name string
	New  NewFunc
}

// Engines are the stores behaviour tests run on, one subtest each: SQLite,
// and PostgreSQL (skipped without CAPTURE_TEST_POSTGRES_URL).
func Engines() []Engine {
	return []Engine{{"sqlite", New}, {"postgres", NewPostgres}}
}

func start(t testing.TB, s *Server, configure []func(*server.Config)) *Server {
	t.Helper()
	cfg := server.Config{Store: s.Store, Logger: slog.New(slog.DiscardHandler)}
	// The engine's events and webhooks stay the server's when a test wraps its Store.
	cfg.Events, _ = s.Store.(store.EventStore)
	cfg.Webhooks, _ = s.Store.(store.WebhookStore)
	cfg.Forms, _ = s.Store.(store.FormStore)
	for _, f := range configure {
		f(&cfg)
	}
	h, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Handler = h
	s.report = t.Errorf
	// Served as capture serve serves it: the same http.Server limits and listener.
	s.HTTP = httptest.NewUnstartedServer(nil)
	s.HTTP.Config = h.HTTPServer()
	s.HTTP.Config.Handler = s.validate(t, h)
	s.HTTP.Listener = h.Listener(s.HTTP.Listener)
	s.HTTP.Start()
	s.URL = s.HTTP.URL
	metricsHTTP := httptest.NewServer(h.MetricsHandler())
	s.MetricsURL = metricsHTTP.URL
	t.Cleanup(func() {
		metricsHTTP.Close()
		s.HTTP.Close()
		s.Store.Close()
	})
	s.AdminKey = s.NewAccountKey(t, "acme", "admin", 1000)
	s.StandardKey = s.NewAccountKey(t, "acme", "standard", 1000)
	return s
}

// NewAccountKey makes a key with the role for the named account, creating the
// account with the given prospect limit if it does not exist.
func (s *Server) NewAccountKey(t testing.TB, account, role string, prospectLimit int64) string {
	t.Helper()
	ctx := context.Background()
	a, err := s.Store.AccountByName(ctx, account)
	if err == store.ErrNotFound {
		a, err = s.Store.CreateAccount(ctx, account, prospectLimit, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := s.Store.CreateKey(ctx, a.ID, store.Role(role))
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// Client is the generated client authenticated with key.
func (s *Server) Client(t testing.TB, key string) *gen.ClientWithResponses {
	t.Helper()
	c, err := gen.NewClientWithResponses(s.URL, gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// StrictSpec is openapi.yaml as the tests hold the server to it: every object
// schema without additionalProperties gets additionalProperties: false, every
// schema with x-extensible-enum gets that list as its enum, and operations lose
// their default response, so that only the statuses they list are allowed.
func StrictSpec() (*openapi3.T, error) {
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, err
	}
	seen := map[*openapi3.Schema]bool{}
	for _, ref := range spec.Components.Schemas {
		tighten(ref, seen)
	}
	for _, ref := range spec.Components.Responses {
		for _, mt := range ref.Value.Content {
			tighten(mt.Schema, seen)
		}
	}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			op.Responses.Delete("default")
			for _, ref := range op.Responses.Map() {
				for _, mt := range ref.Value.Content {
					tighten(mt.Schema, seen)
				}
			}
		}
	}
	return spec, nil
}

// tighten makes ref's schema, and the schemas inside it, closed.
func tighten(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	if known := KnownValues(s); known != nil && s.Enum == nil {
		for _, v := range known {
			s.Enum = append(s.Enum, v)
		}
	}
	if s.Type.Is("object") && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
		closed := false
		s.AdditionalProperties.Has = &closed
	}
	for _, p := range s.Properties {
		tighten(p, seen)
	}
	tighten(s.Items, seen)
	tighten(s.AdditionalProperties.Schema, seen)
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, r := range group {
			tighten(r, seen)
		}
	}
}

// KnownValues returns the values a schema lists in x-extensible-enum (the
// documented values of a set that grows), or nil.
func KnownValues(s *openapi3.Schema) []string {
	raw, ok := s.Extensions["x-extensible-enum"].([]any)
	if !ok {
		return nil
	}
	vals := make([]string, 0, len(raw))
	for _, v := range raw {
		if str, ok := v.(string); ok {
			vals = append(vals, str)
		}
	}
	return vals
}

// ValidateResponses wraps h so that each response is checked against
// [StrictSpec] before the client receives it; violations fail t.
func ValidateResponses(t testing.TB, h http.Handler) http.Handler {
	s := &Server{report: t.Errorf}
	return s.validate(t, h)
}

func (s *Server) validate(t testing.TB, h http.Handler) http.Handler {
	spec, router := load(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.Clone(r.Context()) // routing looks at method, path and host only
		cw := &capturingWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(cw, r)
		if !cw.wrote && r.Context().Err() != nil {
			return // the client went away: no answer was given
		}
		res := &http.Response{StatusCode: cw.status, Header: w.Header()}
		body := cw.body.Bytes()
		if err := checkResponse(spec, router, probe, res, body); err != nil && s.report != nil {
			s.report("contract violation: %s %s -> %d: %v\nbody: %s", r.Method, r.URL, res.StatusCode, err, body)
		}
	})
}

// load reads the strict spec and its router, once.
func load(t testing.TB) (*openapi3.T, routers.Router) {
	c, err := loaded()
	if err != nil {
		t.Fatal(err)
	}
	return c.spec, c.router
}

// contract is openapi.yaml as tests check answers against it ([StrictSpec]).
type contract struct {
	spec   *openapi3.T
	router routers.Router
}

var loaded = sync.OnceValues(func() (contract, error) {
	// A form submission's errors to a plain form post are HTML pages (the
	// spec's one text/html answer): read as text, held to its string schema.
	openapi3filter.RegisterBodyDecoder("text/html", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
	spec, err := StrictSpec()
	if err != nil {
		return contract{}, err
	}
	spec.Servers = nil
	router, err := gorillamux.NewRouter(spec)
	return contract{spec, router}, err
})

// Check checks, on the client's side, an answer to a request with the method and
// request target: its status, headers and body must be the ones openapi.yaml
// documents. It also covers answers the handler never saw (net/http's own).
func Check(t testing.TB, method, target string, res *http.Response, body []byte) error {
	if method == http.MethodHead && res.Header.Get("Request-Id") != "" && res.StatusCode < 500 {
		return nil // no body to check; the same GET's answer is checked in full
	}
	spec, router := load(t)
	r := &http.Request{Method: method, URL: &url.URL{Path: "/unparseable-target"}, Header: http.Header{}}
	if u, err := url.ParseRequestURI(target); err == nil {
		r.URL = u
	}
	return checkResponse(spec, router, r, res, body)
}

// capturingWriter passes a response through to the client and keeps a copy, so
// the handler under test writes to the real connection (deadlines included).
type capturingWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (c *capturingWriter) WriteHeader(status int) {
	if !c.wrote {
		c.status, c.wrote = status, true
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *capturingWriter) Write(b []byte) (int, error) {
	c.wrote = true
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *capturingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func checkResponse(spec *openapi3.T, router routers.Router, r *http.Request, res *http.Response, body []byte) error {
	if r.Method == http.MethodHead {
		r = r.Clone(r.Context())
		r.Method = http.MethodGet // a HEAD is answered as its GET, without the body
	}
	if res.Header.Get("Request-Id") == "" {
		return fmt.Errorf("no Request-Id header")
	}
	if res.StatusCode >= 400 && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		var e gen.Error
		if err := json.Unmarshal(body, &e); err != nil {
			return fmt.Errorf("error body is not the error object: %w", err)
		}
		// A replayed answer repeats the original request's body, id included.
		want := res.Header.Get("Request-Id")
		if res.Header.Get("Idempotent-Replayed") == "true" {
			want = res.Header.Get("Original-Request")
		}
		if e.Error.RequestId != want {
			return fmt.Errorf("error body request_id %q differs from the request's id %q", e.Error.RequestId, want)
		}
	}
	route, params, err := router.FindRoute(r)
	if err != nil {
		if !strings.HasPrefix(r.URL.Path, "/v1") && res.StatusCode < 400 {
			return nil // a page outside the API (docs, metrics)
		}
		return checkSharedResponse(spec, res, body)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), input)
}

// sharedResponses names the components/responses entry for answers that match no
// operation (unknown routes, wrong methods).
var sharedResponses = map[int]string{400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 500: "InternalServerError"}

func checkSharedResponse(spec *openapi3.T, res *http.Response, body []byte) error {
	name, ok := sharedResponses[res.StatusCode]
	if !ok {
		return fmt.Errorf("status %d for a request that matches no operation is not documented", res.StatusCode)
	}
	resp := spec.Components.Responses[name].Value
	for h, ref := range resp.Headers {
		if ref.Value.Required && res.Header.Get(h) == "" {
			return fmt.Errorf("required header %s missing (components/responses/%s)", h, name)
		}
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return resp.Content.Get("application/json").Schema.Value.VisitJSON(v, openapi3.VisitAsResponse())
}
