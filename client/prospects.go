package client

import (
	"context"
	"iter"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
)

// ProspectService is the /v1/prospects resource; reach it as Client.Prospects.
type ProspectService struct{ c *Client }

// Create captures a new prospect. It is sent with an Idempotency-Key (generated,
// or yours via [WithIdempotencyKey]) that every retry reuses, so a retried create
// never makes two prospects. A live prospect with the same email fails with
// [ErrProspectExists] and its id in Error.ExistingID; an account at its plan's
// limit fails with [ErrPlanLimitReached].
func (s *ProspectService) Create(ctx context.Context, params ProspectCreateParams, opts ...RequestOption) (*Prospect, error) {
	if params.Email == "" {
		return nil, &Error{
			Type:    ErrorTypeInvalidRequestError,
			Code:    ErrorCodeParameterMissing,
			Param:   "email",
			Message: "email: is required",
			final:   true,
		}
	}
	if err := checkEmail(params.Email); err != nil {
		return nil, err
	}
	var p Prospect
	err := s.c.do(ctx, http.MethodPost, "v1/prospects", nil, params, opts, &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// MaxBatch is the most prospects [ProspectService.CreateBatch] sends at once.
const MaxBatch = 500

// CreateBatch captures up to [MaxBatch] prospects in one request, in one
// transaction on the server, for imports. Each item is answered on its own in
// the result's Data, in order: Status 201 with the created Prospect, 200 with
// the existing one (skipped or updated, see [WithOnConflict]), or a 4xx with
// its Error, whose Param is a path from the request root
// ("prospects[2].email") and which matches the sentinels ([ErrProspectExists],
// [ErrPlanLimitReached], …) with errors.Is. A batch whose items failed is not
// an error: read the counters (Created, Updated, Skipped, Failed). The error is
// for a batch refused whole (more than MaxBatch items, an invalid key) or not
// answered. The Idempotency-Key covers the whole batch, so a retry never
// creates an item twice.
func (s *ProspectService) CreateBatch(ctx context.Context, items []ProspectCreateParams, opts ...RequestOption) (*ProspectBatch, error) {
	var ro requestOptions
	for _, o := range opts {
		o(&ro)
	}
	if items == nil {
		items = []ProspectCreateParams{}
	}
	var b ProspectBatch
	err := s.c.do(ctx, http.MethodPost, "v1/prospects/batch", nil, ProspectBatchParams{Prospects: items, OnConflict: ro.onConflict}, opts, &b)
	if err != nil {
		return nil, err
	}
	for _, r := range b.Data {
		if r.Error != nil {
			r.Error.StatusCode = r.Status
		}
	}
	return &b, nil
}

// Get retrieves a prospect. An unknown id fails with [ErrNotFound], a deleted
// one with [ErrGone], a hidden one asked for with a standard key with
// [ErrProspectHidden].
func (s *ProspectService) Get(ctx context.Context, id string, opts ...RequestOption) (*Prospect, error) {
	if err := requireID(id, "id", "a prospect id (prs_…)"); err != nil {
		return nil, err
	}
	var p Prospect
	err := s.c.do(ctx, http.MethodGet, prospectPath(id), nil, nil, opts, &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Update changes the fields set in params and leaves the others alone; a field
// set to [Null] is cleared. Metadata is merged key by key (an empty value
// removes a key) and Tags replaces the whole list. Like Create it carries an
// Idempotency-Key reused by every retry.
func (s *ProspectService) Update(ctx context.Context, id string, params ProspectUpdateParams, opts ...RequestOption) (*Prospect, error) {
	if err := requireID(id, "id", "a prospect id (prs_…)"); err != nil {
		return nil, err
	}
	if email, err := params.Email.Get(); err == nil {
		if err := checkEmail(email); err != nil {
			return nil, err
		}
	}
	var p Prospect
	err := s.c.do(ctx, http.MethodPatch, prospectPath(id), nil, params, opts, &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Delete removes a prospect and erases its personal data; afterwards its id
// answers [ErrGone]. When a retry finds the prospect already gone, an earlier
// attempt whose answer was lost did the deletion, so Delete reports success
// rather than a misleading ErrGone.
func (s *ProspectService) Delete(ctx context.Context, id string, opts ...RequestOption) (*DeletedProspect, error) {
	if err := requireID(id, "id", "a prospect id (prs_…)"); err != nil {
		return nil, err
	}
	var d DeletedProspect
	err := s.c.do(ctx, http.MethodDelete, prospectPath(id), nil, nil, opts, &d)
	if e, ok := err.(*Error); ok && e.Code == ErrorCodeResourceGone && e.Attempts > 1 {
		return &DeletedProspect{ID: id, Object: "prospect", Deleted: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// ListPage fetches one page of prospects, newest first. To walk every page,
// use [ProspectService.List].
func (s *ProspectService) ListPage(ctx context.Context, params ProspectListParams, opts ...RequestOption) (*ProspectList, error) {
	var l ProspectList
	err := s.c.do(ctx, http.MethodGet, "v1/prospects", params.query(), nil, opts, &l)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// List walks every prospect matching params, fetching pages of params.Limit
// (default 10) as the loop needs them:
//
//	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(p.ID, p.Email)
//	}
//
// The walk goes from newest to oldest, starting after params.StartingAfter if
// it is set. With only params.EndingBefore set it goes the other way, from
// just before that prospect towards the newest. A failed page (after its
// retries) is yielded once as the error and ends the walk; breaking out of the
// loop stops fetching.
func (s *ProspectService) List(ctx context.Context, params ProspectListParams, opts ...RequestOption) iter.Seq2[Prospect, error] {
	return walk(params.StartingAfter, params.EndingBefore, func(after, before string) ([]Prospect, bool, error) {
		params.StartingAfter, params.EndingBefore = after, before
		page, err := s.ListPage(ctx, params, opts...)
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
	}, func(p Prospect) string { return p.ID })
}

// SearchPage fetches one page of the prospects a search query finds, newest
// first; params.Page is the NextPage of the page before. To walk every page,
// use [ProspectService.Search].
func (s *ProspectService) SearchPage(ctx context.Context, params ProspectSearchParams, opts ...RequestOption) (*SearchResult, error) {
	q := map[string]string{"query": params.Query}
	if params.Limit != 0 {
		q["limit"] = strconv.Itoa(params.Limit)
	}
	if params.Page != "" {
		q["page"] = params.Page
	}
	var r SearchResult
	if err := s.c.do(ctx, http.MethodGet, "v1/prospects/search", q, nil, opts, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Search walks every prospect the query finds, newest first, fetching pages of
// 100 as the loop needs them. The query is the API's search language:
//
//	for p, err := range c.Prospects.Search(ctx, `company~"acme" AND status:"new"`) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(p.ID, p.Email)
//	}
//
// A query that does not parse is yielded as an *Error with the code
// ErrorCodeQueryInvalid, its message naming the position. A failed page (after
// its retries) is yielded once as the error and ends the walk; breaking out of
// the loop stops fetching.
func (s *ProspectService) Search(ctx context.Context, query string, opts ...RequestOption) iter.Seq2[Prospect, error] {
	return func(yield func(Prospect, error) bool) {
		params := ProspectSearchParams{Query: query, Limit: 100}
		for {
			page, err := s.SearchPage(ctx, params, opts...)
			if err != nil {
				yield(Prospect{}, err)
				return
			}
			for _, p := range page.Data {
				if !yield(p, nil) {
					return
				}
			}
			if !page.HasMore || page.NextPage == "" {
				return
			}
			params.Page = page.NextPage
		}
	}
}

// requireID refuses to send a request for an empty id, which would address
// the list instead of one resource; the error names the parameter (param, as
// the server would) and what it takes (what, such as "an event id (evt_…)").
func requireID(id, param, what string) error {
	if id != "" {
		return nil
	}
	return &Error{
		Type:    ErrorTypeInvalidRequestError,
		Code:    ErrorCodeParameterMissing,
		Param:   param,
		Message: param + ": " + what + " is required",
		final:   true,
	}
}

// prospectPath is the path of one prospect, its id escaped.
func prospectPath(id string) string { return "v1/prospects/" + url.PathEscape(id) }

// checkEmail refuses to send an address that is not a bare address (as
// net/mail parses it); the server's rule is stricter still and answers the
// rest.
func checkEmail(email string) error {
	if a, err := mail.ParseAddress(email); err == nil && a.Address == email {
		return nil
	}
	return &Error{
		Type:    ErrorTypeInvalidRequestError,
		Code:    ErrorCodeParameterInvalid,
		Param:   "email",
		Message: "email: must be a valid email address",
		final:   true,
	}
}
