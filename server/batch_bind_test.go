package server

import (
	"reflect"
	"strings"
	"testing"

	"github.com/captureapi/capture/gen"
)

// bindCreate binds a batch's item as runtime.BindJSONValue does, for every
// field of ProspectCreate: a field added to the spec must be bound here too.
func TestBindCreateMatchesBindJSONValue(t *testing.T) {
	full := map[string]any{"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "company": "Engines",
		"title": "CTO", "phone": "+1 555", "website": "https://example.com", "source": "import", "consent_text": "Yes",
		"status": "qualified", "marketing_consent": true, "hidden": false, "tags": []any{"a", "b"}, "metadata": map[string]any{"k": "v"}}
	typ := reflect.TypeFor[gen.ProspectCreate]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if _, ok := full[name]; !ok {
			t.Errorf("ProspectCreate's %s is not in this test: add it here and to bindCreate", name)
		}
	}
	for _, item := range []map[string]any{
		full,
		{"email": "grace@example.com"},
		{"email": "x@example.com", "tags": []any{}, "metadata": map[string]any{}},
		{"email": "x@example.com", "tags": []any{"a", 7.0}}, // not the schema's shape: bound as BindJSONValue would
	} {
		var got, want gen.ProspectCreate
		gotErr, wantErr := bindCreate(item, &got), bindItem(item, &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%v: bound %+v (%v), want %+v (%v)", item, got, gotErr, want, wantErr)
		}
	}
}
