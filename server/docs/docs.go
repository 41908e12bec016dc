// Package docs serves the published API reference: the OpenAPI document the
// server was generated from, as JSON and as the YAML file it was written as; a
// reference page rendered from it on the server, which reads without
// JavaScript (every operation, schema and example, and one section per error
// code that each error's doc_url links to); and an interactive console (Swagger
// UI) beside it. Every asset comes from the binary; no page loads anything from
// other hosts.
package docs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5/static"
	"github.com/swaggest/swgui/v5emb"

	"github.com/captureapi/capture"
	"github.com/captureapi/capture/gen"
)

// Paths the reference is served at.
const (
	// Path is the reference page, rendered on the server.
	Path = "/docs"
	// ConsolePath is the interactive console (Swagger UI). Its assets live
	// under ConsolePath + "/".
	ConsolePath = Path + "/console"
	// SpecJSONPath is the OpenAPI document as JSON.
	SpecJSONPath = "/openapi.json"
	// SpecYAMLPath is the OpenAPI document as YAML.
	SpecYAMLPath = "/openapi.yaml"
)

// ErrorsAnchor is the fragment of the reference page that holds the error
// codes (their heading).
const ErrorsAnchor = "errors"

// errorAnchorPrefix starts the fragment of one error code in the table.
const errorAnchorPrefix = "error-"

// ErrorURL returns the path and fragment of the reference page that shows the
// error code: "/docs#error-" + code, the id of the code's section (when it
// happens, what to do). An empty code links to the error codes as a whole.
// The server prefixes its own scheme and host to make an error's doc_url.
func ErrorURL(code string) string {
	if code == "" {
		return Path + "#" + ErrorsAnchor
	}
	return Path + "#" + errorAnchorPrefix + code
}

// Handler returns a handler that answers the reference routes (see Mount) and
// 404 for every other path. A server with routes of its own calls Mount on its
// mux instead, so that its own not-found answer covers everything else.
func Handler() http.Handler {
	mux := http.NewServeMux()
	Mount(mux)
	return mux
}

// Registrar is where Mount registers the routes: an *http.ServeMux, or a
// server that keeps its own mux for paths outside the API.
type Registrar interface {
	Handle(pattern string, handler http.Handler)
}

// Mount registers the reference routes on mux:
//
//	GET /docs                  the reference page (also at /docs/)
//	GET /docs/console          the interactive console (also at /docs/console/)
//	GET /docs/console/<asset>  each Swagger UI asset embedded in the binary
//	GET /openapi.json          the OpenAPI document as JSON
//	GET /openapi.yaml          the same document as YAML
//
// Only the embedded assets are registered under /docs/console/, so an unknown
// path there falls through to mux's own not-found handling. Mount panics if the
// embedded OpenAPI document cannot be decoded or rendered, which only a broken
// build can cause.
func Mount(mux Registrar) {
	specJSON, err := gen.GetSpecJSON()
	if err != nil {
		panic(fmt.Sprintf("docs: embedded OpenAPI document: %v", err))
	}
	page, err := Page()
	if err != nil {
		panic(fmt.Sprintf("docs: reference page: %v", err))
	}

	ref := noScripts(document(page, "text/html; charset=utf-8"))
	mux.Handle("GET "+Path, ref)
	mux.Handle("GET "+Path+"/{$}", ref)
	ui := uiHandler()
	mux.Handle("GET "+ConsolePath, ui)
	mux.Handle("GET "+ConsolePath+"/{$}", ui)
	for _, name := range assetNames() {
		mux.Handle("GET "+ConsolePath+"/"+name, ui)
	}
	mux.Handle("GET "+SpecJSONPath, document(specJSON, "application/json"))
	mux.Handle("GET "+SpecYAMLPath, document(capture.OpenAPIYAML, "application/yaml"))
}

// Page renders the reference page from the embedded OpenAPI document.
func Page() ([]byte, error) {
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, err
	}
	return render(spec, capture.OpenAPIYAML)
}

// pagePolicy is the Content-Security-Policy of the reference page: it needs
// nothing but its own inline style, so it may load and run nothing else.
const pagePolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// noScripts serves h's page under pagePolicy.
func noScripts(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pagePolicy)
		h.ServeHTTP(w, r)
	})
}

// uiHandler is Swagger UI, with its assets embedded through go:embed, set up
// for this API: schemas shown, deep links on.
func uiHandler() http.Handler {
	return v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "Capture API console",
		SwaggerJSON: SpecJSONPath,
		BasePath:    ConsolePath + "/",
		SettingsUI: map[string]string{
			// Show the schemas (Error, Prospect, …) below the operations.
			"defaultModelsExpandDepth": "1",
			"displayRequestDuration":   "true",
		},
	})
}

// assetNames lists the file names Swagger UI's embedded file server answers:
// each embedded file without the compression suffix it is stored with.
func assetNames() []string {
	entries, err := fs.ReadDir(static.FS, ".")
	if err != nil {
		panic(fmt.Sprintf("docs: embedded Swagger UI assets: %v", err))
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".go") {
			continue
		}
		names = append(names, strings.TrimSuffix(name, ".gz"))
	}
	return names
}

// document serves fixed bytes with an ETag, so that clients can revalidate
// cheaply, and a short cache lifetime, since a new release may change them.
func document(body []byte, contentType string) http.Handler {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("ETag", etag)
		h.Set("Cache-Control", "public, max-age=300")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}
