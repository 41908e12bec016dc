package server

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestRoutesRefuseWhatTheyCannotMatch holds server.New to an error, not a panic
// or a route matched wrongly, for a spec whose paths the ServeMux cannot take.
func TestRoutesRefuseWhatTheyCannotMatch(t *testing.T) {
	for name, paths := range map[string][]string{
		"a parameter inside a segment":          {"/v1/prospects/prs_{id}"},
		"a parameter name that is not a name":   {"/v1/prospects/{prospect-id}"},
		"two paths that match the same request": {"/a/{x}/b", "/a/b/{y}"},
		"a path ending in a slash":              {"/v1/prospects/"},
	} {
		spec := &openapi3.T{Paths: openapi3.NewPaths()}
		for _, p := range paths {
			spec.Paths.Set(p, &openapi3.PathItem{Get: &openapi3.Operation{}})
		}
		if _, err := newRoutes(spec); err == nil {
			t.Errorf("%s %v: no error", name, paths)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
