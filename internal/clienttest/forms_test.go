package clienttest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
)

func TestRealServerForms(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	c := realClient(s, s.AdminKey)
	ctx := context.Background()

	f, err := c.Forms.Create(ctx, client.FormCreateParams{Name: "Webinar", AllowedOrigins: []string{"https://www.example.com"},
		Defaults: client.FormDefaults{Source: "web_form"}, Captcha: &client.FormCaptchaCreate{Provider: client.FormCaptchaProviderTurnstile, Secret: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.ID, "frm_") || f.RedirectURL != "" || f.Captcha.Provider != client.FormCaptchaProviderTurnstile {
		t.Fatalf("created %+v", f)
	}
	if f, err = c.Forms.Update(ctx, f.ID, client.FormUpdateParams{Captcha: client.Null[client.FormCaptchaCreate](),
		RedirectURL: client.Set("https://www.example.com/thanks")}); err != nil || f.RedirectURL != "https://www.example.com/thanks" {
		t.Fatalf("updated %+v %v", f, err)
	}
	for _, body := range []string{`{"email": "ada@example.com", "utm_source": "news"}`, `{"email": "bot@example.com", "_gotcha": "x"}`,
		`{"email": "eve@example.com", "_gotcha": "y"}`} {
		res, err := http.Post(s.URL+f.SubmitURL, "application/json", strings.NewReader(body))
		if err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("submit: %v %v", res, err)
		}
		res.Body.Close()
	}
	var quarantined []string
	for sub, err := range c.Forms.Submissions(ctx, f.ID, client.SubmissionListParams{Status: "quarantined", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		quarantined = append(quarantined, sub.Fields["email"])
	}
	if strings.Join(quarantined, ",") != "eve@example.com,bot@example.com" {
		t.Fatalf("quarantined, one a page: %q", quarantined)
	}
	var first client.FormSubmission
	for sub, err := range c.Forms.Submissions(ctx, f.ID, client.SubmissionListParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		first = sub
	}
	if first.Status != "accepted" || first.Prospect == "" || first.Attribution.UtmSource != "news" {
		t.Fatalf("the accepted submission: %+v", first)
	}
	p, err := c.Prospects.Get(ctx, first.Prospect)
	if err != nil || p.Attribution == nil || p.Attribution.FirstTouch.UtmSource != "news" || p.Attribution.FirstTouch.Form != f.ID {
		t.Fatalf("its prospect: %+v %v", p, err)
	}
	sub, err := c.Forms.Approve(ctx, f.ID, firstQuarantined(t, c, f.ID))
	if err != nil || sub.Status != "accepted" || sub.Prospect == "" {
		t.Fatalf("approved: %+v %v", sub, err)
	}
	var listed []string
	for f, err := range c.Forms.List(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, f.ID)
	}
	if len(listed) != 1 || listed[0] != f.ID {
		t.Fatalf("list: %v, want [%s]", listed, f.ID)
	}
	if _, err := c.Forms.Delete(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Forms.Get(ctx, f.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("a deleted form: %v", err)
	}
}

func firstQuarantined(t *testing.T, c *client.Client, formID string) string {
	t.Helper()
	page, err := c.Forms.SubmissionsPage(context.Background(), formID, client.SubmissionListParams{Status: "quarantined", Limit: 1})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("page: %+v %v", page, err)
	}
	return page.Data[0].ID
}
