package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
	"github.com/captureapi/capture/server/postgres/pgtest"
)

// dumpTables is the text of every column of every row of every table of the
// server's database, as someone with a copy of it would read it: text, JSON
// and blobs cast to text, one table after another.
func dumpTables(t *testing.T, s *apitest.Server) string {
	t.Helper()
	if s.DBPath != "" {
		return dumpSQLite(t, s.DBPath)
	}
	return dumpPostgres(t, s.PostgresURL)
}

func dumpSQLite(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	var out strings.Builder
	for _, table := range tables {
		cols := queryStrings(t, db, `SELECT name FROM pragma_table_info(?)`, table)
		for i, c := range cols {
			cols[i] = fmt.Sprintf(`coalesce(CAST("%s" AS TEXT), '')`, c)
		}
		rows := queryStrings(t, db, fmt.Sprintf(`SELECT %s FROM "%s"`, strings.Join(cols, ` || ' ' || `), table))
		fmt.Fprintf(&out, "[%s] %s\n", table, strings.Join(rows, "\n"))
	}
	return out.String()
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func dumpPostgres(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string][]string{}
	var order []string
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			t.Fatal(err)
		}
		expr := fmt.Sprintf(`coalesce("%s"::text, '')`, col)
		if typ == "bytea" {
			expr = fmt.Sprintf(`coalesce(encode("%s", 'escape'), '')`, col)
		}
		if cols[table] == nil {
			order = append(order, table)
		}
		cols[table] = append(cols[table], expr)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, table := range order {
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT concat_ws(' ', %s) FROM "%s"`, strings.Join(cols[table], ", "), table))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "[%s]", table)
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out.WriteString(" " + s + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out.String()
}

// personal are the values of the person the privacy tests forget, as they
// would appear in any copy of them (the email in lower case).
var personal = []string{"ada.quux@example.com", "Adalbertina", "Lovelacequux", "7946 0999", "123-45-6789",
	"Augustaxyz", "Countessqux", "Quuxzilla", "192.0.2.77", "Quuxcampaign", "Quuxpage", "Quarantinequx"}

// holdsPersonal names the personal values the text holds.
func holdsPersonal(text string) []string {
	var found []string
	for _, v := range personal {
		if strings.Contains(strings.ToLower(text), strings.ToLower(v)) {
			found = append(found, v)
		}
	}
	return found
}

// capturePerson creates the person (with phone and metadata), updates them
// through PATCH and through a batch, each with an Idempotency-Key, and a
// second prospect ("Keepme") beside them; it returns the person's id.
func capturePerson(t *testing.T, s *apitest.Server) string {
	t.Helper()
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json",
		`{"email":"Ada.Quux@example.com","first_name":"Adalbertina","last_name":"Lovelacequux","phone":"+44 20 7946 0999",
		"metadata":{"ssn":"123-45-6789"},"marketing_consent":true,"consent_text":"Yes, Lovelacequux agrees"}`,
		"Idempotency-Key", "person-create")
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	var p struct{ ID string }
	json.Unmarshal(body, &p)
	res, body = do(t, "PATCH", s.URL+"/v1/prospects/"+p.ID, s.StandardKey, "application/json",
		`{"first_name":"Augustaxyz"}`, "Idempotency-Key", "person-update")
	if res.StatusCode != 200 {
		t.Fatalf("update: %d %s", res.StatusCode, body)
	}
	res, body = do(t, "POST", s.URL+"/v1/prospects/batch", s.StandardKey, "application/json",
		`{"on_conflict":"update","prospects":[{"email":"ada.quux@example.com","title":"Countessqux"},
		{"email":"control@example.com","first_name":"Keepme"}]}`, "Idempotency-Key", "person-batch")
	if res.StatusCode != 200 || !strings.Contains(string(body), "Countessqux") {
		t.Fatalf("batch: %d %s", res.StatusCode, body)
	}
	return p.ID
}

func TestDeletionForgetsEveryCopy(t *testing.T) {
	onEachEngine(t, func(t *testing.T, newServer apitest.NewFunc) { testForgetsEveryCopy(t, newServer, "DELETE", "") })
}

func TestErasureForgetsEveryCopy(t *testing.T) {
	onEachEngine(t, func(t *testing.T, newServer apitest.NewFunc) { testForgetsEveryCopy(t, newServer, "POST", "/erase") })
}

// testForgetsEveryCopy: after a deletion (or erasure), no table holds the
// person's email, names, phone or metadata values: not the prospect, not an
// event, not a queued delivery (outbox or River job), not a kept answer;
// and the deliveries made after it carry none of them.
func testForgetsEveryCopy(t *testing.T, newServer apitest.NewFunc, method, suffix string) {
	s := newServer(t, allowPrivate, behindProxy)
	rcv := newReceiver(t)
	createEndpoint(t, s, rcv.URL)
	id := capturePerson(t, s)
	f := submitPerson(t, s)
	if found := holdsPersonal(dumpTables(t, s)); len(found) != len(personal) {
		t.Fatalf("before the deletion the database holds %v of %v: the dump misses some", found, personal)
	}

	res, body := do(t, method, s.URL+"/v1/prospects/"+id+suffix, s.AdminKey, "", "")
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %s", method, res.StatusCode, body)
	}
	dump := dumpTables(t, s)
	if found := holdsPersonal(dump); len(found) > 0 {
		t.Errorf("after %s%s the database still holds %v:\n%s", method, suffix, found, dump)
	}
	if !strings.Contains(dump, "Keepme") || !strings.Contains(dump, "Keepform") {
		t.Error("the other prospect's data went too")
	}
	// The person's submissions, the quarantined one too, keep no personal
	// value; the quarantined one has nothing left to approve.
	for _, sub := range submissions(t, s, f.Id, "") {
		if sub.Fields["first_name"] == "Keepform" {
			continue
		}
		if sub.Status == "quarantined" {
			res, b := do(t, "POST", s.URL+"/v1/forms/"+f.Id+"/submissions/"+sub.Id+"/approve", s.AdminKey, "", "")
			wantError(t, res, b, 404, "invalid_request_error", "resource_missing", "sid")
		}
		if len(sub.Fields) != 0 || sub.Attribution != (gen.SubmissionAttribution{}) || sub.Ip != "" || sub.UserAgent != "" {
			t.Errorf("a %s submission of the person keeps %+v", sub.Status, sub)
		}
	}

	// The events keep the person's id, object, status and created, no more.
	for _, e := range listEvents(t, s, s.AdminKey, "?limit=100") {
		data := e["data"].(map[string]any)
		obj := data["object"].(map[string]any)
		if e["type"] == "form_submission.created" && obj["fields"].(map[string]any)["first_name"] != "Keepform" {
			if len(obj["fields"].(map[string]any)) != 0 || len(obj["attribution"].(map[string]any)) != 0 || obj["ip"] != "" || obj["user_agent"] != "" {
				t.Errorf("a form_submission.created event of the person keeps %v", obj)
			}
		}
		if obj["id"] != id || e["type"] == "prospect.deleted" {
			continue
		}
		if got := strings.Join(keys(obj), ","); got != "created,id,object,status" {
			t.Errorf("%s event's object keeps %s", e["type"], got)
		}
		if prev, ok := data["previous_attributes"].(map[string]any); ok && len(prev) > 0 {
			t.Errorf("%s event's previous_attributes keep %v", e["type"], prev)
		}
	}

	// The deliveries queued before it are made after it, without them.
	startDeliveries(t, s.Store, server.DeliveryOptions{AllowPrivate: true})
	for range 9 { // the person's created, three updates, three submissions and deleted; Keepme's created
		d := next(t, rcv.got)
		if found := holdsPersonal(string(d.body)); len(found) > 0 {
			t.Errorf("a delivery made after the deletion carries %v: %s", found, d.body)
		}
	}
	if found := holdsPersonal(dumpTables(t, s)); len(found) > 0 {
		t.Errorf("with the deliveries made, the database holds %v", found)
	}

	// A replay of a kept answer that held the person runs again: its answer was dropped.
	res, body = do(t, "PATCH", s.URL+"/v1/prospects/"+id, s.StandardKey, "application/json",
		`{"first_name":"Augustaxyz"}`, "Idempotency-Key", "person-update")
	if res.StatusCode != 410 || res.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("replayed update after the deletion: %d %s", res.StatusCode, body)
	}
}

// TestHiddenProspectsEventsHidden: once a prospect is hidden, its events,
// those from before included, are for admin keys only; a standard key gets
// 404 for them by id, as for any event it cannot see.
func TestHiddenProspectsEventsHidden(t *testing.T) { onEachEngine(t, testHiddenProspectsEventsHidden) }

func testHiddenProspectsEventsHidden(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"ada@example.com"}`)
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	var p struct{ ID string }
	json.Unmarshal(body, &p)
	created := listEvents(t, s, s.StandardKey, "")[0]["id"].(string)
	if res, body := do(t, "PATCH", s.URL+"/v1/prospects/"+p.ID, s.AdminKey, "application/json", `{"hidden":true}`); res.StatusCode != 200 {
		t.Fatalf("hide: %d %s", res.StatusCode, body)
	}
	if got := listEvents(t, s, s.StandardKey, ""); len(got) != 0 {
		t.Errorf("a standard key lists %d events of the hidden prospect", len(got))
	}
	res, body = do(t, "GET", s.URL+"/v1/events/"+created, s.StandardKey, "", "")
	wantError(t, res, body, 404, "invalid_request_error", "resource_missing", "id")
	if got := listEvents(t, s, s.AdminKey, ""); len(got) != 2 {
		t.Errorf("an admin key lists %d events, want 2", len(got))
	}
	if res, body := do(t, "GET", s.URL+"/v1/events/"+created, s.AdminKey, "", ""); res.StatusCode != 200 {
		t.Errorf("admin reads the event: %d %s", res.StatusCode, body)
	}

	// Shown again, its events recorded while it was visible are seen again.
	if res, body := do(t, "PATCH", s.URL+"/v1/prospects/"+p.ID, s.AdminKey, "application/json", `{"hidden":false}`); res.StatusCode != 200 {
		t.Fatalf("show: %d %s", res.StatusCode, body)
	}
	if got := listEvents(t, s, s.StandardKey, ""); len(got) != 1 || got[0]["id"] != created {
		t.Errorf("after showing it, a standard key lists %v", got)
	}
}

// TestErasedEmailSuppressed: an erased email is refused by a create and by a
// batch item (counted skipped under on_conflict skip) until an admin lifts
// its suppression; only admin keys erase and lift.
func TestErasedEmailSuppressed(t *testing.T) { onEachEngine(t, testErasedEmailSuppressed) }

func testErasedEmailSuppressed(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"ada@example.com"}`)
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	var p struct{ ID string }
	json.Unmarshal(body, &p)
	res, body = do(t, "POST", s.URL+"/v1/prospects/"+p.ID+"/erase", s.StandardKey, "", "")
	wantError(t, res, body, 403, "invalid_request_error", "admin_key_required", "")
	res, body = do(t, "POST", s.URL+"/v1/prospects/"+p.ID+"/erase", s.AdminKey, "", "")
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"deleted":true,"erased":true,"id":"`+p.ID+`","object":"prospect"}` {
		t.Fatalf("erase: %d %s", res.StatusCode, body)
	}
	res, body = do(t, "POST", s.URL+"/v1/prospects/"+p.ID+"/erase", s.AdminKey, "", "")
	wantError(t, res, body, 410, "invalid_request_error", "resource_gone", "id")

	res, body = do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"ADA@example.com"}`)
	wantError(t, res, body, 409, "invalid_request_error", "email_suppressed", "email")
	for _, mode := range []string{"error", "skip", "update"} {
		res, body = do(t, "POST", s.URL+"/v1/prospects/batch", s.StandardKey, "application/json",
			`{"on_conflict":"`+mode+`","prospects":[{"email":"grace-`+mode+`@example.com"},{"email":"ada@example.com"}]}`)
		var b struct {
			Data []struct {
				Status int
				Error  struct{ Code, Param string }
			}
			Created, Skipped, Failed int
		}
		json.Unmarshal(body, &b)
		wantSkipped, wantFailed := 0, 1
		if mode == "skip" {
			wantSkipped, wantFailed = 1, 0
		}
		if res.StatusCode != 200 || len(b.Data) != 2 || b.Data[1].Status != 409 || b.Data[1].Error.Code != "email_suppressed" ||
			b.Data[1].Error.Param != "prospects[1].email" || b.Created != 1 || b.Skipped != wantSkipped || b.Failed != wantFailed {
			t.Errorf("batch under %s: %d %s", mode, res.StatusCode, body)
		}
	}

	res, body = do(t, "POST", s.URL+"/v1/suppressions/lift", s.StandardKey, "application/json", `{"email":"ada@example.com"}`)
	wantError(t, res, body, 403, "invalid_request_error", "admin_key_required", "")
	res, body = do(t, "POST", s.URL+"/v1/suppressions/lift", s.AdminKey, "application/json", `{"email":"Ada@Example.com"}`)
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"email":"ada@example.com","lifted":true,"object":"suppression_lift"}` {
		t.Fatalf("lift: %d %s", res.StatusCode, body)
	}
	res, body = do(t, "POST", s.URL+"/v1/suppressions/lift", s.AdminKey, "application/json", `{"email":"ada@example.com"}`)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"lifted":false`) {
		t.Fatalf("lift again: %d %s", res.StatusCode, body)
	}
	if res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"ada@example.com"}`); res.StatusCode != 201 {
		t.Fatalf("create after the lift: %d %s", res.StatusCode, body)
	}
	if strings.Contains(dumpTables(t, s), "ada@example.com") != true {
		t.Fatal("the prospect created again is not stored")
	}
}

// TestSuppressionListHoldsNoEmail: the suppression list keeps keyed hashes:
// a copy of the database does not list the erased emails.
func TestSuppressionListHoldsNoEmail(t *testing.T) { onEachEngine(t, testSuppressionListHoldsNoEmail) }

func testSuppressionListHoldsNoEmail(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	_, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json", `{"email":"ada.quux@example.com"}`)
	var p struct{ ID string }
	json.Unmarshal(body, &p)
	if res, body := do(t, "POST", s.URL+"/v1/prospects/"+p.ID+"/erase", s.AdminKey, "", ""); res.StatusCode != 200 {
		t.Fatalf("erase: %d %s", res.StatusCode, body)
	}
	if dump := dumpTables(t, s); strings.Contains(dump, "ada.quux") || !strings.Contains(dump, "[suppressions]") {
		t.Errorf("the database lists the erased email, or has no suppressions table:\n%s", dump)
	}
}

// TestConsentLedger: every change of marketing_consent, by a create, an
// update or a batch item (created or updated), records one entry with its
// wording, source, address and user agent; the ledger lists newest first,
// in pages, and goes with the prospect.
func TestConsentLedger(t *testing.T) { onEachEngine(t, testConsentLedger) }

func testConsentLedger(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	ua := []string{"User-Agent", "consent-test/1"}
	res, body := do(t, "POST", s.URL+"/v1/prospects", s.StandardKey, "application/json",
		`{"email":"ada@example.com","marketing_consent":true,"consent_text":"News, please"}`, ua...)
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	var p struct{ ID string }
	json.Unmarshal(body, &p)
	for _, patch := range []string{`{"marketing_consent":false}`, `{"marketing_consent":false,"title":"CTO"}`} { // the second changes nothing
		if res, body := do(t, "PATCH", s.URL+"/v1/prospects/"+p.ID, s.StandardKey, "application/json", patch, ua...); res.StatusCode != 200 {
			t.Fatalf("update: %d %s", res.StatusCode, body)
		}
	}
	res, body = do(t, "POST", s.URL+"/v1/prospects/batch", s.StandardKey, "application/json",
		`{"on_conflict":"update","prospects":[{"email":"ada@example.com","marketing_consent":true,"consent_text":"Again"},
		{"email":"grace@example.com","marketing_consent":true},{"email":"bob@example.com"}]}`, ua...)
	if res.StatusCode != 200 {
		t.Fatalf("batch: %d %s", res.StatusCode, body)
	}
	type consent struct {
		ID, Object, Source  string
		Granted             bool
		Text, IP, UserAgent *string
		Created             int64
	}
	list := func(id, query string) ([]consent, bool) {
		res, body := do(t, "GET", s.URL+"/v1/prospects/"+id+"/consents"+query, s.StandardKey, "", "")
		if res.StatusCode != 200 {
			t.Fatalf("consents: %d %s", res.StatusCode, body)
		}
		var page struct {
			Data    []map[string]any
			HasMore bool `json:"has_more"`
			URL     string
		}
		json.Unmarshal(body, &page)
		if page.URL != "/v1/prospects/"+id+"/consents" {
			t.Errorf("url %q", page.URL)
		}
		var out []consent
		for _, d := range page.Data {
			b, _ := json.Marshal(d)
			var c consent
			json.Unmarshal([]byte(strings.NewReplacer(`"user_agent"`, `"useragent"`).Replace(string(b))), &c)
			out = append(out, c)
		}
		return out, page.HasMore
	}
	got, _ := list(p.ID, "")
	describe := func(cs []consent) string {
		var b strings.Builder
		for _, c := range cs {
			text := "-"
			if c.Text != nil {
				text = *c.Text
			}
			fmt.Fprintf(&b, "%v %s %s|", c.Granted, c.Source, text)
			if !strings.HasPrefix(c.ID, "cns_") || c.Object != "consent" || c.IP == nil || *c.IP != "127.0.0.1" ||
				c.UserAgent == nil || *c.UserAgent != "consent-test/1" || c.Created == 0 {
				t.Errorf("entry %+v", c)
			}
		}
		return b.String()
	}
	if d, want := describe(got), "true import Again|false api -|true api News, please|"; d != want {
		t.Errorf("ada's ledger newest first: %s, want %s", d, want)
	}
	first, more := list(p.ID, "?limit=1")
	if len(first) != 1 || !more || first[0].ID != got[0].ID {
		t.Errorf("first page of 1: %v, has_more %v", first, more)
	}
	if next, more := list(p.ID, "?limit=2&starting_after="+first[0].ID); len(next) != 2 || more || next[1].ID != got[2].ID {
		t.Errorf("second page: %v, has_more %v", next, more)
	}
	_, body = do(t, "GET", s.URL+"/v1/prospects?email=grace@example.com", s.StandardKey, "", "")
	var grace struct{ Data []struct{ ID string } }
	json.Unmarshal(body, &grace)
	if len(grace.Data) != 1 {
		t.Fatalf("grace: %s", body)
	}
	if got, _ := list(grace.Data[0].ID, ""); describe(got) != "true import -|" {
		t.Errorf("grace's ledger: %s", describe(got))
	}

	if res, body := do(t, "DELETE", s.URL+"/v1/prospects/"+p.ID, s.StandardKey, "", ""); res.StatusCode != 200 {
		t.Fatalf("delete: %d %s", res.StatusCode, body)
	}
	res, body = do(t, "GET", s.URL+"/v1/prospects/"+p.ID+"/consents", s.StandardKey, "", "")
	wantError(t, res, body, 410, "invalid_request_error", "resource_gone", "id")
	if strings.Contains(dumpTables(t, s), "News, please") {
		t.Error("the deleted prospect's consent wording is still stored")
	}
	// The tombstone counts what the ledger held.
	var granted, withdrawn int
	if s.DBPath != "" {
		db, err := sql.Open("sqlite", "file:"+s.DBPath+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.QueryRow(`SELECT consents_granted, consents_withdrawn FROM prospects WHERE id = ?`, p.ID).Scan(&granted, &withdrawn)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		pgtest.QueryRow(t, s.PostgresURL, `SELECT consents_granted, consents_withdrawn FROM prospects WHERE id = $1`,
			[]any{p.ID}, &granted, &withdrawn)
	}
	if granted != 2 || withdrawn != 1 {
		t.Errorf("the tombstone counts %d grants and %d withdrawals, want 2 and 1", granted, withdrawn)
	}
}

// TestExportHoldsEverything: the export answers the prospect, its events
// (hidden ones too), its consent ledger and submissions in one answer, and
// holds every personal value the database holds about the person.
func TestExportHoldsEverything(t *testing.T) { onEachEngine(t, testExportHoldsEverything) }

func testExportHoldsEverything(t *testing.T, newServer apitest.NewFunc) {
	s := newServer(t)
	id := capturePerson(t, s)
	if res, body := do(t, "PATCH", s.URL+"/v1/prospects/"+id, s.AdminKey, "application/json", `{"hidden":true}`); res.StatusCode != 200 {
		t.Fatalf("hide: %d %s", res.StatusCode, body)
	}
	res, body := do(t, "GET", s.URL+"/v1/prospects/"+id+"/export", s.StandardKey, "", "")
	wantError(t, res, body, 403, "invalid_request_error", "admin_key_required", "")
	res, body = do(t, "GET", s.URL+"/v1/prospects/"+id+"/export", s.AdminKey, "", "")
	if res.StatusCode != 200 {
		t.Fatalf("export: %d %s", res.StatusCode, body)
	}
	var x struct {
		Object   string
		Prospect struct{ ID string }
		Events   []struct {
			Type string
			Data struct{ Object struct{ ID string } }
		}
		Consents    []struct{ Granted bool }
		Submissions []any
	}
	if err := json.Unmarshal(body, &x); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range x.Events {
		if e.Data.Object.ID != id {
			t.Errorf("an event about %s", e.Data.Object.ID)
		}
		types = append(types, e.Type)
	}
	if x.Object != "prospect_export" || x.Prospect.ID != id || len(x.Consents) != 1 || !x.Consents[0].Granted ||
		x.Submissions == nil || len(x.Submissions) != 0 ||
		strings.Join(types, " ") != "prospect.updated prospect.updated prospect.updated prospect.created" {
		t.Errorf("export: %s", body)
	}
	if held, exported := holdsPersonal(dumpTables(t, s)), holdsPersonal(string(body)); len(exported) != len(held) {
		t.Errorf("the database holds %v about the person, the export %v", held, exported)
	}
	if res, body := do(t, "DELETE", s.URL+"/v1/prospects/"+id, s.AdminKey, "", ""); res.StatusCode != 200 {
		t.Fatalf("delete: %d %s", res.StatusCode, body)
	}
	res, body = do(t, "GET", s.URL+"/v1/prospects/"+id+"/export", s.AdminKey, "", "")
	wantError(t, res, body, 410, "invalid_request_error", "resource_gone", "id")
}
