package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/internal/poll"

	"github.com/captureapi/capture/server/postgres"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/store"
	"github.com/captureapi/capture/server/store/storetest"
)

// TestConformance runs the store suite every engine passes, each test on a
// schema of its own.
func TestConformance(t *testing.T) {
	pgtest.BaseURL(t)
	storetest.Run(t, storetest.Engine{
		Open: func(t testing.TB) store.Store { return pgtest.Open(t) },
		PersonalFields: func(t testing.TB, s store.Store, id string) int {
			var n int
			s.(*postgres.DB).QueryRowForTest(t, `SELECT (email IS NOT NULL)::int + (first_name IS NOT NULL)::int + (tags <> '{}')::int + (attribution IS NOT NULL)::int
				FROM prospects WHERE id = $1`, []any{id}, &n)
			return n
		},
		SecretStored: func(t testing.TB, s store.Store, secret string) bool {
			var n int
			s.(*postgres.DB).QueryRowForTest(t, `SELECT count(*) FROM api_keys WHERE hash = $1::bytea OR encode(hash, 'escape') = $2`,
				[]any{[]byte(secret), secret}, &n)
			return n != 0
		},
		StoredSuppressionKey: func(t testing.TB, s store.Store, id string) string {
			var key string
			s.(*postgres.DB).QueryRowForTest(t, `SELECT coalesce(suppression_key, '') FROM accounts WHERE id = $1`, []any{id}, &key)
			return key
		},
		StoredWebhookSecret: func(t testing.TB, s store.Store, id string) string {
			var secret string
			s.(*postgres.DB).QueryRowForTest(t, `SELECT secret FROM webhook_endpoints WHERE id = $1`, []any{id}, &secret)
			return secret
		},
	})
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	dsn := pgtest.URL(t)
	done := make(chan error, 3)
	for range 3 {
		go func() {
			db, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				done <- err
				return
			}
			defer db.Close()
			_, err = db.Migrate(context.Background())
			done <- err
		}()
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Errorf("replicas migrating at once: %v", err)
		}
	}
	if err := pgtest.OpenURL(t, dsn).Ping(context.Background()); err != nil {
		t.Errorf("ping after migrating: %v", err)
	}
}

// TestPingMeansWritable: a database that takes reads but refuses writes (a
// standby, or read-only transactions) is not ready.
func TestPingMeansWritable(t *testing.T) {
	dsn := pgtest.URL(t)
	pgtest.OpenURL(t, dsn) // migrated
	ro, err := postgres.Open(context.Background(), dsn+"&default_transaction_read_only=on")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.CountAccounts(context.Background()); err != nil {
		t.Fatalf("a read on the read-only database: %v", err)
	}
	if err := ro.Ping(context.Background()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ping of a read-only database: %v, want ErrUnavailable", err)
	}
	if _, err := ro.CreateAccount(context.Background(), "acme", 10, 0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a write on a read-only database: %v, want ErrUnavailable", err)
	}
}

// TestPlanLimitAcrossCountSlots: with a limit far above the band in which
// creates take every slot of the account's count, creates from two replicas
// at once, and deletions among them, still leave exactly the limit.
func TestPlanLimitAcrossCountSlots(t *testing.T) {
	dsn := pgtest.URL(t)
	replicas := []*postgres.DB{pgtest.OpenURL(t, dsn), pgtest.OpenURL(t, dsn)}
	ctx := context.Background()
	const limit = 150
	a, err := replicas[0].CreateAccount(ctx, "busy", limit, 0)
	if err != nil {
		t.Fatal(err)
	}
	// createMany creates n prospects from 40 goroutines over both replicas,
	// and returns the ids created and how many the plan refused.
	createMany := func(prefix string, n int) (ids []string, limited int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan int)
		for g := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					p := &store.Prospect{AccountID: a.ID, Email: fmt.Sprintf("%s%d@example.com", prefix, i)}
					err := replicas[g%2].CreateProspect(ctx, p)
					mu.Lock()
					switch {
					case err == nil:
						ids = append(ids, p.ID)
					case errors.Is(err, store.ErrPlanLimit):
						limited++
					default:
						t.Errorf("create %d: %v", i, err)
					}
					mu.Unlock()
				}
			}()
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		return ids, limited
	}
	count := func() int64 {
		got, err := replicas[1].Account(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.ProspectCount
	}
	ids, limited := createMany("a", 400)
	if len(ids) != limit || limited != 400-limit || count() != limit {
		t.Fatalf("created %d, limited %d, counted %d; want %d, %d, %d", len(ids), limited, count(), limit, 400-limit, limit)
	}
	for i, id := range ids[:60] {
		if err := replicas[i%2].DeleteProspect(ctx, a.ID, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != limit-60 {
		t.Fatalf("counted %d after 60 deletions, want %d", n, limit-60)
	}
	ids, limited = createMany("b", 200)
	if len(ids) != 60 || limited != 140 || count() != limit {
		t.Errorf("after the deletions created %d, limited %d, counted %d; want 60, 140, %d", len(ids), limited, count(), limit)
	}
}

// TestBatchCountWaitsForOthersInFlight: a batch's count of 500 new prospects
// in an account with room for 600 while another's 500 are counted but not
// yet committed waits for that one and is refused, though each alone is far
// from the limit: only a single create may count in without taking every
// slot (it bounds what is in flight by one a slot).
func TestBatchCountWaitsForOthersInFlight(t *testing.T) {
	dsn := pgtest.URL(t)
	db := pgtest.OpenURL(t, dsn)
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "batches", 600, 0)
	if err != nil {
		t.Fatal(err)
	}
	tx := beginOnItsOwn(t, dsn)
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT count_prospects_in($1, 500)`, a.ID).Scan(&ok); err != nil || !ok {
		t.Fatalf("the first batch's count: %v, %v", ok, err)
	}
	second := make(chan error, 1)
	go func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			second <- err
			return
		}
		defer conn.Close(ctx)
		var ok bool
		err = conn.QueryRow(ctx, `SELECT count_prospects_in($1, 500)`, a.ID).Scan(&ok)
		if err == nil && ok {
			err = errors.New("counted in 500 beside 500 in flight, with room for 600")
		}
		second <- err
	}()
	// The second waits on the first's slot: it cannot answer before the
	// commit, and it sees the first's 500 once it is committed.
	poll.Until(t, 10*time.Second, "the second count waits on a lock", func() (bool, string) {
		var waiting int
		pgtest.QueryRow(t, dsn, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%count_prospects_in%'`, nil, &waiting)
		return waiting == 1, fmt.Sprintf("%d waiting", waiting)
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Error(err)
	}
}

// TestCreatesInFlightTakeFreeSlots: two creates of one account far from its
// limit, uncommitted on two connections whose process ids pick the same slot
// of the account's count, both count in without one waiting for the other's
// commit: the second takes a slot nobody holds. (Several replicas, each with
// its pool, have more connections than the 16 slots.)
func TestCreatesInFlightTakeFreeSlots(t *testing.T) {
	dsn := pgtest.URL(t)
	db := pgtest.OpenURL(t, dsn)
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "busy", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Of 17 connections, two share a slot.
	bySlot := map[int32]pgx.Tx{}
	var pair []pgx.Tx
	for len(pair) == 0 {
		tx := beginOnItsOwn(t, dsn)
		var slot int32
		if err := tx.QueryRow(ctx, `SELECT pg_backend_pid() % 16`).Scan(&slot); err != nil {
			t.Fatal(err)
		}
		if other, ok := bySlot[slot]; ok {
			pair = []pgx.Tx{other, tx}
		}
		bySlot[slot] = tx
	}
	for i, tx := range pair {
		// A count that waits for a slot the other transaction holds fails at once.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '50ms'`); err != nil {
			t.Fatal(err)
		}
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT count_prospects_in($1, 1)`, a.ID).Scan(&ok); err != nil || !ok {
			t.Fatalf("count %d of 2 in flight: %v, %v", i+1, ok, err)
		}
	}
	for _, tx := range pair {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var live int64
	pgtest.QueryRow(t, dsn, `SELECT live_prospects($1)`, []any{a.ID}, &live)
	if live != 2 {
		t.Errorf("live prospects after 2 counted in: %d", live)
	}
}

// TestUpsertLastRunBesideDeletion: the last run of a batch under
// on_conflict, which holds every slot of the account's count so that no
// create changes it, does not deadlock with a deletion of one of its emails'
// prospects (which holds that prospect and then takes its own slot) into a
// failed batch: both go through, one after the other.
func TestUpsertLastRunBesideDeletion(t *testing.T) {
	dsn := pgtest.URL(t)
	db := pgtest.OpenURL(t, dsn)
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "deleting", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &store.Prospect{AccountID: a.ID, Email: "gone@example.com"}
	if err := db.CreateProspect(ctx, p); err != nil {
		t.Fatal(err)
	}
	locked, release := make(chan struct{}), make(chan struct{})
	deleted := make(chan error, 1)
	var once sync.Once
	go func() {
		deleted <- db.DeleteProspect(ctx, a.ID, p.ID, func(*store.Prospect) error {
			once.Do(func() { close(locked) }) // the deletion holds the prospect's row
			<-release
			return nil
		})
	}()
	<-locked
	type result struct {
		out []store.Upserted
		err error
	}
	upserted := make(chan result, 1)
	go func() {
		skip := func(int, *store.Prospect) (*store.ProspectPatch, error) { return nil, nil }
		out, err := db.UpsertLastRunForTest(ctx, []*store.Prospect{{AccountID: a.ID, Email: "gone@example.com"}}, skip)
		upserted <- result{out, err}
	}()
	poll.Until(t, 10*time.Second, "the batch waits on the deletion", func() (bool, string) {
		var waiting int
		pgtest.QueryRow(t, dsn, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%email = ANY($2) AND deleted_at IS NULL ORDER BY id FOR UPDATE'`, nil, &waiting)
		return waiting > 0, fmt.Sprintf("%d waiting", waiting)
	})
	close(release)
	if err := <-deleted; err != nil {
		t.Errorf("deletion: %v", err)
	}
	r := <-upserted
	if r.err != nil {
		t.Fatalf("batch beside the deletion: %v", r.err)
	}
	// Either ran first: the batch created the email's prospect anew after
	// the deletion, or kept the one the deletion then took away.
	if len(r.out) != 1 || r.out[0].Err != nil {
		t.Fatalf("batch item: %+v", r.out)
	}
	want := int64(0)
	if r.out[0].Created {
		want = 1
	}
	if got, err := db.Account(ctx, a.ID); err != nil || got.ProspectCount != want {
		t.Errorf("count %v (%v), want %d", got, err, want)
	}
}

// TestCountAfterRefusedAndRepeatedWrites: the account's count is the number
// of its live prospects after a create refused once counted in (its email
// suppressed), inside a transaction and outside, a deletion of a prospect
// deleted already, and a transaction rolled back after its create.
func TestCountAfterRefusedAndRepeatedWrites(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "drift", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := func(want int64, after string) {
		t.Helper()
		got, err := db.Account(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ProspectCount != want {
			t.Errorf("after %s: count %d, want %d", after, got.ProspectCount, want)
		}
	}
	p := &store.Prospect{AccountID: a.ID, Email: "erased@example.com"}
	if err := db.CreateProspect(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := db.EraseProspect(ctx, a.ID, p.ID, nil); err != nil {
		t.Fatal(err)
	}
	count(0, "the erasure")
	if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "erased@example.com"}); !errors.Is(err, store.ErrSuppressed) {
		t.Fatalf("create of the erased email: %v", err)
	}
	count(0, "a refused create")
	err = db.Atomically(ctx, func(ctx context.Context) error {
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "erased@example.com"}); !errors.Is(err, store.ErrSuppressed) {
			return fmt.Errorf("create of the erased email in a transaction: %v", err)
		}
		return db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "kept@example.com"})
	})
	if err != nil {
		t.Fatal(err)
	}
	count(1, "a refused and a kept create in one transaction")
	if err := db.DeleteProspect(ctx, a.ID, p.ID, nil); !errors.Is(err, store.ErrDeleted) && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deletion of a deleted prospect: %v", err)
	}
	count(1, "a deletion of a deleted prospect")
	undo := errors.New("undone")
	err = db.Atomically(ctx, func(ctx context.Context) error {
		if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "undone@example.com"}); err != nil {
			return err
		}
		return undo
	})
	if !errors.Is(err, undo) {
		t.Fatal(err)
	}
	count(1, "a rolled back create")
}

// TestAnswerFailingAtCommit: the answer of an idempotent request goes with
// its transaction's COMMIT; when keeping it fails there, the request's
// effect and its claim of the key are undone with it, and the connection
// serves the next request.
func TestAnswerFailingAtCommit(t *testing.T) {
	dsn := pgtest.URL(t)
	db := pgtest.OpenURL(t, dsn)
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "answers", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, dsn, `CREATE FUNCTION refuse_answer() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'answer refused'; END $$`)
	pgtest.Exec(t, dsn, `CREATE TRIGGER refuse_answer BEFORE UPDATE ON idempotency_keys
		FOR EACH ROW WHEN (NEW.status IS NOT NULL) EXECUTE FUNCTION refuse_answer()`)
	run := func() error {
		return db.Atomically(ctx, func(ctx context.Context) error {
			held, err := db.BeginIdempotent(ctx, a.ID, "key-1", []byte("fp"), "req_1", time.Minute)
			if err != nil || held != nil {
				return fmt.Errorf("claim: %v, held by %+v", err, held)
			}
			if err := db.CreateProspect(ctx, &store.Prospect{AccountID: a.ID, Email: "once@example.com"}); err != nil {
				return err
			}
			return db.FinishIdempotent(ctx, a.ID, "key-1", "req_1", 201, []byte(`{}`))
		})
	}
	if err := run(); err == nil {
		t.Fatal("the answer was refused at the commit, and the transaction committed")
	}
	got, err := db.Account(ctx, a.ID)
	if err != nil || got.ProspectCount != 0 {
		t.Fatalf("after the refused answer: %+v, %v; want no prospect", got, err)
	}
	pgtest.Exec(t, dsn, `DROP TRIGGER refuse_answer ON idempotency_keys`)
	for range 3 { // every connection of the pool, the one that failed included, serves again
		if _, err := db.Account(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := run(); err != nil {
		t.Fatalf("the retry is a first run: %v", err)
	}
	rec, err := db.BeginIdempotent(ctx, a.ID, "key-1", []byte("fp"), "req_2", time.Minute)
	if err != nil || rec == nil || rec.Status != 201 {
		t.Errorf("the kept answer: %+v, %v", rec, err)
	}
}

// TestUpsertLastRunBesideCreate: that last run does not fail either beside a
// create of one of its emails that inserted its prospect and has yet to
// count it in (a create's statements, sent together, in that order): the
// create goes through and the batch, run again, finds its prospect.
func TestUpsertLastRunBesideCreate(t *testing.T) {
	dsn := pgtest.URL(t)
	db := pgtest.OpenURL(t, dsn)
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "creating", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	tx := beginOnItsOwn(t, dsn)
	const id = "prs_created_beside_the_batch"
	if _, err := tx.Exec(ctx, `INSERT INTO prospects (id, account_id, email, created, updated)
		VALUES ($1, $2, 'new@example.com', now(), now())`, id, a.ID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		out []store.Upserted
		err error
	}
	upserted := make(chan result, 1)
	go func() {
		skip := func(int, *store.Prospect) (*store.ProspectPatch, error) { return nil, nil }
		out, err := db.UpsertLastRunForTest(ctx, []*store.Prospect{{AccountID: a.ID, Email: "new@example.com"}}, skip)
		upserted <- result{out, err}
	}()
	poll.Until(t, 10*time.Second, "the batch waits on the create's insert", func() (bool, string) {
		var waiting int
		pgtest.QueryRow(t, dsn, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%SELECT r.*, NULL FROM jsonb_to_recordset%'`, nil, &waiting)
		return waiting > 0, fmt.Sprintf("%d waiting", waiting)
	})
	_, err = tx.Exec(ctx, `SELECT admit_prospect($1, (SELECT suppression_key FROM accounts WHERE id = $1), NULL)`, a.ID)
	if err == nil {
		err = tx.Commit(ctx)
	}
	r := <-upserted
	if r.err != nil {
		t.Fatalf("batch beside the create: %v", r.err)
	}
	switch {
	case err != nil: // PostgreSQL undid the create instead (CreateProspect runs it again): the batch created it
		tx.Rollback(ctx)
		if len(r.out) != 1 || !r.out[0].Created {
			t.Errorf("batch item: %+v; want created, the create undone (%v)", r.out, err)
		}
	case len(r.out) != 1 || r.out[0].Created || r.out[0].Prospect == nil || r.out[0].Prospect.ID != id:
		t.Errorf("batch item: %+v; want the create's prospect, kept", r.out)
	}
	if got, err := db.Account(ctx, a.ID); err != nil || got.ProspectCount != 1 {
		t.Errorf("count %+v (%v), want 1", got, err)
	}
}

// beginOnItsOwn begins a transaction on a connection of its own to dsn, as
// another process would; the connection closes when the test ends.
func beginOnItsOwn(t *testing.T, dsn string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestCreateAfterAnotherReplicaAddsEndpoint: a replica whose last create of
// an account found no webhook endpoint records its next create's event for
// the endpoint another replica has added since: the event's delivery waits in
// the outbox, and creates of the account go on succeeding.
func TestCreateAfterAnotherReplicaAddsEndpoint(t *testing.T) {
	dsn := pgtest.URL(t)
	a, b := pgtest.OpenURL(t, dsn), pgtest.OpenURL(t, dsn)
	ctx := context.Background()
	acct, err := a.CreateAccount(ctx, "hooks", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	deliveries := func(p *store.Prospect) (n int) {
		t.Helper()
		pgtest.QueryRow(t, dsn, `SELECT count(*) FROM webhook_outbox o JOIN events e ON e.id = o.event_id
			WHERE e.account_id = $1 AND e.object_id = $2`, []any{acct.ID, p.ID}, &n)
		return n
	}
	create := func(db *postgres.DB, email string) *store.Prospect {
		t.Helper()
		p := &store.Prospect{AccountID: acct.ID, Email: email}
		if err := db.CreateProspect(ctx, p); err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return p
	}
	if p := create(a, "before@example.com"); deliveries(p) != 0 {
		t.Fatalf("a delivery for a create before any endpoint")
	}
	ep := &store.WebhookEndpoint{AccountID: acct.ID, URL: "https://hooks.example.com", EnabledEvents: []string{"*"}}
	if err := b.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if p := create(a, fmt.Sprintf("after%d@example.com", i)); deliveries(p) != 1 {
			t.Errorf("create %d after the endpoint on the other replica: %d deliveries, want 1", i+1, deliveries(p))
		}
	}
	if err := b.DeleteWebhookEndpoint(ctx, acct.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	if p := create(a, "deleted@example.com"); deliveries(p) != 0 {
		t.Errorf("a delivery for a create after the endpoint was deleted")
	}
}

// newAccount opens a store on a schema of the test's own, at dsn, with an
// account of 100 prospects.
func newAccount(t *testing.T) (dsn string, db *postgres.DB, a *store.Account) {
	t.Helper()
	dsn = pgtest.URL(t)
	db = pgtest.OpenURL(t, dsn)
	a, err := db.CreateAccount(context.Background(), "acme", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	return dsn, db, a
}
