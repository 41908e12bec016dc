package server

import (
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/sqlite"
)

// TestUncheckableAlwaysPass holds the operations that skip the request check to
// what the check would say: with any path values, headers and body, a request
// without a query string passes it.
func TestUncheckableAlwaysPass(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := New(Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	values := []string{"prs_01jdq7z8x4k3m5n6p7q8r9s0t1", "x", "1", "-1", "true", "null", "%5B%5D", "%7B%7D", "%2F", "%00",
		"%FF", "%E2%80%A8", "Zo%C3%AB", "a%20b", "~", "%25", ".a", strings.Repeat("a", 5000)}
	param := regexp.MustCompile(`\{[^}]+\}`)
	skipped := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			for _, v := range values {
				req := httptest.NewRequest(method, param.ReplaceAllString(path, v), strings.NewReader(`{"not": "checked"}`))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Idempotency-Key", "")
				if checkTarget(req) != nil {
					continue // refused before routing ("%2F" alone leaves an empty segment)
				}
				found := s.routes.find(req)
				if found == nil {
					t.Fatalf("%s %s: no route", req.Method, req.URL)
				}
				if !found.uncheckable {
					break
				}
				skipped[op.OperationID] = true
				err = openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
					Request: req, PathParams: pathParams(req, found.paramsAt), Route: found.checked, Options: s.validate})
				if err != nil {
					t.Errorf("%s %s skips a check that fails: %v", req.Method, req.URL, err)
				}
			}
		}
	}
	for _, op := range []string{"getProspect", "listProspects", "getAccount"} {
		if !skipped[op] {
			t.Errorf("%s is checked; it has nothing the check could refuse", op)
		}
	}
	for _, op := range []string{"createProspect", "updateProspect"} {
		if skipped[op] {
			t.Errorf("%s skips the check", op)
		}
	}
	t.Log("skip the check:", skipped)
}

// TestCheckedRoutesLackOnlySecurity holds the routes kin-openapi is given to
// the spec's: every operation is checked, against its own parameters and body,
// with no security requirement (authenticate checks keys).
func TestCheckedRoutesLackOnlySecurity(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := newRoutes(spec)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, byMethod := range rs.paths {
		for method, op := range byMethod {
			n++
			route, checked := op.route, op.checked
			if checked == nil || checked.Operation == route.Operation {
				t.Fatalf("%s %s: checked against the spec's own operation, security included", method, path)
			}
			if sec := checked.Operation.Security; sec == nil || len(*sec) != 0 {
				t.Errorf("%s %s: kin-openapi is given security requirements %v", method, path, sec)
			}
			o, c := route.Operation, checked.Operation
			if c.OperationID != o.OperationID || c.RequestBody != o.RequestBody || len(c.Parameters) != len(o.Parameters) ||
				checked.Path != route.Path || checked.Method != method || checked.PathItem != route.PathItem || checked.Spec != route.Spec {
				t.Errorf("%s %s: the checked route differs from the spec's beyond security", method, path)
			}
			for i := range o.Parameters {
				if c.Parameters[i] != o.Parameters[i] {
					t.Errorf("%s %s: parameter %d differs", method, path, i)
				}
			}
		}
	}
	if want := len(spec.Paths.Map()); n < want {
		t.Errorf("%d operations routed, fewer than the spec's %d paths", n, want)
	}
}
