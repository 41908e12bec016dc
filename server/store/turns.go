package store

import "context"

type accountKey struct{}

// WithAccount tells the store which account the changes made with ctx are
// for: a store with a single writer (SQLite) serves the accounts that wait
// for it in turn, so that one account's many writes do not hold back
// another's.
func WithAccount(ctx context.Context, accountID string) context.Context {
	return context.WithValue(ctx, accountKey{}, accountID)
}

// AccountFrom is the account WithAccount put in ctx, or "" (work of no
// account, such as the server's own maintenance).
func AccountFrom(ctx context.Context) string {
	id, _ := ctx.Value(accountKey{}).(string)
	return id
}
