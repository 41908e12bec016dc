package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
)

// The event types known today, for a switch on [Event].Type (or a list's Type):
// a newer server may send others, so keep a default that ignores them.
const (
	// EventProspectCreated is a prospect's creation; Data.Object is the prospect.
	EventProspectCreated EventType = "prospect.created"
	// EventProspectUpdated is a change to a prospect; Data.Object is the prospect
	// after it, Data.PreviousAttributes the changed fields' earlier values.
	EventProspectUpdated EventType = "prospect.updated"
	// EventProspectDeleted is a prospect's deletion; Data.Object holds its ID.
	EventProspectDeleted EventType = "prospect.deleted"
	// EventFormSubmissionCreated is a form's submission.
	EventFormSubmissionCreated EventType = "form_submission.created"
)

// EventService is the /v1/events resource, the log of changes to prospects
// kept 30 days; reach it as Client.Events.
type EventService struct{ c *Client }

// EventListParams filter a list of events and size its pages. Every field is
// optional and left out of the request when zero.
type EventListParams struct {
	// Limit is how many events a page holds, 1 to 100 (default 10).
	Limit int
	// StartingAfter is an event id: the page starts right after it (older events).
	StartingAfter string
	// EndingBefore is an event id: the page ends right before it (newer events).
	EndingBefore string
	// Type keeps only events of this type, such as [EventProspectUpdated].
	Type string
	// CreatedGTE keeps only events created at or after this Unix time (seconds).
	CreatedGTE int64
	// CreatedLTE keeps only events created at or before this Unix time (seconds).
	CreatedLTE int64
}

func (p EventListParams) query() map[string]string {
	return listQuery(p.Limit, p.StartingAfter, p.EndingBefore, p.CreatedGTE, p.CreatedLTE, "type", p.Type)
}

// Get retrieves an event. An unknown (or purged) id fails with [ErrNotFound],
// and so does, for a standard key, the event of a prospect that is hidden now.
func (s *EventService) Get(ctx context.Context, id string, opts ...RequestOption) (*Event, error) {
	if err := requireID(id, "id", "an event id (evt_…)"); err != nil {
		return nil, err
	}
	var e Event
	if err := s.c.do(ctx, http.MethodGet, "v1/events/"+url.PathEscape(id), nil, nil, opts, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Resend delivers an event again (admin keys only), to the endpoint
// params.Endpoint names, or without it to every enabled endpoint that receives
// the event's type; the answer names the endpoints. Each is a new delivery,
// retried on failure like any other, of the event as it reads now (a deleted
// prospect's is stripped). An unknown event or endpoint fails with
// [ErrNotFound]; an endpoint that is disabled or does not receive the type,
// with an *Error of code parameter_invalid on "endpoint".
func (s *EventService) Resend(ctx context.Context, id string, params EventResendParams, opts ...RequestOption) (*EventResend, error) {
	if err := requireID(id, "id", "an event id (evt_…)"); err != nil {
		return nil, err
	}
	var r EventResend
	if err := s.c.do(ctx, http.MethodPost, "v1/events/"+url.PathEscape(id)+"/resend", nil, params, opts, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListPage fetches one page of events, newest first. To walk every page, use
// [EventService.List].
func (s *EventService) ListPage(ctx context.Context, params EventListParams, opts ...RequestOption) (*EventList, error) {
	var l EventList
	if err := s.c.do(ctx, http.MethodGet, "v1/events", params.query(), nil, opts, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// List walks every event matching params, newest first, fetching pages as the
// loop needs them, as [ProspectService.List] does.
func (s *EventService) List(ctx context.Context, params EventListParams, opts ...RequestOption) iter.Seq2[Event, error] {
	return walk(params.StartingAfter, params.EndingBefore, func(after, before string) ([]Event, bool, error) {
		params.StartingAfter, params.EndingBefore = after, before
		page, err := s.ListPage(ctx, params, opts...)
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
	}, func(e Event) string { return e.ID })
}
