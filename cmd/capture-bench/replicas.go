package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/captureapi/capture/server/store"
)

// spreadRowKey is the row of creates spread over spreadAccounts accounts: the
// load of many tenants, whose creates share no account's row, beside the
// create row's one account. It runs on Capture's PostgreSQL columns, where
// it shows whether replicas add capacity when accounts do not serialize
// them.
const spreadRowKey = "create-spread"

// spreadAccounts is how many accounts the spread row's creates go to.
const spreadAccounts = 100

// spreadRow is the row: each request as the next account's key, in turn.
func spreadRow() row {
	return row{
		key: spreadRowKey, name: fmt.Sprintf("POST /v1/prospects, %d accounts in turn", spreadAccounts), status: 201,
		target: func(e *rowEnv, n uint64, t *vegeta.Target) {
			t.Method, t.URL = "POST", e.at(n)+"/v1/prospects"
			t.Header = e.header("Content-Type", "application/json")
			t.Header.Set("Authorization", "Bearer "+e.spreadKeys[n%uint64(len(e.spreadKeys))])
			t.Body = e.createBody(n + 1<<50) // apart from the create row's emails
		},
		check: objectIs("prospect"),
	}
}

// seedSpreadAccounts writes the spread row's accounts, each with a standard
// key, straight into a PostgreSQL database laid out by Capture, and returns
// their secret keys.
func seedSpreadAccounts(ctx context.Context, dsn string) ([]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	limit, err := strconv.Atoi(benchLimit)
	if err != nil {
		return nil, err
	}
	var b pgx.Batch
	keys := make([]string, spreadAccounts)
	for i := range keys {
		id := "acct_spread" + strconv.Itoa(i)
		keys[i] = store.NewSecret()
		b.Queue(`INSERT INTO accounts (id, name, prospect_limit, rate_limit, created) VALUES ($1, $1, $2, $3, now())`, id, limit, limit)
		b.Queue(`INSERT INTO api_keys (id, account_id, hash, role, created) VALUES ($1, $2, $3, 'standard', now())`,
			"key_spread"+strconv.Itoa(i), id, store.HashSecret(keys[i]))
	}
	if err := conn.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("seed %d accounts: %w", spreadAccounts, err)
	}
	return keys, nil
}
