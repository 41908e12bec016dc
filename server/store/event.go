package store

import (
	"context"
	"time"
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
	// PreviousAttributes holds, on an update, the earlier value of each field the
	// update changed, keyed by its name on the wire (first_name, status, …).
	PreviousAttributes map[string]any
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
