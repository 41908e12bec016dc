package server

import (
	"context"
	"net/http"

	"github.com/captureapi/capture/server/store"
)

// Fingerprint lets tests make the claim a crashed request of a key with the role
// leaves behind.
func Fingerprint(r *http.Request, role store.Role) []byte {
	ctx := context.WithValue(r.Context(), keyContextKey{}, &store.APIKey{Role: role})
	return fingerprint(r.WithContext(ctx))
}
