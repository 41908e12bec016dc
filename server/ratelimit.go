package server

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/captureapi/capture/gen"
)

// Limiter decides whether an API key may make one more request now. The server
// has one in its process; a Limiter in Config (such as package redis's) shares
// the limits among every replica.
type Limiter interface {
	// Allow spends cost requests (1 to perSecond) of the key's allowance of
	// perSecond requests a second, with a burst as large; a refused request
	// spends nothing.
	Allow(ctx context.Context, keyID string, perSecond, cost int) (Allowance, error)
}

// Allowance is a Limiter's decision, and the state the RateLimit headers describe.
type Allowance struct {
	Allowed    bool
	Remaining  int           // requests the key may make at once now
	RetryAfter time.Duration // until one more request is allowed, when refused
	ResetAfter time.Duration // until the whole burst is available again
}

// sharedRetry is how long the server leaves a failed shared limiter alone
// before trying it again, deciding with its own in the meantime.
const sharedRetry = time.Second

// rateLimit spends the request's cost of the key's allowance (see cost), and
// gives the answer the headers that describe the key's limit. Every request
// spends one request of it before its body is read, so that a key past its
// limit never has a body read (an early answer closes the connection on it);
// a batch spends the rest of its cost once its items are counted.
func (s *Server) rateLimit(c *call) error {
	key := apiKey(c.r.Context())
	if key == nil { // the probes need no key, and are not limited
		return nil
	}
	perSecond := cmp.Or(key.RateLimit, s.cfg.DefaultRateLimit)
	if err := s.spend(c, key.ID, perSecond, 1); err != nil {
		return err
	}
	cost, err := s.cost(c, perSecond)
	if err != nil || cost <= 1 {
		return err
	}
	return s.spend(c, key.ID, perSecond, cost-1)
}

// spend spends cost requests of the key's allowance, sets the RateLimit
// headers to what is left, and is the 429 when the allowance cannot pay.
func (s *Server) spend(c *call, keyID string, perSecond, cost int) error {
	a := s.allow(c.r.Context(), keyID, perSecond, cost)
	h := c.w.Header()
	h.Set(rateLimitPolicyHeader, `"default";q=`+strconv.Itoa(perSecond)+`;w=1`)
	h.Set(rateLimitHeader, `"default";r=`+strconv.Itoa(a.Remaining)+`;t=`+strconv.Itoa(int(math.Ceil(a.ResetAfter.Seconds()))))
	if a.Allowed {
		return nil
	}
	e := &Error{Status: http.StatusTooManyRequests, Type: gen.ErrorTypeRateLimitError, Code: gen.ErrorCodeRateLimit,
		Message: fmt.Sprintf("Too many requests: this key may make %d requests per second. Retry after the Retry-After header's seconds.", perSecond),
		Header:  http.Header{}}
	e.Header.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(a.RetryAfter.Seconds())))))
	return e
}

// The rate-limit headers' names as net/http sends them, found once: Header.Set
// would build each canonical form anew for every request.
var (
	rateLimitHeader       = http.CanonicalHeaderKey("RateLimit")
	rateLimitPolicyHeader = http.CanonicalHeaderKey("RateLimit-Policy")
)

// itemsPerRequest is how many items of a batch cost one request of the
// allowance: a batch of 500 writes as much as 500 creates, and must not take
// the writer from other accounts for the price of one.
const itemsPerRequest = 10

// cost is how many requests of the key's allowance the request spends: one,
// or for a batch of n items ceil(n/10), at most the whole burst (perSecond), so
// that a batch is never refused for its size alone. A batch's body is read
// to count its items; a body that does not parse costs one (spent already),
// and its check answers it.
func (s *Server) cost(c *call, perSecond int) (int, error) {
	if c.route.Operation == nil || c.route.Operation.OperationID != batchOperation {
		return 1, nil
	}
	if err := s.readBody(c); err != nil {
		return 0, err
	}
	n := len(c.batchBody().Prospects)
	return min(perSecond, max(1, (n+itemsPerRequest-1)/itemsPerRequest)), nil
}

// batchOperation is the operation whose cost depends on its items.
const batchOperation = "createProspectBatch"

// allow asks the shared limiter, if there is one and it works; otherwise the
// process's own. A failing shared limiter never fails a request: the server
// says so in its log once when it starts failing and once when it is back, and
// counts each request it decided alone.
func (s *Server) allow(ctx context.Context, keyID string, perSecond, cost int) Allowance {
	if sh := s.shared; sh != nil && sh.usable(s.limits.now()) {
		a, err := sh.limiter.Allow(ctx, keyID, perSecond, cost)
		sh.report(s, err)
		if err == nil {
			return a
		}
	}
	if s.shared != nil {
		s.metrics.limiterFallbacks.Inc()
	}
	return s.limits.allow(keyID, perSecond, cost)
}

// sharedLimiter is the Config's Limiter, and whether it is working.
type sharedLimiter struct {
	limiter Limiter
	mu      sync.Mutex
	failing bool
	retryAt time.Time
}

// usable reports whether to ask the shared limiter: it works, or it is time to try it again.
func (sh *sharedLimiter) usable(now time.Time) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return !sh.failing || !now.Before(sh.retryAt)
}

// report records how the shared limiter answered, logging each change.
func (sh *sharedLimiter) report(s *Server, err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch {
	case err != nil && !sh.failing:
		sh.failing = true
		s.cfg.Logger.Warn("shared rate limiter unreachable: each replica limits keys on its own until it is back", "error", err)
	case err == nil && sh.failing:
		sh.failing = false
		s.cfg.Logger.Info("shared rate limiter is back: limits are shared by every replica again")
	}
	if err != nil {
		sh.retryAt = s.limits.now().Add(sharedRetry)
	}
}

// limiters holds a token bucket per API key, in this process.
type limiters struct {
	now       func() time.Time // the clock; tests set their own
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// sweepEvery is how often full buckets are dropped: a full bucket is the same as
// a missing one, so idle keys cost no memory for long.
const sweepEvery = time.Minute

func newLimiters() *limiters {
	return &limiters{now: time.Now, buckets: map[string]*rate.Limiter{}, lastSweep: time.Now()}
}

// allow spends cost tokens of the key's bucket (perSecond requests per second,
// burst as large).
func (l *limiters) allow(keyID string, perSecond, cost int) Allowance {
	now := l.now()
	l.mu.Lock()
	if now.Sub(l.lastSweep) > sweepEvery {
		for id, b := range l.buckets {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.buckets, id)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[keyID]
	if b == nil || b.Burst() != perSecond {
		b = rate.NewLimiter(rate.Limit(perSecond), perSecond)
		l.buckets[keyID] = b
	}
	l.mu.Unlock()

	res := b.ReserveN(now, cost)
	delay := res.DelayFrom(now)
	if delay > 0 {
		res.CancelAt(now) // a refused request spends nothing
	}
	tokens := max(0, b.TokensAt(now))
	return Allowance{
		Allowed:    delay <= 0,
		Remaining:  int(tokens),
		RetryAfter: max(0, delay),
		// Until the bucket is full again.
		ResetAfter: time.Duration((float64(perSecond) - tokens) / float64(perSecond) * float64(time.Second)),
	}
}
