package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// On PostgreSQL each server of each phase gets a schema of its own in the
// database BENCH_POSTGRES_URL names, dropped at the end; Capture creates its
// tables there with `capture migrate`, and the harness copies the seeded
// prospects in, as it inserts them into a SQLite file.

// isPostgres reports whether db is a PostgreSQL URL rather than a file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// captureOnPostgres is Capture on PostgreSQL with n replicas, which share
// their rate limits through redis when it is not "".
func captureOnPostgres(bin, postgres, redis string, replicas int) *serverKind {
	k := captureKind(bin)
	k.name, k.postgres, k.replicas = "capture-pg", postgres, replicas
	if replicas > 1 {
		k.name = fmt.Sprintf("capture-pg-x%d", replicas) // ASCII: it goes into emails and Idempotency-Keys
	}
	if redis != "" {
		serve := k.serveArgs
		k.serveArgs = func(addr, db string, acct account) []string { return append(serve(addr, db, acct), "--redis", redis) }
	}
	return k
}

// pgSchema creates an empty schema and returns the URL that uses it, and how
// to drop it.
func pgSchema(ctx context.Context, base string) (string, func(), error) {
	b := make([]byte, 5)
	rand.Read(b)
	schema := "capture_bench_" + hex.EncodeToString(b)
	if err := pgExec(ctx, base, `CREATE SCHEMA `+schema); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		if err := pgExec(context.Background(), base, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			logf("drop schema %s: %v", schema, err)
		}
	}
	return u.String(), drop, nil
}

func pgExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func pgAccountID(ctx context.Context, dsn, name string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var id string
	if err := conn.QueryRow(ctx, `SELECT id FROM accounts WHERE name = $1`, name).Scan(&id); err != nil {
		return "", fmt.Errorf("account %q: %w", name, err)
	}
	return id, nil
}

// pgSeedProspects is seedProspects on PostgreSQL, with COPY: the same
// prospects with the same ids.
func pgSeedProspects(ctx context.Context, dsn, accountID string, n int) ([]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(n))
	rng := mrand.NewChaCha8(seed) // the same ids for the same n, run after run
	start := time.Now().Add(-time.Duration(n) * time.Millisecond)
	every := max(1, n/maxIDs)
	ids := make([]string, 0, min(n, maxIDs))
	tags, metadata := []string{"bench", "seed"}, map[string]string{"plan": "pro", "region": "emea"}
	i := 0
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		at := start.Add(time.Duration(i) * time.Millisecond)
		id := "prs_" + newULID(at, rng)
		if i%every == 0 && len(ids) < maxIDs {
			ids = append(ids, id)
		}
		created := at.Truncate(time.Second)
		var consentAt *time.Time
		consent := i%3 == 0
		if consent {
			consentAt = &created
		}
		row := []any{id, accountID, fmt.Sprintf("seed-%07d@example.com", i),
			"Ada", "Lovelace", "Analytical Engines Ltd", "Head of Engineering",
			"+44 20 7946 0000", "https://example.com", "import", "new",
			tags, metadata, consent, consentAt, false, created, created}
		i++
		return row, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"prospects"}, []string{"id", "account_id", "email", "first_name", "last_name",
		"company", "title", "phone", "website", "source", "status", "tags", "metadata", "marketing_consent", "consent_at", "hidden",
		"created", "updated"}, rows); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `UPDATE accounts SET live_prospects = live_prospects + $1 WHERE id = $2`, n, accountID); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `ANALYZE prospects`); err != nil {
		return nil, err
	}
	return ids, nil
}
