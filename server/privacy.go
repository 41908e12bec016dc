package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/captureapi/capture/gen"
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
