package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/gen"
)

func Example() {
	c := client.New(os.Getenv("CAPTURE_API_KEY"), client.WithBaseURL("http://127.0.0.1:8080"))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{
		Email:     "ada@example.com",
		FirstName: client.Ptr("Ada"),
		Company:   client.Ptr("Analytical Engines"),
		Source:    client.Ptr("web_form"),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Id, p.Email, p.Status)
}

// A web form handler that may run twice for one submission (a user double
// click, a job retried after a crash) passes a key derived from the submission:
// the server then creates the prospect once and answers the second call with
// the stored result.
func ExampleProspectService_Create_idempotency() {
	c := client.New(os.Getenv("CAPTURE_API_KEY"))
	submissionID := "form-7f3a9c" // your own unique id for this submission

	var resp client.Response
	p, err := c.Prospects.Create(context.Background(),
		client.ProspectCreateParams{Email: "ada@example.com", MarketingConsent: client.Ptr(true)},
		client.WithIdempotencyKey("signup-"+submissionID),
		client.WithResponse(&resp),
	)
	if err != nil {
		log.Fatal(err)
	}
	if resp.Replayed {
		fmt.Println("already captured as", p.Id)
	} else {
		fmt.Println("captured", p.Id, "in request", resp.RequestID)
	}
}

// Emails are unique among an account's live prospects. A duplicate fails with
// ErrProspectExists, and the error names the prospect that has the email, so an
// import can update it instead.
func ExampleProspectService_Create_duplicate() {
	c := client.New(os.Getenv("CAPTURE_API_KEY"))
	ctx := context.Background()

	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com", Title: client.Ptr("CTO")})
	var e *client.Error
	if errors.Is(err, client.ErrProspectExists) && errors.As(err, &e) {
		p, err = c.Prospects.Update(ctx, e.ExistingID, client.ProspectUpdateParams{Title: client.Set("CTO")})
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Id, p.Title.MustGet())
}

// List fetches pages as the loop consumes them; breaking out stops fetching.
func ExampleProspectService_List() {
	c := client.New(os.Getenv("CAPTURE_API_KEY"))

	params := client.ProspectListParams{
		Status: client.Ptr(gen.ProspectStatusQualified),
		Tag:    client.Ptr("webinar"),
		Limit:  client.Ptr(100), // page size
	}
	for p, err := range c.Prospects.List(context.Background(), params) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.Id, p.Email)
	}
}

// Update changes only the fields it is given; Null clears one.
func ExampleProspectService_Update() {
	c := client.New(os.Getenv("CAPTURE_API_KEY"))

	p, err := c.Prospects.Update(context.Background(), "prs_01JDQ7Z8X4K3M5N6P7Q8R9S0T1", client.ProspectUpdateParams{
		Status: client.Ptr(gen.ProspectStatusContacted),
		Phone:  client.Null[string](),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Status)
}

// Errors carry what a program needs to react and what a person needs to
// investigate.
func ExampleError() {
	c := client.New(os.Getenv("CAPTURE_API_KEY"))

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
		Type:       gen.ErrorTypeApiError,
		Code:       gen.ErrorCodeMaintenance,
		StatusCode: 503,
		Message:    "Capture is down for maintenance; try again in a minute.",
	})

	fmt.Println(errors.Is(err, client.ErrAPI))
	fmt.Println(errors.Is(err, &client.Error{Code: gen.ErrorCodeMaintenance}))
	fmt.Println(errors.Is(err, client.ErrNotFound))
	fmt.Println(client.IsRetryable(err))
	// Output:
	// true
	// true
	// false
	// true
}
