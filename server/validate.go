package server

import (
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/captureapi/capture/gen"
)

// emailFormat replaces kin-openapi's loose email pattern: an address is valid when
// net/mail parses it as a bare address, which is what a mail server would accept.
// The map is built once and only read: WithStringFormatValidator would build one
// for every schema a request's validation visits.
var emailFormat = openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
	"email": openapi3.NewCallbackValidator(func(s string) error {
		a, err := mail.ParseAddress(s)
		if err != nil || a.Address != s {
			return errors.New("must be a valid email address")
		}
		return nil
	}),
})

// textPattern is openapi.yaml's pattern for text: anything but U+0000, which
// PostgreSQL's text cannot hold.
const textPattern = `^[^\x00]*$`

// validateRequest checks the parameters and body against openapi.yaml with
// kin-openapi, the same check its nethttp middleware makes less the security
// requirements (authenticate checks keys; see operation.checked), on the route
// already found. The decoded body is kept for the strict handler. A request the
// check cannot refuse skips it (see operation.uncheckable).
func (s *Server) validateRequest(c *call) error {
	if c.r.URL.RawQuery == "" && c.uncheckable {
		return nil
	}
	err := openapi3filter.ValidateRequest(c.r.Context(), &openapi3filter.RequestValidationInput{
		Request: c.r, PathParams: pathParams(c.r, c.paramsAt), Route: c.checked, Options: s.validate,
	})
	if err != nil {
		return validationError(err)
	}
	return nil
}

// uncheckable reports whether op's request, when it has no query string,
// kin-openapi's check always lets through: no body, no header or cookie
// parameters, no required query parameter, and path parameters that are any
// string (the router matched them non-empty already). Such a request (a GET of
// one object, a list without filters) skips a check that only costs time.
func uncheckable(item *openapi3.PathItem, op *openapi3.Operation) bool {
	return op.RequestBody == nil && slices.IndexFunc(append(slices.Clone(item.Parameters), op.Parameters...), func(p *openapi3.ParameterRef) bool {
		return !alwaysValid(p.Value)
	}) < 0
}

// alwaysValid reports whether every request without a query string passes p's check.
func alwaysValid(p *openapi3.Parameter) bool {
	switch p.In {
	case openapi3.ParameterInQuery:
		return !p.Required
	case openapi3.ParameterInPath:
		if p.Content != nil || p.Schema == nil || p.Schema.Value == nil {
			return false
		}
		v := p.Schema.Value
		return v.Type.Is("string") && v.Pattern == "" && v.Format == "" && v.MinLength == 0 && v.MaxLength == nil &&
			len(v.Enum) == 0 && len(v.AllOf)+len(v.AnyOf)+len(v.OneOf) == 0 && v.Not == nil &&
			(p.Style == "" || p.Style == openapi3.SerializationSimple)
	}
	return false
}

// validationError maps a kin-openapi request validation error to the API error,
// naming the offending parameter or body field.
func validationError(err error) *Error {
	var reqErr *openapi3filter.RequestError
	if !errors.As(err, &reqErr) {
		return asAPIError(err)
	}
	var schemaErr *openapi3.SchemaError
	var parseErr *openapi3filter.ParseError
	switch {
	case reqErr.Parameter != nil && reqErr.Parameter.Name == "Idempotency-Key":
		return invalid(gen.ErrorCodeIdempotencyKeyInvalid, "Idempotency-Key",
			"Idempotency-Key must be 1 to 255 printable ASCII characters.")
	case reqErr.Parameter != nil:
		name := reqErr.Parameter.Name
		if errors.Is(reqErr.Err, openapi3filter.ErrInvalidRequired) {
			return invalid(gen.ErrorCodeParameterMissing, name, "Missing required parameter: %s.", name)
		}
		if errors.As(reqErr.Err, &parseErr) {
			return invalid(gen.ErrorCodeParameterInvalid, name, "Invalid %s: must be %s.", name, article(reqErr.Parameter.Schema.Value))
		}
		if errors.As(reqErr.Err, &schemaErr) {
			msg := describe(schemaErr)
			if d := strings.TrimSuffix(strings.TrimSpace(reqErr.Parameter.Description), "."); d != "" && plainPattern(schemaErr) {
				// The pattern alone would not tell a person what to send; the
				// parameter's description does.
				msg += "; " + name + " is " + strings.ToLower(d[:1]) + d[1:]
			}
			return invalid(gen.ErrorCodeParameterInvalid, name, "Invalid %s: %s.", name, msg)
		}
		return invalid(gen.ErrorCodeParameterInvalid, name, "Invalid %s.", name)
	case errors.Is(reqErr.Err, openapi3filter.ErrInvalidRequired):
		return invalid(gen.ErrorCodeParameterMissing, "", "The request needs a JSON body.")
	case reqErr.Err == nil && strings.HasPrefix(reqErr.Reason, "header Content-Type has unexpected value"):
		return invalid(gen.ErrorCodeContentTypeInvalid, "", "Send the body as JSON with Content-Type: application/json.")
	case errors.As(reqErr.Err, &schemaErr):
		return schemaError(schemaErr)
	case errors.As(reqErr.Err, &parseErr):
		msg := parseErr.Reason
		if parseErr.Cause != nil {
			msg = parseErr.Cause.Error()
		}
		return invalid(gen.ErrorCodeBodyInvalidJson, "", "The body is not valid JSON: %s.", msg)
	default:
		return invalid(gen.ErrorCodeBodyInvalidJson, "", "The body could not be read: %s.", reqErr.Error())
	}
}

// schemaError turns a body schema violation into an error naming the field;
// prefix is the path of the value checked within the body, when it is not the
// body itself (a batch's item: prospects, 3).
func schemaError(e *openapi3.SchemaError, prefix ...string) *Error {
	path := append(slices.Clone(prefix), e.JSONPointer()...)
	switch e.SchemaField {
	case "properties": // additionalProperties: false
		if obj, ok := e.Value.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(obj)) {
				if _, known := e.Schema.Properties[k]; !known {
					p := param(append(path, k))
					return invalid(gen.ErrorCodeParameterUnknown, p, "Received unknown parameter: %s.", p)
				}
			}
		}
	case "required":
		p := param(path)
		return invalid(gen.ErrorCodeParameterMissing, p, "Missing required parameter: %s.", p)
	}
	if len(path) == 0 {
		return invalid(gen.ErrorCodeBodyInvalidJson, "", "The body must be a JSON object.")
	}
	p := param(path)
	return invalid(gen.ErrorCodeParameterInvalid, p, "Invalid %s: %s.", p, describe(e))
}

// itemRules check each item of a batch on its own with the schemas a single
// create and update are checked with (openapi.yaml's ProspectCreate and
// ProspectUpdate), so that an item is valid exactly when it would be valid alone.
type itemRules struct {
	create, update *openapi3.Schema
	// all is an array of creates: a batch's items checked in one pass.
	all *openapi3.Schema
}

func newItemRules(spec *openapi3.T) (itemRules, error) {
	r := itemRules{}
	for name, dst := range map[string]**openapi3.Schema{"ProspectCreate": &r.create, "ProspectUpdate": &r.update} {
		ref := spec.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			return r, fmt.Errorf("openapi.yaml has no schema %s", name)
		}
		*dst = ref.Value
	}
	r.all = openapi3.NewArraySchema().WithItems(r.create)
	return r, nil
}

// checkAll checks every item as a create's body in one pass over the batch,
// and returns the index of the first that fails (len(items) when none does):
// the ones before it are valid.
func (r itemRules) checkAll(items []map[string]any) int {
	all := make([]any, len(items))
	for i, item := range items {
		all[i] = item
	}
	err := r.all.VisitJSON(all, openapi3.VisitAsRequest(), emailFormat)
	if err == nil {
		return len(items)
	}
	var schemaErr *openapi3.SchemaError
	if errors.As(err, &schemaErr) {
		if ptr := schemaErr.JSONPointer(); len(ptr) > 0 {
			if i, err := strconv.Atoi(ptr[0]); err == nil && i >= 0 && i < len(items) {
				return i
			}
		}
	}
	return 0
}

// check validates item, found in the body at path, as a create's body (unless
// create is false: checkAll found it valid already). The
// fields in clears (given as null, under on_conflict update) are checked as an
// update's nulls: only the fields a PATCH can clear may be null.
func (r itemRules) check(item map[string]any, clears map[string]any, create bool, path ...string) *Error {
	if create {
		if err := r.create.VisitJSON(item, openapi3.VisitAsRequest(), emailFormat); err != nil {
			return itemError(err, path)
		}
	}
	if len(clears) > 0 {
		if err := r.update.VisitJSON(clears, openapi3.VisitAsRequest(), emailFormat); err != nil {
			return itemError(err, path)
		}
	}
	return nil
}

func itemError(err error, path []string) *Error {
	var schemaErr *openapi3.SchemaError
	if errors.As(err, &schemaErr) {
		return schemaError(schemaErr, path...)
	}
	p := param(path)
	return invalid(gen.ErrorCodeParameterInvalid, p, "Invalid %s: %v.", p, err)
}

// param writes a JSON pointer as the API's dotted path: metadata.plan, tags[3].
func param(path []string) string {
	var b strings.Builder
	for i, k := range path {
		if _, err := strconv.Atoi(k); err == nil && i > 0 {
			b.WriteString("[" + k + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(k)
	}
	return b.String()
}

// describe says, in words for people, what the schema wanted.
func describe(e *openapi3.SchemaError) string {
	s := e.Schema
	switch e.SchemaField {
	case "maxLength":
		return fmt.Sprintf("must be at most %d characters", *s.MaxLength)
	case "minLength":
		if s.MinLength == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters", s.MinLength)
	case "maximum":
		return fmt.Sprintf("must be at most %v", *s.Max)
	case "minimum":
		return fmt.Sprintf("must be at least %v", *s.Min)
	case "maxItems":
		return fmt.Sprintf("must have at most %d items", *s.MaxItems)
	case "maxProperties":
		return fmt.Sprintf("must have at most %d keys", *s.MaxProps)
	case "enum":
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		return "must be one of " + strings.Join(vals, ", ")
	case "format", "pattern":
		if s.Format == "email" { // the email pattern narrows the format to what every validator accepts
			return "must be a valid email address"
		}
		if s.Pattern == textPattern {
			return "must not contain U+0000 (NUL)"
		}
		if plainPattern(e) {
			return "must match the pattern " + s.Pattern
		}
		return "must be a valid " + s.Format
	case "type", "nullable":
		return "must be " + article(s)
	}
	return e.Reason
}

// plainPattern says whether e is a pattern that no format names, so that only
// the pattern itself can say what was wanted.
func plainPattern(e *openapi3.SchemaError) bool {
	return (e.SchemaField == "pattern" || e.SchemaField == "format") && e.Schema.Format == "" && e.Schema.Pattern != textPattern
}

// article names a schema's type for a message: "a string", "an integer or null".
func article(s *openapi3.Schema) string {
	t := "a value"
	switch {
	case s.Type.Is("string"):
		t = "a string"
	case s.Type.Is("integer"):
		t = "an integer"
	case s.Type.Is("number"):
		t = "a number"
	case s.Type.Is("boolean"):
		t = "a boolean"
	case s.Type.Is("array"):
		t = "an array"
	case s.Type.Is("object"):
		t = "an object"
	}
	if s.Nullable {
		t += " or null"
	}
	return t
}

// bindingError names the parameter the generated code could not bind.
func bindingError(err error) *Error {
	var (
		format   *gen.InvalidParamFormatError
		tooMany  *gen.TooManyValuesForParamError
		required *gen.RequiredParamError
		unmarsh  *gen.UnmarshalingParamError
	)
	switch {
	case errors.As(err, &tooMany):
		return invalid(gen.ErrorCodeParameterInvalid, tooMany.ParamName, "Invalid %s: give it once, not %d times.", tooMany.ParamName, tooMany.Count)
	case errors.As(err, &format):
		return invalid(gen.ErrorCodeParameterInvalid, format.ParamName, "Invalid %s: %v.", format.ParamName, format.Err)
	case errors.As(err, &required):
		return invalid(gen.ErrorCodeParameterMissing, required.ParamName, "Missing required parameter: %s.", required.ParamName)
	case errors.As(err, &unmarsh):
		return invalid(gen.ErrorCodeParameterInvalid, unmarsh.ParamName, "Invalid %s: %v.", unmarsh.ParamName, unmarsh.Err)
	}
	return invalid(gen.ErrorCodeParameterInvalid, "", "%v.", err)
}
