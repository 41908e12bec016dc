package postgres

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

// CreateKey makes a key and returns its secret once; only its hash is kept.
func (db *DB) CreateKey(ctx context.Context, accountID string, role store.Role) (_ *store.APIKey, _ string, err error) {
	defer unavailable(ctx, &err)
	if !role.Valid() {
		return nil, "", fmt.Errorf("role must be admin or standard, not %q", role)
	}
	k := &store.APIKey{ID: store.NewID("key_"), AccountID: accountID, Role: role, Created: now()}
	secret := store.NewSecret()
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, account_id, hash, role, created) VALUES ($1, $2, $3, $4, $5)`,
			k.ID, k.AccountID, store.HashSecret(secret), string(k.Role), k.Created)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// KeyBySecret finds a key by its secret's hash.
func (db *DB) KeyBySecret(ctx context.Context, secret string) (_ *store.APIKey, err error) {
	defer unavailable(ctx, &err)
	want := store.HashSecret(secret)
	var k store.APIKey
	var hash []byte
	var role string
	var revoked *time.Time
	err = db.with(ctx, func(q querier) error {
		return q.QueryRow(ctx, `SELECT k.id, k.account_id, k.hash, k.role, k.created, k.revoked_at, a.rate_limit
			FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.hash = $1`, want).
			Scan(&k.ID, &k.AccountID, &hash, &role, &k.Created, &revoked, &k.RateLimit)
	})
	if errors.Is(err, pgx.ErrNoRows) {
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
	k.Role, k.Revoked = store.Role(role), revoked != nil
	return &k, nil
}

// RevokeKey revokes a key that is not revoked yet; the database decides which
// of two concurrent revocations did it.
func (db *DB) RevokeKey(ctx context.Context, id string) (err error) {
	defer unavailable(ctx, &err)
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, now(), id)
		if err == nil && tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return err
	})
}

// ListKeys returns the keys of an account (every account's when accountID is
// empty), oldest first.
func (db *DB) ListKeys(ctx context.Context, accountID string) (out []store.APIKey, err error) {
	defer unavailable(ctx, &err)
	err = db.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT id, account_id, role, created, revoked_at FROM api_keys
			WHERE $1 = '' OR account_id = $1 ORDER BY created, id`, accountID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k store.APIKey
			var role string
			var revoked *time.Time
			if err := rows.Scan(&k.ID, &k.AccountID, &role, &k.Created, &revoked); err != nil {
				return err
			}
			k.Role = store.Role(role)
			if revoked != nil {
				k.Revoked, k.RevokedAt = true, *revoked
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}
