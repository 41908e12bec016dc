package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
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
	return account{id: id, key: key}, err
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
// spread over the whole range.
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

	const batch = 50000
	const perStmt = 100 // rows per INSERT statement
	const cols = 19
	stmtSQL := `INSERT INTO prospects (id, account_id, email, first_name, last_name, company, title,
		phone, website, source, status, tags, metadata, marketing_consent, consent_at, hidden,
		created, updated, deleted_at) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),", perStmt), ",")

	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(n))
	rng := mrand.NewChaCha8(seed) // the same ids for the same n, run after run
	start := time.Now().Add(-time.Duration(n) * time.Millisecond)
	every := max(1, n/maxIDs)
	ids := make([]string, 0, min(n, maxIDs))
	args := make([]any, 0, perStmt*cols)

	for done := 0; done < n; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		stmt, err := tx.PrepareContext(ctx, stmtSQL)
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		end := min(done+batch, n)
		for i := done; i < end; i++ {
			at := start.Add(time.Duration(i) * time.Millisecond)
			id := "prs_" + newULID(at, rng)
			if i%every == 0 && len(ids) < maxIDs {
				ids = append(ids, id)
			}
			created := at.Unix()
			var consentAt any
			consent := i%3 == 0
			if consent {
				consentAt = created
			}
			args = append(args, id, accountID, fmt.Sprintf("seed-%07d@example.com", i),
				"Ada", "Lovelace", "Analytical Engines Ltd", "Head of Engineering",
				"+44 20 7946 0000", "https://example.com", "import", "new",
				`["bench","seed"]`, `{"plan":"pro","region":"emea"}`,
				consent, consentAt, false, created, created, nil)
			if len(args) == perStmt*cols {
				if _, err := stmt.ExecContext(ctx, args...); err != nil {
					tx.Rollback()
					return nil, err
				}
				args = args[:0]
			}
		}
		// The rows that do not fill a whole statement go in one at a time.
		for len(args) > 0 {
			one := `INSERT INTO prospects (id, account_id, email, first_name, last_name, company, title,
				phone, website, source, status, tags, metadata, marketing_consent, consent_at, hidden,
				created, updated, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
			if _, err := tx.ExecContext(ctx, one, args[:cols]...); err != nil {
				tx.Rollback()
				return nil, err
			}
			args = args[cols:]
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return nil, err
		}
		done = end
	}
	if _, err := db.ExecContext(ctx, `UPDATE accounts SET live_prospects = live_prospects + ? WHERE id = ?`, n, accountID); err != nil {
		return nil, err
	}
	// Leave a tidy file: everything in the main database, nothing in the WAL.
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return nil, err
	}
	return ids, nil
}

// newULID makes a ULID for the time in lower case, as capture's ids are, with
// its random bits from entropy or, when entropy is nil, from crypto/rand.
func newULID(at time.Time, entropy io.Reader) string {
	if entropy == nil {
		entropy = rand.Reader
	}
	return strings.ToLower(ulid.MustNew(ulid.Timestamp(at), entropy).String())
}
