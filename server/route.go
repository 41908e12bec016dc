package server

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/docs"
)

// checkTarget refuses request targets before routing, rather than letting the
// standard library's muxes redirect them (an undocumented 301 or 307) or quietly
// drop what they cannot read:
//   - a path that is not in clean form (dot segments, empty segments, "*" of
//     OPTIONS *) names no resource: 404 route_not_found;
//   - a query string the standard parser gives up on (a bad escape, a
//     semicolon) is 400: its parameters are never silently ignored.
func checkTarget(r *http.Request) error {
	p := r.URL.Path
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(p, "/") || clean != p {
		return routeNotFound(r)
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		return invalid(gen.ErrorCodeParameterInvalid, "",
			"The query string could not be parsed (%v). Escape reserved characters with %%XX and separate parameters with &.", err)
	}
	return nil
}

// asGet is r as the GET it stands for when it is a HEAD: every GET answers HEAD
// too (net/http sends the headers without the body).
func asGet(r *http.Request) *http.Request {
	if r.Method != http.MethodHead {
		return r
	}
	return withMethod(r, http.MethodGet)
}

// withMethod is a shallow copy of r with another method, for asking a router
// what it would do; nothing reads the copy's body or headers.
func withMethod(r *http.Request, method string) *http.Request {
	probe := *r
	probe.Method = method
	return &probe
}

// routeError is the 404 or 405 for a request that matches no route: 405 when
// the path has routes for other methods, in the API or among the other pages.
func (s *Server) routeError(r *http.Request) *Error {
	api := s.routes.atPath(r)
	_, page := s.otherPaths.Handler(r) // asked per method only when a page has the path
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		switch {
		case api[m] != nil:
			allow = append(allow, m)
		case page != "":
			if _, pattern := s.other.Handler(withMethod(r, m)); pattern != "" {
				allow = append(allow, m)
			}
		}
	}
	if slices.Contains(allow, http.MethodGet) {
		allow = slices.Insert(allow, 1, http.MethodHead)
	}
	if len(allow) == 0 {
		return routeNotFound(r)
	}
	e := requestError(http.StatusMethodNotAllowed, gen.ErrorCodeMethodNotAllowed,
		"%s is not allowed on %s; use one of: %s.", r.Method, r.URL.Path, strings.Join(allow, ", "))
	e.Header = http.Header{"Allow": {strings.Join(allow, ", ")}}
	return e
}

func routeNotFound(r *http.Request) *Error {
	return requestError(http.StatusNotFound, gen.ErrorCodeRouteNotFound,
		"Unrecognized request URL (%s %s). See the API reference at %s.", r.Method, r.URL.Path, docs.Path)
}

// routes finds the operation a request names as OpenAPI does: the path first,
// a concrete path before a templated one ("/v1/prospects/batch" before
// "/v1/prospects/{id}", for every method), then the method among the path's
// operations. The paths are matched by a ServeMux: one lookup, where
// kin-openapi's gorilla/mux router tried a regular expression per route.
type routes struct {
	mux   *http.ServeMux
	paths map[string]map[string]*operation // by the spec's path, which is the mux's pattern, then by method
}

// operation is an API operation as routing finds it.
type operation struct {
	route *routers.Route
	// checked is route as validateRequest gives it to kin-openapi: its operation
	// without security requirements, as authenticate checks keys (kin-openapi
	// would only call a no-op for each scheme, after reading the body anew).
	checked  *routers.Route
	paramsAt map[int]string // segment index ("/v1/prospects/{id}": 3) → parameter name
	// uncheckable: without a query string, the check cannot refuse the request
	// (validate.go), and validateRequest skips it.
	uncheckable bool
	// adminOnly: the spec marks the operation x-admin-only; authorize refuses
	// other keys before the request is read or validated.
	adminOnly bool
}

func newRoutes(spec *openapi3.T) (*routes, error) {
	rs := &routes{mux: http.NewServeMux(), paths: map[string]map[string]*operation{}}
	for path, item := range spec.Paths.Map() {
		byMethod := map[string]*operation{}
		var paramsAt map[int]string
		for i, segment := range strings.Split(path, "/") {
			name, isParam := strings.CutPrefix(segment, "{")
			name, closed := strings.CutSuffix(name, "}")
			switch {
			case isParam && closed && name != "" && !strings.ContainsAny(name, "{}."):
				if paramsAt == nil {
					paramsAt = map[int]string{}
				}
				paramsAt[i] = name
			case strings.ContainsAny(segment, "{}"):
				return nil, fmt.Errorf("path %s: a path parameter must be a whole segment", path)
			}
		}
		if path != "/" && strings.HasSuffix(path, "/") {
			return nil, fmt.Errorf("path %s: ends in a slash, which the mux would match as a prefix", path)
		}
		for method, op := range item.Operations() {
			route := &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
			byMethod[method] = &operation{route: route, checked: withoutSecurity(route), paramsAt: paramsAt,
				uncheckable: uncheckable(item, op), adminOnly: op.Extensions["x-admin-only"] == true}
		}
		if err := handlePattern(rs.mux, path); err != nil {
			return nil, err
		}
		rs.paths[path] = byMethod
	}
	return rs, nil
}

// handlePattern registers path, whose handler is never run (only its pattern is
// used), returning as an error what ServeMux panics on: a parameter name that is
// not an identifier, or a path that conflicts with another.
func handlePattern(mux *http.ServeMux, path string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("path %s: %v", path, p)
		}
	}()
	mux.Handle(path, http.NotFoundHandler())
	return nil
}

// find returns the operation r names, or nil.
func (rs *routes) find(r *http.Request) *operation {
	return rs.atPath(r)[r.Method]
}

// withoutSecurity is route with a copy of its operation that has no security
// requirements.
func withoutSecurity(route *routers.Route) *routers.Route {
	op := *route.Operation
	op.Security = &openapi3.SecurityRequirements{}
	checked := *route
	checked.Operation = &op
	return &checked
}

// pathParams are r's path parameters as the request spells them: still escaped,
// as kin-openapi's own router gave them. at is where they are (an operation's
// paramsAt); they are read only for request validation, which requests that
// cannot fail it skip.
func pathParams(r *http.Request, at map[int]string) map[string]string {
	if at == nil {
		return nil
	}
	// As many segments as the spec's path: the mux matched them, and checkTarget
	// let through only a clean path, which the mux matches without redirecting.
	segments := strings.Split(r.URL.EscapedPath(), "/")
	params := make(map[string]string, len(at))
	for i, name := range at {
		params[name] = segments[i]
	}
	return params
}

// atPath is the operations of the spec's path r names, whatever its method;
// none when it names none. A fixed segment matches only as the request spells
// it ("b%61tch" is no "batch"), as kin-openapi's router and the contract's
// checks match paths: the mux, which unescapes each segment, is given the path
// as sent, its escapes escaped.
func (rs *routes) atPath(r *http.Request) map[string]*operation {
	if escaped := r.URL.EscapedPath(); strings.Contains(escaped, "%") {
		u := *r.URL
		u.Path, u.RawPath = escaped, ""
		probe := *r
		probe.URL = &u
		r = &probe
	}
	_, pattern := rs.mux.Handler(r)
	return rs.paths[pattern]
}
