package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/poll"
)

// fakeClient counts its starts and stops.
type fakeClient struct {
	mu            sync.Mutex
	running       bool
	starts, stops int
}

func (c *fakeClient) Start(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = true
	c.starts++
	return nil
}

func (c *fakeClient) Stop(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = false
	c.stops++
	return nil
}

func (c *fakeClient) state() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running, c.describe()
}

// describe says what the client did, with c.mu held.
func (c *fakeClient) describe() string {
	return fmt.Sprintf("running %v, %d starts, %d stops", c.running, c.starts, c.stops)
}

// fakeQueue is what the queue holds, as the test sets it.
type fakeQueue struct {
	mu sync.Mutex
	w  Work
}

func (q *fakeQueue) set(w Work) { q.mu.Lock(); q.w = w; q.mu.Unlock() }

func (q *fakeQueue) work(context.Context) (Work, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.w, nil
}

// waitStarts waits until the client has started n times in all. A client
// woken with nothing left to do runs only idleAfter before it stops again,
// which a test slowed by a loaded machine can miss entirely if it waits to
// see it running; a start, once made, stays counted.
func waitStarts(t *testing.T, c *fakeClient, n int) {
	t.Helper()
	poll.Until(t, 10*time.Second, fmt.Sprintf("%d starts of the client", n), func() (bool, string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.starts >= n, c.describe()
	})
}

// waitRunning waits for a state the client stays in until the test changes
// the queue or wakes the runner; a state it leaves by itself is waited for
// with waitStarts.
func waitRunning(t *testing.T, c *fakeClient, want bool) {
	t.Helper()
	poll.Until(t, 10*time.Second, fmt.Sprintf("the client running: %v", want), func() (bool, string) {
		running, state := c.state()
		return running == want, state
	})
}

// TestRunnerRunsTheClientWhileThereIsWork: the client starts with the
// runner, keeps running while the queue has work, stops once it has none,
// starts again on a wake-up or when a later job is due, and Stop stops it
// once.
func TestRunnerRunsTheClientWhileThereIsWork(t *testing.T) {
	c, q := &fakeClient{}, &fakeQueue{w: Work{Busy: true}}
	r, err := newRunner(context.Background(), c, q.work, slog.New(slog.DiscardHandler), 30*time.Millisecond, time.Hour, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, c, true)

	q.set(Work{})
	waitRunning(t, c, false)

	r.Wake() // the relay moved deliveries in
	waitStarts(t, c, 2)
	waitRunning(t, c, false)

	q.set(Work{In: 200 * time.Millisecond}) // a retry, later than idleAfter
	r.Wake()
	waitStarts(t, c, 3)
	waitRunning(t, c, false)
	q.set(Work{Busy: true}) // the retry is due: the runner starts the client by itself
	waitRunning(t, c, true)

	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if running, state := c.state(); running {
		t.Fatalf("after Stop: %s", state)
	}
	_, before := c.state()
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, after := c.state(); after != before {
		t.Errorf("a second Stop: %s, then %s", before, after)
	}
}

// TestRunnerStartsAnIdleClientPeriodically: a stopped client starts again
// after startEvery with nothing to do (for the periodic jobs run on start).
func TestRunnerStartsAnIdleClientPeriodically(t *testing.T) {
	c, q := &fakeClient{}, &fakeQueue{}
	r, err := newRunner(context.Background(), c, q.work, slog.New(slog.DiscardHandler), 30*time.Millisecond, 100*time.Millisecond, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	poll.Until(t, 10*time.Second, "a third start", func() (bool, string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.starts >= 3 && c.stops >= 2, fmt.Sprintf("%d starts, %d stops", c.starts, c.stops)
	})
}

// gatedQueue is an empty queue whose look number n (from 1) waits, once
// entered, until the test releases it, so that the test can wake the runner
// while it is deciding what to do.
type gatedQueue struct {
	n                int
	entered, release chan struct{}

	mu    sync.Mutex
	looks int
}

func (q *gatedQueue) work(ctx context.Context) (Work, error) {
	q.mu.Lock()
	q.looks++
	gated := q.looks == q.n
	q.mu.Unlock()
	if gated {
		close(q.entered)
		select {
		case <-q.release:
		case <-ctx.Done():
		}
	}
	return Work{}, nil
}

// TestRunnerStartsTheClientForAWakeWhileItLooks: a wake-up that comes while
// the runner has just found the queue empty (the relay moved deliveries in
// after the look) starts the client, without waiting for the next look: as
// the running client is about to stop for idleness, and as a stopped
// client's queue is looked at.
func TestRunnerStartsTheClientForAWakeWhileItLooks(t *testing.T) {
	for _, tc := range []struct {
		name string
		look int // the gated look: 1 decides to stop the client, 2 is a stopped client's first
	}{
		{"while stopping", 1},
		{"while stopped", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The queue stays empty, so no later look starts the client in
			// place of a lost wake-up.
			c := &fakeClient{}
			q := &gatedQueue{n: tc.look, entered: make(chan struct{}), release: make(chan struct{})}
			r, err := newRunner(context.Background(), c, q.work, slog.New(slog.DiscardHandler), 30*time.Millisecond, time.Hour, 30*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Stop(context.Background())
			select {
			case <-q.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("waited 10s for the runner to look at the queue")
			}
			r.Wake()
			close(q.release)
			waitStarts(t, c, 2)
		})
	}
}
