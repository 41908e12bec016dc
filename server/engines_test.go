package server_test

import (
	"testing"

	"github.com/captureapi/capture/internal/apitest"
)

// onEachEngine runs a behaviour test on every store engine, one subtest each:
// the same answers are owed on SQLite and on PostgreSQL.
func onEachEngine(t *testing.T, test func(t *testing.T, newServer apitest.NewFunc)) {
	for _, e := range apitest.Engines() {
		t.Run(e.Name, func(t *testing.T) { test(t, e.New) })
	}
}
