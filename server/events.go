package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/oapi-codegen/nullable"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

func (h *handlers) ListEvents(ctx context.Context, req gen.ListEventsRequestObject) (gen.ListEventsResponseObject, error) {
	key, q := apiKey(ctx), req.Params
	w, err := listWindow(q.Limit, q.StartingAfter, q.EndingBefore, q.CreatedGte, q.CreatedLte)
	if err != nil {
		return nil, err
	}
	lp := store.EventListParams{Limit: w.limit, IncludeHidden: key.Role == store.RoleAdmin,
		StartingAfter: w.after, EndingBefore: w.before, CreatedGTE: w.gte, CreatedLTE: w.lte}
	if q.Type != nil {
		lp.Type = string(*q.Type)
	}
	if kept := store.Now().Add(-store.EventRetention); lp.CreatedGTE == nil || lp.CreatedGTE.Before(kept) {
		lp.CreatedGTE = &kept // the hourly purge may not have removed the older ones yet
	}
	page, err := h.events.ListEvents(ctx, key.AccountID, lp)
	if err != nil {
		return nil, err
	}
	body := gen.EventList{Object: gen.EventListObjectList, HasMore: page.HasMore, Url: "/v1/events",
		Data: make([]gen.Event, len(page.Events))}
	for i := range page.Events {
		if body.Data[i], err = eventJSON(&page.Events[i]); err != nil {
			return nil, err
		}
	}
	return gen.ListEvents200JSONResponse{Body: body, Headers: gen.ListEvents200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) GetEvent(ctx context.Context, req gen.GetEventRequestObject) (gen.GetEventResponseObject, error) {
	e, err := h.visibleEvent(ctx, apiKey(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	body, err := eventJSON(e)
	if err != nil {
		return nil, err
	}
	return gen.GetEvent200JSONResponse{Body: body, Headers: gen.GetEvent200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// ResendEvent enqueues an event again for the endpoint named, or for every
// endpoint that receives its type, through the outbox as a change's
// deliveries: at least once, and sent as the event reads when delivered (so a
// deleted prospect's stays stripped). The spec marks it x-admin-only.
func (h *handlers) ResendEvent(ctx context.Context, req gen.ResendEventRequestObject) (gen.ResendEventResponseObject, error) {
	key := apiKey(ctx)
	e, err := h.visibleEvent(ctx, key, req.Id)
	if err != nil {
		return nil, err
	}
	var endpointID string
	if req.Body != nil && req.Body.Endpoint != nil {
		endpointID = *req.Body.Endpoint
		ep, err := h.webhooks.WebhookEndpoint(ctx, key.AccountID, endpointID)
		if errors.Is(err, store.ErrNotFound) {
			re := requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing, "No such webhook endpoint: '%s'.", endpointID)
			re.Param = "endpoint"
			return nil, re
		}
		if err != nil {
			return nil, err
		}
		if ep.Disabled {
			return nil, invalid(gen.ErrorCodeParameterInvalid, "endpoint",
				"Invalid endpoint: %s is disabled. Enable it (PATCH it with {\"disabled\": false}), then resend.", endpointID)
		}
		if !slices.Contains(ep.EnabledEvents, "*") && !slices.Contains(ep.EnabledEvents, e.Type) {
			return nil, invalid(gen.ErrorCodeParameterInvalid, "endpoint",
				"Invalid endpoint: %s does not receive %s events. Add the type to its enabled_events, or name another endpoint.", endpointID, e.Type)
		}
	}
	ids, err := h.webhooks.ResendEvent(ctx, key.AccountID, e.ID, endpointID)
	if errors.Is(err, store.ErrNotFound) { // purged since it was read
		return nil, noSuchEvent(req.Id)
	}
	if err != nil {
		return nil, err
	}
	if endpointID != "" && len(ids) == 0 { // disabled or changed since it was read
		return nil, invalid(gen.ErrorCodeParameterInvalid, "endpoint",
			"Invalid endpoint: %s no longer receives %s events.", endpointID, e.Type)
	}
	if ids == nil {
		ids = []string{}
	}
	return gen.ResendEvent202JSONResponse{Body: gen.EventResend{Object: gen.EventResendObjectEventResend, Event: e.ID, Endpoints: ids},
		Headers: gen.ResendEvent202ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// eventJSON is the wire form of an event: what the API answers and what
// webhooks deliver.
func eventJSON(e *store.Event) (gen.Event, error) {
	out := gen.Event{Id: e.ID, Object: gen.EventObjectEvent, Type: e.Type, Created: e.Created.Unix(),
		Request: gen.EventRequest{Id: e.Request.ID, IdempotencyKey: nullable.NewNullNullable[string]()}}
	if e.Request.IdempotencyKey != "" {
		out.Request.IdempotencyKey = nullable.NewNullableWithValue(e.Request.IdempotencyKey)
	}
	var err error
	switch {
	case e.Submission != nil:
		err = out.Data.Object.FromFormSubmission(submissionJSON(e.Submission))
	case e.Type == store.EventProspectDeleted:
		deleted := gen.EventDeletedProspectDeletedTrue
		err = out.Data.Object.FromEventDeletedProspect(gen.EventDeletedProspect{Id: e.Prospect.ID,
			Object: gen.EventDeletedProspectObjectDeletedProspect, Deleted: &deleted})
	case e.Prospect.Email == "": // stripped: the prospect has been deleted since
		created := e.Prospect.Created.Unix()
		err = out.Data.Object.FromEventDeletedProspect(gen.EventDeletedProspect{Id: e.Prospect.ID,
			Object: gen.EventDeletedProspectObjectDeletedProspect, Status: &e.Prospect.Status, Created: &created})
	default:
		err = out.Data.Object.FromProspect(prospectJSON(&e.Prospect))
	}
	if err != nil {
		return out, err
	}
	if e.PreviousAttributes != nil {
		b, err := json.Marshal(e.PreviousAttributes)
		if err != nil {
			return out, err
		}
		var prev gen.PreviousAttributes
		if err := json.Unmarshal(b, &prev); err != nil {
			return out, err
		}
		out.Data.PreviousAttributes = &prev
	}
	return out, nil
}

// visibleEvent is the event of the key's account with the id, or the 404 of
// one it cannot see: unknown, a hidden prospect's to a standard key, or older
// than store.EventRetention though the hourly purge has not removed it yet.
func (h *handlers) visibleEvent(ctx context.Context, key *store.APIKey, id string) (*store.Event, error) {
	e, err := h.events.Event(ctx, key.AccountID, id)
	if err == nil && (e.Hidden && key.Role != store.RoleAdmin || e.Created.Before(store.Now().Add(-store.EventRetention))) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEvent(id)
	}
	return e, err
}

// noSuchEvent is the 404 of an event id.
func noSuchEvent(id string) error {
	re := requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing, "No such event: '%s'.", id)
	re.Param = "id"
	return re
}
