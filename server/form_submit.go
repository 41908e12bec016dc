package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// This file answers what a page posts to a form, without a key: the one path
// of the API that takes requests from browsers on other origins (CORS), bodies
// that are not JSON, and answers in HTML to a plain form post. The pipeline
// hands both of its operations here once maintenance is checked.

// MaxSubmissionBytes is the largest form submission body accepted.
const MaxSubmissionBytes = 64 << 10

// The operations of the submissions path that take no key.
const (
	submitOperation    = "submitForm"
	preflightOperation = "preflightFormSubmission"
)

// ThankYouPath is the built-in page a plain form post is sent to when its form
// has no redirect_url.
const ThankYouPath = "/forms/thank-you"

// isPublicForm reports whether op is answered by serveForm.
func isPublicForm(op *operation) bool {
	id := op.route.Operation.OperationID
	return id == submitOperation || id == preflightOperation
}

// serveForm answers a submission or its CORS preflight.
func (s *Server) serveForm(c *call) {
	htmlAnswer := c.r.Method == http.MethodPost && prefersHTML(c.r)
	if err := s.answerForm(c, htmlAnswer); err != nil {
		s.writeFormError(c, htmlAnswer, err)
	}
}

func (s *Server) answerForm(c *call, htmlAnswer bool) error {
	if err := s.checkMaintenance(c); err != nil {
		return err
	}
	ctx := c.r.Context()
	id := strings.Split(c.r.URL.Path, "/")[3] // /v1/forms/{id}/submissions
	f, err := s.cfg.Forms.PublicForm(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && f.Disabled {
		e := requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing, "No such form: '%s'.", id)
		e.Param = "id"
		return e
	}
	if err != nil {
		return err
	}
	info := store.RequestFrom(ctx)
	info.AccountID = f.AccountID // for the writer's turns
	// The consent ledger records the client as the per-address limit knows it.
	info.IP, info.UserAgent = s.clientIP(c.r), truncate(c.r.UserAgent(), 500)
	ctx = store.WithRequest(ctx, info)
	c.r = c.r.WithContext(ctx)
	h := c.w.Header()
	if origin := c.r.Header.Get("Origin"); origin != "" {
		h.Set("Vary", "Origin")
		if !f.AllowsOrigin(origin) {
			e := requestError(http.StatusForbidden, gen.ErrorCodeOriginNotAllowed,
				"The origin %s may not post to this form. Add it to the form's allowed_origins.", origin)
			e.Param = "Origin"
			return e
		}
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	ip := info.IP
	if err := s.limitSubmissions(ctx, f.ID, ip); err != nil {
		return err
	}
	values, err := readSubmission(c.r)
	if err != nil {
		return err
	}
	sub, err := newSubmission(f, values)
	if err != nil {
		return err
	}
	sub.IP, sub.UserAgent = ip, info.UserAgent
	sub.Reasons = s.judge(ctx, f, values, sub)
	if err := s.keepSubmission(ctx, f, sub); err != nil {
		return err
	}
	if htmlAnswer {
		target := f.RedirectURL
		if target == "" {
			target = s.cfg.PublicURL + ThankYouPath
		}
		h.Set("Location", target)
		c.w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	return writeJSON(c.w, http.StatusCreated, gen.FormSubmissionReceipt{Object: gen.FormSubmissionReceiptObjectFormSubmission,
		Id: sub.ID, Received: true})
}

// keepSubmission stores the submission and, when it passed every check,
// creates or updates its prospect, in one transaction. A prospect the plan
// has no room for quarantines the submission (plan_limit_reached).
func (s *Server) keepSubmission(ctx context.Context, f *store.Form, sub *store.FormSubmission) error {
	return s.cfg.Store.Atomically(ctx, func(ctx context.Context) error {
		if len(sub.Reasons) == 0 {
			p, err := s.handlers.upsertProspect(ctx, f, sub)
			switch {
			case errors.Is(err, store.ErrPlanLimit):
				sub.Reasons = []string{"plan_limit_reached"}
			case err != nil:
				return err
			default:
				sub.ProspectID = p.ID
			}
		}
		sub.Status = store.SubmissionAccepted
		if len(sub.Reasons) > 0 {
			sub.Status = store.SubmissionQuarantined
		}
		return s.cfg.Forms.CreateFormSubmission(ctx, sub)
	})
}

// prefersHTML reports whether the request's Accept ranks text/html above
// JSON, as a browser's plain form post does.
func prefersHTML(r *http.Request) bool {
	htmlQ, jsonQ := -1.0, -1.0
	for _, header := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(header, ",") {
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				fmt.Sscanf(v, "%g", &q)
			}
			switch mt {
			case "text/html":
				htmlQ = max(htmlQ, q)
			case "application/json":
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return htmlQ > 0 && htmlQ > jsonQ
}

// writeJSON writes v as the JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeFormError answers err as the error object or, to a plain form post, as
// a minimal HTML page with the same status and message.
func (s *Server) writeFormError(c *call, htmlAnswer bool, err error) {
	if !htmlAnswer || clientGone(c.r.Context()) || pastDeadline(c.r.Context()) {
		s.writeError(c.w, c.r, err)
		return
	}
	e := asAPIError(err)
	if e.Status >= 500 {
		s.cfg.Logger.ErrorContext(c.r.Context(), "request failed", "request_id", c.w.requestID, "code", e.Code, "error", err)
	}
	for k, v := range e.Header {
		c.w.Header()[k] = v
	}
	c.w.recordError(e, e.Status)
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(e.Status)
	title := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	fmt.Fprintf(c.w, "<!doctype html>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<h1>%s</h1>\n<p>%s</p>\n<p><small>Request %s</small></p>\n",
		html.EscapeString(title), html.EscapeString(http.StatusText(e.Status)), html.EscapeString(e.Message), html.EscapeString(c.w.requestID))
}

// thankYouPage is the page a plain form post lands on when its form has no redirect_url.
func thankYouPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "<!doctype html>\n<meta charset=\"utf-8\">\n<title>Thank you</title>\n<h1>Thank you</h1>\n<p>We received your details.</p>\n")
}

// readSubmission reads the body, at most MaxSubmissionBytes, as JSON, a
// urlencoded form or a multipart form without files: each field's first value.
func readSubmission(r *http.Request) (map[string]string, error) {
	if r.ContentLength > MaxSubmissionBytes {
		return nil, invalid(gen.ErrorCodeBodyTooLarge, "", "A form submission may be at most %d bytes.", MaxSubmissionBytes)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxSubmissionBytes+1))
	if err != nil {
		if r.Context().Err() != nil {
			return nil, err
		}
		return nil, invalid(gen.ErrorCodeBodyInvalidJson, "", "The body could not be read: %v.", err)
	}
	if len(data) > MaxSubmissionBytes {
		return nil, invalid(gen.ErrorCodeBodyTooLarge, "", "A form submission may be at most %d bytes.", MaxSubmissionBytes)
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	switch mt {
	case "application/json":
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, invalid(gen.ErrorCodeBodyInvalidJson, "", "The body is not a JSON object: %v.", err)
		}
		for k, v := range raw {
			switch v := v.(type) {
			case string:
				out[k] = v
			case bool:
				out[k] = fmt.Sprint(v)
			case float64:
				out[k] = fmt.Sprint(v)
			case nil:
			default:
				return nil, invalid(gen.ErrorCodeParameterInvalid, k, "Invalid %s: each field is a string.", k)
			}
		}
	case "application/x-www-form-urlencoded":
		vs, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, invalid(gen.ErrorCodeParameterInvalid, "", "The form body could not be parsed: %v.", err)
		}
		for k, v := range vs {
			out[k] = v[0]
		}
	case "multipart/form-data":
		mr := multipart.NewReader(strings.NewReader(string(data)), params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, invalid(gen.ErrorCodeParameterInvalid, "", "The multipart body could not be parsed: %v.", err)
			}
			name := part.FormName()
			if part.FileName() != "" {
				return nil, invalid(gen.ErrorCodeParameterInvalid, name, "Files cannot be submitted to a form (%s).", name)
			}
			v, _ := io.ReadAll(part)
			if _, seen := out[name]; !seen && name != "" {
				out[name] = string(v)
			}
		}
	default:
		return nil, invalid(gen.ErrorCodeContentTypeInvalid, "",
			"Send the submission as application/json, application/x-www-form-urlencoded or multipart/form-data.")
	}
	for k, v := range out {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || strings.ContainsRune(k+v, 0) {
			return nil, invalid(gen.ErrorCodeParameterInvalid, k, "Invalid %s: text must be UTF-8 without U+0000.", k)
		}
	}
	return out, nil
}

// prospectFields are the submitted fields that are the prospect's own.
var prospectFields = []string{"email", "first_name", "last_name", "company", "title", "phone", "website", "source"}

// spamFields are the fields the checks read, never kept.
var spamFields = []string{"_gotcha", "cf-turnstile-response", "h-captcha-response"}

// newSubmission sorts the submitted values into the submission's fields,
// attribution and metadata (keys past the metadata's limits are left out,
// values cut to its length). A missing or malformed email is a 400: the person
// can correct it.
func newSubmission(f *store.Form, values map[string]string) (*store.FormSubmission, error) {
	sub := &store.FormSubmission{ID: store.NewID("fsub_"), AccountID: f.AccountID, FormID: f.ID, Created: store.Now(),
		Fields: map[string]string{}, Attribution: map[string]string{}}
	email := strings.TrimSpace(values["email"])
	if email == "" {
		return nil, invalid(gen.ErrorCodeParameterMissing, "email", "Missing required field: email.")
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return nil, invalid(gen.ErrorCodeParameterInvalid, "email", "email: must be a valid email address.")
	}
	metadata := 0
	for k, v := range values {
		v = strings.TrimSpace(v)
		switch {
		case v == "" || contains(spamFields, k):
		case contains(prospectFields, k):
			sub.Fields[k] = truncate(v, 500)
		case k == "marketing_consent":
			if v == "on" || v == "true" {
				sub.Fields[k] = "true"
				sub.ConsentText = f.ConsentText
			}
		case contains(store.AttributionFields, k):
			sub.Attribution[k] = truncate(v, 2048)
		case utf8.RuneCountInString(k) <= maxMetadataKey && metadata < maxMetadataKeys:
			sub.Fields["metadata."+k] = truncate(v, 500)
			metadata++
		}
	}
	sub.Fields["email"] = strings.ToLower(email)
	return sub, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// upsertProspect creates the submission's prospect, or updates the live one
// with its email: submitted values replace, the form's tags are added,
// metadata merged, and status never changed. Either way the submission is its
// latest touch. A consent it gives is recorded in the ledger with source
// "form:" + the form's id, the form's wording, and the submission's client.
// An erased (suppressed) email is the person's own new consent: its
// suppression is lifted in the caller's transaction and the prospect created.
func (h *handlers) upsertProspect(ctx context.Context, f *store.Form, sub *store.FormSubmission) (*store.Prospect, error) {
	ctx = store.WithConsentSource(ctx, "form:"+f.ID)
	info := store.RequestFrom(ctx)
	info.IP, info.UserAgent = sub.IP, sub.UserAgent
	ctx = store.WithRequest(ctx, info)
	touch := store.NewTouch(f.ID, sub.Created, sub.Attribution)
	metadata := map[string]string{}
	for k, v := range sub.Fields {
		if name, ok := strings.CutPrefix(k, "metadata."); ok {
			metadata[name] = v
		}
	}
	text := func(name string) *string {
		if v, ok := sub.Fields[name]; ok {
			return &v
		}
		return nil
	}
	p := &store.Prospect{AccountID: f.AccountID, Email: sub.Fields["email"], FirstName: text("first_name"),
		LastName: text("last_name"), Company: text("company"), Title: text("title"), Phone: text("phone"),
		Website: text("website"), Source: text("source"), Tags: append([]string{}, f.DefaultTags...), Metadata: metadata,
		MarketingConsent: sub.Fields["marketing_consent"] == "true",
		Attribution:      &store.Attribution{FirstTouch: touch, LastTouch: touch}}
	if p.Source == nil && f.DefaultSource != "" {
		p.Source = &f.DefaultSource
	}
	if p.MarketingConsent && sub.ConsentText != "" {
		p.ConsentText = &sub.ConsentText
	}
	err := h.store.CreateProspect(ctx, p)
	if errors.Is(err, store.ErrSuppressed) && h.privacy != nil {
		if _, err := h.privacy.LiftSuppression(ctx, f.AccountID, p.Email); err != nil {
			return nil, err
		}
		err = h.store.CreateProspect(ctx, p)
	}
	var exists *store.ExistsError
	if !errors.As(err, &exists) {
		return p, err
	}
	patch := store.ProspectPatch{AddTags: f.DefaultTags, Metadata: metadata, Touch: &touch}
	for dst, name := range map[***string]string{&patch.FirstName: "first_name", &patch.LastName: "last_name",
		&patch.Company: "company", &patch.Title: "title", &patch.Phone: "phone", &patch.Website: "website", &patch.Source: "source"} {
		if v := text(name); v != nil {
			*dst = &v
		}
	}
	if p.MarketingConsent {
		patch.MarketingConsent, patch.ConsentText = &p.MarketingConsent, p.ConsentText
	}
	return h.store.UpdateProspect(ctx, f.AccountID, exists.ID, patch, func(p *store.Prospect) error {
		for k := range metadata { // the merge may not grow it past its limit: the new keys give way
			if len(p.Metadata) <= maxMetadataKeys {
				break
			}
			delete(p.Metadata, k)
		}
		return nil
	})
}
