package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oapi-codegen/nullable"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// handlers implements the generated strict interface: each method maps a request
// object to a store call and the result to a response object. Errors are returned,
// not written: the strict handler passes them to writeError.
type handlers struct {
	store                apiStore
	events               store.EventStore
	privacy              store.PrivacyStore // nil when the store keeps no privacy records
	webhooks             store.WebhookStore
	forms                store.FormStore
	webhooksAllowPrivate bool
	defaultRateLimit     int
	ready                readiness
	items                itemRules // how each item of a batch is checked
	publicURL            string    // for the doc_url of a batch item's error
}

var _ gen.StrictServerInterface = (*handlers)(nil)

// apiStore is what the API's handlers use of the store: prospects, the
// caller's account, and the database for a batch's one transaction and the
// readiness probe.
type apiStore interface {
	store.ProspectStore
	store.SearchStore
	store.AccountStore
	store.Database
}

// maxMetadataKey is the longest metadata key, in characters; the spec cannot say
// it (OpenAPI 3.0 has no propertyNames), so it is checked here. maxMetadataKeys is
// the spec's maxProperties, checked again on the merged result of an update.
const (
	maxMetadataKey  = 40
	maxMetadataKeys = 50
)

func (h *handlers) CreateProspect(ctx context.Context, req gen.CreateProspectRequestObject) (gen.CreateProspectResponseObject, error) {
	p, err := newProspect(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	if err := h.store.CreateProspect(ctx, p); err != nil {
		return nil, hideHiddenDuplicate(ctx, err)
	}
	return prospectCreated{prospectAnswer{p: p, requestID: requestID(ctx)}}, nil
}

// newProspect maps a create's body to the prospect to store, refusing what the
// schema cannot: hidden set by a standard key, metadata keys of the wrong length.
func newProspect(ctx context.Context, b *gen.ProspectCreate) (*store.Prospect, error) {
	key := apiKey(ctx)
	if b.Hidden != nil && key.Role != store.RoleAdmin {
		return nil, adminRequired()
	}
	if b.Metadata != nil {
		if err := checkMetadataKeys(*b.Metadata); err != nil {
			return nil, err
		}
	}
	p := &store.Prospect{
		AccountID: key.AccountID, Email: string(b.Email),
		FirstName: b.FirstName, LastName: b.LastName, Company: b.Company, Title: b.Title,
		Phone: b.Phone, Website: b.Website, Source: b.Source,
		MarketingConsent: deref(b.MarketingConsent), Hidden: deref(b.Hidden), ConsentText: b.ConsentText,
	}
	if b.Status != nil {
		p.Status = string(*b.Status)
	}
	if b.Tags != nil {
		p.Tags = *b.Tags
	}
	if b.Metadata != nil {
		p.Metadata = map[string]string{}
		for k, v := range *b.Metadata {
			if v != "" { // as in an update, an empty value means no key
				p.Metadata[k] = v
			}
		}
	}
	return p, nil
}

func (h *handlers) GetProspect(ctx context.Context, req gen.GetProspectRequestObject) (gen.GetProspectResponseObject, error) {
	p, err := h.store.Prospect(ctx, apiKey(ctx).AccountID, req.Id)
	if err != nil {
		return nil, prospectError(err, req.Id)
	}
	if err := canSee(ctx, p); err != nil {
		return nil, err
	}
	return prospectAnswer{p: p, requestID: requestID(ctx)}, nil
}

func (h *handlers) UpdateProspect(ctx context.Context, req gen.UpdateProspectRequestObject) (gen.UpdateProspectResponseObject, error) {
	patch, err := prospectPatch(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	p, err := h.store.UpdateProspect(ctx, apiKey(ctx).AccountID, req.Id, patch, func(p *store.Prospect) error {
		if err := canSee(ctx, p); err != nil {
			return err
		}
		return checkMetadataCount(p)
	})
	if err != nil {
		return nil, prospectError(hideHiddenDuplicate(ctx, err), req.Id)
	}
	return prospectAnswer{p: p, requestID: requestID(ctx)}, nil
}

// prospectPatch maps an update's body to the store's patch, refusing what the
// schema cannot: hidden set by a standard key, metadata keys of the wrong length.
func prospectPatch(ctx context.Context, b *gen.ProspectUpdate) (store.ProspectPatch, error) {
	if b.Hidden != nil && apiKey(ctx).Role != store.RoleAdmin {
		return store.ProspectPatch{}, adminRequired()
	}
	patch := store.ProspectPatch{
		FirstName: patchString(b.FirstName), LastName: patchString(b.LastName), Company: patchString(b.Company),
		Title: patchString(b.Title), Phone: patchString(b.Phone), Website: patchString(b.Website),
		Source: patchString(b.Source), MarketingConsent: b.MarketingConsent, Hidden: b.Hidden, ConsentText: b.ConsentText,
	}
	if b.Email != nil {
		email := string(*b.Email)
		patch.Email = &email
	}
	if b.Status != nil {
		status := string(*b.Status)
		patch.Status = &status
	}
	if b.Tags.IsSpecified() {
		tags, _ := b.Tags.Get() // nil when null: clears
		patch.Tags = &tags
	}
	if b.Metadata.IsSpecified() {
		if b.Metadata.IsNull() {
			patch.ClearMetadata = true
		} else {
			patch.Metadata = b.Metadata.MustGet()
			if err := checkMetadataKeys(patch.Metadata); err != nil {
				return store.ProspectPatch{}, err
			}
		}
	}
	return patch, nil
}

// checkMetadataCount refuses an update whose merged metadata has too many keys:
// the patch's keys are valid, their sum with the stored ones may not be.
func checkMetadataCount(p *store.Prospect) error {
	if len(p.Metadata) > maxMetadataKeys {
		return invalid(gen.ErrorCodeParameterInvalid, "metadata",
			"Invalid metadata: a prospect has at most %d keys; this update would leave %d.", maxMetadataKeys, len(p.Metadata))
	}
	return nil
}

func (h *handlers) DeleteProspect(ctx context.Context, req gen.DeleteProspectRequestObject) (gen.DeleteProspectResponseObject, error) {
	err := h.store.DeleteProspect(ctx, apiKey(ctx).AccountID, req.Id, func(p *store.Prospect) error { return canSee(ctx, p) })
	if err != nil {
		return nil, prospectError(err, req.Id)
	}
	return gen.DeleteProspect200JSONResponse{
		Body:    gen.DeletedProspect{Id: req.Id, Object: gen.DeletedProspectObjectProspect, Deleted: true},
		Headers: gen.DeleteProspect200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) ListProspects(ctx context.Context, req gen.ListProspectsRequestObject) (gen.ListProspectsResponseObject, error) {
	key, q := apiKey(ctx), req.Params
	w, err := listWindow(q.Limit, q.StartingAfter, q.EndingBefore, q.CreatedGte, q.CreatedLte)
	if err != nil {
		return nil, err
	}
	lp := store.ListParams{Limit: w.limit, IncludeHidden: key.Role == store.RoleAdmin,
		StartingAfter: w.after, EndingBefore: w.before, CreatedGTE: w.gte, CreatedLTE: w.lte,
		Email: deref(q.Email), Tag: deref(q.Tag)}
	if q.Status != nil {
		lp.Status = string(*q.Status)
	}
	return listProspects(ctx, h.store, key.AccountID, lp)
}

func (h *handlers) GetAccount(ctx context.Context, _ gen.GetAccountRequestObject) (gen.GetAccountResponseObject, error) {
	key := apiKey(ctx)
	a, err := h.store.Account(ctx, key.AccountID)
	if err != nil {
		return nil, err
	}
	rate := a.RateLimit
	if rate == 0 {
		rate = h.defaultRateLimit
	}
	retention := nullable.NewNullNullable[int]()
	if a.RetentionDays != nil {
		retention = nullable.NewNullableWithValue(*a.RetentionDays)
	}
	return gen.GetAccount200JSONResponse{Body: gen.Account{
		Id: a.ID, Object: gen.AccountObjectAccount, Name: a.Name, ProspectLimit: a.ProspectLimit,
		ProspectCount: a.ProspectCount, RateLimit: rate, WebhookEndpointLimit: &a.WebhookEndpointLimit,
		RetentionDays: retention, KeyId: key.ID, Role: gen.AccountRole(key.Role),
	}, Headers: gen.GetAccount200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	return gen.GetHealth200JSONResponse{Body: gen.Health{Status: gen.HealthStatusOk},
		Headers: gen.GetHealth200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

func (h *handlers) GetReadiness(ctx context.Context, _ gen.GetReadinessRequestObject) (gen.GetReadinessResponseObject, error) {
	if err := h.ready.check(ctx, h.store); err != nil {
		if !errors.Is(err, store.ErrUnavailable) {
			err = errors.Join(store.ErrUnavailable, err)
		}
		return nil, err
	}
	return gen.GetReadiness200JSONResponse{Body: gen.Health{Status: gen.HealthStatusOk},
		Headers: gen.GetReadiness200ResponseHeaders{RequestId: requestID(ctx)}}, nil
}

// canSee vetoes access to a hidden prospect for keys without the admin role.
func canSee(ctx context.Context, p *store.Prospect) error {
	if p.Hidden && apiKey(ctx).Role != store.RoleAdmin {
		e := requestError(http.StatusForbidden, gen.ErrorCodeProspectHidden,
			"Prospect %s is hidden; only admin keys can see it.", p.ID)
		e.Param = "id"
		return e
	}
	return nil
}

func adminRequired() *Error {
	e := requestError(http.StatusForbidden, gen.ErrorCodeAdminKeyRequired, "Only admin keys can set hidden.")
	e.Param = "hidden"
	return e
}

// prospectError says which prospect a store error is about.
func prospectError(err error, id string) error {
	var e *Error
	switch {
	case errors.Is(err, store.ErrNotFound):
		e = requestError(http.StatusNotFound, gen.ErrorCodeResourceMissing, "No such prospect: '%s'.", id)
	case errors.Is(err, store.ErrDeleted):
		e = requestError(http.StatusGone, gen.ErrorCodeResourceGone, "Prospect %s has been deleted.", id)
	default:
		return err
	}
	e.Param = "id"
	return e
}

// hideHiddenDuplicate keeps the id of a hidden duplicate from keys that may not
// see hidden prospects: they learn only that the email is taken.
func hideHiddenDuplicate(ctx context.Context, err error) error {
	var exists *store.ExistsError
	if !errors.As(err, &exists) || !exists.Hidden || apiKey(ctx).Role == store.RoleAdmin {
		return err
	}
	e := requestError(http.StatusConflict, gen.ErrorCodeProspectExists, "A prospect with this email exists already.")
	e.Param = "email"
	return e
}

// checkMetadataKeys checks the keys against the spec's x-property-names.
func checkMetadataKeys(m map[string]string) error {
	for k := range m {
		if k == "" || utf8.RuneCountInString(k) > maxMetadataKey {
			return invalid(gen.ErrorCodeParameterInvalid, "metadata."+k,
				"Metadata keys must be 1 to %d characters long.", maxMetadataKey)
		}
		if strings.IndexByte(k, 0) >= 0 {
			return invalid(gen.ErrorCodeParameterInvalid, "metadata."+k, "Metadata keys must not contain U+0000 (NUL).")
		}
	}
	return nil
}

// patchString maps a JSON field that may be absent, null or a value to the store's
// "leave alone / clear / set".
func patchString(n nullable.Nullable[string]) **string {
	if !n.IsSpecified() {
		return nil
	}
	var v *string
	if !n.IsNull() {
		s := n.MustGet()
		v = &s
	}
	return &v
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// window is what every list operation reads alike: the page size, one cursor
// (never both) and the created range.
type window struct {
	limit         int
	after, before string
	gte, lte      *time.Time
}

func listWindow(limit *int, after, before *string, gte, lte *int64) (window, error) {
	if after != nil && before != nil {
		return window{}, invalid(gen.ErrorCodeParameterInvalid, "ending_before", "Send starting_after or ending_before, not both.")
	}
	w := window{limit: 10, after: deref(after), before: deref(before)}
	if limit != nil {
		w.limit = *limit
	}
	if gte != nil {
		t := time.Unix(*gte, 0)
		w.gte = &t
	}
	if lte != nil {
		t := time.Unix(*lte, 0)
		w.lte = &t
	}
	return w, nil
}
