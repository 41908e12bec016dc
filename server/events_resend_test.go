package server_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

func TestResendEvent(t *testing.T) { onEachEngine(t, testResendEvent) }

func testResendEvent(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t, allowPrivate)
	all, deletions, off := newReceiver(t), newReceiver(t), newReceiver(t)
	allID, _ := createEndpoint(t, s, all.URL, "*")
	deletionsID, _ := createEndpoint(t, s, deletions.URL, "prospect.deleted")
	offID, _ := createEndpoint(t, s, off.URL, "*")
	if res, body := do(t, "PATCH", s.URL+"/v1/webhook_endpoints/"+offID, s.AdminKey, "application/json", `{"disabled":true}`); res.StatusCode != 200 {
		t.Fatalf("disable: %d %s", res.StatusCode, body)
	}
	startDeliveries(t, s.Store, server.DeliveryOptions{AllowPrivate: true})
	p := create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: "ada@example.com"})
	first := next(t, all.got)
	var created gen.Event
	if err := json.Unmarshal(first.body, &created); err != nil || created.Type != "prospect.created" {
		t.Fatalf("first delivery %s: %v", first.body, err)
	}
	resend := func(key, id, body string) (int, []byte) {
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		res, b := do(t, "POST", s.URL+"/v1/events/"+id+"/resend", key, ct, body)
		return res.StatusCode, b
	}
	wantEndpoints := func(status int, body []byte, want ...string) {
		t.Helper()
		var r gen.EventResend
		if err := json.Unmarshal(body, &r); status != 202 || err != nil || r.Event != created.Id || !slices.Equal(r.Endpoints, want) {
			t.Fatalf("resend: %d %s, want 202 with endpoints %v", status, body, want)
		}
	}

	// Without a body: every endpoint that receives the type, the disabled one aside.
	status, body := resend(s.AdminKey, created.Id, "")
	wantEndpoints(status, body, allID)
	again := next(t, all.got)
	if again.header.Get("webhook-id") != created.Id || string(again.body) != string(first.body) {
		t.Errorf("resent delivery %s %s, want the event %s as first delivered", again.header.Get("webhook-id"), again.body, first.body)
	}
	// Naming the endpoint.
	status, body = resend(s.AdminKey, created.Id, `{"endpoint":"`+allID+`"}`)
	wantEndpoints(status, body, allID)
	next(t, all.got)

	res, b := do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.AdminKey, "application/json", `{"endpoint":"`+deletionsID+`"}`)
	if e := wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "endpoint"); !strings.Contains(e.Message, "enabled_events") {
		t.Errorf("not subscribed: %s", e.Message)
	}
	res, b = do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.AdminKey, "application/json", `{"endpoint":"`+offID+`"}`)
	if e := wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterInvalid, "endpoint"); !strings.Contains(e.Message, "disabled") {
		t.Errorf("disabled: %s", e.Message)
	}
	res, b = do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.AdminKey, "application/json", `{"endpoint":"we_nope"}`)
	wantError(t, res, b, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "endpoint")
	res, b = do(t, "POST", s.URL+"/v1/events/evt_nope/resend", s.AdminKey, "", "")
	wantError(t, res, b, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
	res, b = do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.AdminKey, "application/json", `{"endpoints":"`+allID+`"}`)
	wantError(t, res, b, 400, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeParameterUnknown, "endpoints")
	res, b = do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.StandardKey, "", "")
	wantError(t, res, b, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeAdminKeyRequired, "")
	// Another account's admin does not reach this account's events.
	other := s.NewAccountKey(t, "globex", "admin", 10)
	res, b = do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", other, "", "")
	wantError(t, res, b, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
	// A standard key is refused before its body is read: the body says nothing.
	res, b = do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.StandardKey, "application/json", `{"endpoints":`)
	wantError(t, res, b, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeAdminKeyRequired, "")
	res, b = do(t, "POST", s.URL+"/v1/events/evt_nope/resend", s.StandardKey, "application/json", `{"endpoint":"we_nope"}`)
	wantError(t, res, b, 403, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeAdminKeyRequired, "")
	// Another account's endpoint is as unknown as any.
	res, b = do(t, "POST", s.URL+"/v1/webhook_endpoints", other, "application/json", `{"url":"`+off.URL+`","enabled_events":["*"]}`)
	var otherEndpoint gen.WebhookEndpoint
	if err := json.Unmarshal(b, &otherEndpoint); res.StatusCode != 201 || err != nil {
		t.Fatalf("another account's endpoint: %d %s", res.StatusCode, b)
	}
	res, b = do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.AdminKey, "application/json", `{"endpoint":"`+otherEndpoint.Id+`"}`)
	wantError(t, res, b, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "endpoint")
	// The same Idempotency-Key replays the answer and enqueues nothing more.
	res, b = do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.AdminKey, "", "", "Idempotency-Key", "resend-once")
	wantEndpoints(res.StatusCode, b, allID)
	next(t, all.got)
	res, b2 := do(t, "POST", s.URL+"/v1/events/"+created.Id+"/resend", s.AdminKey, "", "", "Idempotency-Key", "resend-once")
	if wantEndpoints(res.StatusCode, b2, allID); res.Header.Get("Idempotent-Replayed") != "true" || string(b2) != string(b) {
		t.Errorf("replay: Idempotent-Replayed %q, %s, want %s", res.Header.Get("Idempotent-Replayed"), b2, b)
	}

	// Once the prospect is deleted, its created event is resent stripped.
	if res, body := do(t, "DELETE", s.URL+"/v1/prospects/"+p.Id, s.StandardKey, "", ""); res.StatusCode != 200 {
		t.Fatalf("delete: %d %s", res.StatusCode, body)
	}
	next(t, all.got)
	next(t, deletions.got)
	status, body = resend(s.AdminKey, created.Id, `{}`)
	wantEndpoints(status, body, allID)
	stripped := next(t, all.got)
	if strings.Contains(string(stripped.body), "ada@example.com") || !strings.Contains(string(stripped.body), p.Id) {
		t.Errorf("resent after the deletion: %s", stripped.body)
	}
	// No endpoint receives the type: nothing is enqueued, and the answer says so.
	if res, body := do(t, "DELETE", s.URL+"/v1/webhook_endpoints/"+allID, s.AdminKey, "", ""); res.StatusCode != 200 {
		t.Fatalf("delete endpoint: %d %s", res.StatusCode, body)
	}
	status, body = resend(s.AdminKey, created.Id, "")
	wantEndpoints(status, body)
	select {
	case d := <-deletions.got:
		t.Errorf("the prospect.deleted endpoint got %s", d.body)
	default:
	}
}
