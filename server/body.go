package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/captureapi/capture/gen"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// errBodyTooLarge is the 400 for a body past MaxBodyBytes, built only when one
// is: the message's formatting was a fiftieth of an error answer's CPU.
func errBodyTooLarge() *Error {
	return invalid(gen.ErrorCodeBodyTooLarge, "", "The body is larger than %d bytes.", MaxBodyBytes)
}

// readBody reads a request body up to MaxBodyBytes so that validation and the
// handler share one copy, and rejects a larger one before reading it all. The
// body must arrive within the request's deadline (set in ServeHTTP).
func (s *Server) readBody(c *call) error {
	r := c.r
	if !c.w.bodyPending {
		return nil
	}
	if r.ContentLength > MaxBodyBytes {
		return errBodyTooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || r.Context().Err() != nil {
			return err // 504: the body did not arrive within the deadline; or the client went away
		}
		return invalid(gen.ErrorCodeBodyInvalidJson, "", "The body could not be read: %v.", err)
	}
	if len(data) > MaxBodyBytes {
		return errBodyTooLarge()
	}
	r.Body.Close()
	c.w.bodyPending = false
	// From here the connection's reader waits for the next request; a deadline
	// left on it would end this request's context as if its client had gone.
	_ = http.NewResponseController(c.w).SetReadDeadline(time.Time{})
	// kin-openapi decodes the first JSON value and ignores what follows it; a
	// body is one JSON value or it is invalid. Media types are case-insensitive.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); len(data) > 0 && mt == "application/json" && !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		return invalid(gen.ErrorCodeBodyInvalidJson, "", "The body is not valid JSON: %v.", err)
	}
	r.ContentLength = int64(len(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	r.Body, _ = r.GetBody()
	if len(data) == 0 {
		r.Body = http.NoBody
	}
	return nil
}
