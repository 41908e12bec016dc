package storetest

import (
	"errors"
	"testing"

	"github.com/captureapi/capture/server/store"
)

// testForms: forms and their submissions, kept per account; a captcha secret
// is returned only to a submission's check.
func testForms(t *testing.T, e Engine) {
	db := e.Open(t)
	fs := db.(store.FormStore)
	a := account(t, db, "acme", 100)
	other := account(t, db, "globex", 100)
	f := &store.Form{AccountID: a.ID, Name: "Webinar", AllowedOrigins: []string{"https://www.example.com"},
		DefaultSource: "web_form", DefaultTags: []string{"webinar"}, CaptchaProvider: "turnstile", CaptchaSecret: "sekrit"}
	if err := fs.CreateForm(ctx, f); err != nil {
		t.Fatal(err)
	}
	got, err := fs.Form(ctx, a.ID, f.ID)
	if err != nil || got.Name != "Webinar" || got.CaptchaSecret != "" || got.CaptchaProvider != "turnstile" || got.DefaultTags[0] != "webinar" {
		t.Fatalf("Form: %+v %v", got, err)
	}
	if _, err := fs.Form(ctx, other.ID, f.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's form: %v, want ErrNotFound", err)
	}
	if pub, err := fs.PublicForm(ctx, f.ID); err != nil || pub.CaptchaSecret != "sekrit" || pub.AccountID != a.ID {
		t.Fatalf("PublicForm: %+v %v", pub, err)
	}
	disabled, name := true, "Autumn"
	if u, err := fs.UpdateForm(ctx, a.ID, f.ID, store.FormPatch{Disabled: &disabled, Name: &name}); err != nil || !u.Disabled || u.Name != "Autumn" {
		t.Fatalf("UpdateForm: %+v %v", u, err)
	}
	if pub, _ := fs.PublicForm(ctx, f.ID); pub.CaptchaSecret != "sekrit" {
		t.Errorf("an update left the captcha secret %q, want it kept", pub.CaptchaSecret)
	}
	if list, err := fs.ListForms(ctx, a.ID); err != nil || len(list) != 1 || list[0].CaptchaSecret != "" {
		t.Fatalf("ListForms: %+v %v", list, err)
	}

	for i, status := range []string{store.SubmissionAccepted, store.SubmissionQuarantined, store.SubmissionQuarantined} {
		s := &store.FormSubmission{AccountID: a.ID, FormID: f.ID, Status: status, Fields: map[string]string{"email": "ada@example.com"},
			Attribution: map[string]string{"utm_source": "news"}, IP: "203.0.113.7", UserAgent: "test"}
		if status == store.SubmissionQuarantined {
			s.Reasons = []string{"honeypot"}
		}
		if err := fs.CreateFormSubmission(ctx, s); err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	q, more, err := fs.ListFormSubmissions(ctx, a.ID, f.ID, store.SubmissionListParams{Limit: 1, Status: store.SubmissionQuarantined})
	if err != nil || len(q) != 1 || !more || q[0].Reasons[0] != "honeypot" || q[0].Attribution["utm_source"] != "news" || q[0].IP != "203.0.113.7" {
		t.Fatalf("ListFormSubmissions: %+v %v %v", q, more, err)
	}
	p := insert(t, db, a.ID, "ada@example.com")
	if err := fs.AcceptFormSubmission(ctx, a.ID, q[0].ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if s, err := fs.FormSubmission(ctx, a.ID, f.ID, q[0].ID); err != nil || s.Status != store.SubmissionAccepted || s.ProspectID != p.ID {
		t.Fatalf("accepted: %+v %v", s, err)
	}
	if _, err := fs.FormSubmission(ctx, other.ID, f.ID, q[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's submission: %v", err)
	}
	page, err := db.(store.EventStore).ListEvents(ctx, a.ID, store.EventListParams{Limit: 10, Type: store.EventFormSubmissionCreated})
	if err != nil || len(page.Events) != 3 || page.Events[0].Submission == nil || page.Events[0].Submission.FormID != f.ID {
		t.Fatalf("submission events: %+v %v", page, err)
	}
	if err := fs.DeleteForm(ctx, a.ID, f.ID); err != nil {
		t.Fatal(err)
	}
	if list, _, err := fs.ListFormSubmissions(ctx, a.ID, f.ID, store.SubmissionListParams{Limit: 10}); err != nil || len(list) != 0 {
		t.Errorf("a deleted form's submissions: %d %v", len(list), err)
	}
}

// testAttribution: a prospect's attribution is written and read back; a
// touch keeps the first and replaces the last; a deletion erases it.
func testAttribution(t *testing.T, e Engine) {
	db := e.Open(t)
	a := account(t, db, "acme", 100)
	first := store.Touch{At: 1732540000, Form: "frm_1", UTMSource: "news", PageURL: "https://example.com/a"}
	p := &store.Prospect{AccountID: a.ID, Email: "ada@example.com", Attribution: &store.Attribution{FirstTouch: first, LastTouch: first}}
	if err := db.CreateProspect(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := db.Prospect(ctx, a.ID, p.ID)
	if err != nil || got.Attribution == nil || *got.Attribution != *p.Attribution {
		t.Fatalf("read back: %+v %v", got.Attribution, err)
	}
	last := store.Touch{At: 1732549999, Form: "frm_2", UTMMedium: "email"}
	u, err := db.UpdateProspect(ctx, a.ID, p.ID, store.ProspectPatch{Touch: &last, AddTags: []string{"webinar"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = db.Prospect(ctx, a.ID, p.ID)
	if got.Attribution.FirstTouch != first || got.Attribution.LastTouch != last || *u.Attribution != *got.Attribution || got.Tags[0] != "webinar" {
		t.Fatalf("after a touch: %+v, tags %v", got.Attribution, got.Tags)
	}
	page, err := db.ListProspects(ctx, a.ID, store.ListParams{Limit: 10})
	if err != nil || page.Prospects[0].Attribution == nil || *page.Prospects[0].Attribution != *got.Attribution {
		t.Fatalf("listed: %+v %v", page, err)
	}
	if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	if e.PersonalFields != nil {
		if n := e.PersonalFields(t, db, p.ID); n != 0 {
			t.Errorf("%d personal fields kept after the deletion", n)
		}
	}
}

// testPersonsSubmissions: a person's submissions are those that made or
// changed their prospect and the ones with their email that made none; its
// deletion scrubs them and their events of every personal value, and leaves
// another person's alone.
func testPersonsSubmissions(t *testing.T, e Engine) {
	db := e.Open(t)
	fs := db.(store.FormStore)
	a := account(t, db, "acme", 100)
	f := &store.Form{AccountID: a.ID, Name: "Webinar"}
	if err := fs.CreateForm(ctx, f); err != nil {
		t.Fatal(err)
	}
	p := insert(t, db, a.ID, "ada@example.com")
	for _, s := range []*store.FormSubmission{
		{Status: store.SubmissionAccepted, ProspectID: p.ID, Fields: map[string]string{"email": "ada@example.com"}},
		{Status: store.SubmissionQuarantined, Reasons: []string{"honeypot"}, Fields: map[string]string{"email": "ada@example.com"}},
		{Status: store.SubmissionQuarantined, Reasons: []string{"honeypot"}, Fields: map[string]string{"email": "grace@example.com"}},
	} {
		s.AccountID, s.FormID, s.IP, s.UserAgent = a.ID, f.ID, "203.0.113.7", "test"
		s.Attribution = map[string]string{"page_url": "https://example.com/?who=ada"}
		if err := fs.CreateFormSubmission(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	mine, err := fs.ProspectSubmissions(ctx, a.ID, p.ID, "Ada@Example.com")
	if err != nil || len(mine) != 2 || mine[0].Status != store.SubmissionQuarantined || mine[1].ProspectID != p.ID {
		t.Fatalf("ProspectSubmissions: %+v %v", mine, err)
	}
	if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	all, _, err := fs.ListFormSubmissions(ctx, a.ID, f.ID, store.SubmissionListParams{Limit: 10})
	if err != nil || len(all) != 3 {
		t.Fatalf("after the deletion: %+v %v", all, err)
	}
	for _, s := range all {
		scrubbed := len(s.Fields) == 0 && len(s.Attribution) == 0 && s.IP == "" && s.UserAgent == ""
		if mine := s.Fields["email"] != "grace@example.com"; scrubbed != mine || s.Status == "" || s.FormID != f.ID {
			t.Errorf("after the deletion, a submission is %+v", s)
		}
	}
	page, err := db.(store.EventStore).ListEvents(ctx, a.ID, store.EventListParams{Limit: 10, Type: store.EventFormSubmissionCreated})
	if err != nil || len(page.Events) != 3 {
		t.Fatalf("submission events: %+v %v", page, err)
	}
	for _, ev := range page.Events {
		s := ev.Submission
		if kept := s.Fields["email"] == "grace@example.com"; kept == (len(s.Fields) == 0 && s.IP == "" && len(s.Attribution) == 0) {
			t.Errorf("after the deletion, a submission event holds %+v", s)
		}
	}
}
