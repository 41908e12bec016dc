package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
// assumed to be (for both servers):
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
// Capture creates its tables with `capture migrate`, its account and key
// with its own admin commands; the harness only inserts prospects (and
// updates accounts.live_prospects). When Capture's schema changes, only
// seedProspects' INSERT needs to follow.

// benchAccount is the name of the account the load runs as.
const benchAccount = "bench"

// benchLimit lifts the plan's prospect limit and the key's rate limit far
// above what a run reaches, so that neither shapes the numbers.
const benchLimit = "100000000"

// captureKind is Capture, driven through its own admin commands.
func captureKind(bin string) *serverKind {
	return &serverKind{
		name: "capture",
		bin:  bin,
		prepare: func(ctx context.Context, db string) (account, error) {
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
		},
		serveArgs: func(addr, db string) []string {
			return []string{"serve", "--addr", addr, "--db", db}
		},
	}
}

// baselineKind is capture-baseline, whose account and key the harness
// inserts itself.
func baselineKind(bin string) *serverKind {
	return &serverKind{
		name: "baseline",
		bin:  bin,
		prepare: func(ctx context.Context, db string) (account, error) {
			if _, err := runCmd(ctx, bin, "-init", "-db", db); err != nil {
				return account{}, err
			}
			acct := account{id: "acct_" + newULID(time.Now(), nil), key: "sk_" + randomBase62(32)}
			hash := sha256.Sum256([]byte(acct.key))
			conn, err := openDB(db)
			if err != nil {
				return account{}, err
			}
			defer conn.Close()
			now := time.Now().Unix()
			if _, err := conn.ExecContext(ctx, `INSERT INTO accounts (id, name, prospect_limit, rate_limit, live_prospects, created)
				VALUES (?, ?, ?, ?, 0, ?)`, acct.id, benchAccount, benchLimit, benchLimit, now); err != nil {
				return account{}, err
			}
			if _, err := conn.ExecContext(ctx, `INSERT INTO api_keys (id, account_id, hash, role, created)
				VALUES (?, ?, ?, 'admin', ?)`, "key_"+newULID(time.Now(), nil), acct.id, hash[:], now); err != nil {
				return account{}, err
			}
			return acct, nil
		},
		serveArgs: func(addr, db string) []string {
			return []string{"-addr", addr, "-db", db}
		},
	}
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

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomBase62(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return string(b)
}
