package client

import (
	"context"
	"net/http"
)

// Erase deletes a prospect as [ProspectService.Delete] does and puts its
// email on the account's suppression list: a later create with that email
// fails with [ErrEmailSuppressed] until [SuppressionService.Lift]. Admin keys
// only ([ErrAdminKeyRequired]). When a retry finds the prospect already gone,
// an earlier attempt whose answer was lost did the erasure, so Erase reports
// success rather than a misleading [ErrGone].
func (s *ProspectService) Erase(ctx context.Context, id string, opts ...RequestOption) (*ErasedProspect, error) {
	if err := requireID(id); err != nil {
		return nil, err
	}
	var d ErasedProspect
	err := s.c.do(ctx, http.MethodPost, prospectPath(id)+"/erase", nil, nil, opts, &d)
	if e, ok := err.(*Error); ok && e.Code == ErrorCodeResourceGone && e.Attempts > 1 {
		return &ErasedProspect{ID: id, Object: ErasedProspectObjectProspect, Deleted: true, Erased: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// SuppressionService is the account's suppression list of erased emails;
// reach it as Client.Suppressions. Admin keys only.
type SuppressionService struct{ c *Client }

// Lift takes an email off the suppression list, so that it can be captured
// again. Lifted reports whether it was on it; lifting an email that is not
// is no error.
func (s *SuppressionService) Lift(ctx context.Context, email string, opts ...RequestOption) (*SuppressionLifted, error) {
	if err := checkEmail(email); err != nil {
		return nil, err
	}
	var l SuppressionLifted
	err := s.c.do(ctx, http.MethodPost, "v1/suppressions/lift", nil, SuppressionLift{Email: email}, opts, &l)
	if err != nil {
		return nil, err
	}
	return &l, nil
}
