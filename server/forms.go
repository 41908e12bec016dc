package server

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/oapi-codegen/nullable"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// This file holds the admin operations on forms and their submissions; what a
// page posts is answered by form_submit.go.

func formError(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		e := requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing, "No such form: '%s'.", id)
		e.Param = "id"
		return e
	}
	return err
}

// checkOrigins accepts origins as browsers send them: scheme://host[:port], nothing more.
func checkOrigins(origins []string) error {
	for i, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" ||
			u.Fragment != "" || u.User != nil || o != u.Scheme+"://"+u.Host {
			return invalid(gen.ErrorCodeParameterInvalid, "allowed_origins["+strconv.Itoa(i)+"]",
				"Invalid origin %q: give scheme://host[:port], such as https://www.example.com, without a path or a trailing slash.", o)
		}
	}
	return nil
}

func checkRedirectURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid(gen.ErrorCodeParameterInvalid, "redirect_url", "Invalid redirect_url: give an absolute http:// or https:// URL.")
	}
	return nil
}

func (h *handlers) CreateForm(ctx context.Context, req gen.CreateFormRequestObject) (gen.CreateFormResponseObject, error) {
	b := req.Body
	if err := checkOrigins(b.AllowedOrigins); err != nil {
		return nil, err
	}
	f := &store.Form{AccountID: apiKey(ctx).AccountID, Name: b.Name, AllowedOrigins: b.AllowedOrigins,
		RedirectURL: deref(b.RedirectUrl), ConsentText: deref(b.ConsentText)}
	if f.RedirectURL != "" {
		if err := checkRedirectURL(f.RedirectURL); err != nil {
			return nil, err
		}
	}
	if d := b.Defaults; d != nil {
		f.DefaultSource = deref(d.Source)
		if d.Tags != nil {
			f.DefaultTags = *d.Tags
		}
	}
	if c := b.Captcha; c != nil {
		f.CaptchaProvider, f.CaptchaSecret = string(c.Provider), c.Secret
	}
	if err := h.forms.CreateForm(ctx, f); err != nil {
		return nil, err
	}
	return gen.CreateForm201JSONResponse{Body: h.formJSON(f), Headers: gen.CreateForm201ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) ListForms(ctx context.Context, _ gen.ListFormsRequestObject) (gen.ListFormsResponseObject, error) {
	list, err := h.forms.ListForms(ctx, apiKey(ctx).AccountID)
	if err != nil {
		return nil, err
	}
	body := gen.FormList{Object: gen.FormListObjectList, Url: "/v1/forms", Data: make([]gen.Form, len(list))}
	for i := range list {
		body.Data[i] = h.formJSON(&list[i])
	}
	return gen.ListForms200JSONResponse{Body: body, Headers: gen.ListForms200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) GetForm(ctx context.Context, req gen.GetFormRequestObject) (gen.GetFormResponseObject, error) {
	f, err := h.forms.Form(ctx, apiKey(ctx).AccountID, req.Id)
	if err != nil {
		return nil, formError(err, req.Id)
	}
	return gen.GetForm200JSONResponse{Body: h.formJSON(f), Headers: gen.GetForm200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) UpdateForm(ctx context.Context, req gen.UpdateFormRequestObject) (gen.UpdateFormResponseObject, error) {
	b := req.Body
	patch := store.FormPatch{Name: b.Name, AllowedOrigins: b.AllowedOrigins, Disabled: b.Disabled}
	if b.AllowedOrigins != nil {
		if err := checkOrigins(*b.AllowedOrigins); err != nil {
			return nil, err
		}
	}
	if b.RedirectUrl.IsSpecified() {
		v := ""
		if !b.RedirectUrl.IsNull() {
			v = b.RedirectUrl.MustGet()
			if err := checkRedirectURL(v); err != nil {
				return nil, err
			}
		}
		patch.RedirectURL = &v
	}
	if b.ConsentText.IsSpecified() {
		v := ""
		if !b.ConsentText.IsNull() {
			v = b.ConsentText.MustGet()
		}
		patch.ConsentText = &v
	}
	if d := b.Defaults; d != nil {
		src := deref(d.Source)
		tags := []string{}
		if d.Tags != nil {
			tags = *d.Tags
		}
		patch.DefaultSource, patch.DefaultTags = &src, &tags
	}
	if b.Captcha.IsSpecified() {
		if b.Captcha.IsNull() {
			patch.ClearCaptcha = true
		} else {
			c := b.Captcha.MustGet()
			patch.Captcha = &store.FormCaptcha{Provider: string(c.Provider), Secret: c.Secret}
		}
	}
	f, err := h.forms.UpdateForm(ctx, apiKey(ctx).AccountID, req.Id, patch)
	if err != nil {
		return nil, formError(err, req.Id)
	}
	return gen.UpdateForm200JSONResponse{Body: h.formJSON(f), Headers: gen.UpdateForm200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) DeleteForm(ctx context.Context, req gen.DeleteFormRequestObject) (gen.DeleteFormResponseObject, error) {
	if err := h.forms.DeleteForm(ctx, apiKey(ctx).AccountID, req.Id); err != nil {
		return nil, formError(err, req.Id)
	}
	return gen.DeleteForm200JSONResponse{Body: gen.DeletedForm{Id: req.Id, Object: gen.DeletedFormObjectForm, Deleted: true},
		Headers: gen.DeleteForm200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) ListFormSubmissions(ctx context.Context, req gen.ListFormSubmissionsRequestObject) (gen.ListFormSubmissionsResponseObject, error) {
	accountID := apiKey(ctx).AccountID
	if _, err := h.forms.Form(ctx, accountID, req.Id); err != nil {
		return nil, formError(err, req.Id)
	}
	p := store.SubmissionListParams{Limit: cmp.Or(deref(req.Params.Limit), 10), StartingAfter: deref(req.Params.StartingAfter)}
	if req.Params.Status != nil {
		p.Status = string(*req.Params.Status)
	}
	list, more, err := h.forms.ListFormSubmissions(ctx, accountID, req.Id, p)
	if err != nil {
		return nil, err
	}
	body := gen.FormSubmissionList{Object: gen.FormSubmissionListObjectList, HasMore: more,
		Url: "/v1/forms/" + req.Id + "/submissions", Data: make([]gen.FormSubmission, len(list))}
	for i := range list {
		body.Data[i] = submissionJSON(&list[i])
	}
	return gen.ListFormSubmissions200JSONResponse{Body: body, Headers: gen.ListFormSubmissions200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) ApproveFormSubmission(ctx context.Context, req gen.ApproveFormSubmissionRequestObject) (gen.ApproveFormSubmissionResponseObject, error) {
	accountID := apiKey(ctx).AccountID
	f, err := h.forms.Form(ctx, accountID, req.Id)
	if err != nil {
		return nil, formError(err, req.Id)
	}
	s, err := h.forms.FormSubmission(ctx, accountID, req.Id, req.Sid)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			e := requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing, "No such submission of form %s: '%s'.", req.Id, req.Sid)
			e.Param = "sid"
			return nil, e
		}
		return nil, err
	}
	if s.Status != store.SubmissionAccepted && s.Fields["email"] == "" {
		// Scrubbed by its person's deletion: nothing is left to make a prospect of.
		e := requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing,
			"Submission %s of form %s holds nothing to approve: its person's data was deleted.", req.Sid, req.Id)
		e.Param = "sid"
		return nil, e
	}
	if s.Status != store.SubmissionAccepted {
		err := h.store.Atomically(ctx, func(ctx context.Context) error {
			p, err := h.upsertProspect(ctx, f, s)
			if err != nil {
				return err
			}
			s.Status, s.ProspectID = store.SubmissionAccepted, p.ID
			return h.forms.AcceptFormSubmission(ctx, accountID, s.ID, p.ID)
		})
		if err != nil {
			return nil, err
		}
	}
	return gen.ApproveFormSubmission200JSONResponse{Body: submissionJSON(s),
		Headers: gen.ApproveFormSubmission200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// SubmitForm is never called: the pipeline answers submissions itself
// (serveSubmission in form_submit.go), as their bodies are not only JSON.
func (h *handlers) SubmitForm(context.Context, gen.SubmitFormRequestObject) (gen.SubmitFormResponseObject, error) {
	return nil, errors.New("form submissions are answered by serveSubmission")
}

// PreflightFormSubmission is never called: the pipeline answers preflights
// itself (servePreflight in form_submit.go).
func (h *handlers) PreflightFormSubmission(context.Context, gen.PreflightFormSubmissionRequestObject) (gen.PreflightFormSubmissionResponseObject, error) {
	return nil, errors.New("preflights are answered by servePreflight")
}

// formJSON is the wire form of a form, without its captcha secret.
func (h *handlers) formJSON(f *store.Form) gen.Form {
	out := gen.Form{Id: f.ID, Object: gen.FormObjectForm, Name: f.Name, AllowedOrigins: f.AllowedOrigins,
		RedirectUrl: nullable.NewNullNullable[string](), ConsentText: nullable.NewNullNullable[string](),
		Disabled:  f.Disabled,
		SubmitUrl: h.publicURL + "/v1/forms/" + f.ID + "/submissions", Created: f.Created.Unix()}
	if out.AllowedOrigins == nil {
		out.AllowedOrigins = []string{}
	}
	if f.RedirectURL != "" {
		out.RedirectUrl = nullable.NewNullableWithValue(f.RedirectURL)
	}
	if f.ConsentText != "" {
		out.ConsentText = nullable.NewNullableWithValue(f.ConsentText)
	}
	if f.CaptchaProvider != "" {
		out.Captcha = &gen.FormCaptcha{Provider: gen.FormCaptchaProvider(f.CaptchaProvider)}
	}
	if f.DefaultSource != "" {
		out.Defaults.Source = &f.DefaultSource
	}
	if len(f.DefaultTags) > 0 {
		out.Defaults.Tags = &f.DefaultTags
	}
	return out
}

// submissionJSON is the wire form of a submission.
func submissionJSON(s *store.FormSubmission) gen.FormSubmission {
	out := gen.FormSubmission{Id: s.ID, Object: gen.FormSubmissionObjectFormSubmission, Form: s.FormID, Status: s.Status,
		Reasons: s.Reasons, Prospect: nullable.NewNullNullable[string](), Fields: s.Fields, ConsentText: nullable.NewNullNullable[string](),
		Ip: s.IP, UserAgent: s.UserAgent, Created: s.Created.Unix()}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	if s.ProspectID != "" {
		out.Prospect = nullable.NewNullableWithValue(s.ProspectID)
	}
	if s.ConsentText != "" {
		out.ConsentText = nullable.NewNullableWithValue(s.ConsentText)
	}
	a := &out.Attribution
	for name, dst := range map[string]**string{"utm_source": &a.UtmSource, "utm_medium": &a.UtmMedium, "utm_campaign": &a.UtmCampaign,
		"utm_term": &a.UtmTerm, "utm_content": &a.UtmContent, "referrer": &a.Referrer, "page_url": &a.PageUrl} {
		if v := s.Attribution[name]; v != "" {
			*dst = &v
		}
	}
	return out
}

// touchJSON is the wire form of a touch.
func touchJSON(t store.Touch) gen.Touch {
	out := gen.Touch{At: t.At, Form: t.Form}
	set := func(dst **string, v string) {
		if v != "" {
			*dst = &v
		}
	}
	set(&out.UtmSource, t.UTMSource)
	set(&out.UtmMedium, t.UTMMedium)
	set(&out.UtmCampaign, t.UTMCampaign)
	set(&out.UtmTerm, t.UTMTerm)
	set(&out.UtmContent, t.UTMContent)
	set(&out.Referrer, t.Referrer)
	set(&out.PageUrl, t.PageURL)
	return out
}
