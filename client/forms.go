package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
)

// FormService is the /v1/forms resource: public web forms whose pages post
// prospects without a key, and their submissions (admin keys only: standard
// keys get [ErrAdminKeyRequired]); reach it as Client.Forms.
type FormService struct{ c *Client }

// Create makes a form. Its SubmitURL is what a page posts to; a captcha
// secret given here is never shown again.
func (s *FormService) Create(ctx context.Context, params FormCreateParams, opts ...RequestOption) (*Form, error) {
	var f Form
	if err := s.c.do(ctx, http.MethodPost, "v1/forms", nil, params, opts, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// Get retrieves a form, without its captcha secret.
func (s *FormService) Get(ctx context.Context, id string, opts ...RequestOption) (*Form, error) {
	if err := requireID(id, "id", "a form id (frm_…)"); err != nil {
		return nil, err
	}
	var f Form
	if err := s.c.do(ctx, http.MethodGet, formPath(id), nil, nil, opts, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// Update changes the fields set in params; Disabled: Set(true) stops the
// form taking submissions.
func (s *FormService) Update(ctx context.Context, id string, params FormUpdateParams, opts ...RequestOption) (*Form, error) {
	if err := requireID(id, "id", "a form id (frm_…)"); err != nil {
		return nil, err
	}
	var f Form
	if err := s.c.do(ctx, http.MethodPatch, formPath(id), nil, params, opts, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// Delete deletes a form and its submissions.
func (s *FormService) Delete(ctx context.Context, id string, opts ...RequestOption) (*DeletedForm, error) {
	if err := requireID(id, "id", "a form id (frm_…)"); err != nil {
		return nil, err
	}
	var d DeletedForm
	if err := s.c.do(ctx, http.MethodDelete, formPath(id), nil, nil, opts, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListPage fetches every form of the account, newest first, in one page. To
// loop over them, use [FormService.List].
func (s *FormService) ListPage(ctx context.Context, opts ...RequestOption) (*FormList, error) {
	var l FormList
	if err := s.c.do(ctx, http.MethodGet, "v1/forms", nil, nil, opts, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// List walks every form of the account, newest first, as the other lists do:
//
//	for f, err := range c.Forms.List(ctx) {
//		if err != nil {
//			return err // the request failed: yielded once, and the loop ends
//		}
//		fmt.Println(f.ID, f.SubmitURL)
//	}
func (s *FormService) List(ctx context.Context, opts ...RequestOption) iter.Seq2[Form, error] {
	return func(yield func(Form, error) bool) {
		l, err := s.ListPage(ctx, opts...)
		if err != nil {
			yield(Form{}, err)
			return
		}
		for _, f := range l.Data {
			if !yield(f, nil) {
				return
			}
		}
	}
}

// SubmissionListParams filter a form's submissions and size their pages.
// Every field is optional and left out of the request when zero.
type SubmissionListParams struct {
	// Limit is how many submissions a page holds, 1 to 100 (default 10).
	Limit int
	// StartingAfter is a submission id: the walk starts right after it (older submissions).
	StartingAfter string
	// Status keeps only "accepted" or only "quarantined" submissions.
	Status string
}

// SubmissionsPage fetches one page of a form's submissions, newest first. To
// walk every page, use [FormService.Submissions].
func (s *FormService) SubmissionsPage(ctx context.Context, formID string, params SubmissionListParams, opts ...RequestOption) (*FormSubmissionList, error) {
	if err := requireID(formID, "id", "a form id (frm_…)"); err != nil {
		return nil, err
	}
	var l FormSubmissionList
	q := listQuery(params.Limit, params.StartingAfter, "", 0, 0, "status", params.Status)
	if err := s.c.do(ctx, http.MethodGet, formPath(formID)+"/submissions", q, nil, opts, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Submissions walks a form's submissions, newest first, fetching pages as the
// loop needs them:
//
//	for sub, err := range c.Forms.Submissions(ctx, formID, client.SubmissionListParams{Status: "quarantined"}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(sub.ID, sub.Reasons)
//	}
func (s *FormService) Submissions(ctx context.Context, formID string, params SubmissionListParams, opts ...RequestOption) iter.Seq2[FormSubmission, error] {
	return walk(params.StartingAfter, "", func(after, _ string) ([]FormSubmission, bool, error) {
		params.StartingAfter = after
		page, err := s.SubmissionsPage(ctx, formID, params, opts...)
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
	}, func(sub FormSubmission) string { return sub.ID })
}

// Approve accepts a quarantined submission: its prospect is created or
// updated, and the answer is the submission with its Prospect.
func (s *FormService) Approve(ctx context.Context, formID, submissionID string, opts ...RequestOption) (*FormSubmission, error) {
	if err := requireID(formID, "id", "a form id (frm_…)"); err != nil {
		return nil, err
	}
	if err := requireID(submissionID, "sid", "a submission id (fsub_…)"); err != nil {
		return nil, err
	}
	var sub FormSubmission
	path := formPath(formID) + "/submissions/" + url.PathEscape(submissionID) + "/approve"
	if err := s.c.do(ctx, http.MethodPost, path, nil, nil, opts, &sub); err != nil {
		return nil, err
	}
	return &sub, nil
}

func formPath(id string) string { return "v1/forms/" + url.PathEscape(id) }
