package server

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/oapi-codegen/runtime"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// CreateProspectBatch answers each item of a batch on its own, in order. The
// items are written in one store transaction (which joins the one keeping the
// answer of an Idempotency-Key); an item's failure undoes only its own writes.
// A failure that is not the item's (storage, deadline) fails the whole batch,
// and nothing of it is kept.
func (h *handlers) CreateProspectBatch(ctx context.Context, req gen.CreateProspectBatchRequestObject) (gen.CreateProspectBatchResponseObject, error) {
	b := &batch{handlers: h, onConflict: gen.OnConflictError, written: map[string]*store.Prospect{}}
	if req.Body.OnConflict != nil {
		b.onConflict = *req.Body.OnConflict
	}
	var out gen.ProspectBatch
	err := h.store.Atomically(ctx, func(ctx context.Context) error {
		out = gen.ProspectBatch{Object: gen.ProspectBatchObjectBatch, Data: make([]gen.ProspectBatchResult, len(req.Body.Prospects))}
		for i, item := range req.Body.Prospects {
			path := []string{"prospects", strconv.Itoa(i)}
			status, p, err := b.capture(ctx, item, path)
			res := &out.Data[i]
			res.Index, res.Status = i, status
			if err != nil {
				e := asAPIError(err)
				if e.Status >= http.StatusInternalServerError {
					return err
				}
				e = atItem(e, path)
				res.Status = e.Status
				detail := errorDetail(e, requestID(ctx), h.publicURL)
				res.Error = &detail
				out.Failed++
				continue
			}
			pj := prospectJSON(p)
			res.Prospect = &pj
			switch {
			case status == http.StatusCreated:
				out.Created++
			case b.onConflict == gen.OnConflictSkip:
				out.Skipped++
			default:
				out.Updated++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return gen.CreateProspectBatch200JSONResponse{Body: out,
		Headers: gen.CreateProspectBatch200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// batch is one batch request on its way through its items.
type batch struct {
	*handlers
	onConflict gen.OnConflict
	// written holds the prospects this batch created or updated, by id: a
	// later item with the same email meets one of them as the existing
	// prospect, which reads outside the batch's transaction may not see yet.
	written map[string]*store.Prospect
}

// capture answers one item: its status and prospect, or its error.
func (b *batch) capture(ctx context.Context, item map[string]any, path []string) (int, *store.Prospect, error) {
	fields, clears := item, map[string]any(nil)
	if b.onConflict == gen.OnConflictUpdate { // null clears a field of an existing prospect, as in PATCH
		for k, v := range item {
			if v == nil {
				if clears == nil {
					clears, fields = map[string]any{}, maps.Clone(item)
				}
				clears[k] = nil
				delete(fields, k)
			}
		}
	}
	if e := b.items.check(fields, clears, path...); e != nil {
		return 0, nil, e
	}
	var create gen.ProspectCreate
	if err := bindItem(fields, &create); err != nil {
		return 0, nil, err
	}
	p, err := newProspect(ctx, &create)
	if err != nil {
		return 0, nil, err
	}
	err = b.store.CreateProspect(ctx, p)
	var exists *store.ExistsError
	switch {
	case err == nil:
		b.written[p.ID] = p
		return http.StatusCreated, p, nil
	case !errors.As(err, &exists):
		return 0, nil, err
	case b.onConflict == gen.OnConflictError || exists.Hidden && apiKey(ctx).Role != store.RoleAdmin:
		return 0, nil, hideHiddenDuplicate(ctx, err)
	case b.onConflict == gen.OnConflictSkip:
		if w := b.written[exists.ID]; w != nil {
			return http.StatusOK, w, nil
		}
		existing, err := b.store.Prospect(ctx, p.AccountID, exists.ID)
		return http.StatusOK, existing, err
	}
	var update gen.ProspectUpdate
	changes := maps.Clone(item)
	delete(changes, "email") // the item's email is the one that matched
	if err := bindItem(changes, &update); err != nil {
		return 0, nil, err
	}
	patch, err := prospectPatch(ctx, &update)
	if err != nil {
		return 0, nil, err
	}
	updated, err := b.store.UpdateProspect(ctx, p.AccountID, exists.ID, patch, checkMetadataCount)
	if err != nil {
		return 0, nil, err
	}
	b.written[updated.ID] = updated
	return http.StatusOK, updated, nil
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
