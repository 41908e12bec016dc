package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/oapi-codegen/nullable"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// This file owns the prospect's JSON: gen.Prospect (generated from
// openapi.yaml) is its shape, prospectJSON maps a store.Prospect onto it, and
// appendProspect writes the same bytes without reflection. Every answer that
// holds a prospect is written from here, except a list from a store that
// writes its rows itself (ProspectJSONLister), held to appendProspect by
// TestStoreWrittenList.
//
// The read handlers answer a prospect, or a page of them, through the
// appenders below instead of the generated types: encoding prospectJSON's
// result costs a map per nullable field and reflection per field, which was
// most of a list's time. The bytes are the same as encoding/json's, field
// order included (prospect_json_test.go holds them to it).

// prospectJSON is the wire form of a prospect.
func prospectJSON(p *store.Prospect) gen.Prospect {
	out := gen.Prospect{
		Id: p.ID, Object: gen.ProspectObjectProspect, Email: p.Email,
		FirstName: nullString(p.FirstName), LastName: nullString(p.LastName), Company: nullString(p.Company),
		Title: nullString(p.Title), Phone: nullString(p.Phone), Website: nullString(p.Website),
		Source: nullString(p.Source), Status: gen.ProspectStatus(p.Status), Tags: p.Tags, Metadata: p.Metadata,
		MarketingConsent: p.MarketingConsent, ConsentAt: nullable.NewNullNullable[int64](), Hidden: p.Hidden,
		Created: p.Created.Unix(), Updated: p.Updated.Unix(),
	}
	if p.ConsentAt != nil {
		out.ConsentAt = nullable.NewNullableWithValue(p.ConsentAt.Unix())
	}
	if a := p.Attribution; a != nil {
		out.Attribution = &gen.ProspectAttribution{FirstTouch: touchJSON(a.FirstTouch), LastTouch: touchJSON(a.LastTouch)}
	}
	return out
}

func nullString(s *string) nullable.Nullable[string] {
	if s == nil {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(*s)
}

// ProspectJSONLister is implemented by a store that can write a page of
// prospects as the API's Prospect objects in its own query, faster than
// reading the rows' columns and encoding them here (SQLite: the driver locks
// per column read). The list handler uses it when the store has it.
type ProspectJSONLister interface {
	// ListProspectsJSON is ListProspects with each prospect as the Prospect
	// object: valid UTF-8, with the fields and values appendProspect writes
	// (its escapes may differ: the same JSON values).
	ListProspectsJSON(ctx context.Context, accountID string, params store.ListParams) ([]json.RawMessage, bool, error)
}

// listProspects is ListProspects' answer: the page as the store writes it
// when it can (ProspectJSONLister), or encoded here.
func listProspects(ctx context.Context, st store.ProspectStore, accountID string, lp store.ListParams) (gen.ListProspectsResponseObject, error) {
	if jl, ok := st.(ProspectJSONLister); ok {
		rows, more, err := jl.ListProspectsJSON(ctx, accountID, lp)
		if err != nil {
			return nil, err
		}
		return prospectListAnswer{written: rows, hasMore: more, requestID: requestID(ctx)}, nil
	}
	page, err := st.ListProspects(ctx, accountID, lp)
	if err != nil {
		return nil, err
	}
	return prospectListAnswer{prospects: page.Prospects, hasMore: page.HasMore, requestID: requestID(ctx)}, nil
}

// prospectAnswer is one prospect: GetProspect's and UpdateProspect's 200, and
// as prospectCreated CreateProspect's 201.
type prospectAnswer struct {
	p         *store.Prospect
	requestID string
}

// VisitGetProspectResponse writes the answer.
func (a prospectAnswer) VisitGetProspectResponse(w http.ResponseWriter) error {
	return a.write(w, http.StatusOK)
}

// VisitUpdateProspectResponse writes the answer.
func (a prospectAnswer) VisitUpdateProspectResponse(w http.ResponseWriter) error {
	return a.write(w, http.StatusOK)
}

func (a prospectAnswer) write(w http.ResponseWriter, status int) error {
	return writeLean(w, status, a.requestID, func(b []byte) []byte { return appendProspect(b, a.p) })
}

// prospectCreated is CreateProspect's 201.
type prospectCreated struct{ prospectAnswer }

// VisitCreateProspectResponse writes the answer.
func (a prospectCreated) VisitCreateProspectResponse(w http.ResponseWriter) error {
	return a.write(w, http.StatusCreated)
}

// prospectListAnswer is ListProspects' 200: its prospects as values, or as
// the store wrote them (ProspectJSONLister).
type prospectListAnswer struct {
	prospects []store.Prospect
	written   []json.RawMessage
	hasMore   bool
	requestID string
}

// VisitListProspectsResponse writes the answer.
func (a prospectListAnswer) VisitListProspectsResponse(w http.ResponseWriter) error {
	return writeLean(w, http.StatusOK, a.requestID, func(b []byte) []byte { return appendProspectList(b, a) })
}

// leanBuffers keeps answer buffers between requests; one larger than
// maxKeptBuffer (a page of prospects full of metadata) is left to the GC.
var leanBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxKeptBuffer = 256 << 10

// writeLean writes the status with the headers the generated response sets, and
// the body that body builds followed by a newline, as json.Encoder ends a value.
func writeLean(w http.ResponseWriter, status int, requestID string, body func([]byte) []byte) error {
	bp := leanBuffers.Get().(*[]byte)
	b := append(body((*bp)[:0]), '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", requestID)
	w.WriteHeader(status)
	_, err := w.Write(b)
	keepBuffer(bp, b)
	return err
}

// keepBuffer gives b, taken from leanBuffers as bp, back for another answer.
func keepBuffer(bp *[]byte, b []byte) {
	if cap(b) <= maxKeptBuffer {
		*bp = b
		leanBuffers.Put(bp)
	}
}

// appendProspectList appends the ProspectList object of a page: its
// prospects as the store wrote them, or as appendProspect does.
func appendProspectList(b []byte, page prospectListAnswer) []byte {
	b = append(b, `{"data":[`...)
	for i, p := range page.written {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p...)
	}
	for i := range page.prospects {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendProspect(b, &page.prospects[i])
	}
	b = append(b, `],"has_more":`...)
	b = strconv.AppendBool(b, page.hasMore)
	return append(b, `,"object":"list","url":"/v1/prospects"}`...)
}

// appendProspect appends p as the Prospect object: gen.Prospect's fields in
// their declared order, as encoding/json writes prospectJSON(p).
func appendProspect(b []byte, p *store.Prospect) []byte {
	b = append(b, '{')
	if p.Attribution != nil { // rare: encoding/json of the generated type
		a, _ := json.Marshal(gen.ProspectAttribution{FirstTouch: touchJSON(p.Attribution.FirstTouch), LastTouch: touchJSON(p.Attribution.LastTouch)})
		b = append(append(append(b, `"attribution":`...), a...), ',')
	}
	b = append(b, `"company":`...)
	b = appendNullString(b, p.Company)
	b = append(b, `,"consent_at":`...)
	if p.ConsentAt == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, p.ConsentAt.Unix(), 10)
	}
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, p.Created.Unix(), 10)
	b = append(b, `,"email":`...)
	b = appendString(b, p.Email)
	b = append(b, `,"first_name":`...)
	b = appendNullString(b, p.FirstName)
	b = append(b, `,"hidden":`...)
	b = strconv.AppendBool(b, p.Hidden)
	b = append(b, `,"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"last_name":`...)
	b = appendNullString(b, p.LastName)
	b = append(b, `,"marketing_consent":`...)
	b = strconv.AppendBool(b, p.MarketingConsent)
	b = append(b, `,"metadata":`...)
	b = appendMetadata(b, p.Metadata)
	b = append(b, `,"object":"prospect","phone":`...)
	b = appendNullString(b, p.Phone)
	b = append(b, `,"source":`...)
	b = appendNullString(b, p.Source)
	b = append(b, `,"status":`...)
	b = appendString(b, p.Status)
	b = append(b, `,"tags":`...)
	if p.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range p.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = append(b, `,"title":`...)
	b = appendNullString(b, p.Title)
	b = append(b, `,"updated":`...)
	b = strconv.AppendInt(b, p.Updated.Unix(), 10)
	b = append(b, `,"website":`...)
	b = appendNullString(b, p.Website)
	return append(b, '}')
}

// appendMetadata appends m as encoding/json does a map: keys sorted.
func appendMetadata(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var stack [16]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

func appendNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendString appends s as a JSON string. A string that encoding/json copies
// as it is (valid UTF-8 without quotes, backslashes, control characters, the
// HTML characters <, > and & or U+2028 and U+2029) is copied here; any other
// goes through encoding/json itself, so that escapes are always its own.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendEscaped(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return appendEscaped(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendEscaped(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}
