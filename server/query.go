package server

import (
	"github.com/captureapi/capture/gen"
)

// checkQuery rejects query parameters the operation does not define, as unknown
// body fields are: a misspelt filter must not silently match everything.
func (s *Server) checkQuery(c *call) error {
	if c.r.URL.RawQuery == "" {
		return nil // (Query would build an empty map to say so)
	}
	for name := range c.r.URL.Query() {
		if c.route.Operation.Parameters.GetByInAndName("query", name) == nil &&
			c.route.PathItem.Parameters.GetByInAndName("query", name) == nil {
			return invalid(gen.ErrorCodeParameterUnknown, name, "Received unknown query parameter: %s.", name)
		}
	}
	return nil
}
