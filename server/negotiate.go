package server

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/captureapi/capture/gen"
)

// negotiate accepts a missing Accept and any Accept under which JSON is
// acceptable: the most specific media range that matches application/json
// decides, so "application/json;q=0, */*" refuses JSON. Media types are
// compared in any letter case (mime.ParseMediaType lowers them).
func (s *Server) negotiate(c *call) error {
	accept := c.r.Header.Values("Accept")
	if len(accept) == 0 || !isAPI(c.route) {
		return nil
	}
	best, q := 0, 0.0 // specificity of the best matching range, and its q
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			specificity := 0
			switch mt {
			case "*/*":
				specificity = 1
			case "application/*":
				specificity = 2
			case "application/json":
				specificity = 3
			}
			if specificity <= best {
				continue
			}
			best, q = specificity, 1
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil {
					q = 0
				}
			}
		}
	}
	if q > 0 {
		return nil
	}
	return requestError(http.StatusNotAcceptable, gen.ErrorCodeNotAcceptable,
		"This API answers in JSON only; send Accept: application/json (or omit Accept).")
}
