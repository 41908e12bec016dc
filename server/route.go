package server

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

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
// notFound is the router's error for the request: the router matches the path
// before the method, so when it found no path no method has a route there, and
// asking it again for each method (a regexp per route each time) is skipped;
// so is asking the other pages, when none has the path.
func (s *Server) routeError(r *http.Request, notFound error) *Error {
	pathFound := !errors.Is(notFound, routers.ErrPathNotFound)
	if !pathFound {
		if _, pattern := s.otherPaths.Handler(r); pattern == "" {
			return routeNotFound(r) // no route and no page has the path, for any method
		}
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := withMethod(r, m)
		err := routers.ErrPathNotFound
		if pathFound {
			_, _, err = s.router.FindRoute(probe)
		}
		if _, pattern := s.other.Handler(probe); err == nil || pattern != "" {
			allow = append(allow, m)
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
