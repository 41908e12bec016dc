package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/riverqueue/river"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// fastRetries makes a test's retries come within milliseconds.
var fastRetries = []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}

// queue is the River client of either engine's delivery queue.
type queue interface {
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	Stop(ctx context.Context) error
}

// startDeliveries works the delivery queue of the store's engine until the test ends.
func startDeliveries(t testing.TB, db store.Store, o server.DeliveryOptions) queue {
	t.Helper()
	o.Webhooks = db.(store.WebhookStore)
	if o.RetrySchedule == nil {
		o.RetrySchedule = fastRetries
	}
	o.PollInterval = 10 * time.Millisecond
	o.Logger = slog.New(slog.DiscardHandler)
	var c queue
	var err error
	switch db := db.(type) {
	case *sqlite.DB:
		c, err = db.StartQueue(context.Background(), server.DeliveryConfig(o))
	case *postgres.DB:
		c, err = db.StartQueue(context.Background(), server.DeliveryConfig(o))
	default:
		t.Fatalf("%T keeps no delivery queue", db)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Stop(ctx)
	})
	return c
}

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is an httptest server that answers each delivery with the next
// status of its script (then 200), and hands every delivery to the test.
type receiver struct {
	*httptest.Server
	got    chan delivery
	mu     sync.Mutex
	script []int
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{got: make(chan delivery, 100), script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	status := 200
	if len(r.script) > 0 {
		status, r.script = r.script[0], r.script[1:]
	}
	r.mu.Unlock()
	r.got <- delivery{header: req.Header.Clone(), body: body}
	w.WriteHeader(status)
}

// next waits for the receiver's next delivery, at most 10 s.
func next(t *testing.T, got <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10 s")
		return delivery{}
	}
}

// createEndpoint creates an endpoint with the admin key and returns its id and secret.
func createEndpoint(t *testing.T, s *apitest.Server, url string, events ...string) (string, string) {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	b, _ := json.Marshal(map[string]any{"url": url, "enabled_events": events})
	res, body := do(t, "POST", s.URL+"/v1/webhook_endpoints", s.AdminKey, "application/json", string(b))
	if res.StatusCode != 201 {
		t.Fatalf("create endpoint: %d %s", res.StatusCode, body)
	}
	var e gen.WebhookEndpoint
	if err := json.Unmarshal(body, &e); err != nil || e.Secret == nil {
		t.Fatalf("created endpoint %s: %v", body, err)
	}
	return e.Id, *e.Secret
}

// attempts polls the endpoint until it shows n attempts, at most 10 s.
func attempts(t *testing.T, s *apitest.Server, id string, n int) []gen.WebhookAttempt {
	t.Helper()
	var got []gen.WebhookAttempt
	poll.Until(t, 10*time.Second, fmt.Sprintf("%d attempts recorded on the endpoint", n), func() (bool, string) {
		res, body := do(t, "GET", s.URL+"/v1/webhook_endpoints/"+id, s.AdminKey, "", "")
		if res.StatusCode != 200 {
			t.Fatalf("get endpoint: %d %s", res.StatusCode, body)
		}
		var e gen.WebhookEndpoint
		if err := json.Unmarshal(body, &e); err != nil || e.RecentAttempts == nil {
			t.Fatalf("endpoint %s: %v", body, err)
		}
		got = *e.RecentAttempts
		return len(got) >= n, fmt.Sprintf("%d attempts", len(got))
	})
	return got
}

func allowPrivate(c *server.Config) { c.WebhooksAllowPrivate = true }

func TestDeliveryRetriedUntilReceivedAndSigned(t *testing.T) {
	onEachEngine(t, testDeliveryRetriedUntilReceivedAndSigned)
}

func testDeliveryRetriedUntilReceivedAndSigned(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, allowPrivate)
	rcv := newReceiver(t, 500, 503) // fails twice, then succeeds
	id, secret := createEndpoint(t, s, rcv.URL+"/hook")
	startDeliveries(t, s.Store, server.DeliveryOptions{AllowPrivate: true, Metrics: s.Handler.Metrics()})

	p := create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: "ada@example.com"})
	events := listEvents(t, s, s.StandardKey, "")
	eventID := events[0]["id"].(string)

	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := apitest.StrictSpec()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d := next(t, rcv.got)
		// The body is an Event as openapi.yaml documents it, read strictly.
		var v any
		if err := json.Unmarshal(d.body, &v); err != nil {
			t.Fatal(err)
		}
		if err := spec.Components.Schemas["Event"].Value.VisitJSON(v); err != nil {
			t.Errorf("attempt %d: the body is not a documented Event: %v", i+1, err)
		}
		// The specification's own reference library verifies every attempt.
		if err := wh.Verify(d.body, d.header); err != nil {
			t.Errorf("attempt %d: the reference library refuses the signature: %v", i+1, err)
		}
		if got := d.header.Get("webhook-id"); got != eventID {
			t.Errorf("attempt %d: webhook-id %q, want the event id %s", i+1, got, eventID)
		}
		var ev gen.Event
		if err := json.Unmarshal(d.body, &ev); err != nil || ev.Id != eventID || ev.Type != "prospect.created" {
			t.Errorf("attempt %d: body %s (%v)", i+1, d.body, err)
		}
		if obj, _ := ev.Data.Object.AsProspect(); obj.Id != p.Id {
			t.Errorf("attempt %d: data.object.id %q, want %s", i+1, obj.Id, p.Id)
		}
	}
	got := attempts(t, s, id, 3)
	slices.Reverse(got) // oldest first
	for i, a := range got {
		wantStatus, wantOK := []int{500, 503, 200}[i], i == 2
		if a.Attempt != i+1 || a.StatusCode.MustGet() != wantStatus || a.Succeeded != wantOK || a.EventId != eventID {
			t.Errorf("attempt %d recorded as %+v", i+1, a)
		}
		if wantOK == a.Error.IsSpecified() && !a.Error.IsNull() {
			t.Errorf("attempt %d error %v", i+1, a.Error)
		}
	}
	// A success after failures ends the failing streak.
	res, body := do(t, "GET", s.URL+"/v1/webhook_endpoints/"+id, s.AdminKey, "", "")
	if res.StatusCode != 200 || !strings.Contains(string(body), `"failing_since":null`) {
		t.Errorf("endpoint after a success: %s", body)
	}
	select {
	case d := <-rcv.got:
		t.Errorf("a fourth delivery after a success: %s", d.body)
	default:
	}
	waitMetric(t, s, `capture_webhook_deliveries_total{outcome="failed"} 2`)
	waitMetric(t, s, `capture_webhook_deliveries_total{outcome="succeeded"} 1`)
	waitMetric(t, s, "capture_webhook_queue_depth 0")
}

// waitMetric polls /metrics until it has the line, at most 10 s.
func waitMetric(t *testing.T, s *apitest.Server, line string) {
	t.Helper()
	poll.Until(t, 10*time.Second, fmt.Sprintf("the line %q in /metrics", line), func() (bool, string) {
		res, body := do(t, "GET", s.MetricsURL+"/metrics", "", "", "")
		return res.StatusCode == 200 && slices.Contains(strings.Split(string(body), "\n"), line),
			fmt.Sprintf("/metrics answers %d:\n%s", res.StatusCode, body)
	})
}

// A receiver that is down gets the delivery once it is up again.
func TestDeliveryToAReceiverThatComesBack(t *testing.T) {
	onEachEngine(t, testDeliveryToAReceiverThatComesBack)
}

func testDeliveryToAReceiverThatComesBack(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, allowPrivate)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down: connections are refused
	id, secret := createEndpoint(t, s, "http://"+addr+"/hook")
	startDeliveries(t, s.Store, server.DeliveryOptions{AllowPrivate: true,
		// Room for the receiver to come back under load: about 6 s of retries.
		RetrySchedule: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
			800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond}})
	create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: "ada@example.com"})

	first := attempts(t, s, id, 1)[0]
	if first.Succeeded || first.StatusCode.IsSpecified() && !first.StatusCode.IsNull() || !strings.Contains(first.Error.MustGet(), "refused") {
		t.Errorf("attempt to a receiver that is down: %+v", first)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	rcv := &receiver{got: make(chan delivery, 10)}
	srv := &http.Server{Handler: http.HandlerFunc(rcv.serve)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	d := next(t, rcv.got)
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(d.body, d.header); err != nil {
		t.Errorf("signature: %v", err)
	}
}

// The queue is durable: a delivery enqueued while no process delivers, by a
// process that then goes away, is delivered by the next one.
func TestDeliveriesSurviveARestart(t *testing.T) { onEachEngine(t, testDeliveriesSurviveARestart) }

func testDeliveriesSurviveARestart(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, allowPrivate)
	rcv := newReceiver(t)
	_, secret := createEndpoint(t, s, rcv.URL+"/hook")
	for i := range 3 {
		create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: openapi_types.Email(fmt.Sprintf("p%d@example.com", i))})
	}
	s.HTTP.Close()
	if err := s.Store.Close(); err != nil {
		t.Fatal(err)
	}

	var db store.Store
	if s.PostgresURL != "" {
		db = pgtest.OpenURL(t, s.PostgresURL)
	} else {
		sq, err := sqlite.Open(s.DBPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sq.Close() })
		if _, err := sq.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		db = sq
	}
	startDeliveries(t, db, server.DeliveryOptions{AllowPrivate: true})
	wh, _ := standardwebhooks.NewWebhook(secret)
	seen := map[string]bool{}
	for len(seen) < 3 {
		d := next(t, rcv.got)
		if err := wh.Verify(d.body, d.header); err != nil {
			t.Errorf("signature: %v", err)
		}
		seen[d.header.Get("webhook-id")] = true
	}
}

// Only the types an endpoint is enabled for reach it.
func TestEnabledEvents(t *testing.T) { onEachEngine(t, testEnabledEvents) }

func testEnabledEvents(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, allowPrivate)
	all, deletions := newReceiver(t), newReceiver(t)
	createEndpoint(t, s, all.URL, "*")
	createEndpoint(t, s, deletions.URL, "prospect.deleted")
	c := startDeliveries(t, s.Store, server.DeliveryOptions{AllowPrivate: true})
	p := create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: "ada@example.com"})
	if res, body := do(t, "DELETE", s.URL+"/v1/prospects/"+p.Id, s.StandardKey, "", ""); res.StatusCode != 200 {
		t.Fatalf("delete: %d %s", res.StatusCode, body)
	}
	types := func(d delivery) string {
		var ev gen.Event
		json.Unmarshal(d.body, &ev)
		return ev.Type
	}
	got := []string{types(next(t, all.got)), types(next(t, all.got))}
	slices.Sort(got)
	if !slices.Equal(got, []string{"prospect.created", "prospect.deleted"}) {
		t.Errorf("the * endpoint got %v", got)
	}
	if typ := types(next(t, deletions.got)); typ != "prospect.deleted" {
		t.Errorf("the prospect.deleted endpoint got %s", typ)
	}
	// Exactly three deliveries were ever enqueued.
	jobs, err := c.JobList(context.Background(), river.NewJobListParams().First(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Jobs) != 3 {
		t.Errorf("%d deliveries enqueued, want 3", len(jobs.Jobs))
	}
}

// Shorthand IPv4 hosts, which browsers and C resolvers read as addresses,
// are refused when saved like the dotted ones they stand for.
func TestWebhookURLShorthandAddresses(t *testing.T) {
	s := apitest.New(t)
	for _, host := range []string{"127.1", "0x7f.0.0.1", "0x7f000001", "2130706433", "017700000001", "10.1.2", "192.168.1",
		"169.254.43518", "0", "1.2.3.4.5", "1.256.3.4", "127.0.0.1."} {
		res, body := do(t, "POST", s.URL+"/v1/webhook_endpoints", s.AdminKey, "application/json",
			`{"url":"https://`+host+`/hook","enabled_events":["*"]}`)
		wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "url")
	}
	// A name whose last label is not a number is checked when it connects.
	res, body := do(t, "POST", s.URL+"/v1/webhook_endpoints", s.AdminKey, "application/json",
		`{"url":"https://hooks.example.com/hook","enabled_events":["*"]}`)
	if res.StatusCode != 201 {
		t.Errorf("a name was refused when saved: %d %s", res.StatusCode, body)
	}
}

// Without --webhooks-allow-private, deliveries may not connect to loopback,
// private, link-local or metadata addresses, whatever name leads there.
func TestDeliveryRefusesPrivateAddresses(t *testing.T) {
	onEachEngine(t, testDeliveryRefusesPrivateAddresses)
}

func testDeliveryRefusesPrivateAddresses(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	tlsRcv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a delivery reached a loopback receiver")
	}))
	t.Cleanup(tlsRcv.Close)
	port := tlsRcv.Listener.Addr().(*net.TCPAddr).Port
	// A literal loopback address is refused when saved; a name is refused when it connects.
	res, body := do(t, "POST", s.URL+"/v1/webhook_endpoints", s.AdminKey, "application/json",
		`{"url":"`+tlsRcv.URL+`/hook","enabled_events":["*"]}`)
	wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "url")
	name, _ := createEndpoint(t, s, fmt.Sprintf("https://localhost:%d/hook", port))
	startDeliveries(t, s.Store, server.DeliveryOptions{RetrySchedule: []time.Duration{time.Hour}, Metrics: s.Handler.Metrics()})
	create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: "ada@example.com"})
	if a := attempts(t, s, name, 1)[0]; a.Succeeded || a.Error.MustGet() != "blocked_address" {
		t.Errorf("endpoint %s: attempt %+v", name, a)
	}
	// It waits an hour for its retry, enqueued moments ago.
	waitMetric(t, s, "capture_webhook_queue_depth 1")
	_, metrics := do(t, "GET", s.MetricsURL+"/metrics", "", "", "")
	var age float64
	for _, l := range strings.Split(string(metrics), "\n") {
		if v, ok := strings.CutPrefix(l, "capture_webhook_queue_oldest_seconds "); ok {
			age, _ = strconv.ParseFloat(v, 64)
		}
	}
	if age <= 0 || age > 60 {
		t.Errorf("oldest pending delivery is %v s old, want a few seconds at most", age)
	}

	// http:// is refused when the endpoint is saved.
	res, body = do(t, "POST", s.URL+"/v1/webhook_endpoints", s.AdminKey, "application/json",
		`{"url":"http://crm.example.com/hook","enabled_events":["*"]}`)
	wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "url")
}

func TestGuardedDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ctx := context.Background()
	for _, host := range []string{"127.0.0.1", "localhost", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254",
		"[::1]", "[fd00:ec2::254]", "[fe80::1]", "0.0.0.0", "100.64.0.1", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]",
		// IPv4-compatible and SIIT forms, 6to4 of a private address, documentation and site-local ranges
		"[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[2002:c0a8:101::1]", "192.0.2.1", "198.51.100.1", "203.0.113.1",
		"[2001:db8::1]", "[fec0::1]"} {
		_, err := server.GuardedDial(ctx, false, host+":"+port)
		if !errors.Is(err, server.ErrForbiddenAddress) {
			t.Errorf("dial %s: %v, want the guard's refusal", host, err)
		}
	}
	// The host's own addresses, loopback or not: they reach its services.
	own, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range own {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			if _, err := server.GuardedDial(ctx, false, ipn.IP.String()+":"+port); !errors.Is(err, server.ErrForbiddenAddress) {
				t.Errorf("dial this host's own %s: %v, want the guard's refusal", ipn.IP, err)
			}
		}
	}
	// The flag lets a local receiver through.
	c, err := server.GuardedDial(ctx, true, "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	c.Close()
	// A public address passes the guard (whether it connects is the network's business).
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := server.GuardedDial(dctx, false, "1.1.1.1:443"); errors.Is(err, server.ErrForbiddenAddress) {
		t.Errorf("a public address was refused by the guard: %v", err)
	}
}

func TestWebhookEndpointsForAdminsOnly(t *testing.T) {
	onEachEngine(t, testWebhookEndpointsForAdminsOnly)
}

func testWebhookEndpointsForAdminsOnly(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	id, secret := createEndpoint(t, s, "https://crm.example.com/hook", "prospect.created")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("secret %q", secret)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/webhook_endpoints", `{"url":"https://x.example.com","enabled_events":["*"]}`},
		{"GET", "/v1/webhook_endpoints", ""},
		{"GET", "/v1/webhook_endpoints/" + id, ""},
		{"PATCH", "/v1/webhook_endpoints/" + id, `{"disabled":true}`},
		{"DELETE", "/v1/webhook_endpoints/" + id, ""},
	} {
		ct := ""
		if r.body != "" {
			ct = "application/json"
		}
		res, body := do(t, r.method, s.URL+r.path, s.StandardKey, ct, r.body)
		wantError(t, res, body, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeAdminKeyRequired, "")
	}
	// The secret is shown at creation only.
	for _, path := range []string{"/v1/webhook_endpoints", "/v1/webhook_endpoints/" + id} {
		res, body := do(t, "GET", s.URL+path, s.AdminKey, "", "")
		if res.StatusCode != 200 || strings.Contains(string(body), "whsec_") || !strings.Contains(string(body), id) {
			t.Errorf("GET %s: %d %s", path, res.StatusCode, body)
		}
	}
	res, body := do(t, "PATCH", s.URL+"/v1/webhook_endpoints/"+id, s.AdminKey, "application/json",
		`{"disabled":true,"enabled_events":["*"],"description":"CRM"}`)
	var e gen.WebhookEndpoint
	json.Unmarshal(body, &e)
	if res.StatusCode != 200 || !e.Disabled || !slices.Equal(e.EnabledEvents, []string{"*"}) || e.Description.MustGet() != "CRM" {
		t.Errorf("patch: %d %s", res.StatusCode, body)
	}
	res, body = do(t, "PATCH", s.URL+"/v1/webhook_endpoints/"+id, s.AdminKey, "application/json", `{"url":"ftp://x.example.com"}`)
	wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "url")
	res, body = do(t, "POST", s.URL+"/v1/webhook_endpoints", s.AdminKey, "application/json", `{"url":"https://x.example.com","enabled_events":["prospect.exploded"]}`)
	wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "enabled_events[0]")
	if res, _ := do(t, "DELETE", s.URL+"/v1/webhook_endpoints/"+id, s.AdminKey, "", ""); res.StatusCode != 200 {
		t.Errorf("delete: %d", res.StatusCode)
	}
	res, body = do(t, "GET", s.URL+"/v1/webhook_endpoints/"+id, s.AdminKey, "", "")
	wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
	// Another account's admin does not see the endpoints of this one.
	id2, _ := createEndpoint(t, s, "https://crm.example.com/hook")
	other := s.NewAccountKey(t, "globex", "admin", 10)
	res, body = do(t, "GET", s.URL+"/v1/webhook_endpoints/"+id2, other, "", "")
	wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
}

// An endpoint failing for three days in a row is disabled; a success in
// between starts the three days afresh.
func TestEndpointDisabledAfterFailingThreeDays(t *testing.T) {
	onEachEngine(t, testEndpointDisabledAfterFailingThreeDays)
}

func testEndpointDisabledAfterFailingThreeDays(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	id, _ := createEndpoint(t, s, "https://crm.example.com/hook")
	ctx := context.Background()
	record := func(at time.Time, ok bool) bool {
		t.Helper()
		disabled, err := s.Store.(store.WebhookStore).RecordWebhookAttempt(ctx, &store.WebhookAttempt{EndpointID: id, EventID: "evt_x", Attempt: 1,
			Created: at, Succeeded: ok}, 72*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return disabled
	}
	now := time.Now()
	if record(now.Add(-100*time.Hour), false) || record(now.Add(-50*time.Hour), true) || record(now.Add(-40*time.Hour), false) {
		t.Fatal("disabled before failing for three days")
	}
	if record(now, false) {
		t.Fatal("disabled after 40 hours of failures")
	}
	if !record(now.Add(33*time.Hour), false) {
		t.Fatal("not disabled after 73 hours of failures")
	}
	res, body := do(t, "GET", s.URL+"/v1/webhook_endpoints/"+id, s.AdminKey, "", "")
	var e gen.WebhookEndpoint
	json.Unmarshal(body, &e)
	if res.StatusCode != 200 || !e.Disabled || e.FailingSince.IsNull() {
		t.Errorf("endpoint after three days of failures: %s", body)
	}
	// Enabled again, it starts afresh.
	res, body = do(t, "PATCH", s.URL+"/v1/webhook_endpoints/"+id, s.AdminKey, "application/json", `{"disabled":false}`)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"failing_since":null`) {
		t.Errorf("enabled again: %s", body)
	}
}

// Deliveries are enqueued in the change's transaction: a change rolled back
// leaves none, and an idempotent replay enqueues none.
func TestDeliveriesCommitWithTheirChange(t *testing.T) {
	onEachEngine(t, testDeliveriesCommitWithTheirChange)
}

func testDeliveriesCommitWithTheirChange(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, allowPrivate)
	rcv := newReceiver(t)
	createEndpoint(t, s, rcv.URL)
	c := startDeliveries(t, s.Store, server.DeliveryOptions{AllowPrivate: true})
	ctx := context.Background()
	createThenFail(t, s, "ghost@example.com")
	for range 2 {
		res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json",
			`{"email":"ada@example.com"}`, "Idempotency-Key", "once")
		if res.StatusCode != 201 {
			t.Fatalf("create: %d %s", res.StatusCode, body)
		}
	}
	var ev gen.Event
	json.Unmarshal(next(t, rcv.got).body, &ev)
	if obj, _ := ev.Data.Object.AsProspect(); obj.Email != "ada@example.com" || ev.Request.IdempotencyKey.MustGet() != "once" {
		t.Errorf("delivered %+v", ev)
	}
	jobs, err := c.JobList(ctx, river.NewJobListParams().First(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Jobs) != 1 {
		t.Errorf("%d deliveries enqueued, want 1 (the rolled-back create and the replay enqueue none)", len(jobs.Jobs))
	}
}
