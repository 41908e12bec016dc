package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

// texts are strings that exercise every branch of appendString and of
// encoding/json's escaping.
var texts = []string{
	"", "a", "Ada", "ada@example.com", "Zoë Łukasiewicz", "東京", "🚀 launch", "emoji 👩‍💻 zwj",
	`quote " inside`, `back\slash`, "<script>alert(1)</script>", "fish & chips", "a > b",
	"line\nbreak", "tab\tand\rreturn", "\b\f", "\x00\x01\x1f\x7f", "sep\u2028para\u2029",
	"bad \xff utf-8", "\xc3", "trailing \xe2\x82", "\ufffd replacement", "café\u0301",
	"https://example.com/?a=1&b=2", "+44 20 7946 0000", string(make([]byte, 300)),
}

func randomText(rng *rand.Rand) string {
	if rng.IntN(4) == 0 { // a mix of the cases above
		return texts[rng.IntN(len(texts))] + texts[rng.IntN(len(texts))]
	}
	return texts[rng.IntN(len(texts))]
}

func randomNullText(rng *rand.Rand) *string {
	if rng.IntN(3) == 0 {
		return nil
	}
	s := randomText(rng)
	return &s
}

func randomProspect(rng *rand.Rand, i int) store.Prospect {
	p := store.Prospect{
		ID: fmt.Sprintf("prs_%026d", i), AccountID: "acc_x", Email: randomText(rng),
		FirstName: randomNullText(rng), LastName: randomNullText(rng), Company: randomNullText(rng),
		Title: randomNullText(rng), Phone: randomNullText(rng), Website: randomNullText(rng),
		Source: randomNullText(rng), Status: randomText(rng),
		MarketingConsent: rng.IntN(2) == 0, Hidden: rng.IntN(2) == 0,
		Created: time.Unix(rng.Int64N(1<<40)-1<<20, 0), Updated: time.Unix(rng.Int64N(1<<33), 0),
	}
	if rng.IntN(2) == 0 {
		t := time.Unix(rng.Int64N(1<<34)-1<<33, 0)
		p.ConsentAt = &t
	}
	if rng.IntN(3) == 0 {
		touch := func() store.Touch {
			return store.Touch{At: rng.Int64N(1 << 33), Form: randomText(rng), PageURL: randomText(rng), UTMSource: randomText(rng),
				UTMCampaign: randomText(rng), Referrer: randomText(rng)}
		}
		p.Attribution = &store.Attribution{FirstTouch: touch(), LastTouch: touch()}
	}
	switch rng.IntN(3) {
	case 0: // nil: null
	case 1:
		p.Tags = []string{}
	default:
		for range rng.IntN(25) {
			p.Tags = append(p.Tags, randomText(rng))
		}
	}
	switch rng.IntN(3) {
	case 0:
	case 1:
		p.Metadata = map[string]string{}
	default:
		p.Metadata = map[string]string{}
		for range rng.IntN(60) { // past the 16 keys sorted on the stack
			p.Metadata[randomText(rng)+fmt.Sprint(rng.IntN(100))] = randomText(rng)
		}
	}
	return p
}

func randomErrorDetail(rng *rand.Rand, requestID string) gen.ErrorDetail {
	return gen.ErrorDetail{Code: gen.ErrorCode(randomText(rng)), DocUrl: randomText(rng), Message: randomText(rng),
		RequestId: requestID, Type: gen.ErrorType(randomText(rng)), Param: randomNullText(rng), ExistingId: randomNullText(rng)}
}

// TestLeanProspectEncoding holds the lean encoding to the generic one: the same
// bytes as encoding/json gives for the generated types, headers included.
func TestLeanProspectEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		p := randomProspect(rng, i)
		answer, body := prospectAnswer{p: &p, requestID: "req_1"}, prospectJSON(&p)
		// Each operation that answers one prospect, its lean answer and the
		// generated one.
		for op, visit := range map[string][2]func(w http.ResponseWriter) error{
			"getProspect": {answer.VisitGetProspectResponse, gen.GetProspect200JSONResponse{Body: body,
				Headers: gen.GetProspect200ResponseHeaders{RequestId: "req_1"}}.VisitGetProspectResponse},
			"updateProspect": {answer.VisitUpdateProspectResponse, gen.UpdateProspect200JSONResponse{Body: body,
				Headers: gen.UpdateProspect200ResponseHeaders{RequestId: "req_1"}}.VisitUpdateProspectResponse},
			"createProspect": {prospectCreated{answer}.VisitCreateProspectResponse, gen.CreateProspect201JSONResponse{Body: body,
				Headers: gen.CreateProspect201ResponseHeaders{RequestId: "req_1"}}.VisitCreateProspectResponse},
		} {
			lean, generic := httptest.NewRecorder(), httptest.NewRecorder()
			if err := visit[0](lean); err != nil {
				t.Fatal(err)
			}
			if err := visit[1](generic); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(lean.Body.Bytes(), generic.Body.Bytes()) {
				t.Fatalf("%s, prospect %d:\nlean    %s\ngeneric %s", op, i, lean.Body, generic.Body)
			}
			if fmt.Sprint(lean.Header()) != fmt.Sprint(generic.Header()) || lean.Code != generic.Code {
				t.Fatalf("%s headers: lean %d %v, generic %d %v", op, lean.Code, lean.Header(), generic.Code, generic.Header())
			}
			if !json.Valid(lean.Body.Bytes()) {
				t.Fatalf("%s, prospect %d: invalid JSON %s", op, i, lean.Body)
			}
		}
	}
}

func TestLeanProspectListEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 60 {
		page := prospectListAnswer{hasMore: n%2 == 0, requestID: "req_2"}
		for i := range n * 2 {
			page.prospects = append(page.prospects, randomProspect(rng, i))
		}
		body := gen.ProspectList{Object: gen.ProspectListObjectList, HasMore: page.hasMore, Url: "/v1/prospects",
			Data: make([]gen.Prospect, len(page.prospects))}
		for i := range page.prospects {
			body.Data[i] = prospectJSON(&page.prospects[i])
		}
		generic := httptest.NewRecorder()
		if err := (gen.ListProspects200JSONResponse{Body: body,
			Headers: gen.ListProspects200ResponseHeaders{RequestId: "req_2"}}).VisitListProspectsResponse(generic); err != nil {
			t.Fatal(err)
		}
		lean := httptest.NewRecorder()
		if err := page.VisitListProspectsResponse(lean); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(lean.Body.Bytes(), generic.Body.Bytes()) {
			t.Fatalf("page of %d:\nlean    %s\ngeneric %s", len(page.prospects), lean.Body, generic.Body)
		}
		if fmt.Sprint(lean.Header()) != fmt.Sprint(generic.Header()) {
			t.Fatalf("headers: lean %v, generic %v", lean.Header(), generic.Header())
		}
	}
}

// TestStoreWrittenList holds a page the SQLite store writes in its query
// (ProspectJSONLister) to the encoder's answer for the same rows read as
// values: byte for byte for prospects whose strings need no escape (every
// field set, unset, null or empty, with and without tags and metadata, hidden
// or not), and the same JSON values, field for field, whatever the strings
// hold (bad UTF-8, control characters, NULs and HTML characters included,
// which SQLite escapes otherwise).
func TestStoreWrittenList(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "capture.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var st store.ProspectStore = db
	lister, ok := st.(ProspectJSONLister)
	if !ok {
		t.Fatal("the SQLite store does not write its lists (ProspectJSONLister)")
	}
	create := func(name string, ps []store.Prospect) string {
		a, err := db.CreateAccount(ctx, name, 1<<40, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ps {
			ps[i].AccountID = a.ID
			if err := db.CreateProspect(ctx, &ps[i]); err != nil {
				t.Fatal(err)
			}
		}
		return a.ID
	}
	// list walks every page of the account both ways and calls check with each.
	list := func(accountID string, check func(values *store.Page, written []json.RawMessage)) int {
		listed := 0
		for lp := (store.ListParams{Limit: 100, IncludeHidden: true}); ; {
			values, err := db.ListProspects(ctx, accountID, lp)
			if err != nil {
				t.Fatal(err)
			}
			written, more, err := lister.ListProspectsJSON(ctx, accountID, lp)
			if err != nil {
				t.Fatal(err)
			}
			if len(written) != len(values.Prospects) || more != values.HasMore {
				t.Fatalf("written page: %d prospects, has_more %v; read as values: %d, has_more %v",
					len(written), more, len(values.Prospects), values.HasMore)
			}
			check(values, written)
			listed += len(written)
			if !more {
				return listed
			}
			lp.StartingAfter = values.Prospects[len(values.Prospects)-1].ID
		}
	}

	text := func(s string) *string { return &s }
	plain := []store.Prospect{
		{Email: "bare@example.com"},
		{Email: "full@example.com", FirstName: text("Ada"), LastName: text("Lovelace"), Company: text("Analytical Engines"),
			Title: text("Countess"), Phone: text("+44 20 7946 0000"), Website: text("https://example.com/ada"),
			Source: text("import"), Status: "qualified", Tags: []string{"vip", "2024", "Zoë"},
			Metadata: map[string]string{"b": "2", "a": "1", "東京": "🚀"}, MarketingConsent: true, Hidden: true},
		{Email: "empty@example.com", FirstName: text(""), LastName: text(""), Company: text(""), Title: text(""),
			Phone: text(""), Website: text(""), Source: text(""), Tags: []string{}, Metadata: map[string]string{}},
		{Email: "hidden@example.com", Hidden: true, Tags: []string{"one"}},
		{Email: "consent@example.com", MarketingConsent: true, Metadata: map[string]string{"k": "v"}},
		{Email: "formed@example.com", Attribution: &store.Attribution{
			FirstTouch: store.Touch{At: 1732540000, Form: "frm_1", UTMSource: "news\"letter", PageURL: "https://example.com/?a=1&b=<2>"},
			LastTouch:  store.Touch{At: 1732549999, Form: "frm_2", UTMMedium: "email", UTMTerm: "東京", UTMContent: "x", Referrer: "r"}}},
	}
	accountID := create("plain", plain)
	if n := list(accountID, func(values *store.Page, written []json.RawMessage) {
		for i := range values.Prospects {
			if want := appendProspect(nil, &values.Prospects[i]); !bytes.Equal(written[i], want) {
				t.Errorf("prospect %s:\nwritten %s\nencoder %s", values.Prospects[i].ID, written[i], want)
			}
		}
	}); n != len(plain) {
		t.Fatalf("listed %d of %d", n, len(plain))
	}

	decode := func(b []byte) (v any) {
		if !utf8.Valid(b) {
			t.Fatalf("not UTF-8: %q", b)
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return v
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 250
	random := make([]store.Prospect, n)
	for i := range random {
		random[i] = randomProspect(rng, i)
		random[i].Email = fmt.Sprintf("%04d:%s", i, random[i].Email) // one live prospect per email
	}
	accountID = create("random", random)
	if listed := list(accountID, func(values *store.Page, written []json.RawMessage) {
		for i := range values.Prospects {
			want := appendProspect(nil, &values.Prospects[i])
			if !reflect.DeepEqual(decode(written[i]), decode(want)) {
				t.Fatalf("prospect %s:\nwritten %s\nencoder %s", values.Prospects[i].ID, written[i], want)
			}
		}
	}); listed != n {
		t.Fatalf("listed %d of %d", listed, n)
	}
}

// FuzzAppendString holds appendString to encoding/json for any string.
func FuzzAppendString(f *testing.F) {
	for _, s := range texts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

// TestLeanErrorEncoding holds the error object's lean encoding to encoding/json's.
func TestLeanErrorEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 2000 {
		d := randomErrorDetail(rng, randomText(rng))
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(gen.Error{Error: d}); err != nil {
			t.Fatal(err)
		}
		if got := append(appendError(nil, d), '\n'); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("error %d:\nlean    %s\ngeneric %s", i, got, want.Bytes())
		}
	}
}

// TestLeanBatchEncoding holds the batch answer's lean encoding to the generic
// one: items that failed, created, skipped or updated, in any mix.
func TestLeanBatchEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := range 40 {
		a := &batchAnswer{requestID: "req_3", results: make([]batchResult, n*3),
			created: rng.IntN(600), updated: rng.IntN(600), skipped: rng.IntN(600), failed: rng.IntN(600)}
		body := gen.ProspectBatch{Object: gen.ProspectBatchObjectBatch, Data: make([]gen.ProspectBatchResult, len(a.results)),
			Created: a.created, Updated: a.updated, Skipped: a.skipped, Failed: a.failed}
		for i := range a.results {
			r, g := &a.results[i], &body.Data[i]
			g.Index = i
			if rng.IntN(3) == 0 {
				d := randomErrorDetail(rng, "req_3")
				r.status, r.err = 400+rng.IntN(10), &d
				g.Status, g.Error = r.status, &d
				continue
			}
			p := randomProspect(rng, i)
			pj := prospectJSON(&p)
			r.status, r.prospect = 200+rng.IntN(2), &p
			g.Status, g.Prospect = r.status, &pj
		}
		generic := httptest.NewRecorder()
		if err := (gen.CreateProspectBatch200JSONResponse{Body: body,
			Headers: gen.CreateProspectBatch200ResponseHeaders{RequestId: "req_3"}}).VisitCreateProspectBatchResponse(generic); err != nil {
			t.Fatal(err)
		}
		lean := httptest.NewRecorder()
		if err := a.VisitCreateProspectBatchResponse(lean); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(lean.Body.Bytes(), generic.Body.Bytes()) {
			t.Fatalf("batch of %d:\nlean    %s\ngeneric %s", len(a.results), lean.Body, generic.Body)
		}
		if fmt.Sprint(lean.Header()) != fmt.Sprint(generic.Header()) || lean.Code != generic.Code {
			t.Fatalf("headers: lean %d %v, generic %d %v", lean.Code, lean.Header(), generic.Code, generic.Header())
		}
	}
}
