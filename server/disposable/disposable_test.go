package disposable_test

import (
	"testing"

	"github.com/captureapi/capture/server/disposable"
)

func TestIs(t *testing.T) {
	for domain, want := range map[string]bool{
		"mailinator.com": true, "Mailinator.COM.": true, "eu.mailinator.com": true,
		"example.com": false, "com": false, "": false, "gmail.com": false,
	} {
		if got := disposable.Is(domain); got != want {
			t.Errorf("Is(%q) = %v, want %v", domain, got, want)
		}
	}
}
