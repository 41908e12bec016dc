// Package docs serves the published API reference: the OpenAPI document the
// server was generated from, as JSON and as the YAML file it was written as, and a browsable reference
// page rendered from it by Swagger UI. Every asset comes from the binary; the
// page loads nothing from other hosts.
package docs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
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
	// Path is the reference page. Its assets live under Path + "/".
	Path = "/docs"
	// SpecJSONPath is the OpenAPI document as JSON.
	SpecJSONPath = "/openapi.json"
	// SpecYAMLPath is the OpenAPI document as YAML.
	SpecYAMLPath = "/openapi.yaml"
)

// ErrorsAnchor is the fragment of the reference page that holds the error
// table (its "Errors" heading).
const ErrorsAnchor = "errors"

// errorAnchorPrefix starts the fragment of one error code in the table.
const errorAnchorPrefix = "error-"

// ErrorURL returns the path and fragment of the reference page that shows the
// error code: "/docs#error-" + code, which scrolls to the code in the error
// table and highlights its row. An empty code links to the table as a whole.
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
//	GET /docs             the reference page (also at /docs/)
//	GET /docs/<asset>     each Swagger UI asset embedded in the binary
//	GET /openapi.json     the OpenAPI document as JSON
//	GET /openapi.yaml     the same document as YAML
//
// Only the embedded assets are registered under /docs/, so an unknown path
// there falls through to mux's own not-found handling. Mount panics if the
// embedded OpenAPI document cannot be decoded, which only a broken build can
// cause.
func Mount(mux Registrar) {
	specJSON, err := gen.GetSpecJSON()
	if err != nil {
		panic(fmt.Sprintf("docs: embedded OpenAPI document: %v", err))
	}

	ui := uiHandler()
	mux.Handle("GET "+Path, ui)
	mux.Handle("GET "+Path+"/{$}", ui)
	for _, name := range assetNames() {
		mux.Handle("GET "+Path+"/"+name, ui)
	}
	mux.Handle("GET "+SpecJSONPath, document(specJSON, "application/json"))
	mux.Handle("GET "+SpecYAMLPath, document(capture.OpenAPIYAML, "application/yaml"))
}

// uiHandler is Swagger UI, with its assets embedded through go:embed, set up
// for this API: schemas shown, deep links on, and the error table's codes
// turned into anchors.
func uiHandler() http.Handler {
	return v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "Capture API reference",
		SwaggerJSON: SpecJSONPath,
		BasePath:    Path + "/",
		SettingsUI: map[string]string{
			// Show the schemas (Error, Prospect, …) below the operations.
			"defaultModelsExpandDepth": "1",
			"displayRequestDuration":   "true",
		},
		AppendHead: template.HTML(anchorStyle),
		AppendHTML: template.HTML(anchorScript),
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

// anchorStyle highlights the error-table row a link points at.
const anchorStyle = `<style>
.swagger-ui .information-container table tr.capture-target td {
    background: #fff5c2;
}
.swagger-ui .information-container table code[id] {
    scroll-margin-top: 4em;
}
</style>`

// anchorScript gives the rendered error table anchors. Swagger UI renders
// info.description as Markdown without ids, so once the table is in the page
// this gives each code in its `code` column the id "error-<code>", the
// "Errors" heading the id "errors", then scrolls to and highlights the element
// the URL's fragment names (now and whenever the fragment changes). Swagger
// UI's deep linking rewrites "#error-x" to "#/error-x"; both are understood.
const anchorScript = `<script>
(function () {
    var prefix = "` + errorAnchorPrefix + `";
    var errorsId = "` + ErrorsAnchor + `";
    var scrolled = "";

    function tagTables() {
        var info = document.querySelector(".information-container");
        if (!info) return false;
        var tagged = false;
        info.querySelectorAll("h1, h2, h3").forEach(function (h) {
            if (!h.id && h.textContent.trim().toLowerCase() === "errors") h.id = errorsId;
        });
        info.querySelectorAll("table").forEach(function (table) {
            if (table.dataset.captureAnchors) { tagged = true; return; }
            var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
                return th.textContent.trim().toLowerCase();
            });
            var col = heads.indexOf("code");
            if (col < 0) return;
            table.querySelectorAll("tbody tr").forEach(function (tr) {
                var cell = tr.cells[col];
                if (!cell) return;
                cell.querySelectorAll("code").forEach(function (c) {
                    var code = c.textContent.trim();
                    if (code && !document.getElementById(prefix + code)) c.id = prefix + code;
                });
            });
            table.dataset.captureAnchors = "true";
            tagged = true;
        });
        return tagged;
    }

    function showTarget() {
        // Swagger UI's deep linking rewrites "#error-x" to "#/error-x".
        var id = decodeURIComponent(window.location.hash).replace(/^#!?\/?/, "");
        if (id.indexOf(prefix) !== 0 && id !== errorsId) return;
        var el = document.getElementById(id);
        if (!el) return;
        document.querySelectorAll(".capture-target").forEach(function (t) {
            t.classList.remove("capture-target");
        });
        var row = el.closest("tr");
        if (row) row.classList.add("capture-target");
        if (scrolled !== id) {
            scrolled = id;
            el.scrollIntoView({block: "center"});
        }
    }

    new MutationObserver(function () {
        if (tagTables()) showTarget();
    }).observe(document.documentElement, {childList: true, subtree: true});
    window.addEventListener("hashchange", function () {
        scrolled = "";
        showTarget();
    });
})();
</script>`
