package server

import (
	"context"
	"sync"
	"time"

	"github.com/captureapi/capture/server/store"
)

// readinessRefresh is how stale /readyz may be. Pinging takes the database's
// write lock, and the probes need no key and are not limited: without a bound,
// a flood of probes would make every write queue behind them.
const readinessRefresh = 250 * time.Millisecond

// readiness caches the store's answer to Ping; one probe pings while the others
// reuse the last answer.
type readiness struct {
	mu      sync.Mutex
	pinging sync.Mutex
	err     error
	checked time.Time
}

// check is the store's readiness, at most readinessRefresh old.
func (r *readiness) check(ctx context.Context, st store.Database) error {
	r.mu.Lock()
	err, fresh := r.err, time.Since(r.checked) < readinessRefresh
	r.mu.Unlock()
	if fresh || !r.pinging.TryLock() {
		return err
	}
	defer r.pinging.Unlock()
	err = st.Ping(ctx)
	r.mu.Lock()
	r.err, r.checked = err, time.Now()
	r.mu.Unlock()
	return err
}
