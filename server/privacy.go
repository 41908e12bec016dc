package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/oapi-codegen/nullable"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// errNoPrivacy is the 500 of a privacy operation on a store that keeps no
// privacy records (both engines do).
var errNoPrivacy = errors.New("server: the store has no privacy records")

// EraseProspect deletes the prospect everywhere and suppresses its email.
// The spec marks it x-admin-only: authorize has refused standard keys.
func (h *handlers) EraseProspect(ctx context.Context, req gen.EraseProspectRequestObject) (gen.EraseProspectResponseObject, error) {
	if h.privacy == nil {
		return nil, errNoPrivacy
	}
	if err := h.privacy.EraseProspect(ctx, apiKey(ctx).AccountID, req.Id, nil); err != nil {
		return nil, prospectError(err, req.Id)
	}
	return gen.EraseProspect200JSONResponse{
		Body: gen.ErasedProspect{Id: req.Id, Object: gen.ErasedProspectObjectProspect,
			Deleted: gen.ErasedProspectDeletedTrue, Erased: gen.ErasedProspectErasedTrue},
		Headers: gen.EraseProspect200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// LiftSuppression takes an email off the account's suppression list.
func (h *handlers) LiftSuppression(ctx context.Context, req gen.LiftSuppressionRequestObject) (gen.LiftSuppressionResponseObject, error) {
	if h.privacy == nil {
		return nil, errNoPrivacy
	}
	email := strings.ToLower(strings.TrimSpace(string(req.Body.Email)))
	lifted, err := h.privacy.LiftSuppression(ctx, apiKey(ctx).AccountID, email)
	if err != nil {
		return nil, err
	}
	return gen.LiftSuppression200JSONResponse{
		Body:    gen.SuppressionLifted{Object: gen.SuppressionLiftedObjectSuppressionLift, Email: email, Lifted: lifted},
		Headers: gen.LiftSuppression200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// clientIP is the address the request came from, for the consent ledger.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ListProspectConsents lists the prospect's consent ledger, newest first; the
// prospect answers as GetProspect does.
func (h *handlers) ListProspectConsents(ctx context.Context, req gen.ListProspectConsentsRequestObject) (gen.ListProspectConsentsResponseObject, error) {
	if h.privacy == nil {
		return nil, errNoPrivacy
	}
	key, q := apiKey(ctx), req.Params
	p, err := h.store.Prospect(ctx, key.AccountID, req.Id)
	if err != nil {
		return nil, prospectError(err, req.Id)
	}
	if err := canSee(ctx, p); err != nil {
		return nil, err
	}
	w, err := listWindow(q.Limit, q.StartingAfter, q.EndingBefore, nil, nil)
	if err != nil {
		return nil, err
	}
	page, err := h.privacy.ListConsents(ctx, key.AccountID, p.ID, store.Keyset{Limit: w.limit, StartingAfter: w.after, EndingBefore: w.before})
	if err != nil {
		return nil, err
	}
	body := gen.ConsentList{Object: gen.ConsentListObjectList, HasMore: page.HasMore, Url: "/v1/prospects/" + p.ID + "/consents",
		Data: make([]gen.Consent, len(page.Consents))}
	for i, c := range page.Consents {
		body.Data[i] = consentJSON(&c)
	}
	return gen.ListProspectConsents200JSONResponse{Body: body,
		Headers: gen.ListProspectConsents200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// consentJSON is the wire form of a consent ledger entry.
func consentJSON(c *store.Consent) gen.Consent {
	opt := func(s *string) nullable.Nullable[string] {
		if s == nil {
			return nullable.NewNullNullable[string]()
		}
		return nullable.NewNullableWithValue(*s)
	}
	return gen.Consent{Id: c.ID, Object: gen.ConsentObjectConsent, Granted: c.Granted, Text: opt(c.Text), Source: c.Source,
		Ip: opt(c.IP), UserAgent: opt(c.UserAgent), Created: c.Created.Unix()}
}

// ExportProspect answers everything held about the prospect. The spec marks
// it x-admin-only: authorize has refused standard keys.
func (h *handlers) ExportProspect(ctx context.Context, req gen.ExportProspectRequestObject) (gen.ExportProspectResponseObject, error) {
	if h.privacy == nil {
		return nil, errNoPrivacy
	}
	accountID := apiKey(ctx).AccountID
	p, err := h.store.Prospect(ctx, accountID, req.Id)
	if err != nil {
		return nil, prospectError(err, req.Id)
	}
	body := gen.ProspectExport{Object: gen.ProspectExportObjectProspectExport, Prospect: prospectJSON(p),
		Events: []gen.Event{}, Consents: []gen.Consent{}, Submissions: []gen.FormSubmission{}}
	k := store.Keyset{Limit: 100}
	for {
		page, err := h.privacy.ProspectEvents(ctx, accountID, p.ID, k)
		if err != nil {
			return nil, err
		}
		for i := range page.Events {
			e, err := eventJSON(&page.Events[i])
			if err != nil {
				return nil, err
			}
			body.Events = append(body.Events, e)
		}
		if !page.HasMore {
			break
		}
		k.StartingAfter = page.Events[len(page.Events)-1].ID
	}
	k = store.Keyset{Limit: 100}
	for {
		page, err := h.privacy.ListConsents(ctx, accountID, p.ID, k)
		if err != nil {
			return nil, err
		}
		for i := range page.Consents {
			body.Consents = append(body.Consents, consentJSON(&page.Consents[i]))
		}
		if !page.HasMore {
			break
		}
		k.StartingAfter = page.Consents[len(page.Consents)-1].ID
	}
	if h.forms != nil {
		subs, err := h.forms.ProspectSubmissions(ctx, accountID, p.ID, p.Email)
		if err != nil {
			return nil, err
		}
		for i := range subs {
			body.Submissions = append(body.Submissions, submissionJSON(&subs[i]))
		}
	}
	return gen.ExportProspect200JSONResponse{Body: body, Headers: gen.ExportProspect200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}
