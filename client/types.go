package client

import (
	"encoding/json"
	"strconv"

	"github.com/oapi-codegen/nullable"
)

// The request and response types (Prospect, ProspectCreateParams,
// ProspectUpdateParams, ProspectList, DeletedProspect, Account, Event,
// EventList, WebhookEndpoint, WebhookEndpointCreateParams,
// WebhookEndpointUpdateParams, ProspectStatus, ErrorType, ErrorCode and their
// constants) are generated from the API contract
// into models.gen.go; overlay.yaml gives them their Go shape:
//
//   - Optional fields of a create are plain values, left out when zero.
//   - Every field of an update is a [nullable.Nullable], set with [Set] and, where
//     the API allows it, cleared with [Null]; a field left zero is not sent.
//   - Fields an answer may send as null are plain values too, zero when null:
//     p.Title is "" for a prospect without a title, p.ConsentAt 0 without consent.
//   - Sets that grow are open: a Status or Code this version does not know
//     decodes as its string, so compare with the constants and keep a default
//     (they have no Valid method: such a value is unknown, not invalid).
//   - A field that always holds one value (Object, Deleted) is a plain string
//     or bool, not a type of one constant.

// ProspectListParams filter a list and size its pages. Every field is optional
// and left out of the request when zero.
type ProspectListParams struct {
	// Limit is how many prospects a page holds, 1 to 100 (default 10).
	Limit int
	// StartingAfter is a prospect id: the page starts right after it (older
	// prospects).
	StartingAfter string
	// EndingBefore is a prospect id: the page ends right before it (newer
	// prospects).
	EndingBefore string
	// Email keeps only the prospect with this email (compared in lower case).
	Email string
	// Status keeps only prospects with this status.
	Status ProspectStatus
	// Tag keeps only prospects carrying this tag.
	Tag string
	// CreatedGTE keeps only prospects created at or after this Unix time (seconds).
	CreatedGTE int64
	// CreatedLTE keeps only prospects created at or before this Unix time (seconds).
	CreatedLTE int64
}

// ProspectSearchParams are one page of a search: the query, in the API's
// search language, the page size and the page.
type ProspectSearchParams struct {
	// Query is the search, such as company~"acme" AND status:"new".
	Query string
	// Limit is how many prospects a page holds, 1 to 100 (default 10).
	Limit int
	// Page is the NextPage of the page before; empty for the first.
	Page string
}

// query is p as the list's query string parameters.
func (p ProspectListParams) query() map[string]string {
	return listQuery(p.Limit, p.StartingAfter, p.EndingBefore, p.CreatedGTE, p.CreatedLTE,
		"email", p.Email, "status", string(p.Status), "tag", p.Tag)
}

// listQuery is a list's query string: what every list shares (the page size,
// the cursors, the created range), then its own filters as name, value pairs;
// zero values are left out.
func listQuery(limit int, after, before string, gte, lte int64, filters ...string) map[string]string {
	q := map[string]string{}
	set := func(name, v string) {
		if v != "" {
			q[name] = v
		}
	}
	setNumber := func(name string, v int64) {
		if v != 0 {
			q[name] = strconv.FormatInt(v, 10)
		}
	}
	setNumber("limit", int64(limit))
	set("starting_after", after)
	set("ending_before", before)
	setNumber("created_gte", gte)
	setNumber("created_lte", lte)
	for i := 0; i+1 < len(filters); i += 2 {
		set(filters[i], filters[i+1])
	}
	return q
}

// Set returns a field of [ProspectUpdateParams] holding v: the update sets the
// field to v.
func Set[T any](v T) nullable.Nullable[T] { return nullable.NewNullableWithValue(v) }

// Null returns a field of [ProspectUpdateParams] holding null: the update clears
// the field. Only the fields a prospect can lack accept it (not Email, Status,
// MarketingConsent or Hidden: the API answers parameter_invalid).
func Null[T any]() nullable.Nullable[T] { return nullable.NewNullNullable[T]() }

// MarshalJSON encodes p as the API sends a prospect: the fields the API sends as
// null when the prospect lacks them (FirstName, LastName, Company, Title, Phone,
// Website, Source and ConsentAt) are null when zero, so that a program that
// prints or stores a prospect as JSON writes what the API said.
func (p Prospect) MarshalJSON() ([]byte, error) {
	type fields Prospect // the same fields without this method
	return json.Marshal(struct {
		fields
		FirstName *string `json:"first_name"`
		LastName  *string `json:"last_name"`
		Company   *string `json:"company"`
		Title     *string `json:"title"`
		Phone     *string `json:"phone"`
		Website   *string `json:"website"`
		Source    *string `json:"source"`
		ConsentAt *int64  `json:"consent_at"`
	}{
		fields(p),
		nonZero(p.FirstName), nonZero(p.LastName), nonZero(p.Company), nonZero(p.Title),
		nonZero(p.Phone), nonZero(p.Website), nonZero(p.Source), nonZero(p.ConsentAt),
	})
}

// nonZero is a pointer to v, or nil when v is its type's zero value.
func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
