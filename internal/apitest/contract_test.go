package apitest

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/captureapi/capture/gen"
)

// The published contract is open for additions: a client generated from it must
// accept a new error code, a new field and a new prospect status.
func TestPublishedSpecToleratesAdditions(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{
		"Error": `{"error":{"type":"api_error","code":"quota_exceeded","message":"m","request_id":"req_1",` +
			`"doc_url":"https://x/docs","decline_code":"x"},"hint":"new"}`,
		"Prospect":     strings.Replace(prospectBody, `"status":"new"`, `"status":"nurturing","score":7`, 1),
		"ProspectList": `{"object":"list","data":[],"has_more":false,"url":"/v1/prospects","total":0}`,
		"Account": `{"id":"acct_1","object":"account","name":"Acme","prospect_limit":1,"prospect_count":0,` +
			`"rate_limit":1,"key_id":"key_1","role":"admin","plan":"pro"}`,
		"DeletedProspect": `{"id":"prs_1","object":"prospect","deleted":true,"deleted_at":1}`,
		"Health":          `{"status":"ok","uptime":5}`,
		"ProspectBatch": `{"object":"batch","data":[{"index":0,"status":207,"prospect":` + prospectBody + `,"warnings":[]}],` +
			`"created":0,"updated":0,"skipped":0,"failed":0,"merged":1}`,
		"Event": `{"id":"evt_1","object":"event","type":"prospect.merged","created":1,"livemode":false,` +
			`"data":{"object":` + prospectBody + `},"request":{"id":"req_1","idempotency_key":null,"source":"api"}}`,
		"WebhookEndpoint": `{"id":"we_1","object":"webhook_endpoint","url":"https://x","description":null,` +
			`"enabled_events":["prospect.merged"],"disabled":false,"failing_since":null,"created":1,"api_version":"1"}`,
	}
	for name, body := range answers {
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		if err := spec.Components.Schemas[name].Value.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
			t.Errorf("%s: the published schema refuses an additive change: %v", name, err)
		}
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses.Default() == nil {
				t.Errorf("%s %s has no default response", method, path)
			}
		}
	}
}

// Requests stay strict, in the published contract as on the server.
func TestRequestSchemasStayClosed(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ProspectCreate", "ProspectUpdate", "ProspectBatchCreate", "WebhookEndpointCreate", "WebhookEndpointUpdate"} {
		s := spec.Components.Schemas[name].Value
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			t.Errorf("%s accepts unknown fields", name)
		}
	}
	if len(spec.Components.Schemas["ProspectStatus"].Value.Enum) == 0 {
		t.Error("ProspectStatus, the status a request gives, is not an enum")
	}
}

// Every example in the reference validates against its schema, held to the
// strict form the tests use (documented fields and codes only).
func TestExamplesValidate(t *testing.T) {
	spec, err := StrictSpec()
	if err != nil {
		t.Fatal(err)
	}
	check := func(where string, schema *openapi3.SchemaRef, value any, opts ...openapi3.SchemaValidationOption) {
		t.Helper()
		if schema == nil || value == nil {
			return
		}
		if err := schema.Value.VisitJSON(value, opts...); err != nil {
			t.Errorf("example %s does not validate: %v", where, err)
		}
	}
	var walk func(where string, s *openapi3.SchemaRef, seen map[*openapi3.Schema]bool)
	walk = func(where string, s *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
		if s == nil || s.Value == nil || seen[s.Value] {
			return
		}
		seen[s.Value] = true
		check(where, s, s.Value.Example)
		for name, p := range s.Value.Properties {
			walk(where+"."+name, p, seen)
		}
		walk(where+"[]", s.Value.Items, seen)
		walk(where+"{}", s.Value.AdditionalProperties.Schema, seen)
	}
	seen := map[*openapi3.Schema]bool{}
	examples := 0
	for name, s := range spec.Components.Schemas {
		if s.Value.Example == nil {
			t.Errorf("schema %s has no example", name)
		}
		walk("components.schemas."+name, s, seen)
	}
	media := func(where string, content openapi3.Content, opts ...openapi3.SchemaValidationOption) {
		for ct, mt := range content {
			if mt.Example == nil && len(mt.Examples) == 0 {
				t.Errorf("%s %s has no example", where, ct)
			}
			check(where, mt.Schema, mt.Example, opts...)
			for name, ex := range mt.Examples {
				examples++
				check(where+" "+name, mt.Schema, ex.Value.Value, opts...)
			}
		}
	}
	for name, r := range spec.Components.Responses {
		media("components.responses."+name, r.Value.Content, openapi3.VisitAsResponse())
	}
	param := func(where string, p *openapi3.Parameter) {
		if p.Example == nil {
			t.Errorf("parameter %s %s has no example", where, p.Name)
		}
		check("parameter "+where+" "+p.Name, p.Schema, p.Example)
	}
	for name, h := range spec.Components.Headers {
		if h.Value.Example == nil {
			t.Errorf("header %s has no example", name)
		}
		check("header "+name, h.Value.Schema, h.Value.Example)
	}
	for path, item := range spec.Paths.Map() {
		for _, p := range item.Parameters {
			param(path, p.Value)
		}
		for method, op := range item.Operations() {
			for _, p := range op.Parameters {
				param(method+" "+path, p.Value)
			}
			if op.RequestBody != nil {
				if op.RequestBody.Value.Description == "" {
					t.Errorf("%s %s: the request body has no description", method, path)
				}
				media(method+" "+path+" request", op.RequestBody.Value.Content, openapi3.VisitAsRequest())
			}
			for status, r := range op.Responses.Map() {
				if r.Ref == "" {
					media(method+" "+path+" "+status, r.Value.Content, openapi3.VisitAsResponse())
				}
			}
		}
	}
	if examples == 0 {
		t.Fatal("no media examples found")
	}
}

// Each error code the reference documents is shown as an example in the
// response for its status, and the Go generators' overlays list the same codes
// as openapi.yaml.
func TestEveryKnownCodeHasAnExample(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	codes := KnownValues(spec.Components.Schemas["ErrorCode"].Value)
	if len(codes) == 0 {
		t.Fatal("ErrorCode has no x-extensible-enum")
	}
	shown := map[string]bool{}
	for name, r := range spec.Components.Responses {
		if name == "UnexpectedError" {
			continue
		}
		for _, mt := range r.Value.Content {
			for _, ex := range mt.Examples {
				b, _ := json.Marshal(ex.Value.Value)
				var e gen.Error
				if err := json.Unmarshal(b, &e); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				shown[string(e.Error.Code)] = true
			}
		}
	}
	for _, c := range codes {
		if !shown[c] {
			t.Errorf("code %s has no example in the per-status responses", c)
		}
	}
	for _, overlay := range []string{"../../gen/known-values.yaml", "../../client/overlay.yaml"} {
		if got := overlayEnum(t, overlay, "$.components.schemas.ErrorCode"); !slices.Equal(got, codes) {
			t.Errorf("%s lists the codes %q; openapi.yaml lists %q", overlay, got, codes)
		}
	}
}

// overlayEnum returns the enum an OpenAPI Overlay sets on target.
func overlayEnum(t *testing.T, path, target string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		Actions []struct {
			Target string `yaml:"target"`
			Update struct {
				Enum []string `yaml:"enum"`
			} `yaml:"update"`
		} `yaml:"actions"`
	}
	if err := yaml.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	for _, a := range o.Actions {
		if a.Target == target && a.Update.Enum != nil {
			return a.Update.Enum
		}
	}
	t.Fatalf("%s sets no enum on %s", path, target)
	return nil
}

// Every schema, property, parameter, header, request body and operation of
// the reference says what it is.
func TestDescriptionsEverywhere(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(where string, s *openapi3.SchemaRef)
	walk = func(where string, s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil {
			return
		}
		if s.Value.Description == "" {
			t.Errorf("%s has no description", where)
		}
		for name, p := range s.Value.Properties {
			walk(where+"."+name, p)
		}
		walk(where+"[]", s.Value.Items)
		walk(where+"{}", s.Value.AdditionalProperties.Schema)
	}
	for name, s := range spec.Components.Schemas {
		walk("components.schemas."+name, s)
	}
	for name, h := range spec.Components.Headers {
		if h.Value.Description == "" {
			t.Errorf("header %s has no description", name)
		}
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Summary == "" || op.Description == "" {
				t.Errorf("%s %s lacks a summary or a description", method, path)
			}
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.Description == "" {
					t.Errorf("%s %s: parameter %s has no description", method, path, p.Value.Name)
				}
			}
		}
	}
}

// The other open sets of answers that get Go constants, error types and key
// roles, have the same known values in the overlays as in openapi.yaml.
func TestOverlaysListTheKnownTypesAndRoles(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	for target, s := range map[string]*openapi3.Schema{
		"$.components.schemas.ErrorType":               spec.Components.Schemas["ErrorType"].Value,
		"$.components.schemas.Account.properties.role": spec.Components.Schemas["Account"].Value.Properties["role"].Value,
	} {
		known := KnownValues(s)
		if len(known) == 0 || s.Enum != nil {
			t.Errorf("%s: an answer's open set must be an x-extensible-enum, not an enum (known %q, enum %v)", target, known, s.Enum)
		}
		for _, overlay := range []string{"../../gen/known-values.yaml", "../../client/overlay.yaml"} {
			if got := overlayEnum(t, overlay, target); !slices.Equal(got, known) {
				t.Errorf("%s lists %q for %s; openapi.yaml lists %q", overlay, got, target, known)
			}
		}
	}
}
