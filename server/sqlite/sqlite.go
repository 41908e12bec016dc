// Package sqlite is the embedded Store: a single SQLite file in WAL mode through the
// pure-Go modernc.org/sqlite driver, its schema kept by goose migrations embedded in
// the binary.
package sqlite

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pressly/goose/v3"
	sqlitedrv "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/captureapi/capture/server/outbox"
	"github.com/captureapi/capture/server/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite Store. Writes go through a pool of one connection, so SQLite's
// single writer never waits on its own busy lock; reads use their own pool and run
// in parallel with it, as WAL allows.
type DB struct {
	path       string
	file       os.FileInfo // the file opened: a file put in its place is not this database
	write      *sql.DB
	read       *sql.DB
	stmts      sync.Map // query text -> *sql.Stmt on the read pool
	writeStmts sync.Map // query text -> *sql.Stmt on the writer (see prepareWrites)
	writer     writer   // the writer's open transaction, shared by concurrent requests (see group commit)

	secrets store.SecretBox // seals webhook secrets at rest when set (see SetSecretKey)

	relay *outbox.Relay // moves deliveries into the queue, once StartQueue ran

	noEvents bool // changes record no events: only for measuring what an event costs (export_test.go)
}

var _ store.Store = (*DB)(nil)

// Open opens the database file at path, creating it first if it does not exist.
// It does not migrate: call Migrate, as `capture serve` and `capture migrate` do.
//
// Only Open creates the file: the connections it pools open it read-write without
// creating it, so a file deleted under a running server is reported as
// unavailable (see Ping), never silently replaced by a new empty database.
func Open(path string) (*DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := create(path); err != nil {
			return nil, err
		}
	}
	return open(path)
}

// create makes an empty database file in WAL mode.
func create(path string) error {
	db, err := sql.Open("sqlite", dsn(path, "rwc", "deferred"))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.PingContext(context.Background()); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// dsn is the driver's name for the file with the pragmas every connection needs.
func dsn(path, mode, txlock string) string {
	q := url.Values{}
	// temp_store(MEMORY): a request of a group commit runs in a savepoint, and
	// SQLite copies each page it changes that an earlier request changed to a
	// statement journal, in memory rather than a temporary file.
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	q.Set("mode", mode)
	return "file:" + path + "?" + q.Encode()
}

func open(path string) (*DB, error) {
	write, err := sql.Open("sqlite", dsn(path, "rw", "immediate"))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open("sqlite", dsn(path, "rw", "deferred"))
	if err != nil {
		write.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	db := &DB{path: path, write: write, read: read, relay: outbox.New()}
	// The first connection switches the file to WAL; do it on the writer up front.
	if err := write.PingContext(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if db.file, err = os.Stat(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.prepareWrites(context.Background()) // when migrated already; Migrate does it otherwise
	return db, nil
}

// checkFile reports the database unavailable when its file was removed or
// replaced since Open: SQLite would go on writing to the unlinked file, and
// every write would be lost.
func (db *DB) checkFile() error {
	now, err := os.Stat(db.path)
	switch {
	case err != nil:
		return fmt.Errorf("%w: the database file %s is gone: %w", store.ErrUnavailable, db.path, err)
	case !os.SameFile(db.file, now):
		return fmt.Errorf("%w: the database file %s was replaced by another file", store.ErrUnavailable, db.path)
	}
	return nil
}

// Migrate brings the schema up to date with the embedded migrations, and the
// tables of River, the webhook delivery queue, with River's own.
func (db *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, sub)
	if err != nil {
		return err
	}
	if _, err = p.Up(ctx); err != nil {
		return err
	}
	if err := db.migrateQueue(ctx); err != nil {
		return err
	}
	db.prepareWrites(ctx)
	return nil
}

// Close stops the delivery relay, if StartQueue started one, and closes both pools.
func (db *DB) Close() error {
	db.relay.Stop()
	db.stmts.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
	db.writeStmts.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
	return errors.Join(db.read.Close(), db.write.Close())
}

// stmt is a read statement prepared once per query text: SQLite spends more
// time parsing a short SELECT than running it.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	st, err := db.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if s, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return s.(*sql.Stmt), nil
	}
	return st, nil
}

// queryRow runs a one-row read through its prepared statement.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := db.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row whose statement could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Ping tells whether the database can be written: its file is still the one
// opened, and a write transaction can start and take SQLite's write lock.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer unavailable(&err)
	if err := db.checkFile(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *writeTx) error {
		// A query, not PingContext: it must touch the file, not only the pool.
		var n int
		return tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n)
	})
}

// unavailable marks errors that mean the database cannot be reached or used at
// all (closed, locked past the busy timeout, I/O failure, disk full) so that
// clients get 503 storage_unavailable rather than 500.
func unavailable(err *error) {
	if *err == nil || errors.Is(*err, store.ErrUnavailable) ||
		errors.Is(*err, store.ErrNotFound) || errors.Is(*err, store.ErrDeleted) { // answers, not failures: no driver error to look for
		return
	}
	var se *sqlitedrv.Error
	switch {
	case errors.As(*err, &se):
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			*err = fmt.Errorf("%w: %w", store.ErrUnavailable, *err)
		}
	case errors.Is(*err, sql.ErrConnDone), strings.Contains((*err).Error(), "sql: database is closed"):
		*err = fmt.Errorf("%w: %w", store.ErrUnavailable, *err)
	}
}

// CreateAccount makes an account.
func (db *DB) CreateAccount(ctx context.Context, name string, prospectLimit int64, rateLimit int) (_ *store.Account, err error) {
	defer unavailable(&err)
	a := &store.Account{ID: store.NewID("acct_"), Name: name, ProspectLimit: prospectLimit, RateLimit: rateLimit, Created: now()}
	_, err = db.exec(ctx,
		`INSERT INTO accounts (id, name, prospect_limit, rate_limit, created) VALUES (?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.ProspectLimit, a.RateLimit, a.Created.Unix())
	if err != nil {
		if isUnique(err) {
			return nil, fmt.Errorf("account %q exists already", name)
		}
		return nil, err
	}
	return a, nil
}

const accountCols = `id, name, prospect_limit, rate_limit, live_prospects, created`

func scanAccount(row scanner) (*store.Account, error) {
	var a store.Account
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &a.ProspectLimit, &a.RateLimit, &a.ProspectCount, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	a.Created = time.Unix(created, 0)
	return &a, nil
}

// AccountByName finds an account by name.
func (db *DB) AccountByName(ctx context.Context, name string) (_ *store.Account, err error) {
	defer unavailable(&err)
	return scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE name = ?`, name))
}

// Account finds an account by id.
func (db *DB) Account(ctx context.Context, id string) (_ *store.Account, err error) {
	defer unavailable(&err)
	return scanAccount(db.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
}

// CountAccounts counts accounts.
func (db *DB) CountAccounts(ctx context.Context) (n int, err error) {
	defer unavailable(&err)
	err = db.read.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	return n, err
}

// CreateKey makes a key and returns its secret once.
func (db *DB) CreateKey(ctx context.Context, accountID string, role store.Role) (_ *store.APIKey, _ string, err error) {
	defer unavailable(&err)
	if !role.Valid() {
		return nil, "", fmt.Errorf("role must be admin or standard, not %q", role)
	}
	k := &store.APIKey{ID: store.NewID("key_"), AccountID: accountID, Role: role, Created: now()}
	secret := store.NewSecret()
	_, err = db.exec(ctx,
		`INSERT INTO api_keys (id, account_id, hash, role, created) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, store.HashSecret(secret), string(k.Role), k.Created.Unix())
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// KeyBySecret finds a key by its secret's hash.
func (db *DB) KeyBySecret(ctx context.Context, secret string) (_ *store.APIKey, err error) {
	defer unavailable(&err)
	want := store.HashSecret(secret)
	var k store.APIKey
	var hash []byte
	var role string
	var created int64
	var revoked sql.NullInt64
	err = db.queryRow(ctx, `SELECT k.id, k.account_id, k.hash, k.role, k.created, k.revoked_at, a.rate_limit
		FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.hash = ?`, want).
		Scan(&k.ID, &k.AccountID, &hash, &role, &created, &revoked, &k.RateLimit)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	// The index lookup already matched; compare again in constant time so that no
	// code path decides on a secret with an early-exit comparison.
	if subtle.ConstantTimeCompare(hash, want) != 1 {
		return nil, store.ErrNotFound
	}
	k.Role, k.Created, k.Revoked = store.Role(role), time.Unix(created, 0), revoked.Valid
	return &k, nil
}

// RevokeKey revokes a key.
func (db *DB) RevokeKey(ctx context.Context, id string) (err error) {
	defer unavailable(&err)
	res, err := db.exec(ctx,
		`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, now().Unix(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

const prospectCols = `id, account_id, email, first_name, last_name, company, title, phone, website, source,
	status, tags, metadata, marketing_consent, consent_at, hidden, created, updated, deleted_at`

// liveProspectCols are prospectCols less what a list of one account's live
// prospects knows without reading it: the account, and no deletion.
const liveProspectCols = `id, email, first_name, last_name, company, title, phone, website, source,
	status, tags, metadata, marketing_consent, consent_at, hidden, created, updated`

// liveProspectJSON is a live prospect as the API's Prospect object, with the
// fields in the order and of the types the server writes from a store.Prospect
// (server/prospect_json.go). Listing rows this way costs a page of 100 an
// eighth to a quarter less CPU than reading their 17 columns (README, "Lists
// on SQLite"): the driver takes SQLite's connection mutex for each column it
// reads, and the row's values need no decoding and encoding in Go. json_quote escapes as
// encoding/json does, except that it leaves <, >, & and U+2028/U+2029 as they
// are: the same values all the same. Every field goes through a JSON function,
// so even a row the server did not write gives valid JSON: json() passes the
// stored tags and metadata through and fails the query on a stored text that
// is not JSON instead of answering it.
const liveProspectJSON = `printf('{"company":%s,"consent_at":%s,"created":%s,"email":%s,"first_name":%s,` +
	`"hidden":%s,"id":%s,"last_name":%s,"marketing_consent":%s,"metadata":%s,"object":"prospect",` +
	`"phone":%s,"source":%s,"status":%s,"tags":%s,"title":%s,"updated":%s,"website":%s}',
	json_quote(company), json_quote(consent_at), json_quote(created), json_quote(email), json_quote(first_name),
	iif(hidden, 'true', 'false'), json_quote(id), json_quote(last_name), iif(marketing_consent, 'true', 'false'),
	json(metadata), json_quote(phone), json_quote(source), json_quote(status), json(tags), json_quote(title),
	json_quote(updated), json_quote(website))`

// scanProspectJSON reads a row of liveProspectJSON. json_quote copies text as
// it is stored, so a string that is not UTF-8 (the API writes none: its JSON
// decoding replaces such bytes) gets U+FFFD for each bad byte, as
// encoding/json gives it; strings.Map decodes each bad byte as one U+FFFD.
func scanProspectJSON(row scanner) (*json.RawMessage, error) {
	var s string
	if err := row.Scan(&s); err != nil {
		return nil, err
	}
	if !utf8.ValidString(s) {
		s = strings.Map(func(r rune) rune { return r }, s)
	}
	raw := json.RawMessage(s)
	return &raw, nil
}

type scanner interface{ Scan(dest ...any) error }

// scanProspect reads one row of prospectCols; it returns store.ErrDeleted for a
// tombstone. Its scan targets are kept between calls, so that a lookup
// allocates only the prospect it finds and what it holds (a 404's, nothing).
func scanProspect(row scanner) (*store.Prospect, error) {
	v := prospectRows.Get().(*prospectRow)
	defer func() {
		v.p = store.Prospect{} // nothing of it kept alive by the pool
		prospectRows.Put(v)
	}()
	p, err := v.scan(row)
	if err != nil {
		return nil, err
	}
	found := *p
	return &found, nil
}

// prospectRows are the scan targets of single-row reads (scanProspect).
var prospectRows = sync.Pool{New: func() any { return newProspectRow("") }}

// scanLiveProspect reads rows of liveProspectCols, of the account's (never
// empty: it is the request's), through one set of scan targets.
func scanLiveProspect(accountID string) func(scanner) (*store.Prospect, error) {
	return newProspectRow(accountID).scan
}

// prospectRow holds the scan targets of a row of prospectCols, or of
// liveProspectCols when accountID is set, in one allocation for all the rows
// of a query instead of one a row.
type prospectRow struct {
	p                    store.Prospect
	accountID            string
	email                sql.NullString
	optional             [7]sql.NullString // first_name … source, in prospectCols' order
	tags, metadata       string
	consentAt, deletedAt sql.NullInt64
	created, updated     int64
	dest                 []any
}

func newProspectRow(accountID string) *prospectRow {
	v := &prospectRow{accountID: accountID}
	p := &v.p
	o := &v.optional
	v.dest = []any{&p.ID, &p.AccountID, &v.email, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
		&p.Status, &v.tags, &v.metadata, &p.MarketingConsent, &v.consentAt, &p.Hidden, &v.created, &v.updated, &v.deletedAt}
	if accountID != "" {
		v.dest = append(v.dest[:1], v.dest[2:len(v.dest)-1]...) // no account_id, no deleted_at
	}
	return v
}

// scan reads the next row. The prospect it returns is valid until the next
// call, which reuses it: copy it to keep it. Its optional fields point into an
// array of their own, not into v.
func (v *prospectRow) scan(row scanner) (*store.Prospect, error) {
	p := &v.p
	*p = store.Prospect{AccountID: v.accountID}
	err := row.Scan(v.dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if v.deletedAt.Valid {
		return nil, store.ErrDeleted
	}
	p.Email = v.email.String
	var texts *[len(v.optional)]string
	for i, to := range [...]**string{&p.FirstName, &p.LastName, &p.Company, &p.Title, &p.Phone, &p.Website, &p.Source} {
		if v.optional[i].Valid {
			if texts == nil {
				texts = new([len(v.optional)]string)
			}
			texts[i] = v.optional[i].String
			*to = &texts[i]
		}
	}
	if p.Tags, err = decodeTags(v.tags); err != nil {
		return nil, fmt.Errorf("prospect %s tags: %w", p.ID, err)
	}
	if p.Metadata, err = decodeMetadata(v.metadata); err != nil {
		return nil, fmt.Errorf("prospect %s metadata: %w", p.ID, err)
	}
	if v.consentAt.Valid {
		t := time.Unix(v.consentAt.Int64, 0)
		p.ConsentAt = &t
	}
	p.Created, p.Updated = time.Unix(v.created, 0), time.Unix(v.updated, 0)
	return p, nil
}

// CreateProspect inserts a prospect unless a live one has its email (then it
// looks that one up), and counts it against the plan limit.
func (db *DB) CreateProspect(ctx context.Context, p *store.Prospect) (err error) {
	defer unavailable(&err)
	p.Normalise()
	return db.inTx(ctx, func(tx *writeTx) error {
		// The insert finds a live duplicate itself, through the unique index;
		// only then is the duplicate looked up, for its id. A failure below
		// rolls the insert back with the rest of the request's savepoint.
		res, err := tx.ExecContext(ctx, insertNewProspectSQL, prospectArgs(p, nil)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			if err := checkEmailFree(ctx, tx, p.AccountID, p.Email, p.ID); err != nil {
				return err
			}
			return errors.New("sqlite: a prospect insert was refused, but no live prospect has its email")
		}
		// One statement checks the plan limit, counts the prospect in, and
		// tells whether the account has an endpoint to deliver its event to.
		var hooks int64
		err = tx.QueryRowContext(ctx, countProspectIn, p.AccountID).Scan(&hooks)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrPlanLimit
		}
		if err != nil {
			return err
		}
		return db.recordEvent(ctx, tx, store.EventProspectCreated, p, nil, p.Hidden, hooks > 0)
	})
}

// CreateProspects inserts ps in order in one transaction, a chunk of them at
// a time: one query finds the live prospects with the chunk's emails, and one
// multi-row INSERT each writes its prospects and their events, where
// CreateProspect runs four statements an item and a savepoint. The account's
// row is read once and counted once at the end, and an item is checked
// before anything is written, so that its failure has nothing to undo.
func (db *DB) CreateProspects(ctx context.Context, ps []*store.Prospect, stopAtConflict bool) (out []error, err error) {
	defer unavailable(&err)
	if len(ps) == 0 {
		return nil, nil
	}
	accountID := ps[0].AccountID
	err = db.inTx(ctx, func(tx *writeTx) error {
		out = make([]error, 0, len(ps))
		var count, limit, hooks int64
		err := tx.QueryRowContext(ctx, `SELECT live_prospects, prospect_limit, webhook_endpoints_enabled FROM accounts WHERE id = ?`,
			accountID).Scan(&count, &limit, &hooks)
		if err != nil && !errors.Is(err, sql.ErrNoRows) { // no account: the plan allows nothing, as CreateProspect answers
			return err
		}
		added := int64(0)
		for chunk := range slices.Chunk(ps, batchChunk) {
			live, err := liveEmails(ctx, tx, accountID, chunk)
			if err != nil {
				return err
			}
			var rows, events []any
			var created []store.Event
			n, stopped := 0, false
			for _, p := range chunk {
				if e := live[p.Email]; e != nil {
					out = append(out, e)
					if stopped = stopAtConflict; stopped {
						break
					}
					continue
				}
				if count+added >= limit {
					out = append(out, store.ErrPlanLimit)
					continue
				}
				rows = prospectArgs(p, rows)
				if !db.noEvents {
					created = append(created, store.NewEvent(ctx, store.EventProspectCreated, p, nil, p.Hidden))
					events = eventArgs(&created[len(created)-1], events)
				}
				live[p.Email] = &store.ExistsError{ID: p.ID, Hidden: p.Hidden} // a later item with it conflicts
				n++
				added++
				out = append(out, nil)
			}
			if err := insertMany(ctx, tx, insertProspectSQL, n, rows); err != nil {
				return err
			}
			if err := insertMany(ctx, tx, insertEvent, len(created), events); err != nil {
				return err
			}
			for i := range created {
				if hooks == 0 {
					break
				}
				if err := db.enqueueDeliveries(ctx, tx, &created[i]); err != nil {
					return err
				}
			}
			if stopped {
				break
			}
		}
		if added == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET live_prospects = live_prospects + ? WHERE id = ?`, added, accountID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batchChunk is how many items of CreateProspects share a statement: with
// stopAtConflict, at most this many emails are looked up in vain by a call.
const batchChunk = 50

// liveEmails finds the live prospects of the account with the emails of ps
// (normalising them), by email.
func liveEmails(ctx context.Context, tx *writeTx, accountID string, ps []*store.Prospect) (map[string]*store.ExistsError, error) {
	emails := make([]string, len(ps))
	for i, p := range ps {
		p.Normalise()
		emails[i] = p.Email
	}
	st, err := tx.stmt(ctx, liveEmailsSQL)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(context.WithoutCancel(ctx), accountID, mustJSON(emails)) // as writeTx runs its statements
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	live := make(map[string]*store.ExistsError, len(ps))
	for rows.Next() {
		var email string
		var e store.ExistsError
		if err := rows.Scan(&email, &e.ID, &e.Hidden); err != nil {
			return nil, err
		}
		live[email] = &e
	}
	return live, rows.Err()
}

const liveEmailsSQL = `SELECT email, id, hidden FROM prospects
	WHERE account_id = ? AND deleted_at IS NULL AND email IN (SELECT value FROM json_each(?))`

// insertMany runs the single-row INSERT query for n rows at once, args being
// theirs one after another.
func insertMany(ctx context.Context, tx *writeTx, query string, n int, args []any) error {
	if n == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, insertRows(query, n), args...)
	return err
}

// insertRows turns a single-row INSERT … VALUES (…) into one of n rows.
func insertRows(query string, n int) string {
	i := strings.LastIndex(query, "VALUES ")
	row := query[i+len("VALUES "):]
	var b strings.Builder
	b.WriteString(query)
	for range n - 1 {
		b.WriteString(", ")
		b.WriteString(row)
	}
	return b.String()
}

// prospectArgs sets a new prospect's id, times and defaults, and appends the
// arguments of insertProspectSQL for it to args.
func prospectArgs(p *store.Prospect, args []any) []any {
	p.ID = store.NewID("prs_")
	p.Created = now()
	p.Updated = p.Created
	if p.Status == "" {
		p.Status = "new"
	}
	if p.MarketingConsent {
		p.ConsentAt = &p.Created
	}
	return append(args, p.ID, p.AccountID, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website,
		p.Source, p.Status, mustJSON(p.Tags), mustJSON(p.Metadata), p.MarketingConsent, unixPtr(p.ConsentAt), p.Hidden,
		p.Created.Unix(), p.Updated.Unix())
}

const insertProspectSQL = `INSERT INTO prospects (` + prospectCols + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`

// insertNewProspectSQL inserts a prospect unless a live one has its email.
const insertNewProspectSQL = insertProspectSQL + ` ON CONFLICT (account_id, email) WHERE deleted_at IS NULL DO NOTHING`

// checkEmailSQL finds the live prospect other than self with an email.
const checkEmailSQL = `SELECT id, hidden FROM prospects WHERE account_id = ? AND email = ? AND deleted_at IS NULL AND id != ?`

// countProspectIn adds one to the account's live prospects if its plan allows
// one more (no row otherwise), and returns its count of enabled webhook endpoints.
const countProspectIn = `UPDATE accounts SET live_prospects = live_prospects + 1
	WHERE id = ? AND live_prospects < prospect_limit RETURNING webhook_endpoints_enabled`

// checkEmailFree returns an ExistsError when a live prospect other than self has the email.
func checkEmailFree(ctx context.Context, tx *writeTx, accountID, email, self string) error {
	var id string
	var hidden bool
	err := tx.QueryRowContext(ctx, checkEmailSQL, accountID, email, self).Scan(&id, &hidden)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	default:
		return &store.ExistsError{ID: id, Hidden: hidden}
	}
}

// Prospect returns one prospect of the account.
func (db *DB) Prospect(ctx context.Context, accountID, id string) (_ *store.Prospect, err error) {
	defer unavailable(&err)
	return scanProspect(db.queryRow(ctx,
		`SELECT `+prospectCols+` FROM prospects WHERE id = ? AND account_id = ?`, id, accountID))
}

// UpdateProspect applies a patch in one transaction.
func (db *DB) UpdateProspect(ctx context.Context, accountID, id string, patch store.ProspectPatch, check func(*store.Prospect) error) (out *store.Prospect, err error) {
	defer unavailable(&err)
	err = db.inTx(ctx, func(tx *writeTx) error {
		p, err := prospectForWrite(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		before, wasHidden := store.WireAttributes(p), p.Hidden
		patch.Apply(p, now())
		if check != nil {
			if err := check(p); err != nil {
				return err
			}
		}
		if patch.Email != nil {
			if err := checkEmailFree(ctx, tx, accountID, p.Email, p.ID); err != nil {
				return err
			}
		}
		p.Updated = now()
		_, err = tx.ExecContext(ctx, updateProspectSQL,
			p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website, p.Source, p.Status,
			mustJSON(p.Tags), mustJSON(p.Metadata), p.MarketingConsent, unixPtr(p.ConsentAt), p.Hidden, p.Updated.Unix(), p.ID)
		if err != nil {
			return err
		}
		out = p
		return db.recordEvent(ctx, tx, store.EventProspectUpdated, p, store.ChangedAttributes(before, p), wasHidden || p.Hidden, true)
	})
	return out, err
}

// prospectForWrite reads a live prospect inside a write transaction.
func prospectForWrite(ctx context.Context, tx *writeTx, accountID, id string) (*store.Prospect, error) {
	return scanProspect(tx.QueryRowContext(ctx, prospectForWriteSQL, id, accountID))
}

// The statements of an update and a delete, prepared once (see prepareWrites).
const (
	prospectForWriteSQL = `SELECT ` + prospectCols + ` FROM prospects WHERE id = ? AND account_id = ?`
	updateProspectSQL   = `UPDATE prospects SET email = ?, first_name = ?, last_name = ?, company = ?,
		title = ?, phone = ?, website = ?, source = ?, status = ?, tags = ?, metadata = ?, marketing_consent = ?,
		consent_at = ?, hidden = ?, updated = ? WHERE id = ?`
	eraseProspectSQL = `UPDATE prospects SET email = NULL, first_name = NULL, last_name = NULL,
		company = NULL, title = NULL, phone = NULL, website = NULL, source = NULL, tags = '[]', metadata = '{}',
		marketing_consent = 0, consent_at = NULL, updated = ?, deleted_at = ? WHERE id = ?`
	uncountProspectSQL = `UPDATE accounts SET live_prospects = live_prospects - 1 WHERE id = ?
		RETURNING webhook_endpoints_enabled`
)

// DeleteProspect erases the prospect's data and leaves a tombstone with its id.
func (db *DB) DeleteProspect(ctx context.Context, accountID, id string, check func(*store.Prospect) error) (err error) {
	defer unavailable(&err)
	return db.inTx(ctx, func(tx *writeTx) error {
		p, err := prospectForWrite(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(p); err != nil {
				return err
			}
		}
		t := now().Unix()
		if _, err := tx.ExecContext(ctx, eraseProspectSQL, t, t, id); err != nil {
			return err
		}
		var hooks int64
		if err := tx.QueryRowContext(ctx, uncountProspectSQL, accountID).Scan(&hooks); err != nil {
			return err
		}
		return db.recordEvent(ctx, tx, store.EventProspectDeleted, p, nil, p.Hidden, hooks > 0)
	})
}

// ListProspects returns a keyset page: ids are time-ordered, so "older than the
// cursor" is id < cursor, and the cost of a page does not depend on its depth.
func (db *DB) ListProspects(ctx context.Context, accountID string, lp store.ListParams) (_ *store.Page, err error) {
	defer unavailable(&err)
	var q strings.Builder
	args := []any{accountID}
	cols := liveProspectCols
	if lp.AsJSON {
		cols = liveProspectJSON
	}
	q.WriteString(`SELECT ` + cols + ` FROM prospects WHERE account_id = ? AND deleted_at IS NULL`)
	if !lp.IncludeHidden {
		q.WriteString(` AND hidden = 0`)
	}
	if lp.Email != "" {
		q.WriteString(` AND email = ?`)
		args = append(args, strings.ToLower(lp.Email))
	}
	if lp.Status != "" {
		q.WriteString(` AND status = ?`)
		args = append(args, lp.Status)
	}
	if lp.Tag != "" {
		q.WriteString(` AND EXISTS (SELECT 1 FROM json_each(prospects.tags) WHERE json_each.value = ?)`)
		args = append(args, lp.Tag)
	}
	if lp.AsJSON {
		rows, more, err := listPage(ctx, db, &q, args, lp.Keyset(), scanProspectJSON)
		if err != nil {
			return nil, err
		}
		return &store.Page{JSON: rows, HasMore: more}, nil
	}
	rows, more, err := listPage(ctx, db, &q, args, lp.Keyset(), scanLiveProspect(accountID))
	if err != nil {
		return nil, err
	}
	return &store.Page{Prospects: rows, HasMore: more}, nil
}

// listPage finishes and runs a keyset list query: q holds its SELECT and WHERE
// so far, with args; listPage adds the created range, the cursor, the order and
// the limit, and returns the page's rows newest first and whether more lie beyond.
// scan may reuse what it returns for the next row: each row is copied at once.
func listPage[T any](ctx context.Context, db *DB, q *strings.Builder, args []any, k store.Keyset, scan func(scanner) (*T, error)) ([]T, bool, error) {
	if k.CreatedGTE != nil {
		q.WriteString(` AND created >= ?`)
		args = append(args, k.CreatedGTE.Unix())
	}
	if k.CreatedLTE != nil {
		q.WriteString(` AND created <= ?`)
		args = append(args, k.CreatedLTE.Unix())
	}
	switch {
	case k.Backwards():
		q.WriteString(` AND id > ? ORDER BY id ASC`)
		args = append(args, k.EndingBefore)
	case k.StartingAfter != "":
		q.WriteString(` AND id < ? ORDER BY id DESC`)
		args = append(args, k.StartingAfter)
	default:
		q.WriteString(` ORDER BY id DESC`)
	}
	q.WriteString(` LIMIT ?`)
	args = append(args, k.Limit+1)
	st, err := db.stmt(ctx, q.String())
	if err != nil {
		return nil, false, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out := make([]T, 0, k.Limit+1)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	out, more := store.TrimPage(k, out)
	return out, more, nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func now() time.Time { return store.Now() }

func unixPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Unix()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // []string and map[string]string always marshal
	}
	return string(b)
}
