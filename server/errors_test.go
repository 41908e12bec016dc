package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

// TestWriteError holds the error writer to the contract: what each failure
// answers (status, type, code, param, headers), the body exactly as
// encoding/json writes gen.Error, and a cause that reaches the log and never
// the client.
func TestWriteError(t *testing.T) {
	const cause = "disk I/O error at page 42"
	for _, tc := range []struct {
		name   string
		err    error
		status int
		typ    gen.ErrorType
		code   gen.ErrorCode
		param  string
		header http.Header
		logged bool // at error level, with the cause
	}{
		{"an API error as it is", invalid(gen.ErrorCodeParameterInvalid, "limit", "No."),
			400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "limit", nil, false},
		{"its headers", &Error{Status: 405, Type: gen.ErrorTypeInvalidRequestError, Code: gen.ErrorCodeMethodNotAllowed,
			Message: "No.", Header: http.Header{"Allow": {"GET, HEAD"}}},
			405, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeMethodNotAllowed, "", http.Header{"Allow": {"GET, HEAD"}}, false},
		{"an API error wrapped", fmt.Errorf("create: %w", unauthorized(gen.ErrorCodeApiKeyInvalid, "No.")),
			401, gen.ErrorTypeAuthenticationError, gen.ErrorCodeApiKeyInvalid, "", http.Header{"Www-Authenticate": {`Bearer realm="Capture", Basic realm="Capture"`}}, false},
		{"the plan's limit", fmt.Errorf("insert: %w", store.ErrPlanLimit),
			402, gen.ErrorTypeInvalidRequestError, gen.ErrorCodePlanLimitReached, "", nil, false},
		{"an email taken", &store.ExistsError{ID: "prs_1"},
			409, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeProspectExists, "email", nil, false},
		{"storage unreachable", fmt.Errorf("%w: %s", store.ErrUnavailable, cause),
			503, gen.ErrorTypeApiError, gen.ErrorCodeStorageUnavailable, "", http.Header{"Retry-After": {"1"}}, true},
		{"a deadline", fmt.Errorf("%s: %w", cause, context.DeadlineExceeded),
			504, gen.ErrorTypeApiError, gen.ErrorCodeTimeout, "", nil, true},
		{"anything else", errors.New(cause),
			500, gen.ErrorTypeApiError, gen.ErrorCodeInternalError, "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, log := errorWriterServer()
			w, r := errorRequest(context.Background())
			s.writeError(w, r, tc.err)
			res := w.ResponseWriter.(*httptest.ResponseRecorder)

			if res.Code != tc.status || w.apiErr == nil || w.apiErr.Code != tc.code {
				t.Fatalf("status %d, recorded %v; want %d %s", res.Code, w.apiErr, tc.status, tc.code)
			}
			for k, v := range tc.header {
				if got := res.Header().Values(k); strings.Join(got, "|") != strings.Join(v, "|") {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if ct := res.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body gen.Error
			if err := json.Unmarshal(res.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", res.Body, err)
			}
			var want bytes.Buffer
			_ = json.NewEncoder(&want).Encode(body)
			if !bytes.Equal(res.Body.Bytes(), want.Bytes()) {
				t.Errorf("body\n%s\nis not as encoding/json writes it:\n%s", res.Body, want.Bytes())
			}
			d := body.Error
			param := ""
			if d.Param != nil {
				param = *d.Param
			}
			if d.Type != tc.typ || d.Code != tc.code || d.RequestId != w.requestID || param != tc.param ||
				d.DocUrl != "https://api.example.com/docs#error-"+string(tc.code) || d.Message == "" {
				t.Errorf("error object %+v", d)
			}
			if tc.code == gen.ErrorCodeProspectExists && (d.ExistingId == nil || *d.ExistingId != "prs_1") {
				t.Errorf("existing_id %v, want prs_1", d.ExistingId)
			}
			if strings.Contains(res.Body.String(), cause) {
				t.Errorf("the answer shows the cause: %s", res.Body)
			}
			if logged := strings.Contains(log.String(), cause) && strings.Contains(log.String(), w.requestID); logged != tc.logged {
				t.Errorf("cause logged with the request id: %v, want %v:\n%s", logged, tc.logged, log)
			}
		})
	}
}

// TestWriteErrorPastDeadline: whatever fails once the request's deadline has
// passed is 504 timeout, not a server error.
func TestWriteErrorPastDeadline(t *testing.T) {
	s, _ := errorWriterServer()
	ctx, cancel := context.WithDeadlineCause(context.Background(), time.Now().Add(-time.Second), errDeadline)
	defer cancel()
	w, r := errorRequest(ctx)
	s.writeError(w, r, errors.New("query interrupted"))
	if code := w.ResponseWriter.(*httptest.ResponseRecorder).Code; code != 504 || w.apiErr.Code != gen.ErrorCodeTimeout {
		t.Errorf("%d %v, want 504 timeout", code, w.apiErr)
	}
}

// TestWriteErrorClientGone: a client that went away gets no server error, and
// the request is recorded as 499; a refusal of its request is still answered,
// for a client that only half-closed.
func TestWriteErrorClientGone(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	s, log := errorWriterServer()
	w, r := errorRequest(gone)
	s.writeError(w, r, errors.New("query cancelled"))
	if res := w.ResponseWriter.(*httptest.ResponseRecorder); res.Body.Len() != 0 || w.status != statusClientClosed || !w.clientGone {
		t.Errorf("answered %d %q, recorded %d; want nothing, recorded 499", res.Code, res.Body, w.status)
	}
	if strings.Contains(log.String(), "ERROR") {
		t.Errorf("logged as a server error:\n%s", log)
	}

	w, r = errorRequest(gone)
	s.writeError(w, r, invalid(gen.ErrorCodeBodyInvalidJson, "", "No."))
	if code := w.ResponseWriter.(*httptest.ResponseRecorder).Code; code != 400 || w.clientGone {
		t.Errorf("a refusal to a gone client: %d, recorded as gone %v; want 400", code, w.clientGone)
	}
}

// errorWriterServer is a Server with what writeError needs, and its log.
func errorWriterServer() (*Server, *bytes.Buffer) {
	var log bytes.Buffer
	return &Server{cfg: Config{Logger: slog.New(slog.NewTextHandler(&log, nil)), PublicURL: "https://api.example.com"}}, &log
}

// errorRequest is a request in ctx and its recorder, as ServeHTTP makes them.
func errorRequest(ctx context.Context) (*recorder, *http.Request) {
	r := httptest.NewRequest("GET", "/v1/account", nil)
	w := newRecorder(httptest.NewRecorder(), r)
	return w, r.WithContext(withRecorder(ctx, w))
}
