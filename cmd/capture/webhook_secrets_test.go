package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/store"
)

// serverAt addresses one running binary as a set of one, for its checked requests.
func serverAt(t *testing.T, addr string) *replicaSet {
	return &replicaSet{t: t, addrs: []string{addr}, client: http.DefaultClient}
}

// startOnSQLite starts the binary with flags on a new SQLite database with an
// admin key, and returns the server and the key.
func startOnSQLite(t *testing.T, flags ...string) (api *replicaSet, key, path string) {
	t.Helper()
	binary(t)
	path = filepath.Join(t.TempDir(), "capture.db")
	key = seedKey(t, path, store.RoleAdmin)
	addr := freeAddr(t)
	startServer(t, path, addr, flags...)
	return serverAt(t, addr), key, path
}

// createEndpointAt creates an endpoint at url for prospect.created and returns its id.
func createEndpointAt(t *testing.T, api *replicaSet, key, url string) string {
	t.Helper()
	a := api.must(0, key, "POST", "/v1/webhook_endpoints", `{"url":"`+url+`","enabled_events":["prospect.created"]}`, "")
	var ep struct{ ID string }
	if json.Unmarshal(a.body, &ep); a.status != 201 {
		t.Fatalf("create an endpoint at %s: %d %s", url, a.status, a.body)
	}
	return ep.ID
}

// A webhook endpoint's signing secret, created with an Idempotency-Key as the
// Go client and `capture webhooks create` always do, is kept for replays only
// sealed under the webhook secret key: the idempotency table holds no copy a
// database dump would give, and a replay still shows the secret.
func TestKeptWebhookSecretIsSealed(t *testing.T) {
	t.Parallel()
	sealKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	check := func(t *testing.T, api *replicaSet, key string, keptBodies func() [][]byte) {
		body := `{"url":"https://crm.example.com/hook","enabled_events":["prospect.created"]}`
		a := api.must(0, key, "POST", "/v1/webhook_endpoints", body, "create-hook-1")
		var created struct{ ID, Secret string }
		if err := json.Unmarshal(a.body, &created); a.status != 201 || err != nil || !strings.HasPrefix(created.Secret, "whsec_") {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
		kept := keptBodies()
		if len(kept) != 1 {
			t.Fatalf("%d kept answers, want 1", len(kept))
		}
		if bytes.Contains(kept[0], []byte(created.Secret)) || bytes.Contains(kept[0], []byte("whsec_")) {
			t.Errorf("the idempotency table holds the signing secret in plain text: %s", kept[0])
		}
		a = api.must(0, key, "POST", "/v1/webhook_endpoints", body, "create-hook-1")
		var replayed struct{ ID, Secret string }
		json.Unmarshal(a.body, &replayed)
		if a.status != 201 || a.header.Get("Idempotent-Replayed") != "true" || replayed != created {
			t.Errorf("replay: %d %v %s, want the original answer %+v", a.status, a.header, a.body, created)
		}
	}

	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		api, key, path := startOnSQLite(t, "--webhook-secret-key", sealKey)
		check(t, api, key, func() [][]byte {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rows, err := db.Query(`SELECT body FROM idempotency_keys`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out [][]byte
			for rows.Next() {
				var b []byte
				if err := rows.Scan(&b); err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			return out
		})
	})

	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		binary(t)
		dsn := pgtest.URL(t)
		ctx := context.Background()
		db := pgtest.OpenURL(t, dsn)
		a, err := db.CreateAccount(ctx, "acme", 1_000_000, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := db.CreateKey(ctx, a.ID, store.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		addr := freeAddr(t)
		startServer(t, dsn, addr, "--webhook-secret-key", sealKey)
		check(t, serverAt(t, addr), key, func() [][]byte {
			var n int
			var body []byte
			pgtest.QueryRow(t, dsn, `SELECT count(*), string_agg(body, ''::bytea) FROM idempotency_keys`, nil, &n, &body)
			out := make([][]byte, n)
			if n > 0 {
				out[0] = body
			}
			return out
		})
	})
}

// A replay whose kept answer was sealed under another webhook secret key (the
// server restarted with a new one) cannot show the secret again: it is a
// documented 409 that says what to do, not a 500 that every retry meets again.
func TestKeptSecretUnderAnotherKeyIsAConflict(t *testing.T) {
	t.Parallel()
	before := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	after := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))
	binary(t)
	path := filepath.Join(t.TempDir(), "capture.db")
	key := seedKey(t, path, store.RoleAdmin)
	addr := freeAddr(t)
	first := startServer(t, path, addr, "--webhook-secret-key", before)
	body := `{"url":"https://crm.example.com/hook","enabled_events":["prospect.created"]}`
	if a := serverAt(t, addr).must(0, key, "POST", "/v1/webhook_endpoints", body, "create-hook-1"); a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	first.Process.Kill()
	first.Wait()

	addr = freeAddr(t)
	startServer(t, path, addr, "--webhook-secret-key", after)
	a := serverAt(t, addr).must(0, key, "POST", "/v1/webhook_endpoints", body, "create-hook-1")
	var e struct {
		Error struct{ Type, Code, Param string }
	}
	json.Unmarshal(a.body, &e)
	if a.status != 409 || e.Error.Code != "idempotency_answer_unreadable" || e.Error.Param != "Idempotency-Key" || e.Error.Type != "invalid_request_error" {
		t.Errorf("replay under another key: %d %s, want 409 idempotency_answer_unreadable on Idempotency-Key", a.status, a.body)
	}
}

// An endpoint whose URL names a forbidden address literally is refused when
// it is saved, in every spelling of one; --webhooks-allow-private lets a
// developer point endpoints at their own machine all the same.
func TestWebhookURLOfForbiddenAddressIsRefusedWhenSaved(t *testing.T) {
	t.Parallel()
	api, key, _ := startOnSQLite(t)
	for _, host := range []string{"127.0.0.1", "10.9.8.7", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]",
		"[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[2002:c0a8:101::1]", "192.0.2.10", "198.51.100.7", "203.0.113.9",
		"[2001:db8::1]", "[fec0::1]", "[fe80::1%25eth0]", "0.0.0.0", "100.64.0.1"} {
		body := `{"url":"https://` + host + `/hook","enabled_events":["prospect.created"]}`
		a := api.must(0, key, "POST", "/v1/webhook_endpoints", body, "")
		var e struct{ Error struct{ Code, Param string } }
		json.Unmarshal(a.body, &e)
		if a.status != 400 || e.Error.Code != "parameter_invalid" || e.Error.Param != "url" {
			t.Errorf("an endpoint at %s: %d %s, want 400 parameter_invalid on url", host, a.status, a.body)
		}
	}
	// The same check on a change of URL.
	id := createEndpointAt(t, api, key, "https://crm.example.com/hook")
	if a := api.must(0, key, "PATCH", "/v1/webhook_endpoints/"+id, `{"url":"https://[::ffff:10.0.0.1]/"}`, ""); a.status != 400 {
		t.Errorf("a change of URL to a private address: %d %s, want 400", a.status, a.body)
	}

	dev, devKey, _ := startOnSQLite(t, "--webhooks-allow-private")
	createEndpointAt(t, dev, devKey, "http://127.0.0.1:9/hook") // on this machine, for development
}

// The error of a failed delivery, which any admin key reads, names the class
// of failure and none of the server's network facts: neither the private
// address a name resolved to nor the resolver.
func TestAttemptErrorNamesTheClassOfFailure(t *testing.T) {
	t.Parallel()
	api, key, _ := startOnSQLite(t, "--webhook-retry-schedule", "1h")
	want := map[string]string{ // endpoint URL → its attempt's error
		"https://localhost:8443/hook":    "blocked_address", // resolves to 127.0.0.1
		"https://hooks.capture.invalid/": "dns_failure",
	}
	ids := map[string]string{}
	for u := range want {
		ids[u] = createEndpointAt(t, api, key, u)
	}
	if a := api.must(0, key, "POST", "/v1/prospects", `{"email":"ada@example.com"}`, ""); a.status != 201 {
		t.Fatalf("create prospect: %d %s", a.status, a.body)
	}
	for u, id := range ids {
		var got struct {
			RecentAttempts []struct{ Error *string } `json:"recent_attempts"`
		}
		var raw []byte
		poll.Until(t, 30*time.Second, "the attempt to "+u, func() (bool, string) {
			raw = api.must(0, key, "GET", "/v1/webhook_endpoints/"+id, "", "").body
			json.Unmarshal(raw, &got)
			return len(got.RecentAttempts) > 0, string(raw)
		})
		if e := got.RecentAttempts[0].Error; e == nil || *e != want[u] {
			t.Errorf("the attempt to %s: %s, want error %q", u, raw, want[u])
		}
	}
}
