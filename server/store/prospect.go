package store

import (
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Normalise gives a prospect its canonical stored form: a trimmed, lower-case
// email, and empty (not nil) tags and metadata.
func (p *Prospect) Normalise() {
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	if p.Tags == nil {
		p.Tags = []string{}
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
}

// Apply changes p as the patch says; now is when a consent given by it was given.
func (patch ProspectPatch) Apply(p *Prospect, now time.Time) {
	if patch.Email != nil {
		p.Email = *patch.Email
	}
	for dst, src := range map[**string]**string{
		&p.FirstName: patch.FirstName, &p.LastName: patch.LastName, &p.Company: patch.Company, &p.Title: patch.Title,
		&p.Phone: patch.Phone, &p.Website: patch.Website, &p.Source: patch.Source,
	} {
		if src != nil {
			*dst = *src
		}
	}
	if patch.Status != nil {
		p.Status = *patch.Status
	}
	if patch.Tags != nil {
		p.Tags = *patch.Tags
	}
	if patch.ClearMetadata || p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	for k, v := range patch.Metadata {
		if v == "" {
			delete(p.Metadata, k)
		} else {
			p.Metadata[k] = v
		}
	}
	if patch.MarketingConsent != nil && *patch.MarketingConsent != p.MarketingConsent {
		p.MarketingConsent = *patch.MarketingConsent
		p.ConsentAt = nil
		if p.MarketingConsent {
			t := now
			p.ConsentAt = &t
		}
	}
	if patch.Hidden != nil {
		p.Hidden = *patch.Hidden
	}
	p.Normalise()
}

// Now is the time a store records: whole seconds, as the API shows them.
func Now() time.Time { return time.Now().Truncate(time.Second) }

// NewID returns prefix + a ULID in lower case: unique, and sorted by creation time.
func NewID(prefix string) string { return prefix + strings.ToLower(ulid.Make().String()) }

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewSecret returns sk_ and 40 random base62 characters (about 238 bits).
func NewSecret() string {
	b := make([]byte, 40)
	limit := big.NewInt(int64(len(base62)))
	for i := range b {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = base62[n.Int64()]
	}
	return "sk_" + string(b)
}

// HashSecret is the stored form of a key's secret, by which it is looked up.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
