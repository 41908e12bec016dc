package storetest

import (
	"testing"

	"github.com/captureapi/capture/server/store"
)

func testMaintenance(t *testing.T, e Engine) {
	db := e.Open(t)
	if m, err := db.Maintenance(ctx); err != nil || m.On {
		t.Fatalf("a new database: %+v %v, want maintenance off", m, err)
	}
	for _, want := range []store.Maintenance{{On: true, RetryAfter: 60}, {On: true, RetryAfter: 5}, {}} {
		if err := db.SetMaintenance(ctx, want); err != nil {
			t.Fatal(err)
		}
		if m, err := db.Maintenance(ctx); err != nil || m != want {
			t.Errorf("set %+v, read %+v %v", want, m, err)
		}
	}
}

func testPing(t *testing.T, e Engine) {
	db := e.Open(t)
	if err := db.Ping(ctx); err != nil {
		t.Errorf("ping a working database: %v", err)
	}
}
