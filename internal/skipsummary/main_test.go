package main

import (
	"strings"
	"testing"
)

// events is what go test -json prints for a package whose tests skip for
// several reasons, give one, pass or are fuzz seeds that do not apply.
const events = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestStore"}
{"Action":"run","Package":"p","Test":"TestStore/postgres"}
{"Action":"output","Package":"p","Test":"TestStore/postgres","Output":"    pgtest.go:28: PostgreSQL tests skipped: set CAPTURE_TEST_POSTGRES_URL (such as postgres://…) to run them\n"}
{"Action":"output","Package":"p","Test":"TestStore/postgres","Output":"--- SKIP: TestStore/postgres (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestStore/postgres"}
{"Action":"pass","Package":"p","Test":"TestStore"}
{"Action":"output","Package":"p","Test":"TestList","Output":"    x_test.go:9: PostgreSQL tests skipped: set CAPTURE_TEST_POSTGRES_URL (such as postgres://…) to run them\n"}
{"Action":"skip","Package":"p","Test":"TestList"}
{"Action":"output","Package":"q","Test":"TestLimit","Output":"    redis_test.go:29: Redis tests skipped: set CAPTURE_TEST_REDIS_URL (such as redis://…) to run them\n"}
{"Action":"skip","Package":"q","Test":"TestLimit"}
{"Action":"output","Package":"q","Test":"TestPort","Output":"    x_test.go:3: a log line first\n"}
{"Action":"output","Package":"q","Test":"TestPort","Output":"    x_test.go:4: the port was taken\n"}
{"Action":"skip","Package":"q","Test":"TestPort"}
{"Action":"output","Package":"q","Test":"FuzzBody/seed#1","Output":"    fuzz_test.go:40: framing that promises bytes never sent\n"}
{"Action":"skip","Package":"q","Test":"FuzzBody/seed#1"}
{"Action":"pass","Package":"q","Test":"TestPass"}
{"Action":"skip","Package":"r"}
`

func TestSummaryGroupsSkipsByWhatTheyNeed(t *testing.T) {
	got, err := summarise(strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	want := `skipped: 2 tests need PostgreSQL (set CAPTURE_TEST_POSTGRES_URL), 1 needs Redis (set CAPTURE_TEST_REDIS_URL), 1 is a fuzz input its target does not check, 1 says "the port was taken"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSummaryOfARunThatSkippedNothing(t *testing.T) {
	got, err := summarise(strings.NewReader(`{"Action":"pass","Package":"p","Test":"TestA"}` + "\n" + `{"Action":"skip","Package":"r"}` + "\n"))
	if err != nil || got != "skipped: none" {
		t.Errorf("got %q, %v; want skipped: none", got, err)
	}
}
