package docs

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// md renders the spec's descriptions: CommonMark with GitHub's tables. Raw
// HTML in a description is escaped, not passed through.
var md = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))

// markdown is s rendered as HTML.
func markdown(s string) template.HTML {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	var b bytes.Buffer
	if err := md.Convert([]byte(s), &b); err != nil {
		return template.HTML("<p>" + html.EscapeString(s) + "</p>")
	}
	return template.HTML(b.String()) // #nosec: goldmark escapes raw HTML
}

// typeOf is the type of a schema as the page shows it: a link to a named
// schema, or its type, format and values.
func typeOf(ref *openapi3.SchemaRef) template.HTML {
	return template.HTML(typeHTML(ref))
}

func typeHTML(ref *openapi3.SchemaRef) string {
	if ref == nil {
		return ""
	}
	if name, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/"); ok {
		return `<a href="#schema-` + html.EscapeString(name) + `">` + html.EscapeString(name) + `</a>`
	}
	s := ref.Value
	if s == nil {
		return ""
	}
	var b strings.Builder
	switch {
	case len(s.OneOf) > 0:
		b.WriteString("one of " + join(s.OneOf, " or "))
		if s.Discriminator != nil {
			b.WriteString(", told apart by <code>" + html.EscapeString(s.Discriminator.PropertyName) + "</code>")
		}
	case len(s.AnyOf) > 0:
		b.WriteString("any of " + join(s.AnyOf, ", "))
	case len(s.AllOf) > 0:
		b.WriteString("all of " + join(s.AllOf, ", "))
	case s.Type.Is("array"):
		b.WriteString("array of " + typeHTML(s.Items))
	case s.Type.Is("object") && s.AdditionalProperties.Schema != nil && len(s.Properties) == 0:
		b.WriteString("object of " + typeHTML(s.AdditionalProperties.Schema))
	default:
		b.WriteString(html.EscapeString(strings.Join(s.Type.Slice(), " or ")))
		if s.Format != "" {
			b.WriteString(" (" + html.EscapeString(s.Format) + ")")
		}
	}
	if s.Nullable {
		b.WriteString(", nullable")
	}
	if len(s.Enum) > 0 {
		b.WriteString(": one of " + values(s.Enum))
	}
	if known, ok := s.Extensions["x-extensible-enum"].([]any); ok {
		b.WriteString(": known values " + values(known) + ", and any other a later version adds")
	}
	return b.String()
}

func join(refs openapi3.SchemaRefs, sep string) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = typeHTML(r)
	}
	return strings.Join(parts, sep)
}

func values(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = "<code>" + html.EscapeString(fmt.Sprint(v)) + "</code>"
	}
	return strings.Join(parts, ", ")
}

// rules are a schema's constraints in words: lengths, bounds, pattern, default.
func rules(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Value == nil || ref.Ref != "" {
		return ""
	}
	s := ref.Value
	var r []string
	switch {
	case s.MinLength > 0 && s.MaxLength != nil:
		r = append(r, fmt.Sprintf("%d to %d characters", s.MinLength, *s.MaxLength))
	case s.MaxLength != nil:
		r = append(r, fmt.Sprintf("at most %d characters", *s.MaxLength))
	case s.MinLength > 0:
		r = append(r, fmt.Sprintf("at least %d characters", s.MinLength))
	}
	if s.Min != nil {
		r = append(r, fmt.Sprintf("minimum %g", *s.Min))
	}
	if s.Max != nil {
		r = append(r, fmt.Sprintf("maximum %g", *s.Max))
	}
	if s.MinItems > 0 {
		r = append(r, fmt.Sprintf("at least %d items", s.MinItems))
	}
	if s.MaxItems != nil {
		r = append(r, fmt.Sprintf("at most %d items", *s.MaxItems))
	}
	if s.MaxProps != nil {
		r = append(r, fmt.Sprintf("at most %d keys", *s.MaxProps))
	}
	if s.Pattern != "" {
		r = append(r, "pattern "+s.Pattern)
	}
	if s.Default != nil {
		r = append(r, "default "+scalar(s.Default))
	}
	return strings.Join(r, "; ")
}
