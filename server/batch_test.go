package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// batch sends a batch through the generated client and returns its answer,
// failing the test unless it is 200.
func batch(t *testing.T, c *gen.ClientWithResponses, onConflict gen.OnConflict, items []map[string]any, idemKey ...string) *gen.ProspectBatch {
	t.Helper()
	params := &gen.CreateProspectBatchParams{}
	if len(idemKey) > 0 {
		params.IdempotencyKey = &idemKey[0]
	}
	body := gen.ProspectBatchCreate{Prospects: items}
	if onConflict != "" {
		body.OnConflict = &onConflict
	}
	res, err := c.CreateProspectBatchWithResponse(context.Background(), params, body)
	if err != nil {
		t.Fatal(err)
	}
	if res.JSON200 == nil {
		t.Fatalf("batch: status %d: %s", res.StatusCode(), res.Body)
	}
	return res.JSON200
}

// wantItemError checks one item's error object.
func wantItemError(t *testing.T, r gen.ProspectBatchResult, status int, code gen.ErrorCode, param string) {
	t.Helper()
	if r.Status != status || r.Error == nil || r.Prospect != nil {
		t.Errorf("item %d: status %d, error %+v, prospect %v; want %d %s", r.Index, r.Status, r.Error, r.Prospect, status, code)
		return
	}
	got := ""
	if r.Error.Param != nil {
		got = *r.Error.Param
	}
	if r.Error.Code != code || got != param || r.Error.Type != gen.ErrorTypeInvalidRequestError || r.Error.Message == "" {
		t.Errorf("item %d: error %s param %q (%q), want %s param %q", r.Index, r.Error.Code, got, r.Error.Message, code, param)
	}
	if !strings.HasPrefix(r.Error.RequestId, "req_") || !strings.HasSuffix(r.Error.DocUrl, "#error-"+string(code)) {
		t.Errorf("item %d: request_id %q, doc_url %q", r.Index, r.Error.RequestId, r.Error.DocUrl)
	}
}

// liveProspects lists every live prospect of the key's account, by email.
func liveProspects(t *testing.T, c *gen.ClientWithResponses) map[string]gen.Prospect {
	t.Helper()
	all := map[string]gen.Prospect{}
	after := ""
	for {
		params := &gen.ListProspectsParams{Limit: ptr(100)}
		if after != "" {
			params.StartingAfter = &after
		}
		res, err := c.ListProspectsWithResponse(context.Background(), params)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("list: %v %s", err, res.Body)
		}
		for _, p := range res.JSON200.Data {
			if _, dup := all[p.Email]; dup {
				t.Fatalf("two live prospects with email %s", p.Email)
			}
			all[p.Email] = p
		}
		if !res.JSON200.HasMore {
			return all
		}
		after = res.JSON200.Data[len(res.JSON200.Data)-1].Id
	}
}

// A batch of 500 mixing valid items, invalid ones, duplicates inside the
// batch, emails of existing prospects and the plan limit crossed halfway, under
// each on_conflict: every item gets the answer it would get alone, in order,
// and the database holds exactly what the answers say.
func TestBatchOf500(t *testing.T) { onEachEngine(t, testBatchOf500) }

func testBatchOf500(t *testing.T, newServer apitest.NewFunc) {
	for _, mode := range []gen.OnConflict{gen.OnConflictError, gen.OnConflictSkip, gen.OnConflictUpdate} {
		t.Run(string(mode), func(t *testing.T) {
			s := newServer(t)
			const existing, room = 20, 100 // the batch has 200 new emails: the limit falls halfway
			key := s.NewAccountKey(t, "bulk", "standard", existing+room)
			c := s.Client(t, key)
			old := map[string]*gen.Prospect{}
			for k := range existing {
				email := fmt.Sprintf("old-%d@example.com", k)
				old[email] = create(t, c, gen.ProspectCreate{Email: openapi_types.Email(email), FirstName: ptr("Old"),
					Company: ptr("OldCo"), Phone: ptr("+1 555"), Metadata: &gen.Metadata{"tier": "gold"}})
			}

			type want struct {
				status int
				code   gen.ErrorCode
				param  string
				email  string // the prospect answered, for 2xx
				dupOf  int    // for a duplicate inside the batch, the earlier item; else -1
			}
			items := make([]map[string]any, 500)
			wants := make([]want, 500)
			created := 0
			for i := range items {
				at := func(field string) string { return fmt.Sprintf("prospects[%d].%s", i, field) }
				newEmail := fmt.Sprintf("new-%d@example.com", i)
				w := want{dupOf: -1}
				fits := func() {
					if created < room {
						created++
						w.status, w.email = 201, newEmail
					} else {
						w.status, w.code = 402, gen.ErrorCodePlanLimitReached
					}
				}
				switch i % 10 {
				case 0:
					items[i] = map[string]any{"email": fmt.Sprintf("bad-%d", i), "first_name": "Bad"}
					w.status, w.code, w.param = 400, gen.ErrorCodeParameterInvalid, at("email")
				case 1:
					email := fmt.Sprintf("old-%d@example.com", (i/10)%existing)
					items[i] = map[string]any{"email": strings.ToUpper(email), "first_name": "New", "metadata": map[string]any{"seen": "expo"}}
					if mode == gen.OnConflictUpdate {
						items[i]["phone"] = nil
					}
					switch mode {
					case gen.OnConflictError:
						w.status, w.code, w.param = 409, gen.ErrorCodeProspectExists, at("email")
					default:
						w.status = 200
					}
					w.email = email
				case 3: // the same email as item i-1, in another case
					items[i] = map[string]any{"email": fmt.Sprintf("NEW-%d@Example.COM", i-1), "company": "Dup"}
					newEmail = fmt.Sprintf("new-%d@example.com", i-1)
					switch {
					case wants[i-1].status != 201: // the earlier one did not fit: neither does this one
						fits()
					case mode == gen.OnConflictError:
						w.status, w.code, w.param, w.dupOf = 409, gen.ErrorCodeProspectExists, at("email"), i-1
					default:
						w.status, w.email, w.dupOf = 200, newEmail, i-1
					}
				case 4:
					items[i] = map[string]any{"email": newEmail, "nickname": "Ace"}
					w.status, w.code, w.param = 400, gen.ErrorCodeParameterUnknown, at("nickname")
				case 5:
					items[i] = map[string]any{"first_name": "NoEmail", "tags": []any{"ok"}}
					w.status, w.code, w.param = 400, gen.ErrorCodeParameterMissing, at("email")
				case 6:
					items[i] = map[string]any{"email": newEmail, "hidden": true}
					w.status, w.code, w.param = 403, gen.ErrorCodeAdminKeyRequired, at("hidden")
				case 8:
					items[i] = map[string]any{"email": newEmail, "tags": []any{"ok", strings.Repeat("x", 51)}}
					w.status, w.code, w.param = 400, gen.ErrorCodeParameterInvalid, at("tags[1]")
				default: // 2, 7, 9
					items[i] = map[string]any{"email": newEmail, "first_name": "Fresh", "tags": []any{"expo"}, "marketing_consent": true}
					fits()
				}
				wants[i] = w
			}

			got := batch(t, c, mode, items)
			if got.Object != gen.ProspectBatchObjectBatch || len(got.Data) != len(items) {
				t.Fatalf("object %q with %d results, want batch with %d", got.Object, len(got.Data), len(items))
			}
			var nCreated, nUpdated, nSkipped, nFailed int
			for i, r := range got.Data {
				w := wants[i]
				if r.Index != i {
					t.Fatalf("result %d has index %d", i, r.Index)
				}
				switch {
				case w.status == 201:
					nCreated++
				case w.status == 200 && mode == gen.OnConflictSkip:
					nSkipped++
				case w.status == 200:
					nUpdated++
				default:
					nFailed++
				}
				if w.code != "" {
					wantItemError(t, r, w.status, w.code, w.param)
					if w.code == gen.ErrorCodeProspectExists {
						wantID := ""
						if w.dupOf >= 0 {
							wantID = got.Data[w.dupOf].Prospect.Id
						} else {
							wantID = old[strings.ToLower(items[i]["email"].(string))].Id
						}
						if r.Error.ExistingId == nil || *r.Error.ExistingId != wantID {
							t.Errorf("item %d: existing_id %v, want %s", i, r.Error.ExistingId, wantID)
						}
					}
					continue
				}
				if r.Status != w.status || r.Prospect == nil || r.Error != nil || r.Prospect.Email != w.email {
					t.Errorf("item %d: status %d prospect %+v error %+v; want %d %s", i, r.Status, r.Prospect, r.Error, w.status, w.email)
					continue
				}
				p := r.Prospect
				switch {
				case w.dupOf >= 0:
					if p.Id != got.Data[w.dupOf].Prospect.Id {
						t.Errorf("item %d: answered %s, not the earlier item's %s", i, p.Id, got.Data[w.dupOf].Prospect.Id)
					}
				case w.status == 200 && p.Id != old[w.email].Id:
					t.Errorf("item %d: answered %s, not the existing %s", i, p.Id, old[w.email].Id)
				}
			}
			if got.Created != nCreated || got.Updated != nUpdated || got.Skipped != nSkipped || got.Failed != nFailed {
				t.Errorf("counters created %d updated %d skipped %d failed %d, want %d %d %d %d",
					got.Created, got.Updated, got.Skipped, got.Failed, nCreated, nUpdated, nSkipped, nFailed)
			}
			if nCreated != room {
				t.Fatalf("the test meant to fill the plan: %d created, room %d", nCreated, room)
			}

			// The database holds what the answers say, and nothing else.
			live := liveProspects(t, s.Client(t, s.NewAccountKey(t, "bulk", "admin", 0)))
			if len(live) != existing+room {
				t.Errorf("%d live prospects, want %d", len(live), existing+room)
			}
			for i, r := range got.Data {
				if r.Status == 201 {
					p, ok := live[r.Prospect.Email]
					if !ok || p.Id != r.Prospect.Id {
						t.Errorf("item %d: %s is not stored as answered", i, r.Prospect.Email)
					}
				}
			}
			for email, before := range old {
				p := live[email]
				switch mode {
				case gen.OnConflictUpdate: // present fields replace, null clears, metadata merges
					if p.FirstName.MustGet() != "New" || p.Company.MustGet() != "OldCo" || !p.Phone.IsNull() ||
						p.Metadata["tier"] != "gold" || p.Metadata["seen"] != "expo" {
						t.Errorf("%s after update: %+v", email, p)
					}
				default: // untouched
					if p.FirstName.MustGet() != "Old" || p.Phone.MustGet() != "+1 555" || len(p.Metadata) != 1 || p.Updated != before.Updated {
						t.Errorf("%s changed under on_conflict %s: %+v", email, mode, p)
					}
				}
			}
			for i := 3; i < len(items); i += 10 {
				if got.Data[i-1].Status != 201 {
					continue
				}
				p := live[fmt.Sprintf("new-%d@example.com", i-1)]
				if wantDup := mode == gen.OnConflictUpdate; (p.Company.IsSpecified() && !p.Company.IsNull() && p.Company.MustGet() == "Dup") != wantDup {
					t.Errorf("item %d's duplicate under %s left company %v", i, mode, p.Company)
				}
			}
		})
	}
}

// The request's shape is checked before any item: a bad shape is the usual
// 400 error object, and nothing is written.
func TestBatchShape(t *testing.T) {
	// Its batches spend more than the default 100 requests' worth.
	s := apitest.New(t, func(c *server.Config) { c.DefaultRateLimit = 1000 })
	url := s.URL + "/v1/prospects/batch"
	item := `{"email":"ada@example.com"}`
	many := strings.TrimSuffix(strings.Repeat(item+",", 501), ",")
	cases := []struct {
		name, body string
		code       gen.ErrorCode
		param      string
	}{
		{"not JSON", `{"prospects": [`, gen.ErrorCodeBodyInvalidJson, ""},
		{"no prospects", `{"on_conflict": "skip"}`, gen.ErrorCodeParameterMissing, "prospects"},
		{"empty", `{"prospects": []}`, gen.ErrorCodeParameterInvalid, "prospects"},
		{"501 items", `{"prospects": [` + many + `]}`, gen.ErrorCodeParameterInvalid, "prospects"},
		{"prospects not an array", `{"prospects": {"email": "ada@example.com"}}`, gen.ErrorCodeParameterInvalid, "prospects"},
		{"item not an object", `{"prospects": [` + item + `, "bob@example.com"]}`, gen.ErrorCodeParameterInvalid, "prospects[1]"},
		{"unknown on_conflict", `{"prospects": [` + item + `], "on_conflict": "merge"}`, gen.ErrorCodeParameterInvalid, "on_conflict"},
		{"unknown field", `{"prospects": [` + item + `], "upsert": true}`, gen.ErrorCodeParameterUnknown, "upsert"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, "POST", url, s.StandardKey, "application/json", tc.body)
			wantError(t, res, body, 400, gen.ErrorTypeInvalidRequestError, tc.code, tc.param)
		})
	}
	if n := len(liveProspects(t, s.Client(t, s.AdminKey))); n != 0 {
		t.Errorf("%d prospects written by rejected batches", n)
	}
	// 500 items is the limit, not past it.
	five := strings.TrimSuffix(strings.Repeat(`{"email":"x@example.com"},`, 500), ",")
	res, body := do(t, "POST", url, s.StandardKey, "application/json", `{"prospects": [`+five+`]}`)
	var got gen.ProspectBatch
	if res.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.Created != 1 || got.Failed != 499 {
		t.Errorf("500 items of one email: %d %.300s", res.StatusCode, body)
	}
}

// The batch answers 200 even when every item failed.
func TestBatchAllFailed(t *testing.T) {
	s := apitest.New(t)
	long := strings.Repeat("k", 41)
	got := batch(t, s.Client(t, s.StandardKey), "", []map[string]any{{"email": "nope"}, {"email": "a@example.com", "phone": nil},
		{"email": "b@example.com", "metadata": map[string]any{long: "v"}}})
	if got.Failed != 3 || got.Created+got.Updated+got.Skipped != 0 {
		t.Errorf("counters %+v", got)
	}
	wantItemError(t, got.Data[0], 400, gen.ErrorCodeParameterInvalid, "prospects[0].email")
	// null clears only under on_conflict update; elsewhere an item is a create's body.
	wantItemError(t, got.Data[1], 400, gen.ErrorCodeParameterInvalid, "prospects[1].phone")
	// The rule the schema cannot state is the create's too.
	wantItemError(t, got.Data[2], 400, gen.ErrorCodeParameterInvalid, "prospects[2].metadata."+long)
}

// failingCreates is the SQLite store whose creates fail as an unreachable
// database does, after the first few.
type failingCreates struct {
	*sqlite.DB
	ok, calls atomic.Int64
}

func (f *failingCreates) CreateProspect(ctx context.Context, p *store.Prospect) error {
	if f.calls.Add(1) > f.ok.Load() {
		return fmt.Errorf("%w: disk I/O error", store.ErrUnavailable)
	}
	return f.DB.CreateProspect(ctx, p)
}

func (f *failingCreates) UpsertProspects(ctx context.Context, ps []*store.Prospect, conflict store.Conflict, check func(*store.Prospect) error) ([]store.Upserted, error) {
	out, err := f.DB.UpsertProspects(ctx, ps, conflict, check)
	if err == nil && f.calls.Add(int64(len(out))) > f.ok.Load() { // after writing: the batch must undo them
		return nil, fmt.Errorf("%w: disk I/O error", store.ErrUnavailable)
	}
	return out, err
}

// A failure that is not an item's fails the whole batch, and nothing of it is
// written: the items are one transaction. With an Idempotency-Key, the retry
// runs afresh.
func TestBatchIsOneTransaction(t *testing.T) {
	var fs *failingCreates
	s := apitest.New(t, func(c *server.Config) {
		fs = &failingCreates{DB: c.Store.(*sqlite.DB)}
		fs.ok.Store(2)
		c.Store = fs
	})
	c := s.Client(t, s.StandardKey)
	items := []map[string]any{{"email": "a@example.com"}, {"email": "b@example.com"}, {"email": "c@example.com"}}
	res, err := c.CreateProspectBatchWithResponse(context.Background(),
		&gen.CreateProspectBatchParams{IdempotencyKey: ptr("import-7")}, gen.ProspectBatchCreate{Prospects: items})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res.HTTPResponse, res.Body, 503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "")
	if n := len(liveProspects(t, c)); n != 0 {
		t.Fatalf("%d prospects written by a failed batch", n)
	}
	fs.ok.Store(1 << 30)
	if got := batch(t, c, "", items, "import-7"); got.Created != 3 {
		t.Errorf("the retry: %+v", got)
	}
}

// Under update, an item is a PATCH of the existing prospect: tags replace,
// metadata merges key by key (an empty value removes one), null clears, and
// only the fields a PATCH can clear may be null.
func TestBatchUpdateIsAPatch(t *testing.T) { onEachEngine(t, testBatchUpdateIsAPatch) }

func testBatchUpdateIsAPatch(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.StandardKey)
	p := create(t, c, gen.ProspectCreate{Email: "ada@example.com", FirstName: ptr("Ada"), Title: ptr("CEO"),
		Tags: &gen.Tags{"a", "b"}, Metadata: &gen.Metadata{"plan": "pro", "seats": "3"}, MarketingConsent: ptr(true)})
	got := batch(t, c, gen.OnConflictUpdate, []map[string]any{
		{"email": "ada@example.com", "title": nil, "tags": []any{"c"}, "metadata": map[string]any{"plan": "", "crm": "7"}, "status": "qualified"},
		{"email": "ada@example.com", "status": nil},
		{"email": "grace@example.com", "company": nil, "last_name": "Hopper"},
		{"email": "ada@example.com", "marketing_consent": false},
	})
	if got.Updated != 2 || got.Created != 1 || got.Failed != 1 {
		t.Fatalf("counters %+v", got)
	}
	u := got.Data[0].Prospect
	if u == nil || u.Id != p.Id || !u.Title.IsNull() || u.FirstName.MustGet() != "Ada" || len(u.Tags) != 1 || u.Tags[0] != "c" ||
		len(u.Metadata) != 2 || u.Metadata["seats"] != "3" || u.Metadata["crm"] != "7" || u.Status != gen.ProspectStatusQualified {
		t.Errorf("after the upsert: %+v", u)
	}
	wantItemError(t, got.Data[1], 400, gen.ErrorCodeParameterInvalid, "prospects[1].status")
	if n := got.Data[2].Prospect; n == nil || got.Data[2].Status != 201 || !n.Company.IsNull() || n.LastName.MustGet() != "Hopper" {
		t.Errorf("a new prospect under update: %+v", got.Data[2])
	}
	if last := got.Data[3].Prospect; last == nil || last.MarketingConsent || !last.ConsentAt.IsNull() || last.Status != gen.ProspectStatusQualified {
		t.Errorf("the second update of the same prospect: %+v", got.Data[3])
	}
}

// hidden needs an admin key per item, and a standard key never learns the id
// of a hidden prospect, whatever on_conflict says.
func TestBatchHidden(t *testing.T) { onEachEngine(t, testBatchHidden) }

func testBatchHidden(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	admin := s.Client(t, s.AdminKey)
	got := batch(t, admin, "", []map[string]any{{"email": "secret@example.com", "hidden": true}})
	if got.Created != 1 || !got.Data[0].Prospect.Hidden {
		t.Fatalf("admin hidden create: %+v", got.Data[0])
	}
	for _, mode := range []gen.OnConflict{gen.OnConflictError, gen.OnConflictSkip, gen.OnConflictUpdate} {
		got := batch(t, s.Client(t, s.StandardKey), mode, []map[string]any{{"email": "secret@example.com", "first_name": "Eve"}})
		wantItemError(t, got.Data[0], 409, gen.ErrorCodeProspectExists, "prospects[0].email")
		if got.Data[0].Error.ExistingId != nil {
			t.Errorf("%s: a standard key learnt the hidden prospect's id", mode)
		}
	}
	got = batch(t, admin, gen.OnConflictSkip, []map[string]any{{"email": "secret@example.com", "first_name": "Eve"}})
	if got.Skipped != 1 || got.Data[0].Prospect.FirstName.IsSpecified() && !got.Data[0].Prospect.FirstName.IsNull() {
		t.Errorf("admin skip of a hidden prospect: %+v", got.Data[0])
	}
}

// An Idempotency-Key covers the whole batch: a retry replays the answer and
// creates nothing twice; the key with another batch is refused.
func TestBatchIdempotency(t *testing.T) { onEachEngine(t, testBatchIdempotency) }

func testBatchIdempotency(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.StandardKey)
	items := []map[string]any{{"email": "a@example.com"}, {"email": "b@example.com"}, {"email": "bad"}}
	first := batch(t, c, "", items, "import-1")
	res, err := c.CreateProspectBatchWithResponse(context.Background(),
		&gen.CreateProspectBatchParams{IdempotencyKey: ptr("import-1")}, gen.ProspectBatchCreate{Prospects: items})
	if err != nil || res.JSON200 == nil {
		t.Fatalf("replay: %v %s", err, res.Body)
	}
	if res.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" || res.JSON200.Data[0].Prospect.Id != first.Data[0].Prospect.Id ||
		res.JSON200.Created != 2 {
		t.Errorf("replay: %s", res.Body)
	}
	if n := len(liveProspects(t, s.Client(t, s.AdminKey))); n != 2 {
		t.Errorf("%d prospects after a replayed batch, want 2", n)
	}
	res, err = c.CreateProspectBatchWithResponse(context.Background(),
		&gen.CreateProspectBatchParams{IdempotencyKey: ptr("import-1")}, gen.ProspectBatchCreate{Prospects: items[:1]})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res.HTTPResponse, res.Body, http.StatusConflict, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeIdempotencyKeyReused, "Idempotency-Key")
}

// A batch of 500 items whose emails all exist, under on_conflict update,
// updates every one of them in order, on each engine; BenchmarkUpsertBatch
// measures how long it takes.
func TestBatchUpsertOf500Existing(t *testing.T) { onEachEngine(t, testBatchUpsertOf500Existing) }

func testBatchUpsertOf500Existing(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	c := s.Client(t, s.NewAccountKey(t, "upsert", "standard", 1000))
	items := make([]map[string]any, 500)
	for i := range items {
		items[i] = map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "company": "Before"}
	}
	if got := batch(t, c, gen.OnConflictError, items); got.Created != 500 {
		t.Fatalf("first batch: %d created, %d failed", got.Created, got.Failed)
	}
	for i := range items {
		items[i] = map[string]any{"email": fmt.Sprintf("U%d@example.com", i), "company": fmt.Sprintf("After %d", i)}
	}
	got := batch(t, c, gen.OnConflictUpdate, items)
	if got.Updated != 500 || got.Created != 0 || got.Failed != 0 {
		t.Fatalf("upsert: %d updated, %d created, %d failed; want 500 updated", got.Updated, got.Created, got.Failed)
	}
	for i, r := range got.Data {
		if r.Index != i || r.Status != 200 || r.Prospect == nil || r.Prospect.Company.MustGet() != fmt.Sprintf("After %d", i) {
			t.Fatalf("item %d: %+v", i, r)
		}
	}
	live := liveProspects(t, c)
	for i := range items {
		p, ok := live[fmt.Sprintf("u%d@example.com", i)]
		if !ok || p.Company.MustGet() != fmt.Sprintf("After %d", i) {
			t.Fatalf("u%d@example.com after the upsert: %+v", i, p)
		}
	}
	if len(live) != 500 {
		t.Errorf("%d live prospects, want 500", len(live))
	}

	// One prospect.updated event an item, with what it changed, in the
	// items' order (the list is newest first).
	var updates []map[string]any
	for query := "?type=prospect.updated&limit=100"; ; {
		page := listEvents(t, s, s.NewAccountKey(t, "upsert", "admin", 0), query)
		updates = append(updates, page...)
		if len(page) < 100 {
			break
		}
		query = "?type=prospect.updated&limit=100&starting_after=" + page[len(page)-1]["id"].(string)
	}
	if len(updates) != 500 {
		t.Fatalf("%d prospect.updated events, want 500", len(updates))
	}
	for k, e := range updates {
		i := len(items) - 1 - k
		obj, _ := e["data"].(map[string]any)["object"].(map[string]any)
		prev, _ := e["data"].(map[string]any)["previous_attributes"].(map[string]any)
		if obj["id"] != got.Data[i].Prospect.Id || obj["company"] != fmt.Sprintf("After %d", i) || prev["company"] != "Before" {
			t.Fatalf("event %d (item %d): %v", k, i, e)
		}
	}
}
