package client_test

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
	"github.com/captureapi/capture/gen"
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
		FirstName:        client.Ptr("Ada"),
		Company:          client.Ptr("Analytical Engines"),
		Tags:             client.Ptr([]string{"vip"}),
		Metadata:         &client.Metadata{"plan": "pro"},
		MarketingConsent: client.Ptr(true),
	}, client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Id, "prs_") || p.Email != "ada@example.com" || p.FirstName.MustGet() != "Ada" ||
		p.Status != gen.ProspectStatusNew || p.Metadata["plan"] != "pro" || !p.MarketingConsent || p.ConsentAt.IsNull() {
		t.Fatalf("created prospect = %+v", p)
	}
	if resp.StatusCode != 201 || !strings.HasPrefix(resp.RequestID, "req_") || resp.IdempotencyKey == "" || resp.Replayed {
		t.Fatalf("Response = %+v", resp)
	}

	got, err := c.Prospects.Get(ctx, p.Id, client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Id != p.Id || got.Company.MustGet() != "Analytical Engines" || resp.StatusCode != 200 || resp.RequestID == "" {
		t.Fatalf("got %+v (response %+v)", got, resp)
	}

	up, err := c.Prospects.Update(ctx, p.Id, client.ProspectUpdateParams{
		Status:    client.Ptr(gen.ProspectStatusQualified),
		FirstName: client.Null[string](),
		Metadata:  client.Set(map[string]string{"plan": "", "seats": "5"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Status != gen.ProspectStatusQualified || !up.FirstName.IsNull() || up.Company.MustGet() != "Analytical Engines" ||
		len(up.Metadata) != 1 || up.Metadata["seats"] != "5" {
		t.Fatalf("updated prospect = %+v", up)
	}

	a, err := c.Account.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "acme" || a.Role != gen.AccountRoleStandard || a.ProspectCount != 1 {
		t.Fatalf("account = %+v", a)
	}

	d, err := c.Prospects.Delete(ctx, p.Id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Id != p.Id || !bool(d.Deleted) {
		t.Fatalf("deleted = %+v", d)
	}
	_, err = c.Prospects.Get(ctx, p.Id)
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
		p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: client.Email(fmt.Sprintf("p%02d@example.com", i)), Tags: client.Ptr([]string{tag})})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, p.Id)
	}

	var ids []string
	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{Limit: client.Ptr(5)}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Id)
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
	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{Limit: client.Ptr(4), Tag: client.Ptr("even")}) {
		if err != nil {
			t.Fatal(err)
		}
		if p.Tags[0] != "even" {
			t.Fatalf("filter lost across pages: %s has tags %v", p.Id, p.Tags)
		}
		even++
	}
	if even != 12 {
		t.Fatalf("want 12 prospects tagged even, got %d", even)
	}

	var newer []string
	for p, err := range c.Prospects.List(ctx, client.ProspectListParams{Limit: client.Ptr(4), EndingBefore: &created[10]}) {
		if err != nil {
			t.Fatal(err)
		}
		newer = append(newer, p.Id)
	}
	if strings.Join(newer, ",") != strings.Join(created[11:], ",") {
		t.Fatalf("ending_before walk: want %v, got %v", created[11:], newer)
	}

	page, err := c.Prospects.ListPage(ctx, client.ProspectListParams{Limit: client.Ptr(3), StartingAfter: &created[5]})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 3 || page.Data[0].Id != created[4] || !page.HasMore {
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
	hidden, err := admin.Prospects.Create(ctx, client.ProspectCreateParams{Email: "hidden@example.com", Hidden: client.Ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := admin.Prospects.Create(ctx, client.ProspectCreateParams{Email: "gone@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Prospects.Delete(ctx, gone.Id); err != nil {
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
		typ      gen.ErrorType
		code     gen.ErrorCode
		param    string
		sentinel error
	}{
		{"400 invalid field", func() error {
			_, err := standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "a@example.com", Tags: client.Ptr([]string{"ok", ""})})
			return err
		}, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "tags[1]", client.ErrInvalidRequest},
		{"400 invalid query", func() error {
			_, err := standard.Prospects.ListPage(ctx, client.ProspectListParams{Limit: client.Ptr(101)})
			return err
		}, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "limit", client.ErrInvalidRequest},
		{"401 missing key", func() error {
			_, err := realClient(s, "").Account.Get(ctx)
			return err
		}, 401, gen.ErrorTypeAuthenticationError, gen.ErrorCodeApiKeyMissing, "", client.ErrAuthentication},
		{"401 invalid key", func() error {
			_, err := realClient(s, "sk_nosuchkey00000000000000000000000000").Account.Get(ctx)
			return err
		}, 401, gen.ErrorTypeAuthenticationError, gen.ErrorCodeApiKeyInvalid, "", client.ErrAuthentication},
		{"401 revoked key", func() error {
			_, err := realClient(s, revokedKey).Account.Get(ctx)
			return err
		}, 401, gen.ErrorTypeAuthenticationError, gen.ErrorCodeApiKeyRevoked, "", client.ErrAuthentication},
		{"402 plan limit", func() error {
			_, err := tiny.Prospects.Create(ctx, client.ProspectCreateParams{Email: "second@example.com"})
			return err
		}, 402, gen.ErrorTypeInvalidRequestError, gen.ErrorCodePlanLimitReached, "", client.ErrPlanLimitReached},
		{"403 hidden", func() error {
			_, err := standard.Prospects.Get(ctx, hidden.Id)
			return err
		}, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectHidden, "id", client.ErrProspectHidden},
		{"403 admin key required", func() error {
			_, err := standard.Prospects.Update(ctx, existing.Id, client.ProspectUpdateParams{Hidden: client.Ptr(true)})
			return err
		}, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeAdminKeyRequired, "hidden", &client.Error{Code: gen.ErrorCodeAdminKeyRequired}},
		{"404 unknown id", func() error {
			_, err := standard.Prospects.Get(ctx, "prs_nosuchprospect")
			return err
		}, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id", client.ErrNotFound},
		{"404 another account's prospect", func() error {
			_, err := other.Prospects.Delete(ctx, existing.Id)
			return err
		}, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id", client.ErrNotFound},
		{"404 unknown route", func() error {
			_, err := client.New(s.AdminKey, client.WithBaseURL(s.URL+"/v2")).Account.Get(ctx)
			return err
		}, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeRouteNotFound, "", &client.Error{StatusCode: 404}},
		{"405 wrong method", func() error {
			c := realClient(s, s.AdminKey, client.WithHTTPClient(&http.Client{Transport: requestRewriter(func(r *http.Request) { r.Method = http.MethodPut })}))
			_, err := c.Account.Get(ctx)
			return err
		}, 405, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeMethodNotAllowed, "", client.ErrInvalidRequest},
		{"406 not acceptable", func() error {
			c := realClient(s, s.AdminKey, client.WithHTTPClient(&http.Client{Transport: requestRewriter(func(r *http.Request) { r.Header.Set("Accept", "text/html") })}))
			_, err := c.Account.Get(ctx)
			return err
		}, 406, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeNotAcceptable, "", client.ErrInvalidRequest},
		{"409 prospect exists", func() error {
			_, err := standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "GRACE@example.com"})
			return err
		}, 409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectExists, "email", client.ErrProspectExists},
		{"410 deleted", func() error {
			_, err := standard.Prospects.Update(ctx, gone.Id, client.ProspectUpdateParams{Status: client.Ptr(gen.ProspectStatusContacted)})
			return err
		}, 410, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceGone, "id", client.ErrGone},
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
			if tc.code == gen.ErrorCodeProspectExists && e.ExistingID != existing.Id {
				t.Fatalf("existing_id = %q, want %q", e.ExistingID, existing.Id)
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
		code       gen.ErrorCode
		retryAfter time.Duration
	}{
		{"500 internal error", func(context.Context) error { return errors.New("disk on fire") },
			500, gen.ErrorCodeInternalError, 0},
		{"503 storage unavailable", func(context.Context) error { return fmt.Errorf("%w: connection refused", store.ErrUnavailable) },
			503, gen.ErrorCodeStorageUnavailable, time.Second},
		{"504 timeout", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			504, gen.ErrorCodeTimeout, 0},
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
			if e.StatusCode != tc.status || e.Type != gen.ErrorTypeApiError || e.Code != tc.code || e.RetryAfter != tc.retryAfter {
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
	d, err := realClient(s, s.StandardKey, client.WithHTTPClient(&http.Client{Transport: lose})).Prospects.Delete(ctx, p.Id)
	if err != nil {
		t.Fatalf("the first attempt deleted the prospect; the retry's 410 must not turn that into a failure: %v", err)
	}
	if d.Id != p.Id || !bool(d.Deleted) || lose.n.Load() != 2 {
		t.Fatalf("got %+v after %d attempts", d, lose.n.Load())
	}
	// Without a lost answer, deleting twice is still an error the caller sees.
	if _, err := realClient(s, s.StandardKey).Prospects.Delete(ctx, p.Id); !errors.Is(err, client.ErrGone) {
		t.Fatalf("a second delete call: want ErrGone, got %v", err)
	}
}
