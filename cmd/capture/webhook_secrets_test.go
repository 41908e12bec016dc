package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/store"
)

// apiCall sends one request to a running binary and checks the answer
// against openapi.yaml.
func apiCall(t *testing.T, addr, key, method, path, body, idem string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := apitest.Check(t, method, path, res, b); err != nil {
		t.Errorf("%s %s: the answer breaks openapi.yaml: %v", method, path, err)
	}
	return res.StatusCode, res.Header, b
}

// A webhook endpoint's signing secret, created with an Idempotency-Key as the
// Go client and `capture webhooks create` always do, is kept for replays only
// sealed under the webhook secret key: the idempotency table holds no copy a
// database dump would give, and a replay still shows the secret.
func TestKeptWebhookSecretIsSealed(t *testing.T) {
	t.Parallel()
	sealKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	check := func(t *testing.T, addr, key string, keptBodies func() [][]byte) {
		body := `{"url":"https://crm.example.com/hook","enabled_events":["prospect.created"]}`
		status, _, b := apiCall(t, addr, key, "POST", "/v1/webhook_endpoints", body, "create-hook-1")
		var created struct{ ID, Secret string }
		if err := json.Unmarshal(b, &created); status != 201 || err != nil || !strings.HasPrefix(created.Secret, "whsec_") {
			t.Fatalf("create: %d %s", status, b)
		}
		kept := keptBodies()
		if len(kept) != 1 {
			t.Fatalf("%d kept answers, want 1", len(kept))
		}
		if bytes.Contains(kept[0], []byte(created.Secret)) || bytes.Contains(kept[0], []byte("whsec_")) {
			t.Errorf("the idempotency table holds the signing secret in plain text: %s", kept[0])
		}
		status, h, b := apiCall(t, addr, key, "POST", "/v1/webhook_endpoints", body, "create-hook-1")
		var replayed struct{ ID, Secret string }
		json.Unmarshal(b, &replayed)
		if status != 201 || h.Get("Idempotent-Replayed") != "true" || replayed != created {
			t.Errorf("replay: %d %v %s, want the original answer %+v", status, h, b, created)
		}
	}

	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		binary(t)
		path := filepath.Join(t.TempDir(), "capture.db")
		key := seedKey(t, path, store.RoleAdmin)
		addr := freeAddr(t)
		startServer(t, path, addr, "--webhook-secret-key", sealKey)
		check(t, addr, key, func() [][]byte {
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
		check(t, addr, key, func() [][]byte {
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

// An endpoint whose URL names a forbidden address literally is refused when
// it is saved, in every spelling of one; --webhooks-allow-private lets a
// developer point endpoints at their own machine all the same.
func TestWebhookURLOfForbiddenAddressIsRefusedWhenSaved(t *testing.T) {
	t.Parallel()
	binary(t)
	path := filepath.Join(t.TempDir(), "capture.db")
	key := seedKey(t, path, store.RoleAdmin)
	addr := freeAddr(t)
	startServer(t, path, addr)
	for _, host := range []string{"127.0.0.1", "10.9.8.7", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]",
		"[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[2002:c0a8:101::1]", "192.0.2.10", "198.51.100.7", "203.0.113.9",
		"[2001:db8::1]", "[fec0::1]", "[fe80::1%25eth0]", "0.0.0.0", "100.64.0.1"} {
		body := `{"url":"https://` + host + `/hook","enabled_events":["prospect.created"]}`
		status, _, b := apiCall(t, addr, key, "POST", "/v1/webhook_endpoints", body, "")
		var e struct{ Error struct{ Code, Param string } }
		json.Unmarshal(b, &e)
		if status != 400 || e.Error.Code != "parameter_invalid" || e.Error.Param != "url" {
			t.Errorf("an endpoint at %s: %d %s, want 400 parameter_invalid on url", host, status, b)
		}
	}
	// The same check on a change of URL.
	status, _, b := apiCall(t, addr, key, "POST", "/v1/webhook_endpoints",
		`{"url":"https://crm.example.com/hook","enabled_events":["prospect.created"]}`, "")
	var ep struct{ ID string }
	if json.Unmarshal(b, &ep); status != 201 {
		t.Fatalf("create: %d %s", status, b)
	}
	if status, _, b = apiCall(t, addr, key, "PATCH", "/v1/webhook_endpoints/"+ep.ID, `{"url":"https://[::ffff:10.0.0.1]/"}`, ""); status != 400 {
		t.Errorf("a change of URL to a private address: %d %s, want 400", status, b)
	}

	devPath := filepath.Join(t.TempDir(), "capture.db")
	devKey := seedKey(t, devPath, store.RoleAdmin)
	devAddr := freeAddr(t)
	startServer(t, devPath, devAddr, "--webhooks-allow-private")
	if status, _, b := apiCall(t, devAddr, devKey, "POST", "/v1/webhook_endpoints",
		`{"url":"http://127.0.0.1:9/hook","enabled_events":["prospect.created"]}`, ""); status != 201 {
		t.Errorf("with --webhooks-allow-private, an endpoint on this machine: %d %s, want 201", status, b)
	}
}

// The error of a failed delivery, which any admin key reads, names the class
// of failure and none of the server's network facts: neither the private
// address a name resolved to nor the resolver.
func TestAttemptErrorNamesTheClassOfFailure(t *testing.T) {
	t.Parallel()
	binary(t)
	path := filepath.Join(t.TempDir(), "capture.db")
	key := seedKey(t, path, store.RoleAdmin)
	addr := freeAddr(t)
	startServer(t, path, addr, "--webhook-retry-schedule", "1h")
	want := map[string]string{ // endpoint URL → its attempt's error
		"https://localhost:8443/hook":    "blocked_address", // resolves to 127.0.0.1
		"https://hooks.capture.invalid/": "dns_failure",
	}
	ids := map[string]string{}
	for u := range want {
		status, _, b := apiCall(t, addr, key, "POST", "/v1/webhook_endpoints", `{"url":"`+u+`","enabled_events":["prospect.created"]}`, "")
		var ep struct{ ID string }
		if json.Unmarshal(b, &ep); status != 201 {
			t.Fatalf("create %s: %d %s", u, status, b)
		}
		ids[u] = ep.ID
	}
	if status, _, b := apiCall(t, addr, key, "POST", "/v1/prospects", `{"email":"ada@example.com"}`, ""); status != 201 {
		t.Fatalf("create prospect: %d %s", status, b)
	}
	for u, id := range ids {
		var got struct {
			RecentAttempts []struct{ Error *string } `json:"recent_attempts"`
		}
		var raw []byte
		poll.Until(t, 30*time.Second, "the attempt to "+u, func() (bool, string) {
			_, _, raw = apiCall(t, addr, key, "GET", "/v1/webhook_endpoints/"+id, "", "")
			json.Unmarshal(raw, &got)
			return len(got.RecentAttempts) > 0, string(raw)
		})
		if e := got.RecentAttempts[0].Error; e == nil || *e != want[u] {
			t.Errorf("the attempt to %s: %s, want error %q", u, raw, want[u])
		}
	}
}
