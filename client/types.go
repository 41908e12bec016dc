package client

import (
	"github.com/oapi-codegen/nullable"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/captureapi/capture/gen"
)

// The request and response types are the ones generated from the API contract;
// the aliases only give them names that read well at the call site, so values
// move freely between this package and gen.
type (
	// Prospect is a person who may buy, as the API returns it.
	Prospect = gen.Prospect
	// ProspectCreateParams are the fields of a new prospect; only Email is required.
	ProspectCreateParams = gen.ProspectCreate
	// ProspectUpdateParams are the fields to change: unset fields are left alone,
	// and a field set with [Null] is cleared.
	ProspectUpdateParams = gen.ProspectUpdate
	// ProspectListParams filter a list and size its pages.
	ProspectListParams = gen.ListProspectsParams
	// ProspectList is one page of prospects, newest first.
	ProspectList = gen.ProspectList
	// ProspectStatus is where a prospect stands in the sales funnel.
	ProspectStatus = gen.ProspectStatus
	// DeletedProspect confirms a deletion.
	DeletedProspect = gen.DeletedProspect
	// Account is the account an API key belongs to, with its plan limit and usage.
	Account = gen.Account
	// Email is an email address; the client checks its syntax before sending.
	Email = openapi_types.Email
	// Metadata holds up to 50 string keys with string values, for your own use.
	Metadata = gen.Metadata
	// ErrorType is the broad kind of an [Error], such as invalid_request_error.
	ErrorType = gen.ErrorType
	// ErrorCode is the stable machine string of an [Error], such as resource_missing.
	ErrorCode = gen.ErrorCode
)

// Ptr returns a pointer to v. The optional fields of [ProspectCreateParams] and
// [ProspectListParams] are pointers so that "not given" differs from a zero value.
func Ptr[T any](v T) *T { return &v }

// Set returns a nullable field holding v, for the fields of [ProspectUpdateParams]
// that can be cleared.
func Set[T any](v T) nullable.Nullable[T] { return nullable.NewNullableWithValue(v) }

// Null returns a nullable field holding null: sent in [ProspectUpdateParams], it
// clears the field on the server.
func Null[T any]() nullable.Nullable[T] { return nullable.NewNullNullable[T]() }
