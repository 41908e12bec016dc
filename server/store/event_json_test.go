package store_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/captureapi/capture/server/store"
)

// An event's prospect, written by hand, reads back as json.Marshal's does.
func TestEventProspectJSON(t *testing.T) {
	s := func(v string) *string { return &v }
	at := time.Unix(1764000000, 0)
	for _, p := range []store.Prospect{
		{ID: "prs_1"}, // a deletion's
		{ID: "prs_2", AccountID: "acct_1", Email: "ada@example.com", Status: "new", Tags: []string{}, Metadata: map[string]string{},
			Created: at, Updated: at},
		{ID: "prs_3", AccountID: "acct_1", Email: "é\"\\\x01\u2028<&>@example.com", FirstName: s("Zoë 🦀"), LastName: s(""),
			Company: s("bad \xff utf-8"), Title: s("\t\n"), Phone: s("+1"), Website: s("https://x.example"), Source: s("import"),
			Status: "qualified", Tags: []string{"a", "\"b\""}, Metadata: map[string]string{"z": "1", "a": "\x00"},
			MarketingConsent: true, ConsentAt: &at, Hidden: true, Created: at, Updated: at.Add(time.Hour)},
	} {
		var want, got store.Prospect
		std, _ := json.Marshal(p)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		hand := store.EventProspectJSON(&p)
		if err := json.Unmarshal([]byte(hand), &got); err != nil {
			t.Fatalf("%s: %v", hand, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s\nreads back as %+v\nwant %+v", hand, got, want)
		}
	}
}
