package server_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/store"
)

// TestEventsPastRetentionAreGone: an event older than the 30 days events are
// kept, which the hourly purge has not removed yet, is gone already for every
// reader: not listed, 404 by id, and not resent.
func TestEventsPastRetentionAreGone(t *testing.T) { onEachEngine(t, testEventsPastRetentionAreGone) }

func testEventsPastRetentionAreGone(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: "old@example.com"})
	create(t, s.Client(t, s.StandardKey), gen.ProspectCreate{Email: "new@example.com"})
	events := listEvents(t, s, s.AdminKey, "")
	if len(events) != 2 {
		t.Fatalf("%d events, want 2", len(events))
	}
	oldID, newID := events[1]["id"].(string), events[0]["id"].(string)
	then := time.Now().Add(-store.EventRetention - time.Hour)
	if s.DBPath != "" {
		db, err := sql.Open("sqlite", "file:"+s.DBPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE events SET created = ? WHERE id = ?`, then.Unix(), oldID); err != nil {
			t.Fatal(err)
		}
	} else {
		pgtest.Exec(t, s.PostgresURL, `UPDATE events SET created = $1 WHERE id = $2`, then, oldID)
	}

	if got := listEvents(t, s, s.AdminKey, ""); len(got) != 1 || got[0]["id"] != newID {
		t.Errorf("listed %v, want only %s", got, newID)
	}
	res, body := do(t, "GET", s.URL+"/v1/events/"+oldID, s.AdminKey, "", "")
	wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
	res, body = do(t, "POST", s.URL+"/v1/events/"+oldID+"/resend", s.AdminKey, "", "")
	wantError(t, res, body, 404, gen.ErrorTypeInvalidRequestError, gen.ErrorCodeResourceMissing, "id")
	if res, body := do(t, "GET", s.URL+"/v1/events/"+newID, s.AdminKey, "", ""); res.StatusCode != 200 {
		t.Errorf("the recent event: %d %s", res.StatusCode, body)
	}
}
