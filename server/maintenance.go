package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// maintenanceRefresh is how stale the maintenance flag may be: an operator's
// `capture maintenance on` reaches every replica within it.
const maintenanceRefresh = 500 * time.Millisecond

// maintenanceFlag caches the database's maintenance flag, re-reading it at most
// every maintenanceRefresh; one request re-reads while the others use the cache.
type maintenanceFlag struct {
	mu      sync.RWMutex
	reading sync.Mutex
	state   store.Maintenance
	checked time.Time
}

// checkMaintenance answers the API's operations 503 maintenance while the flag
// is on; the probes answer regardless.
func (s *Server) checkMaintenance(c *call) error {
	if !isAPI(c.route) {
		return nil
	}
	return s.maint.check(c.r.Context(), s.cfg.Store)
}

// check answers 503 maintenance while the flag is on.
func (m *maintenanceFlag) check(ctx context.Context, st store.MaintenanceStore) error {
	m.mu.RLock()
	state, stale := m.state, time.Since(m.checked) > maintenanceRefresh
	m.mu.RUnlock()
	if stale && m.reading.TryLock() {
		fresh, err := st.Maintenance(ctx)
		m.reading.Unlock()
		if err == nil {
			m.mu.Lock()
			m.state, m.checked, state = fresh, time.Now(), fresh
			m.mu.Unlock()
		}
	}
	if !state.On {
		return nil
	}
	return withRetryAfter(&Error{Status: http.StatusServiceUnavailable, Type: gen.ErrorTypeApiError, Code: gen.ErrorCodeMaintenance,
		Message: "Capture is down for maintenance. Try again after the Retry-After header's seconds."}, state.RetryAfter)
}
