package docs_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/docs"
)

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestSpecJSONIsTheEmbeddedDocument(t *testing.T) {
	srv := httptest.NewServer(docs.Handler())
	defer srv.Close()

	resp, body := get(t, srv.URL+"/openapi.json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	want, err := gen.GetSpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("GET /openapi.json: body differs from the embedded spec (%d bytes, want %d)", len(body), len(want))
	}

	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on /openapi.json")
	}
	again, _ := get(t, srv.URL+"/openapi.json", "If-None-Match", etag)
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: status %d, want 304", again.StatusCode)
	}
}

// normalize turns a decoded YAML or JSON value into what encoding/json makes
// of it, so that both can be compared.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSpecYAMLSaysWhatTheJSONSays(t *testing.T) {
	srv := httptest.NewServer(docs.Handler())
	defer srv.Close()

	resp, body := get(t, srv.URL+"/openapi.yaml")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q, want application/yaml", ct)
	}
	if !bytes.HasPrefix(body, []byte("openapi: 3.0.3\ninfo:\n  title: Capture API\n")) {
		t.Errorf("the YAML does not open like an OpenAPI document:\n%s", body[:min(200, len(body))])
	}
	if !bytes.Contains(body, []byte("description: |")) {
		t.Error("multi-line descriptions are not literal blocks")
	}

	var fromYAML any
	if err := yaml.Unmarshal(body, &fromYAML); err != nil {
		t.Fatalf("the YAML does not parse: %v", err)
	}
	specJSON, err := gen.GetSpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON any
	if err := json.Unmarshal(specJSON, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(t, fromYAML), normalize(t, fromJSON)) {
		t.Error("/openapi.yaml and /openapi.json describe different documents")
	}
}

var assetRef = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func TestConsoleLoadsEverythingFromTheServer(t *testing.T) {
	srv := httptest.NewServer(docs.Handler())
	defer srv.Close()

	for _, path := range []string{docs.ConsolePath, docs.ConsolePath + "/"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type = %q", path, ct)
		}
		refs := assetRef.FindAllSubmatch(body, -1)
		if len(refs) < 3 {
			t.Fatalf("GET %s: only %d asset references in the page", path, len(refs))
		}
		for _, m := range refs {
			ref := string(m[1])
			if !strings.HasPrefix(ref, docs.ConsolePath+"/") {
				t.Errorf("GET %s: asset %q is not served by the reference itself", path, ref)
				continue
			}
			aresp, abody := get(t, srv.URL+ref)
			if aresp.StatusCode != http.StatusOK || len(abody) == 0 {
				t.Errorf("GET %s: status %d, %d bytes", ref, aresp.StatusCode, len(abody))
			}
		}
		if !bytes.Contains(body, []byte(`"/openapi.json"`)) {
			t.Errorf("GET %s: the page does not load /openapi.json", path)
		}
	}
}

func TestScriptsAreServedWithoutGzipToo(t *testing.T) {
	h := docs.Handler()
	req := httptest.NewRequest(http.MethodGet, docs.ConsolePath+"/swagger-ui-bundle.js", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if enc := rec.Header().Get("Content-Encoding"); enc != "" {
		t.Errorf("Content-Encoding = %q for a client that did not ask for one", enc)
	}
	if !bytes.Contains(rec.Body.Bytes(), []byte("SwaggerUIBundle")) {
		t.Error("the bundle is not readable JavaScript")
	}
}

func TestMountLeavesOtherPathsToTheServer(t *testing.T) {
	mux := http.NewServeMux()
	docs.Mount(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"route_not_found"}}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, path := range []string{"/docs/nope.js", "/docs/swagger-ui.css", "/docs/console/nope.js", "/docs/console/swagger-ui.css/x", "/openapi.yml"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte("route_not_found")) {
			t.Errorf("GET %s: status %d, body %q: the server's not-found handler did not answer", path, resp.StatusCode, body)
		}
	}
	for _, path := range []string{docs.Path, docs.ConsolePath} {
		resp, _ := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s beside a catch-all: status %d", path, resp.StatusCode)
		}
	}
}

func TestErrorURL(t *testing.T) {
	for code, want := range map[string]string{
		"prospect_exists": "/docs#error-prospect_exists",
		"rate_limit":      "/docs#error-rate_limit",
		"":                "/docs#errors",
	} {
		if got := docs.ErrorURL(code); got != want {
			t.Errorf("ErrorURL(%q) = %q, want %q", code, got, want)
		}
	}
}

// Every code the API can send must be in the reference's error table, or its
// doc_url would point at nothing.
func TestEveryErrorCodeIsInTheTable(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	codes, _ := spec.Components.Schemas["ErrorCode"].Value.Extensions["x-extensible-enum"].([]any)
	if len(codes) == 0 {
		t.Fatal("no ErrorCode x-extensible-enum in the spec")
	}
	table := spec.Info.Description
	for _, c := range codes {
		code := c.(string)
		if !strings.Contains(table, "`"+code+"`") {
			t.Errorf("code %s is not in the error table of info.description; %s would land nowhere", code, docs.ErrorURL(code))
		}
	}
}
