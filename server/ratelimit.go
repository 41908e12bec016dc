package server

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/captureapi/capture/gen"
)

// rateLimit spends one token of the request's key, and gives the answer the
// headers that describe the key's limit.
func (s *Server) rateLimit(c *call) error {
	key := apiKey(c.r.Context())
	if key == nil { // the probes need no key, and are not limited
		return nil
	}
	headers, err := s.limits.take(key.ID, cmp.Or(key.RateLimit, s.cfg.DefaultRateLimit))
	for k, v := range headers {
		c.w.Header()[k] = v
	}
	return err
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

// take spends one token of the key's bucket (perSecond requests per second, burst
// as large). It returns the headers that describe the limit, and an error when the
// key must wait.
func (l *limiters) take(keyID string, perSecond int) (http.Header, error) {
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

	res := b.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if delay > 0 {
		res.CancelAt(now) // a refused request spends nothing
	}
	tokens := max(0, b.TokensAt(now))
	// Seconds until the bucket is full again.
	reset := int(math.Ceil((float64(perSecond) - tokens) / float64(perSecond)))
	h := http.Header{}
	h.Set("RateLimit-Policy", fmt.Sprintf(`"default";q=%d;w=1`, perSecond))
	h.Set("RateLimit", fmt.Sprintf(`"default";r=%d;t=%d`, int(tokens), reset))
	if delay <= 0 {
		return h, nil
	}
	e := &Error{Status: http.StatusTooManyRequests, Type: gen.ErrorTypeRateLimitError, Code: gen.ErrorCodeRateLimit,
		Message: fmt.Sprintf("Too many requests: this key may make %d requests per second. Retry after the Retry-After header's seconds.", perSecond),
		Header:  h}
	e.Header.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(delay.Seconds())))))
	return h, e
}
