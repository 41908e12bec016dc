package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/disposable"
	"github.com/captureapi/capture/server/store"
)

// This file judges a form submission: the honeypot, the captcha verified at
// its provider, disposable email domains, and each client address's limit.
// A verdict never drops a submission: it is stored quarantined with its reasons.

// The captcha providers' verification addresses (Config.CaptchaVerifyURL
// replaces both).
var captchaVerifyURLs = map[string]string{
	"turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
	"hcaptcha":  "https://api.hcaptcha.com/siteverify",
}

// captchaFields are the fields each provider's widget adds to the form.
var captchaFields = map[string]string{"turnstile": "cf-turnstile-response", "hcaptcha": "h-captcha-response"}

// CaptchaTimeout bounds a captcha verification: a provider slower than it, or
// unreachable, quarantines the submission as captcha_unverified.
const CaptchaTimeout = 3 * time.Second

// DefaultSubmissionsPerMinute is how many submissions one client address may
// make to one form a minute unless Config says otherwise.
const DefaultSubmissionsPerMinute = 10

// judge is the reasons to quarantine the submission; none accepts it.
func (s *Server) judge(ctx context.Context, f *store.Form, values map[string]string, sub *store.FormSubmission) []string {
	reasons := []string{}
	if strings.TrimSpace(values["_gotcha"]) != "" {
		reasons = append(reasons, "honeypot")
	}
	if f.CaptchaProvider != "" {
		switch s.verifyCaptcha(ctx, f, values[captchaFields[f.CaptchaProvider]], sub.IP) {
		case captchaFailed:
			reasons = append(reasons, "captcha_failed")
		case captchaUnverified:
			reasons = append(reasons, "captcha_unverified")
		}
	}
	if _, domain, ok := strings.Cut(sub.Fields["email"], "@"); ok && disposable.Is(domain) {
		reasons = append(reasons, "disposable_email")
	}
	return reasons
}

type captchaVerdict int

const (
	captchaPassed captchaVerdict = iota
	captchaFailed
	captchaUnverified
)

// verifyCaptcha asks the form's provider whether the token is good. A missing
// token fails without asking.
func (s *Server) verifyCaptcha(ctx context.Context, f *store.Form, token, ip string) captchaVerdict {
	if strings.TrimSpace(token) == "" {
		return captchaFailed
	}
	endpoint := s.cfg.CaptchaVerifyURL
	if endpoint == "" {
		endpoint = captchaVerifyURLs[f.CaptchaProvider]
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CaptchaTimeout)
	defer cancel()
	form := url.Values{"secret": {f.CaptchaSecret}, "response": {token}, "remoteip": {ip}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return captchaUnverified
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := s.captchaClient.Do(req)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "captcha provider unreachable", "provider", f.CaptchaProvider, "error", err)
		return captchaUnverified
	}
	defer res.Body.Close()
	var answer struct {
		Success *bool `json:"success"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&answer) != nil || answer.Success == nil {
		s.cfg.Logger.WarnContext(ctx, "captcha provider answered badly", "provider", f.CaptchaProvider, "status", res.StatusCode)
		return captchaUnverified
	}
	if !*answer.Success {
		return captchaFailed
	}
	return captchaPassed
}

// clientIP is the submitting client's address: the connection's peer, or,
// when that peer is a trusted proxy, the nearest address in X-Forwarded-For
// that is not one.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a hop that is no address: believe nothing beyond it
		}
		peer = a.Unmap()
		if !s.trusted(peer) {
			break
		}
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// MinuteLimiter is a Limiter that also counts per minute, for the
// submissions of each client address to a form (package redis's does).
type MinuteLimiter interface {
	// AllowPerMinute spends one of key's perMinute requests a minute, with a burst as large.
	AllowPerMinute(ctx context.Context, key string, perMinute int) (Allowance, error)
}

// limitSubmissions spends one of the client address's submissions to the
// form, shared through the Config's Limiter when it counts per minute (in this
// process while it fails, as keys' limits are).
func (s *Server) limitSubmissions(ctx context.Context, formID, ip string) error {
	n := s.cfg.SubmissionsPerMinute
	key := "form:" + formID + ":" + ip
	a, shared := Allowance{}, false
	if ml, is := s.cfg.Limiter.(MinuteLimiter); is && s.shared.usable(s.limits.now()) {
		var err error
		a, err = ml.AllowPerMinute(ctx, key, n)
		s.shared.report(s, err)
		shared = err == nil
	}
	if !shared {
		a = s.submissions.allow(key, n, s.limits.now())
	}
	if a.Allowed {
		return nil
	}
	e := &Error{Status: http.StatusTooManyRequests, Type: gen.ErrorTypeRateLimitError, Code: gen.ErrorCodeRateLimit,
		Message: fmt.Sprintf("Too many submissions from this address: %d a minute may be sent to a form. Retry after the Retry-After header's seconds.", n),
		Header:  http.Header{}}
	e.Header.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(a.RetryAfter.Seconds())))))
	return e
}

// minuteLimits holds a token bucket per form and client address, in this process.
type minuteLimits struct {
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

func (l *minuteLimits) allow(key string, perMinute int, now time.Time) Allowance {
	l.mu.Lock()
	if l.buckets == nil {
		l.buckets = map[string]*rate.Limiter{}
	}
	if now.Sub(l.lastSweep) > sweepEvery {
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[key]
	if b == nil || b.Burst() != perMinute {
		b = rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), perMinute)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	res := b.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if delay > 0 {
		res.CancelAt(now)
	}
	return Allowance{Allowed: delay <= 0, RetryAfter: max(0, delay)}
}
