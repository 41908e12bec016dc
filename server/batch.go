package server

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/oapi-codegen/runtime"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// CreateProspectBatch answers each item of a batch on its own, in order. The
// items are written in one store transaction (which joins the one keeping the
// answer of an Idempotency-Key); an item's failure undoes only its own writes.
// A failure that is not the item's (storage, deadline) fails the whole batch,
// and nothing of it is kept.
func (h *handlers) CreateProspectBatch(ctx context.Context, req gen.CreateProspectBatchRequestObject) (gen.CreateProspectBatchResponseObject, error) {
	ctx = store.WithConsentSource(ctx, store.ConsentSourceImport) // a batch is an import, for the consent ledger
	b := h.newBatch(req.Body.OnConflict)
	items := req.Body.Prospects
	out := &batchAnswer{requestID: requestID(ctx), results: make([]batchResult, len(items))}
	// Each item's own checks first, before the transaction: they need no
	// storage, and the single writer of SQLite is not held while they run.
	// With an Idempotency-Key the whole request runs in a transaction, and
	// checkBatch checked the items before it began.
	checked, _ := ctx.Value(checkedKey{}).(*checkedItems)
	if checked == nil || len(checked.ps) != len(items) {
		checked = b.check(ctx, items)
	}
	var todo []int
	var ps []*store.Prospect
	var patches []patched // under update, of the items in todo
	for i, p := range checked.ps {
		if p == nil {
			if err := b.answer(ctx, out, i, 0, nil, checked.errs[i]); err != nil {
				return nil, err
			}
			continue
		}
		todo, ps = append(todo, i), append(ps, p)
		if checked.patches != nil {
			patches = append(patches, checked.patches[i])
		}
	}
	if len(todo) == 0 {
		return out, nil // every item failed its checks: nothing to write
	}
	return b.upsert(ctx, out, todo, ps, patches)
}

// upsert writes the checked items of a batch (ps, the items at the indexes
// todo) in one store call, the conflicts resolved with the rest of the batch
// as on_conflict says: under update with patches, each of ps's patch, made
// with its checks, so that the store only applies it.
func (b *batch) upsert(ctx context.Context, out *batchAnswer, todo []int, ps []*store.Prospect, patches []patched) (*batchAnswer, error) {
	admin := apiKey(ctx).Role == store.RoleAdmin
	conflict := func(k int, existing *store.Prospect) (*store.ProspectPatch, error) {
		exists := &store.ExistsError{ID: existing.ID, Hidden: existing.Hidden}
		if b.onConflict == gen.OnConflictError || existing.Hidden && !admin {
			return nil, hideHiddenDuplicate(ctx, exists)
		}
		if patches == nil {
			return nil, nil // skip: the prospect as it is
		}
		return patches[k].patch, patches[k].err
	}
	outcomes, err := b.store.UpsertProspects(ctx, ps, conflict, checkMetadataCount)
	if err != nil {
		return nil, err
	}
	for k, o := range outcomes {
		status := http.StatusOK
		if o.Created {
			status = http.StatusCreated
		}
		if err := b.answer(ctx, out, todo[k], status, o.Prospect, o.Err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// patch is the update an item under on_conflict update makes to the existing
// prospect with its email.
func (b *batch) patch(ctx context.Context, item map[string]any) (store.ProspectPatch, error) {
	var update gen.ProspectUpdate
	changes := maps.Clone(item)
	delete(changes, "email") // the item's email is the one that matched
	if err := bindItem(changes, &update); err != nil {
		return store.ProspectPatch{}, err
	}
	return prospectPatch(ctx, &update)
}

// checkedItems is each item of a batch checked: the prospect to create, or
// (nil) the item's error; under update, also the patch it makes to an
// existing prospect with its email.
type checkedItems struct {
	ps      []*store.Prospect
	errs    []error
	patches []patched
}

// patched is an item's patch, or why it cannot be one.
type patched struct {
	patch *store.ProspectPatch
	err   error
}

// checkedKey is the context key of the checkedItems checkBatch made.
type checkedKey struct{}

// check checks each item as a create's body.
func (b *batch) check(ctx context.Context, items []map[string]any) *checkedItems {
	c := &checkedItems{ps: make([]*store.Prospect, len(items)), errs: make([]error, len(items))}
	if b.onConflict == gen.OnConflictUpdate {
		c.patches = make([]patched, len(items))
	}
	// The items' fields (not their nulls) go through the create schema all at
	// once: only from the first that fails is each checked on its own, to name
	// what is wrong with it.
	fields, clears := make([]map[string]any, len(items)), make([]map[string]any, len(items))
	for i, item := range items {
		fields[i], clears[i] = b.split(item)
	}
	valid := b.items.checkAll(fields) // the items before it are valid creates
	for i, item := range items {
		if c.ps[i], c.errs[i] = b.prospect(ctx, fields[i], clears[i], i < valid, i); c.ps[i] != nil && c.patches != nil {
			patch, err := b.patch(ctx, item)
			c.patches[i] = patched{&patch, err}
		}
	}
	return c
}

// checkBatch checks the items of a batch with an Idempotency-Key before
// execute runs it in the transaction that keeps its answer: on SQLite that
// transaction holds the single writer, which every account's writes wait for,
// and checking 500 items takes longer than writing them. The handler takes the
// items as checked here. A body that does not decode is left to the handler
// to answer.
func (s *Server) checkBatch(c *call) error {
	if c.route.Operation.OperationID != batchOperation || idempotencyKey(c.r) == "" {
		return nil
	}
	raw := c.batchBody()
	var req gen.CreateProspectBatchJSONRequestBody
	req.Prospects = make([]map[string]any, len(raw.Prospects))
	if raw.Prospects == nil || raw.OnConflict != nil && json.Unmarshal(raw.OnConflict, &req.OnConflict) != nil {
		return nil
	}
	for i, item := range raw.Prospects {
		if json.Unmarshal(item, &req.Prospects[i]) != nil {
			return nil
		}
	}
	checked := s.handlers.newBatch(req.OnConflict).check(c.r.Context(), req.Prospects)
	c.r = c.r.WithContext(context.WithValue(c.r.Context(), checkedKey{}, checked))
	return nil
}

// rawBatch is a batch request's body with its items undecoded: what the rate
// limit counts and checkBatch decodes item by item, read once.
type rawBatch struct {
	OnConflict json.RawMessage   `json:"on_conflict"`
	Prospects  []json.RawMessage `json:"prospects"`
}

// batchBody decodes the call's body, read by readBody, as a batch, once: an
// empty rawBatch when it is no batch (its checks answer it later).
func (c *call) batchBody() *rawBatch {
	if c.batch != nil {
		return c.batch
	}
	c.batch = &rawBatch{}
	if c.r.GetBody == nil {
		return c.batch
	}
	body, err := c.r.GetBody()
	if err != nil {
		return c.batch
	}
	if json.NewDecoder(body).Decode(c.batch) != nil {
		c.batch = &rawBatch{}
	}
	return c.batch
}

// newBatch starts a batch request with its on_conflict, if given.
func (h *handlers) newBatch(onConflict *gen.OnConflict) *batch {
	b := &batch{handlers: h, onConflict: gen.OnConflictError}
	if onConflict != nil {
		b.onConflict = *onConflict
	}
	return b
}

// batch is one batch request on its way through its items.
type batch struct {
	*handlers
	onConflict gen.OnConflict
}

// answer puts item i's outcome in the batch's answer, and returns err when it
// is not the item's (storage, deadline), to fail the whole batch.
func (b *batch) answer(ctx context.Context, out *batchAnswer, i, status int, p *store.Prospect, err error) error {
	res := &out.results[i]
	res.status = status
	if err != nil {
		e := asAPIError(err)
		if e.Status >= http.StatusInternalServerError {
			return err
		}
		e = atItem(e, itemPath(i))
		res.status = e.Status
		detail := errorDetail(e, requestID(ctx), b.publicURL)
		res.err = &detail
		if b.onConflict == gen.OnConflictSkip && errors.Is(err, store.ErrSuppressed) {
			out.skipped++ // a suppressed email is skipped, as a taken one is
		} else {
			out.failed++
		}
		return nil
	}
	res.prospect = p
	switch {
	case status == http.StatusCreated:
		out.created++
	case b.onConflict == gen.OnConflictSkip:
		out.skipped++
	default:
		out.updated++
	}
	return nil
}

// batchAnswer is CreateProspectBatch's 200: the ProspectBatch object, written
// by appendTo as encoding/json would write it (prospect_json_test.go holds
// it to that) without a reflection pass over 500 prospects.
type batchAnswer struct {
	results                           []batchResult
	created, updated, skipped, failed int
	requestID                         string
}

// batchResult is one item's outcome: its status and either the prospect or
// the error.
type batchResult struct {
	status   int
	prospect *store.Prospect
	err      *gen.ErrorDetail
}

// VisitCreateProspectBatchResponse writes the answer.
func (a *batchAnswer) VisitCreateProspectBatchResponse(w http.ResponseWriter) error {
	return writeLean(w, http.StatusOK, a.requestID, a.appendTo)
}

// appendTo appends the ProspectBatch object, gen.ProspectBatch's fields in
// their declared order.
func (a *batchAnswer) appendTo(b []byte) []byte {
	b = append(b, `{"created":`...)
	b = strconv.AppendInt(b, int64(a.created), 10)
	b = append(b, `,"data":[`...)
	for i, r := range a.results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if r.err != nil {
			b = append(b, `"error":`...)
			b = append(appendErrorDetail(b, *r.err), ',')
		}
		b = append(b, `"index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		if r.prospect != nil {
			b = append(b, `,"prospect":`...)
			b = appendProspect(b, r.prospect)
		}
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(r.status), 10)
		b = append(b, '}')
	}
	b = append(b, `],"failed":`...)
	b = strconv.AppendInt(b, int64(a.failed), 10)
	b = append(b, `,"object":"batch","skipped":`...)
	b = strconv.AppendInt(b, int64(a.skipped), 10)
	b = append(b, `,"updated":`...)
	b = strconv.AppendInt(b, int64(a.updated), 10)
	return append(b, '}')
}

func itemPath(i int) []string { return []string{"prospects", strconv.Itoa(i)} }

// split parts an item into its fields and, under on_conflict update, the
// fields given as null, which clear a field of an existing prospect as in PATCH.
func (b *batch) split(item map[string]any) (fields, clears map[string]any) {
	fields = item
	if b.onConflict != gen.OnConflictUpdate {
		return fields, nil
	}
	for k, v := range item {
		if v == nil {
			if clears == nil {
				clears, fields = map[string]any{}, maps.Clone(item)
			}
			clears[k] = nil
			delete(fields, k)
		}
	}
	return fields, clears
}

// prospect checks an item's fields as a create's body (unless valid says
// that every item's are) and its clears as an update's, and makes the
// prospect to create.
func (b *batch) prospect(ctx context.Context, fields, clears map[string]any, valid bool, i int) (*store.Prospect, error) {
	if e := b.items.check(fields, clears, !valid, itemPath(i)...); e != nil {
		return nil, e
	}
	var create gen.ProspectCreate
	if err := bindCreate(fields, &create); err != nil {
		return nil, err
	}
	return newProspect(ctx, &create)
}

// atItem is an item's error with its param as a path from the request root
// (prospects[2].email); a schema error names that path already.
func atItem(e *Error, path []string) *Error {
	prefix := param(path) + "."
	if e.Param == "" || strings.HasPrefix(e.Param, prefix) {
		return e
	}
	c := *e
	c.Param = prefix + e.Param
	return &c
}

// bindItem binds an item the schema check accepted into its Go type, as the
// generated strict handler binds a request's validated body.
func bindItem(v map[string]any, dst any) error {
	return runtime.BindJSONValue(v, dst)
}

// bindCreate binds an item the schema check accepted into a create's body,
// field by field: runtime.BindJSONValue encodes and decodes it again, which
// costs more than checking it. A value of another shape than the schema's
// (none passes the check) goes through bindItem.
func bindCreate(item map[string]any, dst *gen.ProspectCreate) error {
	str := func(v any) (*string, bool) { s, ok := v.(string); return &s, ok }
	flag := func(v any) (*bool, bool) { b, ok := v.(bool); return &b, ok }
	for k, v := range item {
		ok := true
		switch k {
		case "email":
			var s string
			s, ok = v.(string)
			dst.Email = openapi_types.Email(s)
		case "first_name":
			dst.FirstName, ok = str(v)
		case "last_name":
			dst.LastName, ok = str(v)
		case "company":
			dst.Company, ok = str(v)
		case "title":
			dst.Title, ok = str(v)
		case "phone":
			dst.Phone, ok = str(v)
		case "website":
			dst.Website, ok = str(v)
		case "source":
			dst.Source, ok = str(v)
		case "consent_text":
			dst.ConsentText, ok = str(v)
		case "status":
			var s string
			s, ok = v.(string)
			status := gen.ProspectStatus(s)
			dst.Status = &status
		case "marketing_consent":
			dst.MarketingConsent, ok = flag(v)
		case "hidden":
			dst.Hidden, ok = flag(v)
		case "tags":
			var list []any
			list, ok = v.([]any)
			tags := make(gen.Tags, len(list))
			for i, t := range list {
				if tags[i], ok = t.(string); !ok {
					break
				}
			}
			dst.Tags = &tags
		case "metadata":
			var m map[string]any
			m, ok = v.(map[string]any)
			md := make(gen.Metadata, len(m))
			for mk, mv := range m {
				if md[mk], ok = mv.(string); !ok {
					break
				}
			}
			dst.Metadata = &md
		default:
			ok = false
		}
		if !ok {
			*dst = gen.ProspectCreate{}
			return bindItem(item, dst)
		}
	}
	return nil
}
