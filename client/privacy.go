package client

import (
	"context"
	"iter"
	"net/http"
)

// Erase deletes a prospect as [ProspectService.Delete] does and puts its
// email on the account's suppression list: a later create with that email
// fails with [ErrEmailSuppressed] until [SuppressionService.Lift]. Admin keys
// only ([ErrAdminKeyRequired]). When a retry finds the prospect already gone,
// an earlier attempt whose answer was lost did the erasure, so Erase reports
// success rather than a misleading [ErrGone].
func (s *ProspectService) Erase(ctx context.Context, id string, opts ...RequestOption) (*ErasedProspect, error) {
	if err := requireID(id, "id", "a prospect id (prs_…)"); err != nil {
		return nil, err
	}
	var d ErasedProspect
	err := s.c.do(ctx, http.MethodPost, prospectPath(id)+"/erase", nil, nil, opts, &d)
	if e, ok := err.(*Error); ok && e.Code == ErrorCodeResourceGone && e.Attempts > 1 {
		return &ErasedProspect{ID: id, Object: "prospect", Deleted: true, Erased: true}, nil
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

// ConsentListParams size the pages of a prospect's consent ledger. Every field
// is optional and left out of the request when zero.
type ConsentListParams struct {
	// Limit is how many entries a page holds, 1 to 100 (default 10).
	Limit int
	// StartingAfter is a consent id: the page starts right after it (older entries).
	StartingAfter string
	// EndingBefore is a consent id: the page ends right before it (newer entries).
	EndingBefore string
}

// ConsentsPage fetches one page of the prospect's consent ledger, newest
// first. To walk every page, use [ProspectService.Consents].
func (s *ProspectService) ConsentsPage(ctx context.Context, id string, params ConsentListParams, opts ...RequestOption) (*ConsentList, error) {
	if err := requireID(id, "id", "a prospect id (prs_…)"); err != nil {
		return nil, err
	}
	var l ConsentList
	q := listQuery(params.Limit, params.StartingAfter, params.EndingBefore, 0, 0)
	if err := s.c.do(ctx, http.MethodGet, prospectPath(id)+"/consents", q, nil, opts, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Consents walks the prospect's consent ledger, newest first: every change of
// its marketing consent, with the wording given, where it came from and the
// client's address. It pages as [ProspectService.List] does. A deleted
// prospect fails with [ErrGone]: its ledger went with it.
func (s *ProspectService) Consents(ctx context.Context, id string, params ConsentListParams, opts ...RequestOption) iter.Seq2[Consent, error] {
	return walk(params.StartingAfter, params.EndingBefore, func(after, before string) ([]Consent, bool, error) {
		params.StartingAfter, params.EndingBefore = after, before
		page, err := s.ConsentsPage(ctx, id, params, opts...)
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
	}, func(c Consent) string { return c.ID })
}

// Export retrieves everything Capture holds about the prospect in one answer:
// the prospect (hidden or not), every event about it still kept and its
// consent ledger, newest first, and its web form submissions. Admin keys only
// ([ErrAdminKeyRequired]); a deleted prospect fails with [ErrGone].
func (s *ProspectService) Export(ctx context.Context, id string, opts ...RequestOption) (*ProspectExport, error) {
	if err := requireID(id, "id", "a prospect id (prs_…)"); err != nil {
		return nil, err
	}
	var x ProspectExport
	if err := s.c.do(ctx, http.MethodGet, prospectPath(id)+"/export", nil, nil, opts, &x); err != nil {
		return nil, err
	}
	return &x, nil
}
