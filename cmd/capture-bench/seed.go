package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	_ "modernc.org/sqlite" // the same pure-Go SQLite the servers use
)

// Seeding writes rows straight into the SQLite file before the server
// starts: a million prospects through the API would take far longer than
// the measurement. That ties the harness to the storage layout, which is
// assumed to be (both servers serve a file laid out by Capture's migrations):
//
//	accounts(id TEXT PK, name TEXT UNIQUE, prospect_limit INTEGER,
//	         rate_limit INTEGER NULL, live_prospects INTEGER, created INTEGER)
//	api_keys(id TEXT PK, account_id TEXT, hash BLOB UNIQUE -- sha256 of the secret,
//	         role TEXT, created INTEGER, revoked_at INTEGER NULL)
//	prospects(id TEXT PK -- 'prs_' + ULID, account_id TEXT, email TEXT,
//	          first_name, last_name, company, title, phone, website, source TEXT NULL,
//	          status TEXT, tags TEXT -- JSON, metadata TEXT -- JSON,
//	          marketing_consent INTEGER, consent_at INTEGER NULL, hidden INTEGER,
//	          created INTEGER, updated INTEGER, deleted_at INTEGER NULL)
//
// Capture creates the tables with `capture migrate`, the account and key
// with its own admin commands, for the floor's database as for its own; the
// harness only inserts prospects (and updates accounts.live_prospects). When
// Capture's schema changes, only seedProspects' INSERT, and the floor's
// statements, need to follow.

// benchAccount is the name of the account the load runs as.
const benchAccount = "bench"

// smallAccount is the name of the account of smallAccountProspects prospects
// beside it, whose search must not cost what the load's account holds.
const smallAccount = "bench-small"

// benchLimit lifts the plan's prospect limit and the key's rate limit far
// above what a run reaches, so that neither shapes the numbers.
const benchLimit = "100000000"

// captureKind is Capture, driven through its own admin commands.
func captureKind(bin string) *serverKind {
	return &serverKind{
		name:    "capture",
		bin:     bin,
		prepare: func(ctx context.Context, db string) (account, error) { return prepareWithCapture(ctx, bin, db) },
		serveArgs: func(addr, db string, _ account) []string {
			return []string{"serve", "--addr", addr, "--db", db}
		},
	}
}

// floorKind is capture-baseline, the floor, on a database Capture's binary
// (captureBin) lays out exactly as its own; the floor is told the account and
// its one key when it starts.
func floorKind(bin, captureBin string) *serverKind {
	return &serverKind{
		name:    "floor",
		bin:     bin,
		prepare: func(ctx context.Context, db string) (account, error) { return prepareWithCapture(ctx, captureBin, db) },
		serveArgs: func(addr, db string, acct account) []string {
			return []string{"-addr", addr, "-db", db, "-account", acct.id}
		},
		serveEnv: func(acct account) []string { return []string{"CAPTURE_BASELINE_KEY=" + acct.key} },
	}
}

// prepareWithCapture migrates db and creates the bench account and an admin
// key with Capture's commands.
func prepareWithCapture(ctx context.Context, bin, db string) (account, error) {
	if _, err := runCmd(ctx, bin, "migrate", "--db", db); err != nil {
		return account{}, err
	}
	if _, err := runCmd(ctx, bin, "accounts", "create", benchAccount,
		"--prospect-limit", benchLimit, "--rate-limit", benchLimit, "--db", db); err != nil {
		return account{}, err
	}
	out, err := runCmd(ctx, bin, "keys", "create", "--account", benchAccount, "--role", "admin", "--db", db)
	if err != nil {
		return account{}, err
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "sk_") || strings.ContainsAny(key, " \n") {
		return account{}, fmt.Errorf("capture keys create printed %q, want only the secret key", out)
	}
	id, err := accountID(ctx, db, benchAccount)
	if err != nil {
		return account{}, err
	}
	acct := account{id: id, key: key}
	if _, err := runCmd(ctx, bin, "accounts", "create", smallAccount, "--rate-limit", benchLimit, "--db", db); err != nil {
		return account{}, err
	}
	if out, err = runCmd(ctx, bin, "keys", "create", "--account", smallAccount, "--role", "standard", "--db", db); err != nil {
		return account{}, err
	}
	acct.smallKey = strings.TrimSpace(out)
	acct.smallID, err = accountID(ctx, db, smallAccount)
	return acct, err
}

func openDB(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func accountID(ctx context.Context, path, name string) (string, error) {
	if isPostgres(path) {
		return pgAccountID(ctx, path, name)
	}
	db, err := openDB(path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var id string
	if err := db.QueryRowContext(ctx, `SELECT id FROM accounts WHERE name = ?`, name).Scan(&id); err != nil {
		return "", fmt.Errorf("account %q: %w", name, err)
	}
	return id, nil
}

// maxIDs is how many seeded ids the harness keeps for the read rows.
const maxIDs = 10000

// seedProspects inserts n prospects for the account, oldest first, with ids
// one millisecond apart ending now, and returns up to maxIDs of their ids
// spread over the whole range. The rows are made by one set-based INSERT …
// SELECT over a recursive count in SQL (seedSelect), the same rows on either
// engine: prospect i has the email seed-i@example.com (seven digits) and the
// company "Firm " + seedWord(i).
func seedProspects(ctx context.Context, path, accountID string, n int) ([]string, error) {
	if isPostgres(path) {
		return pgSeedProspects(ctx, path, accountID, n)
	}
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	for _, p := range []string{"PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return nil, err
		}
	}
	startMS := time.Now().Add(-time.Duration(n) * time.Millisecond).UnixMilli()
	insert := `WITH RECURSIVE seq (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1)
		INSERT INTO prospects (` + seedColumns + `) ` + seedSelect(sqliteSeedSQL, "?2", "?3") + ` FROM seq`
	if _, err := db.ExecContext(ctx, insert, n, startMS, accountID); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `UPDATE accounts SET live_prospects = live_prospects + ? WHERE id = ?`, n, accountID); err != nil {
		return nil, err
	}
	// Index the rows the insert left pending, as a bulk load does in FTS5
	// (rebuild), and merge the index, as capture serve does at its start and
	// hourly (MergeSearchIndex): a row measured while the server still indexed
	// or merged a million prospects would count that CPU time against its
	// searches.
	for _, q := range []string{`DELETE FROM prospects_unindexed`,
		`INSERT INTO prospects_search (prospects_search) VALUES ('rebuild')`,
		`INSERT INTO prospects_search (prospects_search) VALUES ('optimize')`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	// Leave a tidy file: everything in the main database, nothing in the WAL.
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, spreadIDs, accountID, max(1, n/maxIDs), maxIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := make([]string, 0, min(n, maxIDs))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// spreadIDs reads every ?-th id of the account's prospects, oldest first, up to ?.
const spreadIDs = `SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM prospects WHERE account_id = ?)
	WHERE n % ? = 0 ORDER BY id LIMIT ?`

const seedColumns = `id, account_id, email, first_name, last_name, company, title, phone, website, source,
	status, tags, metadata, marketing_consent, consent_at, hidden, created, updated`

// seedSQL is what SQL differs in between the engines for seedSelect.
type seedSQL struct {
	// chr is a character of a code point, int a small integer (a position)
	// of an integer expression; {x} stands for the expression.
	chr, int                                      string
	email, created, consentAt, tags, metadata, no string
}

var sqliteSeedSQL = seedSQL{
	chr:       "char({x})",
	int:       "{x}",
	email:     `printf('seed-%07d@example.com', i)`,
	created:   `{t} / 1000`,
	consentAt: `CASE WHEN i % 3 = 0 THEN {t} / 1000 END`,
	tags:      `'["bench","seed"]'`,
	metadata:  `'{"plan":"pro","region":"emea"}'`,
	no:        "0",
}

// crockford is the alphabet of ULIDs, in lower case as Capture's ids are.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// seedSelect is the SELECT of seedColumns for the i of a count, with
// startMS the first prospect's time in Unix milliseconds and accountID its
// account, as SQL parameters; {t} in e's expressions is the prospect's time. Its id is a ULID of the prospect's time, its
// random part made of i so that the same n seeds the same ids.
func seedSelect(e seedSQL, startMS, accountID string) string {
	t := "(" + startMS + " + i)"
	id := "'prs_'"
	digit := func(v string, k int) string {
		pos := strings.ReplaceAll(e.int, "{x}", fmt.Sprintf("((%s >> %d) & 31) + 1", v, 5*k))
		return fmt.Sprintf("substr('%s', %s, 1)", crockford, pos)
	}
	for k := 9; k >= 0; k-- { // 48 bits of milliseconds in 10 digits
		id += " || " + digit(t, k)
	}
	random := "(i * 2654435761 % 1099511627776)" // 40 bits of i, scrambled
	for k := 7; k >= 0; k-- {
		id += " || " + digit(random, k)
	}
	for k := 7; k >= 0; k-- { // and i itself: unique whatever the clock
		id += " || " + digit("i", k)
	}
	created := strings.ReplaceAll(e.created, "{t}", t)
	return `SELECT ` + id + `, ` + accountID + `, ` + e.email + `, 'Ada', 'Lovelace', 'Firm ' || ` + seedWordSQL("i", func(x string) string { return strings.ReplaceAll(e.chr, "{x}", x) }) + `,
		'Head of Engineering', '+44 20 7946 0000', 'https://example.com', 'import', 'new', ` + e.tags + `, ` + e.metadata + `,
		i % 3 = 0, ` + strings.ReplaceAll(e.consentAt, "{t}", t) + `, ` + e.no + `, ` + created + `, ` + created
}

// newULID makes a ULID for the time in lower case, as capture's ids are, with
// its random bits from entropy or, when entropy is nil, from crypto/rand.
func newULID(at time.Time, entropy io.Reader) string {
	if entropy == nil {
		entropy = rand.Reader
	}
	return strings.ToLower(ulid.MustNew(ulid.Timestamp(at), entropy).String())
}
