package store

import (
	"context"
	"reflect"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// The types of event a change to a prospect records.
const (
	EventProspectCreated = "prospect.created"
	EventProspectUpdated = "prospect.updated"
	EventProspectDeleted = "prospect.deleted"
)

// EventRetention is how long events are kept.
const EventRetention = 30 * 24 * time.Hour

// RequestInfo identifies the API request that made a change, for its event.
type RequestInfo struct {
	ID             string // the request's Request-Id
	IdempotencyKey string // its Idempotency-Key, "" without one
	// AccountID is the account it acts for, once authenticated: a store with a
	// single writer (SQLite) serves the accounts waiting for it in turn.
	AccountID string
	// IP and UserAgent are the client's, for the consent ledger.
	IP, UserAgent string
}

type requestInfoKey struct{}

// WithRequest gives the store the request that makes the changes done with ctx,
// so that their events say which request made them.
func WithRequest(ctx context.Context, r RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, r)
}

// RequestFrom is the request WithRequest put in ctx, or the zero RequestInfo
// for changes made outside a request.
func RequestFrom(ctx context.Context) RequestInfo {
	r, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return r
}

// Event records one change to a prospect, written in the same transaction as
// the change.
type Event struct {
	ID        string // evt_ + a time-ordered suffix
	AccountID string
	Type      string // one of the Event* types
	Created   time.Time
	// Prospect is the prospect after the change. A deletion's event carries the
	// prospect's id only: every other field is zero.
	Prospect Prospect
	// PreviousAttributes holds, on an update, the earlier value of each
	// attribute the update changed (see attributes), as the events log keeps it.
	PreviousAttributes map[string]any
	// Submission is, on a form_submission.created event, the submission with
	// its verdict; Prospect is then zero.
	Submission *FormSubmission
	// Hidden: the prospect was hidden before or after the change; only admin keys
	// see the event.
	Hidden  bool
	Request RequestInfo
}

// EventListParams selects one page of an account's events, newest first.
type EventListParams struct {
	Limit         int
	StartingAfter string // older than this id
	EndingBefore  string // newer than this id
	Type          string
	CreatedGTE    *time.Time
	CreatedLTE    *time.Time
	IncludeHidden bool
}

// EventPage is one page of events and whether more lie beyond it in the walk's direction.
type EventPage struct {
	Events  []Event
	HasMore bool
}

// EventStore reads the events log. Events are written by the Store's prospect
// changes themselves, in their transactions, never through this interface.
type EventStore interface {
	// Event returns one event of the account, or ErrNotFound.
	Event(ctx context.Context, accountID, id string) (*Event, error)
	// ListEvents returns one page of the account's events.
	ListEvents(ctx context.Context, accountID string, params EventListParams) (*EventPage, error)
	// PurgeEvents deletes the events created before the time, returning how many.
	PurgeEvents(ctx context.Context, before time.Time) (int64, error)
}

// NewEvent is the event of a change to p, made now by the request
// RequestFrom(ctx) names. A deletion's event keeps the prospect's id only.
// prev is the update's PreviousAttributes (ProspectPatch.Update), nil otherwise.
func NewEvent(ctx context.Context, typ string, p *Prospect, prev map[string]any, hidden bool) Event {
	e := Event{ID: NewID("evt_"), AccountID: p.AccountID, Type: typ, Created: Now(), Prospect: *p,
		PreviousAttributes: prev, Hidden: hidden, Request: RequestFrom(ctx)}
	if typ == EventProspectDeleted {
		e.Prospect = Prospect{ID: p.ID} // no personal fields
	}
	return e
}

// NewSubmissionEvent is the form_submission.created event of s, made now by
// the request RequestFrom(ctx) names.
func NewSubmissionEvent(ctx context.Context, s *FormSubmission) Event {
	return Event{ID: NewID("evt_"), AccountID: s.AccountID, Type: EventFormSubmissionCreated, Created: Now(),
		Submission: s, Request: RequestFrom(ctx)}
}

// changedAttributes is, for an update, the earlier value of every attribute
// that the update changed; before is the attributes of the prospect before
// the update.
func changedAttributes(before map[string]any, after *Prospect) map[string]any {
	a := attributes(after)
	prev := map[string]any{}
	for k, v := range before {
		if !reflect.DeepEqual(v, a[k]) {
			prev[k] = v
		}
	}
	return prev
}

// attributes are a prospect's changeable fields, copied, by the names under
// which the events log keeps an update's earlier values (PreviousAttributes),
// recorded by the engines in the update's own transaction. They are the
// stored columns' names, which the API uses too: server/events.go decodes
// them into the generated PreviousAttributes.
func attributes(p *Prospect) map[string]any {
	var consentAt any
	if p.ConsentAt != nil {
		consentAt = p.ConsentAt.Unix()
	}
	str := func(s *string) any {
		if s == nil {
			return nil
		}
		return *s
	}
	tags := append([]string{}, p.Tags...)
	metadata := map[string]string{}
	for k, v := range p.Metadata {
		metadata[k] = v
	}
	return map[string]any{
		"email": p.Email, "first_name": str(p.FirstName), "last_name": str(p.LastName), "company": str(p.Company),
		"title": str(p.Title), "phone": str(p.Phone), "website": str(p.Website), "source": str(p.Source),
		"status": p.Status, "tags": tags, "metadata": metadata, "marketing_consent": p.MarketingConsent,
		"consent_at": consentAt, "hidden": p.Hidden,
	}
}

// IDBefore is an id that sorts before every id NewID made at or after t, and
// after those it made before t: the ULID of t's millisecond with no entropy.
// Purges delete by id, which sorts by time, through the primary key.
func IDBefore(prefix string, t time.Time) string {
	var id ulid.ULID
	if err := id.SetTime(ulid.Timestamp(t)); err != nil {
		return prefix // t is out of ULID's range: nothing is before it
	}
	return prefix + strings.ToLower(id.String())
}
