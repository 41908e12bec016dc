package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// authenticate finds the request's key, Bearer or Basic with the key as user
// name, and gives it to the request's recorder, which its context carries.
// Operations with an empty security list (the probes) need none.
func (s *Server) authenticate(c *call) error {
	if sec := c.route.Operation.Security; sec != nil && len(*sec) == 0 {
		return nil
	}
	key, err := s.keyOf(c.r)
	if err != nil {
		return err
	}
	c.w.key = key
	info := store.RequestFrom(c.r.Context())
	info.AccountID = key.AccountID // for the writer's turns
	c.r = c.r.WithContext(store.WithRequest(c.r.Context(), info))
	return nil
}

// authorize refuses a key without the admin role the operations the spec marks
// x-admin-only, before their body or query is read: the answer to such a key
// is 403 whatever it sent.
func (s *Server) authorize(c *call) error {
	if c.adminOnly && c.w.key != nil && c.w.key.Role != store.RoleAdmin {
		what := c.route.Operation.Summary // "Create a webhook endpoint"
		if what != "" {
			what = strings.ToLower(what[:1]) + what[1:]
		}
		return requestError(http.StatusForbidden, gen.ErrorCodeAdminKeyRequired, "Only admin keys can %s.", what)
	}
	return nil
}

func (s *Server) keyOf(r *http.Request) (*store.APIKey, error) {
	h := r.Header.Get("Authorization")
	var secret string
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	switch {
	case h == "":
		return nil, unauthorized(gen.ErrorCodeApiKeyMissing,
			"No API key provided. Send it as Authorization: Bearer sk_… (or HTTP Basic with the key as user name).")
	case strings.EqualFold(scheme, "Bearer") && value == "":
		return nil, unauthorized(gen.ErrorCodeApiKeyMissing, "The Authorization header has no key after Bearer.")
	case strings.EqualFold(scheme, "Bearer"):
		secret = value
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return nil, unauthorized(gen.ErrorCodeApiKeyInvalid, "The Basic credentials are not valid base64.")
		}
		secret, _, _ = strings.Cut(string(raw), ":")
	default:
		return nil, unauthorized(gen.ErrorCodeApiKeyInvalid,
			"Unsupported Authorization scheme. Send Authorization: Bearer sk_….")
	}
	if !strings.HasPrefix(secret, "sk_") {
		return nil, unauthorized(gen.ErrorCodeApiKeyInvalid, "Invalid API key: keys start with sk_.")
	}
	key, err := s.lookupKey(r.Context(), secret)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, unauthorized(gen.ErrorCodeApiKeyInvalid, "Invalid API key provided: "+redact(secret)+".")
	case err != nil:
		return nil, err
	case key.Revoked:
		return nil, unauthorized(gen.ErrorCodeApiKeyRevoked, "This API key ("+redact(secret)+") has been revoked.")
	}
	return key, nil
}

// lookupKey finds a key by its secret through a short-lived cache of lookups, so
// that a busy key (or a flood of wrong ones) costs no database read per request.
// A revocation reaches a running server within KeyCacheTTL.
func (s *Server) lookupKey(ctx context.Context, secret string) (*store.APIKey, error) {
	if s.keys == nil {
		return s.cfg.Store.KeyBySecret(ctx, secret)
	}
	sum := sha256.Sum256([]byte(secret))
	now := time.Now()
	if c, ok := s.keys.Get(sum); ok && now.Before(c.until) {
		if c.key == nil {
			return nil, store.ErrNotFound
		}
		return c.key, nil
	}
	k, err := s.cfg.Store.KeyBySecret(ctx, secret)
	switch {
	case err == nil:
		s.keys.Add(sum, cachedKey{k, now.Add(s.cfg.KeyCacheTTL)})
	case errors.Is(err, store.ErrNotFound):
		s.keys.Add(sum, cachedKey{nil, now.Add(s.cfg.KeyCacheTTL)})
	}
	return k, err
}

// cachedKey is a key lookup kept until a time: its key, or nil when no key has
// the secret. Entries expire when read, so an idle server keeps no timer for
// them (an expiring cache's sweeper would wake it a hundred times a second).
type cachedKey struct {
	key   *store.APIKey
	until time.Time
}

// redact shows enough of a secret to recognise it, never enough to use it.
func redact(secret string) string {
	if len(secret) <= 7 {
		return "sk_…"
	}
	return secret[:3] + "…" + secret[len(secret)-4:]
}
