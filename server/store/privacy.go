package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// ErrSuppressed: the email was erased from the account (EraseProspect), and
// a create with it is refused until the suppression is lifted.
var ErrSuppressed = errors.New("store: the email is suppressed")

// ScrubbedAttributes are the only fields of a prospect that its events keep
// once it is deleted: every other one is personal.
var ScrubbedAttributes = []string{"id", "object", "status", "created"}

// ScrubPrevious is what an update's PreviousAttributes keep once the
// prospect is deleted: its earlier status, if the update changed it.
func ScrubPrevious(prev map[string]any) map[string]any {
	if prev == nil {
		return nil
	}
	out := map[string]any{}
	if s, ok := prev["status"]; ok {
		out["status"] = s
	}
	return out
}

// PrivacyStore keeps what a person's rights over their data need: erasure
// with a suppression list, the consent ledger, the export of everything held
// about a person, and retention.
type PrivacyStore interface {
	// EraseProspect deletes the prospect as DeleteProspect does and, in the
	// same transaction, adds its email to the account's suppression list
	// (kept only as a keyed hash). check can veto it.
	EraseProspect(ctx context.Context, accountID, id string, check func(*Prospect) error) error
	// LiftSuppression takes the email off the account's suppression list and
	// reports whether it was on it.
	LiftSuppression(ctx context.Context, accountID, email string) (bool, error)
	// ListConsents returns one page of the prospect's consent ledger, newest
	// first; the caller has checked that the prospect is live and visible.
	ListConsents(ctx context.Context, accountID, prospectID string, k Keyset) (*ConsentPage, error)
	// ProspectEvents returns one page of the events about the prospect, hidden
	// ones included, newest first: for the export of everything held about it.
	ProspectEvents(ctx context.Context, accountID, prospectID string, k Keyset) (*EventPage, error)
	// SweepRetention deletes, as DeleteProspect does (each with its
	// prospect.deleted event), every live prospect of an account with a
	// retention that was last updated more than its RetentionDays before now
	// and is not converted, and returns how many it deleted.
	SweepRetention(ctx context.Context, now time.Time) (int, error)
}

// errFresh vetoes the retention's deletion of a prospect changed since it
// was found stale.
var errFresh = errors.New("store: the prospect is no longer past its retention")

// RetentionCheck is the check of a retention deletion: the prospect, read in
// the deletion's transaction, is still past the cutoff and not converted.
func RetentionCheck(cutoff time.Time) func(*Prospect) error {
	return func(p *Prospect) error {
		if p.Status == "converted" || !p.Updated.Before(cutoff) {
			return errFresh
		}
		return nil
	}
}

// Stale is a prospect the retention sweep found past its account's retention.
type Stale struct {
	AccountID, ID string
	Cutoff        time.Time
}

// Sweep deletes the stale prospects that find returns, a batch at a time,
// with del (an engine's deletion with a check) under the prospect's account,
// until find returns none; a prospect that changed since it was found, or
// is gone, is skipped. It returns how many it deleted.
func Sweep(ctx context.Context, find func(ctx context.Context, after Stale) ([]Stale, error),
	del func(ctx context.Context, accountID, id string, check func(*Prospect) error) error) (int, error) {
	n := 0
	var after Stale
	for {
		batch, err := find(ctx, after)
		if err != nil || len(batch) == 0 {
			return n, err
		}
		for _, s := range batch {
			rctx := WithRequest(ctx, RequestInfo{AccountID: s.AccountID})
			err := del(rctx, s.AccountID, s.ID, RetentionCheck(s.Cutoff))
			switch {
			case err == nil:
				n++
			case errors.Is(err, errFresh), errors.Is(err, ErrDeleted), errors.Is(err, ErrNotFound):
			default:
				return n, err
			}
		}
		after = batch[len(batch)-1]
	}
}

// Consent is one entry of the consent ledger: a change of a prospect's
// marketing_consent, recorded by the change's own transaction (create,
// update, batch) with where it came from.
type Consent struct {
	ID         string // cns_ + a time-ordered suffix
	AccountID  string
	ProspectID string
	Granted    bool
	Text       *string // the wording the person agreed to, when the request gave it
	Source     string  // ConsentSourceAPI, ConsentSourceImport, or "form:" + a form's id
	IP         *string // the client's address, when the change came through the API
	UserAgent  *string
	Created    time.Time
}

// ConsentPage is one page of a consent ledger and whether more lie beyond it.
type ConsentPage struct {
	Consents []Consent
	HasMore  bool
}

// The sources of consents the API records; a web form's is "form:" + its id.
const (
	ConsentSourceAPI    = "api"
	ConsentSourceImport = "import"
)

type consentSourceKey struct{}

// WithConsentSource names where the consents that the prospect writes made
// with ctx record came from (ConsentSourceAPI unless set): a batch sets
// ConsentSourceImport, a web form "form:" + its id. The writes record the
// consent themselves, inside their own transaction, when marketing_consent
// changes.
func WithConsentSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, consentSourceKey{}, source)
}

// NewConsent is the ledger entry of p's consent as it stands after a change
// made with ctx, with the wording text the request gave (nil without).
func NewConsent(ctx context.Context, p *Prospect, text *string) Consent {
	source, _ := ctx.Value(consentSourceKey{}).(string)
	if source == "" {
		source = ConsentSourceAPI
	}
	r := RequestFrom(ctx)
	c := Consent{ID: NewID("cns_"), AccountID: p.AccountID, ProspectID: p.ID, Granted: p.MarketingConsent,
		Text: text, Source: source, Created: Now()}
	if r.IP != "" {
		c.IP = &r.IP
	}
	if r.UserAgent != "" {
		c.UserAgent = &r.UserAgent
	}
	return c
}

// SuppressionKey is a new per-account key for the suppression list's HMAC:
// 32 random bytes, base64.
func SuppressionKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// EmailHash is the form in which a suppressed email is kept: HMAC-SHA256 of
// the normalised email under the account's key (SuppressionKey's form, unsealed).
func EmailHash(key, email string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(email))
	return m.Sum(nil), nil
}

// suppressionScope binds an account's sealed suppression key to the account.
func suppressionScope(accountID string) string { return "suppression:" + accountID }

// SealSuppressionKey is an account's suppression key as stored: sealed under
// the webhook secret key when the box has one.
func (b *SecretBox) SealSuppressionKey(accountID, key string) string {
	return b.Seal(suppressionScope(accountID), key)
}

// OpenSuppressionKey reads back an account's stored suppression key.
func (b *SecretBox) OpenSuppressionKey(accountID, stored string) (string, error) {
	return b.Open(suppressionScope(accountID), stored)
}

// RetentionCutoff is the time before which a prospect last updated is past
// an account's retention of days.
func RetentionCutoff(now time.Time, days int) time.Time {
	return now.Add(-time.Duration(days) * 24 * time.Hour)
}
