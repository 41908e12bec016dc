package docs

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

//go:embed page.html
var pageFS embed.FS

// ErrorsExtension is the extension of the ErrorCode schema that documents each
// error code: its type, status, when it happens and what to do. The reference
// page renders one section per entry.
const ErrorsExtension = "x-capture-errors"

// ErrorDoc is one entry of ErrorsExtension: an error code as the reference
// page documents it.
type ErrorDoc struct {
	Code     string `json:"code"`
	Status   int    `json:"status"`
	Type     string `json:"type"`
	When     string `json:"when"`
	WhatToDo string `json:"what_to_do"`
}

// ErrorDocs returns the entries of ErrorsExtension in spec, in their order.
func ErrorDocs(spec *openapi3.T) ([]ErrorDoc, error) {
	codes := spec.Components.Schemas["ErrorCode"]
	if codes == nil || codes.Value == nil {
		return nil, fmt.Errorf("no ErrorCode schema")
	}
	raw, ok := codes.Value.Extensions[ErrorsExtension]
	if !ok {
		return nil, fmt.Errorf("no %s on the ErrorCode schema", ErrorsExtension)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var docs []ErrorDoc
	if err := json.Unmarshal(b, &docs); err != nil {
		return nil, fmt.Errorf("%s: %w", ErrorsExtension, err)
	}
	return docs, nil
}

// page is what page.html renders.
type page struct {
	Title, Version string
	Intro          template.HTML
	Servers        []server
	Auth           []auth
	Tags           []tagSection
	Errors         []errorSection
	Schemas        []schemaSection
	ErrorsID       string
	ConsolePath    string
	SpecJSON       string
	SpecYAML       string
}

type server struct{ URL, Description string }

type auth struct {
	Name, Scheme string
	Description  template.HTML
}

type tagSection struct {
	Name        string
	ID          string
	Description template.HTML
	Ops         []operation
}

type operation struct {
	ID, Method, Path, Summary string
	Description               template.HTML
	AdminOnly                 bool
	Params                    []field
	Body                      *content
	Responses                 []response
}

// field is a parameter, header or property: a row of a table.
type field struct {
	Name, In    string
	Required    bool
	Type        template.HTML
	Description template.HTML
	Rules       string
	Example     string
}

// content is a request or response body.
type content struct {
	Required    bool
	Description template.HTML
	Type        template.HTML
	Examples    []example
}

type example struct {
	Name, Summary string
	Description   template.HTML
	JSON          string
}

type response struct {
	Status      string
	Description template.HTML
	Headers     []field
	Body        *content
	Codes       []string // error codes, linked to their sections
}

type errorSection struct {
	ErrorDoc
	ID         string
	StatusText string
	WhenHTML   template.HTML
	DoHTML     template.HTML
	Example    string
}

type schemaSection struct {
	Name, ID    string
	Description template.HTML
	Type        template.HTML
	Props       []field
	Example     string
}

var methods = []string{"get", "head", "post", "put", "patch", "delete", "options"}

// render builds the reference page from the spec and the YAML it was written
// as (which gives the order of paths and schemas).
func render(spec *openapi3.T, specYAML []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(specYAML, &doc); err != nil {
		return nil, err
	}
	p := page{
		Title: spec.Info.Title, Version: spec.Info.Version, Intro: markdown(spec.Info.Description),
		ErrorsID: ErrorsAnchor, ConsolePath: ConsolePath, SpecJSON: SpecJSONPath, SpecYAML: SpecYAMLPath,
	}
	for _, s := range spec.Servers {
		p.Servers = append(p.Servers, server{s.URL, s.Description})
	}
	for _, name := range keysOf(&doc, "components", "securitySchemes") {
		s := spec.Components.SecuritySchemes[name].Value
		p.Auth = append(p.Auth, auth{Name: name, Scheme: s.Type + " " + s.Scheme, Description: markdown(s.Description)})
	}

	byTag := map[string]*tagSection{}
	for _, t := range spec.Tags {
		p.Tags = append(p.Tags, tagSection{Name: t.Name, ID: "tag-" + slug(t.Name), Description: markdown(t.Description)})
	}
	for i := range p.Tags {
		byTag[p.Tags[i].Name] = &p.Tags[i]
	}
	for _, path := range keysOf(&doc, "paths") {
		item := spec.Paths.Value(path)
		for _, m := range keysOf(&doc, "paths", path) {
			if !slices.Contains(methods, m) {
				continue
			}
			op := item.GetOperation(strings.ToUpper(m))
			o := operationOf(strings.ToUpper(m), path, item, op)
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			if byTag[tag] == nil {
				p.Tags = append(p.Tags, tagSection{Name: tag, ID: "tag-" + slug(tag)})
				for i := range p.Tags {
					byTag[p.Tags[i].Name] = &p.Tags[i]
				}
			}
			byTag[tag].Ops = append(byTag[tag].Ops, o)
		}
	}

	errs, err := ErrorDocs(spec)
	if err != nil {
		return nil, err
	}
	for _, e := range errs {
		s := errorSection{ErrorDoc: e, ID: errorAnchorPrefix + e.Code, StatusText: http.StatusText(e.Status),
			WhenHTML: markdown(e.When), DoHTML: markdown(e.WhatToDo)}
		if ex := spec.Components.Examples[e.Code]; ex != nil && ex.Value != nil {
			s.Example = pretty(ex.Value.Value)
		}
		p.Errors = append(p.Errors, s)
	}

	for _, name := range keysOf(&doc, "components", "schemas") {
		ref := spec.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			continue
		}
		s := ref.Value
		p.Schemas = append(p.Schemas, schemaSection{
			Name: name, ID: "schema-" + name, Description: markdown(s.Description),
			Type: typeOf(&openapi3.SchemaRef{Value: s}), Props: properties(s), Example: pretty(s.Example),
		})
	}

	tpl, err := template.New("page.html").Funcs(template.FuncMap{"lower": strings.ToLower}).ParseFS(pageFS, "page.html")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := tpl.Execute(&out, p); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// operationOf is one operation as the page shows it.
func operationOf(method, path string, item *openapi3.PathItem, op *openapi3.Operation) operation {
	o := operation{ID: "op-" + op.OperationID, Method: method, Path: path, Summary: op.Summary,
		Description: markdown(op.Description)}
	if v, ok := op.Extensions["x-admin-only"].(bool); ok && v {
		o.AdminOnly = true
	}
	for _, pr := range append(slices.Clone(item.Parameters), op.Parameters...) {
		if pr == nil || pr.Value == nil {
			continue
		}
		v := pr.Value
		f := field{Name: v.Name, In: v.In, Required: v.Required, Description: markdown(v.Description), Example: scalar(v.Example)}
		if v.Schema != nil {
			f.Type, f.Rules = typeOf(v.Schema), rules(v.Schema)
		}
		o.Params = append(o.Params, f)
	}
	if rb := op.RequestBody; rb != nil && rb.Value != nil {
		o.Body = contentOf(rb.Value.Content, rb.Value.Description)
		if o.Body != nil {
			o.Body.Required = rb.Value.Required
		}
	}
	statuses := op.Responses.Map()
	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { // default last
		if (a == "default") != (b == "default") {
			if a == "default" {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		r := statuses[k].Value
		if r == nil {
			continue
		}
		resp := response{Status: k}
		if r.Description != nil {
			resp.Description = markdown(*r.Description)
		}
		for _, h := range sortedKeys(r.Headers) {
			hv := r.Headers[h].Value
			f := field{Name: h, Required: hv.Required, Description: markdown(hv.Description)}
			if hv.Schema != nil {
				f.Type = typeOf(hv.Schema)
			}
			resp.Headers = append(resp.Headers, f)
		}
		if isError(r) {
			// An error answer: its codes link to their sections, which hold the examples.
			resp.Codes = sortedKeys(r.Content.Get("application/json").Examples)
			resp.Body = &content{Type: typeOf(r.Content.Get("application/json").Schema)}
		} else {
			resp.Body = contentOf(r.Content, "")
		}
		o.Responses = append(o.Responses, resp)
	}
	return o
}

// isError reports whether the response carries the Error object.
func isError(r *openapi3.Response) bool {
	mt := r.Content.Get("application/json")
	return mt != nil && mt.Schema != nil && mt.Schema.Ref == "#/components/schemas/Error"
}

// contentOf is the JSON body of content, or nil when it has none.
func contentOf(c openapi3.Content, description string) *content {
	mt := c.Get("application/json")
	if mt == nil {
		return nil
	}
	out := &content{Description: markdown(description)}
	if mt.Schema != nil {
		out.Type = typeOf(mt.Schema)
	}
	for _, name := range sortedKeys(mt.Examples) {
		ex := mt.Examples[name].Value
		if ex == nil {
			continue
		}
		out.Examples = append(out.Examples, example{Name: name, Summary: ex.Summary,
			Description: markdown(ex.Description), JSON: pretty(ex.Value)})
	}
	if len(out.Examples) == 0 && mt.Example != nil {
		out.Examples = append(out.Examples, example{Name: "example", JSON: pretty(mt.Example)})
	}
	return out
}

// properties are the rows of an object schema's table, in name order.
func properties(s *openapi3.Schema) []field {
	var out []field
	for _, name := range sortedKeys(s.Properties) {
		ps := s.Properties[name]
		f := field{Name: name, Required: slices.Contains(s.Required, name), Type: typeOf(ps), Rules: rules(ps)}
		if ps.Value != nil {
			f.Description = markdown(ps.Value.Description)
			f.Example = scalar(ps.Value.Example)
		}
		out = append(out, f)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// keysOf lists the keys of the mapping at path in the YAML document, in the
// order they were written.
func keysOf(doc *yaml.Node, path ...string) []string {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, key := range path {
		var next *yaml.Node
		for i := 0; n != nil && n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	var keys []string
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// pretty is v as indented JSON, or "" for nil.
func pretty(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// scalar is a short example value as it is written in a request.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// slug makes an id of a name: lower case, spaces as hyphens.
func slug(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), " ", "-")
}
