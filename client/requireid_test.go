package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/captureapi/capture/client"
)

// A call without an id is refused before anything is sent, with an error
// that names the id it needs: an event's for an event, not a prospect's.
func TestAMissingIDIsNamed(t *testing.T) {
	ctx := context.Background()
	c := client.New("sk_test_x", client.WithBaseURL("http://127.0.0.1:1"))
	for _, tc := range []struct {
		call         func() error
		param, names string
	}{
		{func() error { _, err := c.Events.Get(ctx, ""); return err }, "id", "evt_"},
		{func() error { _, err := c.Events.Resend(ctx, "", client.EventResendParams{}); return err }, "id", "evt_"},
		{func() error { _, err := c.Prospects.Get(ctx, ""); return err }, "id", "prs_"},
		{func() error { _, err := c.Forms.Get(ctx, ""); return err }, "id", "frm_"},
		{func() error { _, err := c.Forms.Approve(ctx, "frm_x", ""); return err }, "sid", "fsub_"},
		{func() error { _, err := c.WebhookEndpoints.Get(ctx, ""); return err }, "id", "we_"},
	} {
		err := tc.call()
		var e *client.Error
		if !errors.As(err, &e) || e.Code != client.ErrorCodeParameterMissing || e.Param != tc.param || e.Attempts != 0 ||
			!containsAll(e.Message, tc.param, tc.names) {
			t.Errorf("got %#v, want parameter_missing on %s naming %s", err, tc.param, tc.names)
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
