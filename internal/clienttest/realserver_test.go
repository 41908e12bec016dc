package clienttest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/store"
)

// These tests run the client against the real handler (internal/apitest), which
// also checks every answer against openapi.yaml.

func realClient(s *apitest.Server, key string, opts ...client.Option) *client.Client {
	return client.New(key, append([]client.Option{
		client.WithBaseURL(s.URL),
		client.WithBackoff(time.Millisecond, 20*time.Millisecond),
	}, opts...)...)
}

func TestRealServerProspectLifecycle(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	c := realClient(s, s.StandardKey)
	ctx := context.Background()

	var resp client.Response
	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{
		Email:            "Ada@Example.com",
		FirstName:        "Ada",
		Company:          "Analytical Engines",
		Tags:             []string{"vip"},
		Metadata:         client.Metadata{"plan": "pro"},
		MarketingConsent: true,
	}, client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.ID, "prs_") || p.Email != "ada@example.com" || p.FirstName != "Ada" ||
		p.Status != client.ProspectStatusNew || p.Metadata["plan"] != "pro" || !p.MarketingConsent || p.ConsentAt == 0 {
		t.Fatalf("created prospect = %+v", p)
	}
	if resp.StatusCode != 201 || !strings.HasPrefix(resp.RequestID, "req_") || resp.IdempotencyKey == "" || resp.Replayed {
		t.Fatalf("Response = %+v", resp)
	}

	got, err := c.Prospects.Get(ctx, p.ID, client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != p.ID || got.Company != "Analytical Engines" || resp.StatusCode != 200 || resp.RequestID == "" {
		t.Fatalf("got %+v (response %+v)", got, resp)
	}

	up, err := c.Prospects.Update(ctx, p.ID, client.ProspectUpdateParams{
		Status:    client.Set(client.ProspectStatusQualified),
		FirstName: client.Null[string](),
		Metadata:  client.Set(map[string]string{"plan": "", "seats": "5"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Status != client.ProspectStatusQualified || up.FirstName != "" || up.Company != "Analytical Engines" ||
		len(up.Metadata) != 1 || up.Metadata["seats"] != "5" {
		t.Fatalf("updated prospect = %+v", up)
	}

	a, err := c.Account.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "acme" || a.Role != client.AccountRoleStandard || a.ProspectCount != 1 {
		t.Fatalf("account = %+v", a)
	}

	d, err := c.Prospects.Delete(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != p.ID || !bool(d.Deleted) {
		t.Fatalf("deleted = %+v", d)
	}
	_, err = c.Prospects.Get(ctx, p.ID)
	if !errors.Is(err, client.ErrGone) {
		t.Fatalf("reading a deleted prospect: want ErrGone, got %v", err)
	}
}

func TestRealServerListWalksAllPages(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	c := realClient(s, s.AdminKey)
	ctx := context.Background()
	var created []string // oldest first
	for i := range 23 {
		tag := "odd"
		if i%2 == 0 {
			tag = "even"
		}
		p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: fmt.Sprintf("p%02d@example.com", i), Tags: []string{tag}})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, p.ID)
	}

	var ids []string
	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{Limit: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if len(ids) != 23 {
		t.Fatalf("want 23 prospects, got %d", len(ids))
	}
	for i, id := range ids {
		if id != created[22-i] {
			t.Fatalf("position %d: want %s (newest first), got %s", i, created[22-i], id)
		}
	}

	var even int
	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{Limit: 4, Tag: "even"}) {
		if err != nil {
			t.Fatal(err)
		}
		if p.Tags[0] != "even" {
			t.Fatalf("filter lost across pages: %s has tags %v", p.ID, p.Tags)
		}
		even++
	}
	if even != 12 {
		t.Fatalf("want 12 prospects tagged even, got %d", even)
	}

	var newer []string
	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{Limit: 4, EndingBefore: created[10]}) {
		if err != nil {
			t.Fatal(err)
		}
		newer = append(newer, p.ID)
	}
	if strings.Join(newer, ",") != strings.Join(created[11:], ",") {
		t.Fatalf("ending_before walk: want %v, got %v", created[11:], newer)
	}

	page, err := c.Prospects.ListPage(ctx, client.ProspectListParams{Limit: 3, StartingAfter: created[5]})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 3 || page.Data[0].ID != created[4] || !page.HasMore {
		t.Fatalf("page after %s = %+v", created[5], page)
	}
}

// requestRewriter changes requests on their way out, to make the real server
// answer statuses that a well-behaved client never provokes (405, 406).
type requestRewriter func(*http.Request)

func (f requestRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	f(r)
	return http.DefaultTransport.RoundTrip(r)
}

func TestRealServerErrorsAreTyped(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	ctx := context.Background()
	admin := realClient(s, s.AdminKey)
	standard := realClient(s, s.StandardKey)

	existing, err := admin.Prospects.Create(ctx, client.ProspectCreateParams{Email: "grace@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := admin.Prospects.Create(ctx, client.ProspectCreateParams{Email: "hidden@example.com", Hidden: true})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := admin.Prospects.Create(ctx, client.ProspectCreateParams{Email: "gone@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Prospects.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	revokedKey := s.NewAccountKey(t, "acme", "standard", 1000)
	revoked, err := s.DB.KeyBySecret(ctx, revokedKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB.RevokeKey(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	tiny := realClient(s, s.NewAccountKey(t, "tiny", "admin", 1))
	if _, err := tiny.Prospects.Create(ctx, client.ProspectCreateParams{Email: "only@example.com"}); err != nil {
		t.Fatal(err)
	}
	other := realClient(s, s.NewAccountKey(t, "other", "admin", 1000))

	cases := []struct {
		name     string
		call     func() error
		status   int
		typ      client.ErrorType
		code     client.ErrorCode
		param    string
		sentinel error
	}{
		{"400 invalid field", func() error {
			_, err := standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "a@example.com", Tags: []string{"ok", ""}})
			return err
		}, 400, client.ErrorTypeInvalidRequestError, client.ErrorCodeParameterInvalid, "tags[1]", client.ErrInvalidRequest},
		{"400 invalid query", func() error {
			_, err := standard.Prospects.ListPage(ctx, client.ProspectListParams{Limit: 101})
			return err
		}, 400, client.ErrorTypeInvalidRequestError, client.ErrorCodeParameterInvalid, "limit", client.ErrInvalidRequest},
		{"401 missing key", func() error {
			_, err := realClient(s, "").Account.Get(ctx)
			return err
		}, 401, client.ErrorTypeAuthenticationError, client.ErrorCodeAPIKeyMissing, "", client.ErrAuthentication},
		{"401 invalid key", func() error {
			_, err := realClient(s, "sk_nosuchkey00000000000000000000000000").Account.Get(ctx)
			return err
		}, 401, client.ErrorTypeAuthenticationError, client.ErrorCodeAPIKeyInvalid, "", client.ErrAuthentication},
		{"401 revoked key", func() error {
			_, err := realClient(s, revokedKey).Account.Get(ctx)
			return err
		}, 401, client.ErrorTypeAuthenticationError, client.ErrorCodeAPIKeyRevoked, "", client.ErrAuthentication},
		{"402 plan limit", func() error {
			_, err := tiny.Prospects.Create(ctx, client.ProspectCreateParams{Email: "second@example.com"})
			return err
		}, 402, client.ErrorTypeInvalidRequestError, client.ErrorCodePlanLimitReached, "", client.ErrPlanLimitReached},
		{"403 hidden", func() error {
			_, err := standard.Prospects.Get(ctx, hidden.ID)
			return err
		}, 403, client.ErrorTypeInvalidRequestError, client.ErrorCodeProspectHidden, "id", client.ErrProspectHidden},
		{"403 admin key required", func() error {
			_, err := standard.Prospects.Update(ctx, existing.ID, client.ProspectUpdateParams{Hidden: client.Set(true)})
			return err
		}, 403, client.ErrorTypeInvalidRequestError, client.ErrorCodeAdminKeyRequired, "hidden", &client.Error{Code: client.ErrorCodeAdminKeyRequired}},
		{"404 unknown id", func() error {
			_, err := standard.Prospects.Get(ctx, "prs_nosuchprospect")
			return err
		}, 404, client.ErrorTypeInvalidRequestError, client.ErrorCodeResourceMissing, "id", client.ErrNotFound},
		{"404 another account's prospect", func() error {
			_, err := other.Prospects.Delete(ctx, existing.ID)
			return err
		}, 404, client.ErrorTypeInvalidRequestError, client.ErrorCodeResourceMissing, "id", client.ErrNotFound},
		{"404 unknown route", func() error {
			_, err := client.New(s.AdminKey, client.WithBaseURL(s.URL+"/v2")).Account.Get(ctx)
			return err
		}, 404, client.ErrorTypeInvalidRequestError, client.ErrorCodeRouteNotFound, "", &client.Error{StatusCode: 404}},
		{"405 wrong method", func() error {
			c := realClient(s, s.AdminKey, client.WithHTTPClient(&http.Client{Transport: requestRewriter(func(r *http.Request) { r.Method = http.MethodPut })}))
			_, err := c.Account.Get(ctx)
			return err
		}, 405, client.ErrorTypeInvalidRequestError, client.ErrorCodeMethodNotAllowed, "", client.ErrInvalidRequest},
		{"406 not acceptable", func() error {
			c := realClient(s, s.AdminKey, client.WithHTTPClient(&http.Client{Transport: requestRewriter(func(r *http.Request) { r.Header.Set("Accept", "text/html") })}))
			_, err := c.Account.Get(ctx)
			return err
		}, 406, client.ErrorTypeInvalidRequestError, client.ErrorCodeNotAcceptable, "", client.ErrInvalidRequest},
		{"409 prospect exists", func() error {
			_, err := standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "GRACE@example.com"})
			return err
		}, 409, client.ErrorTypeInvalidRequestError, client.ErrorCodeProspectExists, "email", client.ErrProspectExists},
		{"410 deleted", func() error {
			_, err := standard.Prospects.Update(ctx, gone.ID, client.ProspectUpdateParams{Status: client.Set(client.ProspectStatusContacted)})
			return err
		}, 410, client.ErrorTypeInvalidRequestError, client.ErrorCodeResourceGone, "id", client.ErrGone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			e := asError(t, err)
			if e.StatusCode != tc.status || e.Type != tc.typ || e.Code != tc.code || e.Param != tc.param {
				t.Fatalf("got %d %s %s param %q, want %d %s %s param %q (%v)",
					e.StatusCode, e.Type, e.Code, e.Param, tc.status, tc.typ, tc.code, tc.param, err)
			}
			if e.Message == "" || !strings.HasPrefix(e.RequestID, "req_") || !strings.HasSuffix(e.DocURL, "#error-"+string(tc.code)) {
				t.Fatalf("message, request id and doc URL must be filled: %+v", e)
			}
			if e.Attempts != 1 || client.IsRetryable(err) {
				t.Fatalf("a %d is final: want 1 attempt, got %d", tc.status, e.Attempts)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("errors.Is(err, %v) = false", tc.sentinel)
			}
			if tc.code == client.ErrorCodeProspectExists && e.ExistingID != existing.ID {
				t.Fatalf("existing_id = %q, want %q", e.ExistingID, existing.ID)
			}
		})
	}
}

// faultyStore makes the real handler fail the way a broken or slow database does.
type faultyStore struct {
	store.Store
	fail  func(ctx context.Context) error
	calls atomic.Int32
}

func (f *faultyStore) Account(ctx context.Context, id string) (*store.Account, error) {
	f.calls.Add(1)
	if err := f.fail(ctx); err != nil {
		return nil, err
	}
	return f.Store.Account(ctx, id)
}

func TestRealServerFailuresAreRetriedThenTyped(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		fail       func(ctx context.Context) error
		status     int
		code       client.ErrorCode
		retryAfter time.Duration
	}{
		{"500 internal error", func(context.Context) error { return errors.New("disk on fire") },
			500, client.ErrorCodeInternalError, 0},
		{"503 storage unavailable", func(context.Context) error { return fmt.Errorf("%w: connection refused", store.ErrUnavailable) },
			503, client.ErrorCodeStorageUnavailable, time.Second},
		{"504 timeout", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			504, client.ErrorCodeTimeout, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := &faultyStore{fail: tc.fail}
			s := apitest.New(t, func(cfg *server.Config) {
				fs.Store = cfg.Store
				cfg.Store = fs
				cfg.RequestTimeout = 100 * time.Millisecond
			})
			tr := &countingTransport{next: http.DefaultTransport}
			_, err := realClient(s, s.AdminKey, client.WithHTTPClient(&http.Client{Transport: tr})).Account.Get(context.Background())
			e := asError(t, err)
			if e.StatusCode != tc.status || e.Type != client.ErrorTypeAPIError || e.Code != tc.code || e.RetryAfter != tc.retryAfter {
				t.Fatalf("got %+v", e)
			}
			if e.Attempts != 3 || tr.n.Load() != 3 || !client.IsRetryable(err) || !errors.Is(err, client.ErrAPI) {
				t.Fatalf("want 3 attempts of a retryable api_error, got %d (%d sent)", e.Attempts, tr.n.Load())
			}
			if !strings.HasPrefix(e.RequestID, "req_") || e.Message == "" {
				t.Fatalf("request id and message must be filled: %+v", e)
			}
		})
	}
}

func TestRealServerRecoversAfterTransientFailure(t *testing.T) {
	t.Parallel()
	fs := &faultyStore{}
	fs.fail = func(context.Context) error {
		if fs.calls.Load() == 1 {
			return store.ErrUnavailable
		}
		return nil
	}
	s := apitest.New(t, func(cfg *server.Config) { fs.Store, cfg.Store = cfg.Store, fs })
	var resp client.Response
	a, err := realClient(s, s.AdminKey).Account.Get(context.Background(), client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "acme" || resp.Attempts != 2 || resp.StatusCode != 200 {
		t.Fatalf("want the account on the second attempt, got %+v after %d", a, resp.Attempts)
	}
}

// loseFirstAnswer lets the first request reach the server and do its work,
// then throws the answer away and reports a reset connection, as when a
// network drops between the server and the client.
type loseFirstAnswer struct {
	n    atomic.Int32
	keys []string
}

func (l *loseFirstAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	l.keys = append(l.keys, r.Header.Get("Idempotency-Key"))
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || l.n.Add(1) > 1 {
		return resp, err
	}
	resp.Body.Close()
	return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

func TestRealServerRetriedDeleteReportsSuccess(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	ctx := context.Background()
	p, err := realClient(s, s.StandardKey).Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	lose := &loseFirstAnswer{}
	d, err := realClient(s, s.StandardKey, client.WithHTTPClient(&http.Client{Transport: lose})).Prospects.Delete(ctx, p.ID)
	if err != nil {
		t.Fatalf("the first attempt deleted the prospect; the retry's 410 must not turn that into a failure: %v", err)
	}
	if d.ID != p.ID || !bool(d.Deleted) || lose.n.Load() != 2 {
		t.Fatalf("got %+v after %d attempts", d, lose.n.Load())
	}
	// Without a lost answer, deleting twice is still an error the caller sees.
	if _, err := realClient(s, s.StandardKey).Prospects.Delete(ctx, p.ID); !errors.Is(err, client.ErrGone) {
		t.Fatalf("a second delete call: want ErrGone, got %v", err)
	}
}

func TestRealServerSearchWalksAllPages(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	c := realClient(s, s.AdminKey)
	ctx := context.Background()
	var items []client.ProspectCreateParams
	for i := range 105 { // more than a page of 100
		company := "Globex"
		if i%5 != 4 {
			company = fmt.Sprintf("Acme %03d", i)
		}
		items = append(items, client.ProspectCreateParams{Email: fmt.Sprintf("p%03d@example.com", i), Company: company})
	}
	batch, err := c.Prospects.CreateBatch(ctx, items)
	if err != nil || batch.Created != len(items) {
		t.Fatalf("batch: %v %+v", err, batch)
	}
	var want []string // newest first
	for _, r := range batch.Data {
		if r.Prospect.Company != "Globex" {
			want = append([]string{r.Prospect.ID}, want...)
		}
	}
	var got []string
	for p, err := range c.Prospects.Search(ctx, `company~"acme" OR email:"nobody@example.com"`) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("search walked %d prospects, want the %d of Acme newest first:\n got %v\nwant %v", len(got), len(want), got, want)
	}

	page, err := c.Prospects.SearchPage(ctx, client.ProspectSearchParams{Query: `company~"acme"`, Limit: 3})
	if err != nil || len(page.Data) != 3 || !page.HasMore || page.NextPage == "" {
		t.Fatalf("first page: %v %+v", err, page)
	}
	next, err := c.Prospects.SearchPage(ctx, client.ProspectSearchParams{Query: `company~"acme"`, Limit: 3, Page: page.NextPage})
	if err != nil || len(next.Data) != 3 || next.Data[0].ID != want[3] {
		t.Fatalf("second page: %v %+v", err, next)
	}

	for _, err := range c.Prospects.Search(ctx, `company~"ac"`) {
		var e *client.Error
		if !errors.As(err, &e) || e.Code != client.ErrorCodeQueryInvalid || e.Param != "query" ||
			!strings.Contains(e.Message, "at least 3 characters") {
			t.Fatalf("a substring too short: want query_invalid naming the minimum, got %v", err)
		}
	}
}
