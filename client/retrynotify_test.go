package client_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/captureapi/capture/client"
)

func TestRetryNotifySaysWhyAndWhenEachRetryComes(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt < 3 {
			writeAPIError(w, 503, "api_error", "maintenance", "Down for maintenance.")
			return
		}
		writeProspect(w, 200, "prs_1")
	})
	type retry struct {
		status, attempt int
		code            client.ErrorCode
		wait            time.Duration
	}
	var got []retry
	c := fastClient(srv.URL, client.WithBackoff(time.Millisecond, 2*time.Millisecond),
		client.WithRetryNotify(func(e *client.Error, attempt int, wait time.Duration) {
			got = append(got, retry{e.StatusCode, attempt, e.Code, wait})
		}))
	if _, err := c.Prospects.Get(context.Background(), "prs_1"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].attempt != 2 || got[1].attempt != 3 {
		t.Fatalf("want a notice before attempts 2 and 3, got %+v", got)
	}
	for _, r := range got {
		if r.status != 503 || r.code != "maintenance" || r.wait < 0 || r.wait > 2*time.Millisecond {
			t.Errorf("notice %+v: want the 503 maintenance error and a wait within the backoff", r)
		}
	}
}
