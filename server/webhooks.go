package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/captureapi/capture/server/store"
)

// DefaultRetrySchedule is how long a failed delivery waits before each retry:
// about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each with ±10 % jitter.
var DefaultRetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// maxResponseBody is how much of a receiver's answer a delivery reads.
const maxResponseBody = 64 << 10

// DefaultPerEndpoint is how many deliveries to one endpoint run at once by
// default: a receiver that is slow or never answers holds that many workers,
// and the others deliver to every other endpoint meanwhile.
const DefaultPerEndpoint = 2

// slotWait is how long a delivery whose endpoint has every slot taken waits
// before it tries again (with as much again of jitter, so that the waiting
// ones spread out). Waiting spends no attempt.
const slotWait = time.Second

// DeliveryOptions configure webhook deliveries.
type DeliveryOptions struct {
	// Webhooks gives each delivery its endpoint, secret and event, and keeps its attempts.
	Webhooks store.WebhookStore
	// AllowPrivate lets deliveries use http:// and reach loopback and private
	// addresses: for development and tests only.
	AllowPrivate bool
	// RetrySchedule is the wait before each retry; default DefaultRetrySchedule.
	// A delivery is attempted len(RetrySchedule)+1 times at most.
	RetrySchedule []time.Duration
	// Timeout bounds each attempt; default 10 s.
	Timeout time.Duration
	// DisableAfter disables an endpoint whose deliveries have failed that long
	// without a success; default 3 days.
	DisableAfter time.Duration
	// Workers is how many deliveries run at once in this process; default 10.
	Workers int
	// PerEndpoint is how many deliveries to one endpoint run at once, in all
	// processes together; default DefaultPerEndpoint.
	PerEndpoint int
	// PollInterval is how often the queue is checked for due deliveries
	// without being told of any; default 2 s. New deliveries wake the queue at
	// once, on either engine, so this bounds how late a retry may start past
	// its due time (on PostgreSQL River announces those too) and keeps an idle
	// server idle.
	PollInterval time.Duration
	// Logger gets delivery failures; default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, gets the deliveries' series: pass the Server's
	// (Server.Metrics) so that /metrics shows them.
	Metrics prometheus.Registerer
}

// DeliveryConfig is the River configuration that works the webhook delivery
// queue: the worker, its queue, the retry schedule and attempt limit.
func DeliveryConfig(o DeliveryOptions) *river.Config {
	if len(o.RetrySchedule) == 0 {
		o.RetrySchedule = DefaultRetrySchedule
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.DisableAfter <= 0 {
		o.DisableAfter = 72 * time.Hour
	}
	if o.Workers <= 0 {
		o.Workers = 10
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = DefaultPerEndpoint
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := newDeliverer(o)
	if o.Metrics != nil {
		o.Metrics.MustRegister(d.outcomes, &queueCollector{o.Webhooks})
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, d)
	return &river.Config{
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}},
		MaxAttempts:       len(o.RetrySchedule) + 1,
		RetryPolicy:       retrySchedule(o.RetrySchedule),
		FetchPollInterval: o.PollInterval,
		FetchCooldown:     min(o.PollInterval, 100*time.Millisecond),
		// A delivery that was running when its process died is attempted again
		// a minute after its deadline (at least once, never lost).
		RescueStuckJobsAfter: o.Timeout + 5*time.Second + time.Minute,
		// River reports its routine (job counts every few seconds) at info.
		Logger: slog.New(warnAndAbove{o.Logger.Handler()}),
	}
}

// newDeliverer is the worker of the options, their defaults set.
func newDeliverer(o DeliveryOptions) *deliverer {
	return &deliverer{o: o, outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "capture_webhook_deliveries_total",
		Help: "Delivery attempts by outcome: succeeded, failed (to be retried), given_up (the last attempt failed), disabled (the endpoint was disabled after failing), dropped (endpoint deleted or disabled, event purged).",
	}, []string{"outcome"}), client: &http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{
			// No proxy from the environment: it would connect in the guard's place.
			DialContext:         guardedDialer(o.AllowPrivate, o.Timeout).DialContext,
			TLSHandshakeTimeout: o.Timeout,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		},
		// A redirect is an answer like any other non-2xx: it is not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// warnAndAbove passes on a handler's records of level warn and above only.
type warnAndAbove struct{ slog.Handler }

func (h warnAndAbove) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnAndAbove) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnAndAbove{h.Handler.WithAttrs(attrs)}
}

func (h warnAndAbove) WithGroup(name string) slog.Handler {
	return warnAndAbove{h.Handler.WithGroup(name)}
}

// retrySchedule is River's retry policy: the schedule's wait for the attempt
// that failed, with ±10 % jitter so that an endpoint's retries spread out.
type retrySchedule []time.Duration

func (s retrySchedule) NextRetry(job *rivertype.JobRow) time.Time {
	wait := s[min(max(job.Attempt-1, 0), len(s)-1)]
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(wait))
	return time.Now().Add(wait + jitter)
}

// deliverer is the River worker that delivers one event to one endpoint.
type deliverer struct {
	river.WorkerDefaults[store.Delivery]
	o        DeliveryOptions
	client   *http.Client
	outcomes *prometheus.CounterVec
}

// Timeout leaves the attempt its own deadline and the recording of it some slack.
func (d *deliverer) Timeout(*river.Job[store.Delivery]) time.Duration {
	return d.o.Timeout + 5*time.Second
}

func (d *deliverer) Work(ctx context.Context, job *river.Job[store.Delivery]) error {
	// At most PerEndpoint deliveries to one endpoint run at once, whichever
	// process runs them: the others come back later (River's snooze, which
	// spends no attempt) and leave their worker to other endpoints meanwhile.
	// The slot's lease outlasts the attempt, so that only a process that died
	// holding one leaves it to run out.
	endpoint := job.Args.EndpointID
	claimed, err := d.o.Webhooks.ClaimDeliverySlot(ctx, endpoint, job.ID, d.o.PerEndpoint, d.Timeout(job)+5*time.Second)
	switch {
	case err != nil:
		return err
	case !claimed:
		return river.JobSnooze(slotWait + rand.N(slotWait))
	}
	defer func() {
		if err := d.o.Webhooks.ReleaseDeliverySlot(context.WithoutCancel(ctx), endpoint, job.ID); err != nil {
			d.o.Logger.Warn("free a webhook delivery slot (it frees itself when its lease runs out)", "endpoint", endpoint, "error", err)
		}
	}()
	ep, ev, err := d.o.Webhooks.WebhookDelivery(ctx, job.Args.EndpointID, job.Args.EventID)
	switch {
	case errors.Is(err, store.ErrNotFound): // the endpoint was deleted, or the event purged
		d.outcomes.WithLabelValues("dropped").Inc()
		return river.JobCancel(err)
	case err != nil:
		return err
	case ep.Disabled:
		d.outcomes.WithLabelValues("dropped").Inc()
		return river.JobCancel(fmt.Errorf("webhook endpoint %s is disabled", ep.ID))
	}
	wire, err := eventJSON(ev)
	if err != nil {
		return river.JobCancel(err)
	}
	body, err := json.Marshal(wire)
	if err != nil {
		return river.JobCancel(err)
	}
	start := time.Now()
	status, sendErr := d.send(ctx, ep, ev.ID, body)
	a := &store.WebhookAttempt{EndpointID: ep.ID, EventID: ev.ID, Attempt: job.Attempt, Created: start,
		StatusCode: status, Duration: time.Since(start), Succeeded: sendErr == nil}
	if sendErr != nil {
		// The API shows the class of failure only: the full error (resolved
		// addresses, the resolver) is the server's network, for its log below.
		a.Error = failureClass(sendErr)
	}
	disabled, err := d.o.Webhooks.RecordWebhookAttempt(context.WithoutCancel(ctx), a, d.o.DisableAfter)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return river.JobCancel(err)
	case err != nil:
		d.o.Logger.Error("record webhook attempt", "endpoint", ep.ID, "event", ev.ID, "error", err)
	}
	if sendErr == nil {
		d.outcomes.WithLabelValues("succeeded").Inc()
		return nil
	}
	d.o.Logger.Warn("webhook delivery failed", "endpoint", ep.ID, "event", ev.ID, "attempt", job.Attempt,
		"class", a.Error, "error", sendErr)
	switch {
	case disabled:
		d.outcomes.WithLabelValues("disabled").Inc()
		d.o.Logger.Warn("webhook endpoint disabled after failing", "endpoint", ep.ID, "for", d.o.DisableAfter.String())
		return river.JobCancel(sendErr)
	case job.Attempt >= job.MaxAttempts:
		d.outcomes.WithLabelValues("given_up").Inc()
	default:
		d.outcomes.WithLabelValues("failed").Inc()
	}
	return sendErr
}

// send POSTs the signed event and reports the receiver's status (0 when none
// came) and why the attempt failed, if it did.
func (d *deliverer) send(ctx context.Context, ep *store.WebhookEndpoint, eventID string, body []byte) (int, error) {
	u, err := url.Parse(ep.URL)
	if err != nil {
		return 0, fmt.Errorf("invalid URL: %w", err)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && d.o.AllowPrivate) {
		return 0, errors.New("webhook URLs must be https://")
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	sig, err := Sign(ep.Secret, eventID, time.Now(), body)
	if err != nil {
		return 0, err
	}
	for k, v := range sig {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Capture-Webhooks/1")
	res, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponseBody))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, statusError(res.Status)
	}
	return res.StatusCode, nil
}

// statusError is the failure of an attempt the receiver answered with a
// status other than 2xx.
type statusError string

func (e statusError) Error() string { return "the receiver answered " + string(e) }

// The classes of failure an attempt's error shows through the API
// (openapi.yaml's WebhookAttempt.error).
const (
	failDNS        = "dns_failure"        // the host name did not resolve
	failBlocked    = "blocked_address"    // it led to an address deliveries may not reach
	failRefused    = "connection_refused" // nothing listened there
	failTimeout    = "timeout"            // no answer within the attempt's time
	failTLS        = "tls_error"          // the TLS handshake or certificate failed
	failStatus     = "http_status"        // the receiver answered other than 2xx
	failConnection = "connection_error"   // any other failure to connect or to read the answer
)

// failureClass names the class of an attempt's failure.
func failureClass(err error) string {
	var (
		status   statusError
		dns      *net.DNSError
		netErr   net.Error
		certErr  *tls.CertificateVerificationError
		alert    tls.AlertError
		record   tls.RecordHeaderError
		hostErr  x509.HostnameError
		authErr  x509.UnknownAuthorityError
		validErr x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &status):
		return failStatus
	case errors.Is(err, ErrForbiddenAddress):
		return failBlocked
	case errors.As(err, &dns):
		return failDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return failRefused
	case errors.As(err, &certErr), errors.As(err, &alert), errors.As(err, &record),
		errors.As(err, &hostErr), errors.As(err, &authErr), errors.As(err, &validErr):
		return failTLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return failTimeout
	}
	return failConnection
}

// shownAttemptError is an attempt's error as the API shows it: its class. An
// attempt kept before classes were (its full error) shows the class its
// status tells, never its text.
func shownAttemptError(a store.WebhookAttempt) string {
	switch a.Error {
	case failDNS, failBlocked, failRefused, failTimeout, failTLS, failStatus, failConnection:
		return a.Error
	}
	if a.StatusCode != 0 {
		return failStatus
	}
	return failConnection
}

// queueCollector reports the pending deliveries when /metrics is scraped.
type queueCollector struct{ webhooks store.WebhookStore }

var (
	queueDepthDesc = prometheus.NewDesc("capture_webhook_queue_depth",
		"Deliveries not done yet: scheduled, waiting for a retry or running.", nil, nil)
	queueAgeDesc = prometheus.NewDesc("capture_webhook_queue_oldest_seconds",
		"Age of the oldest delivery not done yet; 0 without any.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	q, err := c.webhooks.WebhookQueue(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
		return
	}
	age := 0.0
	if !q.OldestPending.IsZero() {
		age = time.Since(q.OldestPending).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(q.Pending))
	ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age)
}

// Sign returns the Standard Webhooks headers of a delivery: webhook-id,
// webhook-timestamp and webhook-signature ("v1," + the base64 HMAC-SHA256 of
// "id.timestamp.body", keyed with the secret's base64-decoded bytes after its
// whsec_ prefix).
func Sign(secret, id string, at time.Time, body []byte) (http.Header, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return nil, fmt.Errorf("webhook secret is not whsec_ and base64: %w", err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h, nil
}
