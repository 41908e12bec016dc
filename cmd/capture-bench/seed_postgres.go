package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// pgSeedProspects is seedProspects on PostgreSQL: the same prospects, by
// one INSERT … SELECT over generate_series.
func pgSeedProspects(ctx context.Context, dsn, accountID string, n int) ([]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	startMS := time.Now().Add(-time.Duration(n) * time.Millisecond).UnixMilli()
	insert := `INSERT INTO prospects (` + seedColumns + `) ` + seedSelect(postgresSeedSQL, "$2::bigint", "$3") +
		` FROM generate_series(0::bigint, $1::bigint - 1) AS seq (i)`
	if _, err := conn.Exec(ctx, insert, n, startMS, accountID); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `UPDATE accounts SET live_prospects = live_prospects + $1 WHERE id = $2`, n, accountID); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `ANALYZE prospects`); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM prospects
		WHERE account_id = $1) AS spread WHERE n % $2 = 0 ORDER BY id LIMIT $3`, accountID, max(1, n/maxIDs), maxIDs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

var postgresSeedSQL = seedSQL{
	chr:       "chr(({x})::int)",
	int:       "({x})::int",
	email:     `'seed-' || lpad(i::text, 7, '0') || '@example.com'`,
	created:   `to_timestamp(({t} / 1000)::double precision)`,
	consentAt: `CASE WHEN i % 3 = 0 THEN to_timestamp(({t} / 1000)::double precision) END`,
	tags:      `ARRAY['bench', 'seed']`,
	metadata:  `'{"plan":"pro","region":"emea"}'::jsonb`,
	no:        "false",
}
