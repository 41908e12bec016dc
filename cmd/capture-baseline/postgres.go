package main

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore is the floor on PostgreSQL: a pgx pool as large as Capture's
// store keeps by default, and one statement per endpoint, which pgx prepares
// on each connection once and reuses. The columns are converted in the
// statement to what the SQLite floor scans (JSON text, Unix seconds), so both
// share the wire form and the handlers.
type pgStore struct{ pool *pgxpool.Pool }

// pgColumns are columns in the types of the SQLite floor's.
const pgColumns = `id, email, first_name, last_name, company, title, phone, website, source,
	status, to_json(tags)::text, metadata::text, marketing_consent, extract(epoch FROM consent_at)::bigint,
	hidden, extract(epoch FROM created)::bigint, extract(epoch FROM updated)::bigint`

// openPostgres connects the pool and checks that the schema is Capture's.
func openPostgres(dsn, account, key string) (*server, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(dsn); err != nil || !u.Query().Has("pool_max_conns") {
		cfg.MaxConns = int32(max(10, 4*runtime.GOMAXPROCS(0))) // Capture's default
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		_, err = pool.Exec(ctx, `SELECT 1 FROM prospects LIMIT 1`)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, fmt.Errorf("open PostgreSQL (migrated by capture migrate?): %w", err)
	}
	return &server{account: account, auth: "Bearer " + key, pg: &pgStore{pool: pool}}, nil
}

func (s *pgStore) get(ctx context.Context, id, account string) pgx.Row {
	return s.pool.QueryRow(ctx, `SELECT `+pgColumns+` FROM prospects WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL`, id, account)
}

// list answers up to limit live prospects of the account, newest first,
// those before after when it is not "".
func (s *pgStore) list(ctx context.Context, account, after string, limit int) (pgx.Rows, error) {
	if after != "" {
		return s.pool.Query(ctx, `SELECT `+pgColumns+` FROM prospects
			WHERE account_id = $1 AND deleted_at IS NULL AND id < $2 ORDER BY id DESC LIMIT $3`, account, after, limit)
	}
	return s.pool.Query(ctx, `SELECT `+pgColumns+` FROM prospects
		WHERE account_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2`, account, limit)
}

// insert writes p, committed on its own; tags are the request's (nil for none).
func (s *pgStore) insert(ctx context.Context, account string, p *prospect, tags []string) error {
	if tags == nil {
		tags = []string{}
	}
	created := time.Unix(p.Created, 0)
	var consentAt *time.Time
	if p.ConsentAt != nil {
		consentAt = &created
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO prospects (id, account_id, email, first_name, last_name, company, title,
		phone, website, source, status, tags, metadata, marketing_consent, consent_at, hidden, created, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16, $17, $17)`,
		p.ID, account, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website, p.Source,
		p.Status, tags, string(p.Metadata), p.MarketingConsent, consentAt, p.Hidden, created)
	return err
}
