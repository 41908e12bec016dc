package clienttest_test

import (
	"slices"
	"testing"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
)

// Package client has a constant for each event type openapi.yaml lists
// (EventType's x-extensible-enum), of Event.Type's own type, so that a program
// switches on e.Type with them.
func TestEventTypeConstants(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	known := apitest.KnownValues(spec.Components.Schemas["EventType"].Value)
	constants := []client.EventType{
		client.EventProspectCreated,
		client.EventProspectUpdated,
		client.EventProspectDeleted,
		client.EventFormSubmissionCreated,
	}
	got := slices.Clone(constants)
	slices.Sort(got)
	slices.Sort(known)
	if !slices.Equal(got, known) {
		t.Errorf("package client has constants for the event types %q; openapi.yaml lists %q", got, known)
	}
	var e client.Event
	e.Type = "prospect.deleted"
	switch e.Type {
	case client.EventProspectCreated, client.EventProspectUpdated, client.EventFormSubmissionCreated:
		t.Errorf("%q matched another type's constant", e.Type)
	case client.EventProspectDeleted:
	default:
		t.Errorf("%q matched no constant", e.Type)
	}
}
