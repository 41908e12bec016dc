package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/poll"
)

// testDeliverySlots: of many deliveries to one endpoint claiming its slots at
// once, exactly as many as it has slots win; a winner claiming again keeps its
// own, and a slot released or whose lease ran out goes to the next claim.
func testDeliverySlots(t *testing.T, e Engine) {
	db := openEvents(t, e)
	const slots = 2
	var mu sync.Mutex
	var won, lost []int64
	var wg sync.WaitGroup
	for job := range int64(20) {
		wg.Go(func() {
			ok, err := db.ClaimDeliverySlot(ctx, "we_busy", job+1, slots, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				won = append(won, job+1)
			} else {
				lost = append(lost, job+1)
			}
		})
	}
	wg.Wait()
	if len(won) != slots || len(lost) != 20-slots {
		t.Fatalf("20 racing claims of %d slots: %d won, %d lost", slots, len(won), len(lost))
	}
	claim := func(endpoint string, job int64, lease time.Duration) bool {
		t.Helper()
		ok, err := db.ClaimDeliverySlot(ctx, endpoint, job, slots, lease)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim("we_busy", won[0], time.Minute) {
		t.Error("a job that holds a slot could not claim it again")
	}
	if claim("we_busy", lost[0], time.Minute) {
		t.Error("a third claim won while both slots were held")
	}
	if !claim("we_other", 100, time.Minute) {
		t.Error("another endpoint's slot was refused: slots are per endpoint")
	}
	if err := db.ReleaseDeliverySlot(ctx, "we_busy", won[0]); err != nil {
		t.Fatal(err)
	}
	if !claim("we_busy", lost[0], time.Minute) {
		t.Error("a released slot was not taken by the next claim")
	}

	// A lease that runs out frees the slot of a holder that never releases it.
	claim("we_lapsing", 1, 50*time.Millisecond)
	claim("we_lapsing", 2, 50*time.Millisecond)
	poll.Until(t, 10*time.Second, "a lapsed slot to be taken", func() (bool, string) {
		return claim("we_lapsing", 3, time.Minute), "both slots still held"
	})
}
