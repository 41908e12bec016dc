// Command capture-baseline is the floor the load harness (cmd/capture-bench)
// measures Capture against: a minimal net/http server for the prospect
// endpoints that does only what no server answering them can skip.
//
//   - a constant bearer check: the one key it is given, compared as a string,
//     with no lookup, hashing or roles;
//   - one prepared statement per endpoint on the same pure-Go SQLite driver
//     (modernc.org/sqlite) with the same pragmas as Capture's store (WAL,
//     synchronous=NORMAL, busy_timeout, foreign_keys), on a database laid out
//     by Capture's own migrations, so both serve identical rows; a create
//     also puts its row into the search index in the insert's transaction,
//     as every writer of that file does before it commits (migration 00015
//     of server/sqlite; its insert trigger did it before), so that its rows
//     are as searchable as Capture's;
//   - encoding/json of a struct in and out.
//
// Nothing else: no validation beyond decoding, no idempotency, events, plan
// limits, rate limits, logs, metrics or request ids. Errors are constant JSON
// bodies. Whatever Capture costs above this floor is the price of what it
// does beyond it, which is what the harness's ratios show.
//
// With -postgres URL it is the same floor on PostgreSQL: one statement per
// endpoint through a pgx pool (pgx prepares and caches each), on a schema
// laid out by Capture's migrations (see postgres.go).
//
// Usage (the database must have been migrated by `capture migrate`):
//
//	CAPTURE_BASELINE_KEY=sk_… capture-baseline -addr 127.0.0.1:8090 -db FILE -account acct_…
//	CAPTURE_BASELINE_KEY=sk_… capture-baseline -addr 127.0.0.1:8090 -postgres postgres://… -account acct_…
package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"
	_ "modernc.org/sqlite" // the driver Capture's store uses
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address to listen on")
	dbPath := flag.String("db", "capture.db", "SQLite database migrated by `capture migrate`")
	account := flag.String("account", "", "the account every request acts as (accounts.id)")
	key := flag.String("key", "", "the one bearer key accepted; default $CAPTURE_BASELINE_KEY, which keeps it out of ps")
	pg := flag.String("postgres", "", "postgres:// URL of a database migrated by `capture migrate`, served in place of -db")
	flag.Parse()
	*key = cmp.Or(*key, os.Getenv("CAPTURE_BASELINE_KEY"))
	if *account == "" || *key == "" {
		log.Fatal("capture-baseline: -account and -key (or CAPTURE_BASELINE_KEY) are required")
	}
	var s *server
	var err error
	if *pg != "" {
		s, err = openPostgres(*pg, *account, *key)
	} else {
		s, err = open(*dbPath, *account, *key)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer s.close()
	if err := run(*addr, s); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, s *server) error {
	srv := &http.Server{Addr: addr, Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// dsn is the file with the pragmas of Capture's store (server/sqlite).
func dsn(path string) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("mode", "rw")
	return "file:" + path + "?" + q.Encode()
}

// server answers the endpoints with one statement each, on SQLite (the
// pools and the statements prepared on them) or on PostgreSQL (pg).
type server struct {
	read, write *sql.DB
	account     string
	auth        string // "Bearer " + the key
	get         *sql.Stmt
	list        *sql.Stmt
	listAfter   *sql.Stmt
	insert      *sql.Stmt
	index       *sql.Stmt // puts the row just inserted into the search index
	indexed     *sql.Stmt // takes it off the rows waiting for the index
	pg          *pgStore  // on PostgreSQL; nil on SQLite
}

// rowScanner is a row of a query, from either driver.
type rowScanner interface{ Scan(...any) error }

// rowsIter is the rows of a query, from either driver.
type rowsIter interface {
	rowScanner
	Next() bool
	Err() error
}

const columns = `id, email, first_name, last_name, company, title, phone, website, source,
	status, tags, metadata, marketing_consent, consent_at, hidden, created, updated`

// open prepares the statements. Writes go through one connection, as SQLite
// has one writer and Capture's store does the same; reads through as many as
// Capture's store keeps.
func open(path, account, key string) (*server, error) {
	s := &server{account: account, auth: "Bearer " + key}
	var err error
	if s.write, err = sql.Open("sqlite", dsn(path)); err != nil {
		return nil, err
	}
	s.write.SetMaxOpenConns(1)
	if s.read, err = sql.Open("sqlite", dsn(path)); err != nil {
		s.write.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.read.SetMaxOpenConns(n)
	s.read.SetMaxIdleConns(n)
	prepare := func(db *sql.DB, query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.Prepare(query)
		return st
	}
	s.get = prepare(s.read, `SELECT `+columns+` FROM prospects WHERE id = ? AND account_id = ? AND deleted_at IS NULL`)
	s.list = prepare(s.read, `SELECT `+columns+` FROM prospects WHERE account_id = ? AND deleted_at IS NULL ORDER BY id DESC LIMIT ?`)
	s.listAfter = prepare(s.read, `SELECT `+columns+` FROM prospects WHERE account_id = ? AND deleted_at IS NULL AND id < ? ORDER BY id DESC LIMIT ?`)
	s.insert = prepare(s.write, `INSERT INTO prospects (id, account_id, email, first_name, last_name, company, title,
		phone, website, source, status, tags, metadata, marketing_consent, consent_at, hidden, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	s.index = prepare(s.write, `INSERT INTO prospects_search (rowid, email, first_name, last_name, company, title, website)
		SELECT rowid, email, first_name, last_name, company, title, website FROM prospects WHERE rowid = ?`)
	s.indexed = prepare(s.write, `DELETE FROM prospects_unindexed WHERE prospect_rowid = ?`)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("open %s (migrated by capture migrate?): %w", path, err)
	}
	return s, nil
}

func (s *server) close() {
	if s.pg != nil {
		s.pg.pool.Close()
		return
	}
	s.read.Close()
	s.write.Close()
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/prospects/{id}", s.authed(s.getProspect))
	mux.HandleFunc("POST /v1/prospects", s.authed(s.createProspect))
	mux.HandleFunc("GET /v1/prospects", s.authed(s.listProspects))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeRaw(w, http.StatusNotFound, errRouteNotFound) })
	return mux
}

// authed answers 401 unless the request carries the one key.
func (s *server) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case s.auth:
			next(w, r)
		case "":
			writeRaw(w, http.StatusUnauthorized, errKeyMissing)
		default:
			writeRaw(w, http.StatusUnauthorized, errKeyInvalid)
		}
	}
}

// prospect is the wire form of a prospect, as Capture answers it.
type prospect struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	Email            string          `json:"email"`
	FirstName        *string         `json:"first_name"`
	LastName         *string         `json:"last_name"`
	Company          *string         `json:"company"`
	Title            *string         `json:"title"`
	Phone            *string         `json:"phone"`
	Website          *string         `json:"website"`
	Source           *string         `json:"source"`
	Status           string          `json:"status"`
	Tags             json.RawMessage `json:"tags"`
	Metadata         json.RawMessage `json:"metadata"`
	MarketingConsent bool            `json:"marketing_consent"`
	ConsentAt        *int64          `json:"consent_at"`
	Hidden           bool            `json:"hidden"`
	Created          int64           `json:"created"`
	Updated          int64           `json:"updated"`
}

func scan(sc rowScanner) (prospect, error) {
	p := prospect{Object: "prospect"}
	var tags, metadata string
	err := sc.Scan(&p.ID, &p.Email, &p.FirstName, &p.LastName, &p.Company, &p.Title, &p.Phone,
		&p.Website, &p.Source, &p.Status, &tags, &metadata, &p.MarketingConsent, &p.ConsentAt,
		&p.Hidden, &p.Created, &p.Updated)
	p.Tags, p.Metadata = json.RawMessage(tags), json.RawMessage(metadata)
	return p, err
}

func (s *server) getProspect(w http.ResponseWriter, r *http.Request) {
	var row rowScanner
	if s.pg != nil {
		row = s.pg.get(r.Context(), r.PathValue("id"), s.account)
	} else {
		row = s.get.QueryRowContext(r.Context(), r.PathValue("id"), s.account)
	}
	p, err := scan(row)
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, pgx.ErrNoRows):
		writeRaw(w, http.StatusNotFound, errResourceMissing)
	case err != nil:
		writeRaw(w, http.StatusInternalServerError, errInternal)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

// createRequest is the body of POST /v1/prospects.
type createRequest struct {
	Email            string            `json:"email"`
	FirstName        *string           `json:"first_name"`
	LastName         *string           `json:"last_name"`
	Company          *string           `json:"company"`
	Title            *string           `json:"title"`
	Phone            *string           `json:"phone"`
	Website          *string           `json:"website"`
	Source           *string           `json:"source"`
	Status           string            `json:"status"`
	Tags             []string          `json:"tags"`
	Metadata         map[string]string `json:"metadata"`
	MarketingConsent bool              `json:"marketing_consent"`
	Hidden           bool              `json:"hidden"`
}

// createProspect is a plain create: one INSERT, committed on its own (on
// SQLite with its row put into the search index, in its transaction).
func (s *server) createProspect(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeRaw(w, http.StatusBadRequest, errBodyInvalid)
		return
	}
	now := time.Now().Unix()
	p := prospect{
		ID: "prs_" + strings.ToLower(ulid.Make().String()), Object: "prospect", Email: req.Email,
		FirstName: req.FirstName, LastName: req.LastName, Company: req.Company, Title: req.Title,
		Phone: req.Phone, Website: req.Website, Source: req.Source, Status: cmp.Or(req.Status, "new"),
		Tags: json.RawMessage(`[]`), Metadata: json.RawMessage(`{}`),
		MarketingConsent: req.MarketingConsent, Hidden: req.Hidden, Created: now, Updated: now,
	}
	if req.Tags != nil {
		p.Tags, _ = json.Marshal(req.Tags)
	}
	if req.Metadata != nil {
		p.Metadata, _ = json.Marshal(req.Metadata)
	}
	if req.MarketingConsent {
		p.ConsentAt = &now
	}
	var err error
	if s.pg != nil {
		err = s.pg.insert(r.Context(), s.account, &p, req.Tags)
	} else {
		err = s.insertIndexed(r.Context(), &p, now)
	}
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, errInternal)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

// insertIndexed inserts p and puts it into the search index, in one transaction.
func (s *server) insertIndexed(ctx context.Context, p *prospect, now int64) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.StmtContext(ctx, s.insert).ExecContext(ctx, p.ID, s.account, p.Email, p.FirstName, p.LastName,
		p.Company, p.Title, p.Phone, p.Website, p.Source, p.Status, string(p.Tags), string(p.Metadata),
		p.MarketingConsent, p.ConsentAt, p.Hidden, now, now)
	if err != nil {
		return err
	}
	rowid, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, s.index).ExecContext(ctx, rowid); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, s.indexed).ExecContext(ctx, rowid); err != nil {
		return err
	}
	return tx.Commit()
}

// page is the wire form of a page of prospects.
type page struct {
	Object  string     `json:"object"`
	Data    []prospect `json:"data"`
	HasMore bool       `json:"has_more"`
	URL     string     `json:"url"`
}

// listProspects answers a page, newest first, after the starting_after id
// when given: keyset pagination on the primary key.
func (s *server) listProspects(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeRaw(w, http.StatusBadRequest, errLimitInvalid)
			return
		}
		limit = n
	}
	var rows rowsIter
	var err error
	after := q.Get("starting_after")
	switch {
	case s.pg != nil:
		var pr pgx.Rows
		pr, err = s.pg.list(r.Context(), s.account, after, limit+1)
		if err == nil {
			defer pr.Close()
			rows = pr
		}
	case after != "":
		var sr *sql.Rows
		if sr, err = s.listAfter.QueryContext(r.Context(), s.account, after, limit+1); err == nil {
			defer sr.Close()
			rows = sr
		}
	default:
		var sr *sql.Rows
		if sr, err = s.list.QueryContext(r.Context(), s.account, limit+1); err == nil {
			defer sr.Close()
			rows = sr
		}
	}
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, errInternal)
		return
	}
	pg := page{Object: "list", Data: make([]prospect, 0, limit), URL: "/v1/prospects"}
	for rows.Next() {
		if len(pg.Data) == limit {
			pg.HasMore = true
			break
		}
		p, err := scan(rows)
		if err != nil {
			writeRaw(w, http.StatusInternalServerError, errInternal)
			return
		}
		pg.Data = append(pg.Data, p)
	}
	if err := rows.Err(); err != nil {
		writeRaw(w, http.StatusInternalServerError, errInternal)
		return
	}
	writeJSON(w, http.StatusOK, pg)
}

// The error answers: constant bodies in Capture's error shape, with the
// codes Capture gives.
var (
	errKeyMissing      = fixedError("authentication_error", "api_key_missing", "No API key provided.")
	errKeyInvalid      = fixedError("authentication_error", "api_key_invalid", "Invalid API key provided.")
	errResourceMissing = fixedError("invalid_request_error", "resource_missing", "No such prospect.")
	errRouteNotFound   = fixedError("invalid_request_error", "route_not_found", "No such route.")
	errBodyInvalid     = fixedError("invalid_request_error", "body_invalid_json", "The body is not valid JSON.")
	errLimitInvalid    = fixedError("invalid_request_error", "parameter_invalid", "limit: must be an integer from 1 to 100.")
	errInternal        = fixedError("api_error", "internal_error", "Something went wrong on our side.")
)

func fixedError(typ, code, message string) []byte {
	return []byte(`{"error":{"type":"` + typ + `","code":"` + code + `","message":"` + message + `","doc_url":"/docs#error-` + code + `"}}`)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, errInternal)
		return
	}
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
