// Package client is the Go library for the Capture API, where sales and
// marketing integrations capture and manage prospects (leads).
//
// Its request and response types ([Prospect], [ProspectCreateParams],
// [ProspectUpdateParams], [ProspectList], [Account], and the [ProspectStatus],
// [ErrorType] and [ErrorCode] constants) are generated from the API contract,
// openapi.yaml, into this package; the rest adds what a production integration
// needs — typed errors, safe retries, idempotency, auto-paging and response
// metadata — with the standard library and github.com/oapi-codegen/nullable
// as its only dependencies.
//
//	c := client.New(os.Getenv("CAPTURE_API_KEY"), client.WithBaseURL("https://capture.example.com"))
//
//	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{
//		Email:     "ada@example.com",
//		FirstName: "Ada",
//	})
//
//	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{Status: client.ProspectStatusNew}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(p.ID, p.Email, p.Title) // Title is "" when the prospect has none
//	}
//
// There is no default server: [New] takes the base URL from [WithBaseURL] or
// the CAPTURE_URL environment variable, and every call fails with an [*Error]
// saying so when neither is set.
//
// # Fields
//
// Optional fields of a create and of a list are plain values, left out of the
// request when zero. Every field of an update is set with [Set], and cleared
// with [Null]: fields left alone are not sent. Fields an answer may send as
// null read as plain values, zero when null (p.Title is "" for a prospect
// without a title), so reading one never panics.
//
// # Compatibility
//
// The API grows without breaking this library: answers may gain fields (they
// are ignored), error codes and prospect statuses (they decode as their
// string). Compare Status and Code with the constants, and keep a default
// case for values added after your program was written; handle an unknown
// error code by its Type and StatusCode.
//
// Every method takes a [context.Context]: cancel it or give it a deadline to
// bound the whole call, retries and waits included.
//
// # Errors
//
// Every error a method returns is an [*Error], whatever went wrong: an error
// answer from the API (with its Type, Code, Param, Message, StatusCode,
// RequestID, DocURL and, for duplicates, ExistingID), a network failure —
// refused, reset, DNS, TLS, timeout, an answer cut short — with Type
// api_connection_error and the cause behind Unwrap, or a request the client
// would not send (an invalid email, an empty id). An answer that is not
// Capture's JSON error object, such as an HTML page from a proxy, is an
// api_error carrying its status and the start of its body.
//
// Match errors with [errors.Is] against the sentinels ([ErrNotFound],
// [ErrProspectExists], [ErrRateLimit], [ErrConnection], …) or against any
// *Error whose set fields say what to match, and read the details with
// [errors.As]:
//
//	p, err := c.Prospects.Create(ctx, params)
//	var e *client.Error
//	switch {
//	case errors.Is(err, client.ErrProspectExists):
//		errors.As(err, &e)
//		p, err = c.Prospects.Get(ctx, e.ExistingID)
//	case errors.As(err, &e):
//		log.Printf("capture: %s %s (param %q, request %s)", e.Type, e.Code, e.Param, e.RequestID)
//	}
//
// # Retries
//
// A call that fails in a way a later attempt may fix is sent again, by default
// twice ([WithMaxRetries]): network failures, 409 idempotency_key_in_use, 429,
// 500, 502, 503 and 504 — whether or not the answer carries a JSON body. Other
// 4xx answers are never retried, nor are untrusted TLS certificates. Between
// attempts the client waits a random duration that grows exponentially ("full
// jitter"), or what the server asked for in Retry-After; both are capped
// ([WithBackoff]). It never waits past the context: when the context ends, or
// would end before the next attempt, the call returns the last error at once.
// [IsRetryable] tells whether an error is of the retryable kind. A retried
// delete that finds the prospect already gone reports the deletion its lost
// first attempt made.
//
// # Idempotency
//
// Creates and updates carry an Idempotency-Key, generated once per call and
// reused by each of its retries, so the server does the work at most once: a
// retried create never makes two prospects. To make your own retries safe too
// — after a crash, from a job queue — pass a key derived from your data with
// [WithIdempotencyKey]; the client never replaces it.
//
// # Paging
//
// [ProspectService.List] returns an [iter.Seq2] that walks every page with
// keyset cursors, fetching the next page only when the loop needs it;
// [ProspectService.ListPage] fetches a single page. [EventService.List] walks
// the events log the same way.
//
// # Webhooks
//
// [WebhookEndpointService] manages the URLs that receive events (admin keys).
// A receiver checks each delivery with [VerifyWebhook], which verifies its
// Standard Webhooks signature and a timestamp within [WebhookTolerance], and
// returns the typed [Event]:
//
//	body, _ := io.ReadAll(r.Body)
//	event, err := client.VerifyWebhook(body, r.Header, secret) // secret: whsec_…
//	if err != nil {
//		http.Error(w, "bad signature", http.StatusBadRequest)
//		return
//	}
//	fmt.Println(event.Type, event.Data.Object.ID)
//
// # Batches
//
// [ProspectService.CreateBatch] captures up to [MaxBatch] prospects in one
// request and one transaction on the server, for imports. Each item is
// answered on its own in the result's Data, with its Status and either its
// Prospect or its Error (an [*Error] that matches the sentinels, its Param a
// path such as "prospects[2].email"); a batch whose items failed is not an
// error. [WithOnConflict] says what to do with an item whose email a live
// prospect has: fail it, skip it, or update that prospect. The batch's
// Idempotency-Key covers all its items:
//
//	b, err := c.Prospects.CreateBatch(ctx, items, client.WithOnConflict(client.OnConflictSkip))
//	if err != nil {
//		return err // the batch was refused whole, or not answered
//	}
//	for _, r := range b.Data {
//		if r.Error != nil {
//			log.Printf("item %d: %s %s: %s", r.Index, r.Error.Code, r.Error.Param, r.Error.Message)
//		}
//	}
//
// # Response metadata
//
// Pass [WithResponse] to any call to learn the Request-Id, status, headers,
// idempotency key and attempt count of its last HTTP answer, on success as on
// failure.
package client
