package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/captureapi/capture/client"
)

func Example() {
	c := client.New(os.Getenv("CAPTURE_API_KEY"), client.WithBaseURL("https://capture.example.com"))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{
		Email:     "ada@example.com",
		FirstName: "Ada",
		Company:   "Analytical Engines",
		Source:    "web_form",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.ID, p.Email, p.Status)
}

// A web form handler that may run twice for one submission (a user double
// click, a job retried after a crash) passes a key derived from the submission:
// the server then creates the prospect once and answers the second call with
// the stored result.
func ExampleProspectService_Create_idempotency() {
	c := client.New(os.Getenv("CAPTURE_API_KEY")) // the server from CAPTURE_URL
	submissionID := "form-7f3a9c"                 // your own unique id for this submission

	var resp client.Response
	p, err := c.Prospects.Create(context.Background(),
		client.ProspectCreateParams{Email: "ada@example.com", MarketingConsent: true},
		client.WithIdempotencyKey("signup-"+submissionID),
		client.WithResponse(&resp),
	)
	if err != nil {
		log.Fatal(err)
	}
	if resp.Replayed {
		fmt.Println("already captured as", p.ID)
	} else {
		fmt.Println("captured", p.ID, "in request", resp.RequestID)
	}
}

// Emails are unique among an account's live prospects. A duplicate fails with
// ErrProspectExists, and the error names the prospect that has the email, so an
// import can update it instead.
func ExampleProspectService_Create_duplicate() {
	c := client.New(os.Getenv("CAPTURE_API_KEY")) // the server from CAPTURE_URL
	ctx := context.Background()

	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com", Title: "CTO"})
	var e *client.Error
	if errors.Is(err, client.ErrProspectExists) && errors.As(err, &e) {
		p, err = c.Prospects.Update(ctx, e.ExistingID, client.ProspectUpdateParams{Title: client.Set("CTO")})
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.ID, p.Title) // "" when the prospect has no title
}

// List fetches pages as the loop consumes them; breaking out stops fetching.
func ExampleProspectService_List() {
	c := client.New(os.Getenv("CAPTURE_API_KEY")) // the server from CAPTURE_URL

	params := client.ProspectListParams{
		Status: client.ProspectStatusQualified,
		Tag:    "webinar",
		Limit:  100, // page size
	}
	for p, err := range c.Prospects.List(context.Background(), params) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.ID, p.Email)
	}
}

// Search walks every prospect a query finds, newest first; the query language
// is the API's (see GET /v1/prospects/search).
func ExampleProspectService_Search() {
	c := client.New(os.Getenv("CAPTURE_API_KEY")) // the server from CAPTURE_URL

	for p, err := range c.Prospects.Search(context.Background(), `company~"acme" AND status:"new"`) {
		if err != nil {
			log.Fatal(err) // a query that does not parse: client.ErrorCodeQueryInvalid, the position in the message
		}
		fmt.Println(p.ID, p.Email)
	}
}

// Update changes only the fields it is given, each set with Set; Null clears one.
func ExampleProspectService_Update() {
	c := client.New(os.Getenv("CAPTURE_API_KEY")) // the server from CAPTURE_URL

	p, err := c.Prospects.Update(context.Background(), "prs_01JDQ7Z8X4K3M5N6P7Q8R9S0T1", client.ProspectUpdateParams{
		Status:           client.Set(client.ProspectStatusContacted),
		MarketingConsent: client.Set(false),
		Phone:            client.Null[string](),
	})
	if err != nil {
		log.Fatal(err)
	}
	switch p.Status {
	case client.ProspectStatusContacted:
		fmt.Println("contacted")
	default: // a status added after this program was written
		fmt.Println("status", p.Status)
	}
}

// Errors carry what a program needs to react and what a person needs to
// investigate.
func ExampleError() {
	c := client.New(os.Getenv("CAPTURE_API_KEY")) // the server from CAPTURE_URL

	_, err := c.Prospects.Get(context.Background(), "prs_01JDQ7Z8X4K3M5N6P7Q8R9S0T1")
	var e *client.Error
	switch {
	case err == nil:
		fmt.Println("found")
	case errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrGone):
		fmt.Println("no such prospect")
	case errors.Is(err, client.ErrConnection):
		fmt.Println("network trouble, retries exhausted:", err)
	case errors.As(err, &e):
		log.Printf("capture: %s %s param=%q request=%s: %s", e.Type, e.Code, e.Param, e.RequestID, e.Message)
	}
}

// Is compares the fields that the target sets, so any *Error can serve as a
// pattern.
func ExampleError_Is() {
	err := fmt.Errorf("sync: %w", &client.Error{
		Type:       client.ErrorTypeAPIError,
		Code:       client.ErrorCodeMaintenance,
		StatusCode: 503,
		Message:    "Capture is down for maintenance; try again in a minute.",
	})

	fmt.Println(errors.Is(err, client.ErrAPI))
	fmt.Println(errors.Is(err, &client.Error{Code: client.ErrorCodeMaintenance}))
	fmt.Println(errors.Is(err, client.ErrNotFound))
	fmt.Println(client.IsRetryable(err))
	// Output:
	// true
	// true
	// false
	// true
}

// A person asks to be forgotten: Erase deletes them everywhere Capture keeps
// them and suppresses their email, so that a later import does not capture
// them again; Lift accepts the email once they sign up of their own accord.
func ExampleProspectService_Erase() {
	c := client.New(os.Getenv("CAPTURE_ADMIN_KEY")) // an admin key; the server from CAPTURE_URL
	ctx := context.Background()
	if _, err := c.Prospects.Erase(ctx, "prs_01jdq7z8x4k3m5n6p7q8r9s0t1"); err != nil {
		log.Fatal(err)
	}
	_, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"})
	if errors.Is(err, client.ErrEmailSuppressed) {
		fmt.Println("erased at their request: not captured again")
	}
	if _, err := c.Suppressions.Lift(ctx, "ada@example.com"); err != nil {
		log.Fatal(err)
	}
}

// Consents walks a prospect's consent ledger, newest first.
func ExampleProspectService_Consents() {
	c := client.New(os.Getenv("CAPTURE_API_KEY")) // the server from CAPTURE_URL
	for e, err := range c.Prospects.Consents(context.Background(), "prs_01jdq7z8x4k3m5n6p7q8r9s0t1", client.ConsentListParams{}) {
		if err != nil {
			log.Fatal(err)
		}
		text, _ := e.Text.Get()
		fmt.Println(time.Unix(e.Created, 0), e.Granted, e.Source, text)
	}
}

// Submissions walks a form's submissions page by page; Approve accepts a
// quarantined one, making its prospect.
func ExampleFormService_Submissions() {
	c := client.New(os.Getenv("CAPTURE_API_KEY")) // an admin key; the server from CAPTURE_URL
	ctx := context.Background()

	formID := "frm_01JDQ7ZA1B2C3D4E5F6G7H8J9K"
	for sub, err := range c.Forms.Submissions(ctx, formID, client.SubmissionListParams{Status: "quarantined"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(sub.ID, sub.Fields["email"], sub.Reasons)
		if slices.Equal(sub.Reasons, []string{"captcha_unverified"}) { // the provider was down: a person, most likely
			if _, err := c.Forms.Approve(ctx, formID, sub.ID); err != nil {
				log.Fatal(err)
			}
		}
	}
}

func ExampleVerifyWebhook() {
	secret := os.Getenv("WEBHOOK_SECRET") // whsec_…, from the endpoint's creation
	http.HandleFunc("POST /hook", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		e, err := client.VerifyWebhook(body, r.Header, secret)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch e.Type {
		case client.EventProspectCreated:
			fmt.Println("new prospect", e.Data.Object.Email)
		case client.EventProspectUpdated:
			fmt.Println("changed", e.Data.Object.ID, "status was", e.Data.PreviousAttributes.Status)
		case client.EventProspectDeleted:
			fmt.Println("deleted", e.Data.Object.ID)
		default: // form_submission.created, and the types added after this program was written
		}
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:3000", nil))
}
