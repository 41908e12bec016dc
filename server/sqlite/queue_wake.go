package sqlite

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// wakeDriver is River's SQLite driver with wakeListener in place of its own
// listener, which emulates PostgreSQL's LISTEN by querying a table twenty
// times a second, idle or not. One process owns a SQLite file, so the only
// notification River needs is the one of this process's relay: jobs to fetch.
type wakeDriver struct {
	*riversqlite.Driver
	l *wakeListener
}

// GetListener is the driver's listener: wakeListener.
func (d wakeDriver) GetListener(*riverdriver.GetListenenerParams) riverdriver.Listener { return d.l }

// wakeListener is a River listener fed from within the process: inserted
// tells River's workers that the relay committed jobs, and nothing else ever
// arrives. River's own notifications (written to a table by the driver) are
// not read: the leader election, queue pauses and cancellations they would
// hasten fall back on River's polls.
type wakeListener struct {
	ch chan *riverdriver.Notification // one pending wake-up at most
}

// insertWake is River's notification that jobs were inserted in the queue
// the deliveries run in.
var insertWake = &riverdriver.Notification{Topic: "river_insert", Payload: fmt.Sprintf(`{"queue": %q}`, river.QueueDefault)}

// inserted wakes River's fetch, unless a wake-up is pending already.
func (l *wakeListener) inserted() {
	select {
	case l.ch <- insertWake:
	default:
	}
}

// WaitForNotification waits for the next inserted, or for ctx to end.
func (l *wakeListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case n := <-l.ch:
		return n, nil
	}
}

// Close, Connect, Listen, Ping, Unlisten and SetAfterConnectExec have no
// connection to act on.
func (l *wakeListener) Close(context.Context) error          { return nil }
func (l *wakeListener) Connect(context.Context) error        { return nil }
func (l *wakeListener) Listen(context.Context, string) error { return nil }
func (l *wakeListener) Ping(context.Context) error           { return nil }
func (l *wakeListener) Schema() string                       { return "" }
func (l *wakeListener) SetAfterConnectExec(string)           {}
func (l *wakeListener) Unlisten(context.Context, string) error {
	return nil
}
