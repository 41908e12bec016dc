package docs_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/docs"
)

var elementID = regexp.MustCompile(`\sid="([^"]+)"`)

// pageIDs fetches the reference page and returns it with the ids of its
// elements, failing on a duplicate id.
func pageIDs(t *testing.T) (string, map[string]bool) {
	t.Helper()
	srv := httptest.NewServer(docs.Handler())
	defer srv.Close()
	resp, body := get(t, srv.URL+docs.Path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", docs.Path, resp.StatusCode)
	}
	ids := map[string]bool{}
	for _, m := range elementID.FindAllSubmatch(body, -1) {
		id := string(m[1])
		if ids[id] {
			t.Errorf("id %q appears twice on the page", id)
		}
		ids[id] = true
	}
	return string(body), ids
}

// knownCodes are the codes the spec lists as the ones the server sends.
func knownCodes(t *testing.T, spec *openapi3.T) []string {
	t.Helper()
	raw, _ := spec.Components.Schemas["ErrorCode"].Value.Extensions["x-extensible-enum"].([]any)
	if len(raw) == 0 {
		t.Fatal("no ErrorCode x-extensible-enum in the spec")
	}
	codes := make([]string, len(raw))
	for i, c := range raw {
		codes[i] = c.(string)
	}
	return codes
}

func TestReferencePageReadsWithoutJavaScript(t *testing.T) {
	srv := httptest.NewServer(docs.Handler())
	defer srv.Close()
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{docs.Path, docs.Path + "/"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type = %q", path, ct)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q lets the page load other things", path, csp)
		}
		if bytes.Contains(bytes.ToLower(body), []byte("<script")) {
			t.Errorf("GET %s: the page has a script; it must read as it is served", path)
		}
		if m := regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).Find(body); m != nil {
			t.Errorf("GET %s: the page loads %s from another host", path, m)
		}
	}

	page, ids := pageIDs(t)
	text := visibleText(page)
	for _, want := range []string{"Authentication", "bearerAuth", "basicAuth", "Error codes", "Schemas", "interactive console"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	// Every operation, with its path, summary, parameters and examples.
	ops := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			id := "op-" + op.OperationID
			if !ids[id] {
				t.Errorf("%s %s: no section with id %q", method, path, id)
				continue
			}
			section := section(page, id)
			for _, want := range []string{method, path, op.Summary} {
				if !strings.Contains(visibleText(section), want) {
					t.Errorf("%s %s: its section does not show %q", method, path, want)
				}
			}
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if !strings.Contains(section, "<code>"+p.Value.Name+"</code>") {
					t.Errorf("%s %s: parameter %s is not shown", method, path, p.Value.Name)
				}
			}
			if rb := op.RequestBody; rb != nil {
				for name := range rb.Value.Content.Get("application/json").Examples {
					if !strings.Contains(section, "<code>"+name+"</code>") {
						t.Errorf("%s %s: request example %s is not shown", method, path, name)
					}
				}
			}
			for status, r := range op.Responses.Map() {
				if !strings.Contains(section, "<strong>"+status+"</strong>") {
					t.Errorf("%s %s: response %s is not shown", method, path, status)
				}
				if mt := r.Value.Content.Get("application/json"); mt != nil {
					for name := range mt.Examples {
						if !strings.Contains(section, "<code>"+name+"</code>") {
							t.Errorf("%s %s: response %s's example %s is not shown", method, path, status, name)
						}
					}
				}
			}
		}
	}
	if ops < 10 {
		t.Errorf("only %d operations in the spec", ops)
	}
	// Every schema, with each of its properties.
	for name, s := range spec.Components.Schemas {
		if !ids["schema-"+name] {
			t.Errorf("schema %s has no section", name)
			continue
		}
		sec := section(page, "schema-"+name)
		for prop := range s.Value.Properties {
			if !strings.Contains(sec, "<code>"+prop+"</code>") {
				t.Errorf("schema %s: property %s is not shown", name, prop)
			}
		}
	}
	// Every link within the page lands on an element.
	for _, m := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !ids[m[1]] {
			t.Errorf("link #%s leads nowhere on the page", m[1])
		}
	}
}

// section is the HTML of the element with the id, up to the next element of
// the same class of section.
func section(page, id string) string {
	i := strings.Index(page, ` id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	if j := strings.Index(rest[1:], "<article"); j >= 0 {
		return rest[:j+1]
	}
	return rest
}

// The codes the spec says the server sends and the codes the page documents
// are the same list, and each entry agrees with the code's example.
func TestEveryErrorCodeHasASection(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := docs.ErrorDocs(spec)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]docs.ErrorDoc{}
	for _, e := range entries {
		if _, dup := documented[e.Code]; dup {
			t.Errorf("%s: documented twice in %s", e.Code, docs.ErrorsExtension)
		}
		documented[e.Code] = e
	}
	errorType := spec.Components.Schemas["ErrorType"].Value
	types, _ := errorType.Extensions["x-extensible-enum"].([]any)
	types = append(types, errorType.Enum...)
	codes := knownCodes(t, spec)
	for _, code := range codes {
		e, ok := documented[code]
		if !ok {
			t.Errorf("%s: the server sends it but %s does not document it; %s would land on nothing", code, docs.ErrorsExtension, docs.ErrorURL(code))
			continue
		}
		if e.Status < 400 || e.Status > 599 || http.StatusText(e.Status) == "" {
			t.Errorf("%s: status %d", code, e.Status)
		}
		if !slices.Contains(types, any(e.Type)) {
			t.Errorf("%s: type %q is not an ErrorType", code, e.Type)
		}
		if strings.TrimSpace(e.When) == "" || strings.TrimSpace(e.WhatToDo) == "" {
			t.Errorf("%s: says neither when it happens nor what to do", code)
		}
		ex := spec.Components.Examples[code]
		if ex == nil {
			t.Errorf("%s: no example named after it", code)
			continue
		}
		body, _ := ex.Value.Value.(map[string]any)
		detail, _ := body["error"].(map[string]any)
		if detail["type"] != e.Type || detail["code"] != code {
			t.Errorf("%s: its example is %v, its section says type %s", code, detail, e.Type)
		}
	}
	for code := range documented {
		if !slices.Contains(codes, code) {
			t.Errorf("%s: documented but not in ErrorCode's x-extensible-enum", code)
		}
	}
}

// Every doc_url the server can send (docs.ErrorURL of each code it has) lands
// on the code's section, which says what the code means.
func TestEveryDocURLLandsOnItsSection(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	page, ids := pageIDs(t)
	urls := []string{docs.ErrorURL("")}
	codes := knownCodes(t, spec)
	for _, code := range codes {
		urls = append(urls, docs.ErrorURL(code))
	}
	for _, u := range urls {
		path, fragment, ok := strings.Cut(u, "#")
		if !ok || path != docs.Path {
			t.Errorf("doc_url %s is not a fragment of %s", u, docs.Path)
			continue
		}
		if !ids[fragment] {
			t.Errorf("doc_url %s: no element with id %q on the page", u, fragment)
		}
	}
	for _, code := range codes {
		text := visibleText(section(page, "error-"+code))
		for _, want := range []string{code, "When it happens", "What to do"} {
			if !strings.Contains(text, want) {
				t.Errorf("the section of %s does not show %q: %s", code, want, text)
			}
		}
	}
}
