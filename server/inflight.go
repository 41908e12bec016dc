package server

import (
	"net/http"

	"github.com/captureapi/capture/gen"
)

// inFlight caps the API requests being answered at once: past the cap a request
// gets a fast 503 overloaded instead of joining a pile-up that slows every
// client down.
type inFlight chan struct{}

func newInFlight(n int) inFlight { return make(inFlight, n) }

// acquire takes a slot, or answers 503 overloaded when none is free; release
// gives the slot back.
func (f inFlight) acquire() (release func(), err error) {
	select {
	case f <- struct{}{}:
		return func() { <-f }, nil
	default:
		return nil, withRetryAfter(&Error{Status: http.StatusServiceUnavailable, Type: gen.ErrorTypeApiError,
			Code: gen.ErrorCodeOverloaded, Message: "Capture is answering as many requests as it can. Retry after the Retry-After header's seconds."}, 1)
	}
}
