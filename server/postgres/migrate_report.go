package postgres

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// PendingMigrations counts the embedded schema migrations the database lacks,
// and all of them, so that capture migrate can say what it applied: all of
// them on a new database, some, or none.
func (db *DB) PendingMigrations(ctx context.Context) (pending, total int, err error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, 0, err
	}
	locker, err := lock.NewPostgresSessionLocker() // as Migrate: never beside a replica's migration
	if err != nil {
		return 0, 0, err
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return 0, 0, err
	}
	status, err := p.Status(ctx)
	for _, s := range status {
		if s.State == goose.StatePending {
			pending++
		}
	}
	return pending, len(status), err
}
