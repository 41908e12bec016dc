// Package redis shares the rate limits of API keys among every replica of the
// server: a GCRA (generic cell rate algorithm) per key in Redis, through
// github.com/go-redis/redis_rate.
package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/captureapi/capture/server"
)

// Timeout bounds each call to Redis: past it the server limits the key on its
// own rather than make the request wait.
const Timeout = 250 * time.Millisecond

// Limiter is the server.Limiter on Redis.
type Limiter struct {
	client  *goredis.Client
	limiter *redis_rate.Limiter
	log     *clientLog
}

// clientLog is go-redis's logger: its lines (a failed dial, each time a request
// tries Redis during an outage) go through slog with the server's, at debug
// level, and only the first after Redis last answered. The server itself logs
// each change between reaching Redis and not, with the error, once.
type clientLog struct {
	logger *slog.Logger
	quiet  atomic.Bool // a line was logged since Redis last answered
}

func (c *clientLog) Printf(ctx context.Context, format string, v ...any) {
	if c.quiet.Swap(true) {
		return
	}
	c.logger.DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// answered notes that Redis answered: the client's next line is logged.
func (c *clientLog) answered() { c.quiet.Store(false) }

var _ server.Limiter = (*Limiter)(nil)

// Open makes a limiter on the Redis at a redis:// URL. It does not connect:
// a Redis that is down when the server starts is the same as one that goes
// down later (the server falls back to its own limiter until it is back).
// The Redis client's own lines go to logger (go-redis has one logger for the
// process: the last limiter opened sets it).
func Open(url string, logger *slog.Logger) (*Limiter, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = Timeout, Timeout, Timeout, Timeout
	opt.MaxRetries = -1 // the server falls back at once; a retry would only make the request wait
	log := &clientLog{logger: logger}
	goredis.SetLogger(log)
	client := goredis.NewClient(opt)
	return &Limiter{client: client, limiter: redis_rate.NewLimiter(client), log: log}, nil
}

// Allow spends cost requests of the key's allowance in Redis, shared by every
// replica: the GCRA takes them at once, or none when it refuses.
func (l *Limiter) Allow(ctx context.Context, keyID string, perSecond, cost int) (server.Allowance, error) {
	res, err := l.limiter.AllowN(ctx, "capture:"+keyID, redis_rate.PerSecond(perSecond), cost)
	if err != nil {
		return server.Allowance{}, err
	}
	l.log.answered()
	return server.Allowance{
		Allowed:    res.Allowed > 0,
		Remaining:  res.Remaining,
		RetryAfter: max(0, res.RetryAfter),
		ResetAfter: max(0, res.ResetAfter),
	}, nil
}

// Ping tells whether Redis answers.
func (l *Limiter) Ping(ctx context.Context) error {
	err := l.client.Ping(ctx).Err()
	if err == nil {
		l.log.answered()
	}
	return err
}

// Close closes the connections to Redis.
func (l *Limiter) Close() error { return l.client.Close() }

var _ server.MinuteLimiter = (*Limiter)(nil)

// AllowPerMinute spends one of key's perMinute requests a minute in Redis,
// shared by every replica: what each client address may submit to a form.
func (l *Limiter) AllowPerMinute(ctx context.Context, key string, perMinute int) (server.Allowance, error) {
	res, err := l.limiter.Allow(ctx, "capture:"+key, redis_rate.PerMinute(perMinute))
	if err != nil {
		return server.Allowance{}, err
	}
	l.log.answered()
	return server.Allowance{Allowed: res.Allowed > 0, Remaining: res.Remaining,
		RetryAfter: max(0, res.RetryAfter), ResetAfter: max(0, res.ResetAfter)}, nil
}
