package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/oapi-codegen/nullable"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// recentAttempts is how many attempts GET /v1/webhook_endpoints/{id} shows.
const recentAttempts = 20

// adminOnly refuses standard keys the management of webhook endpoints.
func adminOnly(ctx context.Context) error {
	if apiKey(ctx).Role != store.RoleAdmin {
		return requestError(http.StatusForbidden, gen.ErrorCodeAdminKeyRequired, "Only admin keys can manage webhook endpoints.")
	}
	return nil
}

// checkWebhookURL accepts https:// URLs, and http:// ones too when private
// addresses are allowed (development and tests). A host that is a forbidden
// address is refused now; where a name leads is checked when each delivery
// connects.
func (h *handlers) checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Hostname() == "":
		return invalid(gen.ErrorCodeParameterInvalid, "url", "Invalid url: give an absolute https:// URL.")
	case u.User != nil:
		return invalid(gen.ErrorCodeParameterInvalid, "url", "Invalid url: credentials in the URL are not accepted.")
	case !h.webhooksAllowPrivate && literalForbidden(u.Hostname()) != nil:
		return invalid(gen.ErrorCodeParameterInvalid, "url",
			"Invalid url: %s is a loopback, private, link-local, documentation or other special-purpose address, which webhooks may not reach.", u.Hostname())
	case u.Scheme == "https", u.Scheme == "http" && h.webhooksAllowPrivate:
		return nil
	default:
		return invalid(gen.ErrorCodeParameterInvalid, "url", "Invalid url: webhook endpoints must be https:// URLs.")
	}
}

func endpointError(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		e := requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing, "No such webhook endpoint: '%s'.", id)
		e.Param = "id"
		return e
	}
	return err
}

func enabledEvents(in []gen.EnabledEvent) []string {
	out := make([]string, len(in))
	for i, e := range in {
		out[i] = string(e)
	}
	return out
}

func (h *handlers) CreateWebhookEndpoint(ctx context.Context, req gen.CreateWebhookEndpointRequestObject) (gen.CreateWebhookEndpointResponseObject, error) {
	if err := adminOnly(ctx); err != nil {
		return nil, err
	}
	b := req.Body
	if err := h.checkWebhookURL(b.Url); err != nil {
		return nil, err
	}
	e := &store.WebhookEndpoint{AccountID: apiKey(ctx).AccountID, URL: b.Url, Description: deref(b.Description),
		EnabledEvents: enabledEvents(b.EnabledEvents)}
	if err := h.webhooks.CreateWebhookEndpoint(ctx, e); err != nil {
		if errors.Is(err, store.ErrEndpointLimit) {
			e := requestError(http.StatusPaymentRequired, gen.ErrorCodePlanLimitReached,
				"The account has as many webhook endpoints as it may have. Delete one, or send this URL's events to an endpoint it has.")
			e.Param = "url"
			return nil, e
		}
		return nil, err
	}
	body := endpointJSON(e)
	body.Secret = &e.Secret
	return gen.CreateWebhookEndpoint201JSONResponse{Body: body,
		Headers: gen.CreateWebhookEndpoint201ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) ListWebhookEndpoints(ctx context.Context, _ gen.ListWebhookEndpointsRequestObject) (gen.ListWebhookEndpointsResponseObject, error) {
	if err := adminOnly(ctx); err != nil {
		return nil, err
	}
	list, err := h.webhooks.ListWebhookEndpoints(ctx, apiKey(ctx).AccountID)
	if err != nil {
		return nil, err
	}
	body := gen.WebhookEndpointList{Object: gen.WebhookEndpointListObjectList, Url: "/v1/webhook_endpoints",
		Data: make([]gen.WebhookEndpoint, len(list))}
	for i := range list {
		body.Data[i] = endpointJSON(&list[i])
	}
	return gen.ListWebhookEndpoints200JSONResponse{Body: body,
		Headers: gen.ListWebhookEndpoints200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) GetWebhookEndpoint(ctx context.Context, req gen.GetWebhookEndpointRequestObject) (gen.GetWebhookEndpointResponseObject, error) {
	if err := adminOnly(ctx); err != nil {
		return nil, err
	}
	accountID := apiKey(ctx).AccountID
	e, err := h.webhooks.WebhookEndpoint(ctx, accountID, req.Id)
	if err != nil {
		return nil, endpointError(err, req.Id)
	}
	attempts, err := h.webhooks.WebhookAttempts(ctx, accountID, e.ID, recentAttempts)
	if err != nil {
		return nil, err
	}
	body := endpointJSON(e)
	recent := make([]gen.WebhookAttempt, len(attempts))
	for i, a := range attempts {
		recent[i] = gen.WebhookAttempt{Id: a.ID, Object: gen.WebhookAttemptObjectWebhookAttempt, EventId: a.EventID,
			Attempt: a.Attempt, Created: a.Created.Unix(), DurationMs: a.Duration.Milliseconds(), Succeeded: a.Succeeded,
			StatusCode: nullable.NewNullNullable[int](), Error: nullable.NewNullNullable[string]()}
		if a.StatusCode != 0 {
			recent[i].StatusCode = nullable.NewNullableWithValue(a.StatusCode)
		}
		if a.Error != "" {
			recent[i].Error = nullable.NewNullableWithValue(shownAttemptError(a))
		}
	}
	body.RecentAttempts = &recent
	return gen.GetWebhookEndpoint200JSONResponse{Body: body,
		Headers: gen.GetWebhookEndpoint200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) UpdateWebhookEndpoint(ctx context.Context, req gen.UpdateWebhookEndpointRequestObject) (gen.UpdateWebhookEndpointResponseObject, error) {
	if err := adminOnly(ctx); err != nil {
		return nil, err
	}
	b := req.Body
	patch := store.WebhookEndpointPatch{URL: b.Url, Disabled: b.Disabled}
	if b.Url != nil {
		if err := h.checkWebhookURL(*b.Url); err != nil {
			return nil, err
		}
	}
	if b.EnabledEvents != nil {
		ev := enabledEvents(*b.EnabledEvents)
		patch.EnabledEvents = &ev
	}
	if b.Description.IsSpecified() {
		d := ""
		if !b.Description.IsNull() {
			d = b.Description.MustGet()
		}
		patch.Description = &d
	}
	e, err := h.webhooks.UpdateWebhookEndpoint(ctx, apiKey(ctx).AccountID, req.Id, patch)
	if err != nil {
		return nil, endpointError(err, req.Id)
	}
	return gen.UpdateWebhookEndpoint200JSONResponse{Body: endpointJSON(e),
		Headers: gen.UpdateWebhookEndpoint200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) DeleteWebhookEndpoint(ctx context.Context, req gen.DeleteWebhookEndpointRequestObject) (gen.DeleteWebhookEndpointResponseObject, error) {
	if err := adminOnly(ctx); err != nil {
		return nil, err
	}
	if err := h.webhooks.DeleteWebhookEndpoint(ctx, apiKey(ctx).AccountID, req.Id); err != nil {
		return nil, endpointError(err, req.Id)
	}
	return gen.DeleteWebhookEndpoint200JSONResponse{
		Body:    gen.DeletedWebhookEndpoint{Id: req.Id, Object: gen.DeletedWebhookEndpointObjectWebhookEndpoint, Deleted: true},
		Headers: gen.DeleteWebhookEndpoint200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// endpointJSON is the wire form of an endpoint, without its secret.
func endpointJSON(e *store.WebhookEndpoint) gen.WebhookEndpoint {
	out := gen.WebhookEndpoint{Id: e.ID, Object: gen.WebhookEndpointObjectWebhookEndpoint, Url: e.URL,
		Description: nullable.NewNullNullable[string](), EnabledEvents: e.EnabledEvents, Disabled: e.Disabled,
		FailingSince: nullable.NewNullNullable[int64](), Created: e.Created.Unix()}
	if e.Description != "" {
		out.Description = nullable.NewNullableWithValue(e.Description)
	}
	if e.FailingSince != nil {
		out.FailingSince = nullable.NewNullableWithValue(e.FailingSince.Unix())
	}
	return out
}
