// Command capture-baseline is the smallest honest server for the prospect
// endpoints, for the load harness (cmd/capture-bench) to measure Capture
// against. It does the work each request cannot avoid and nothing else:
// net/http routing, a bearer-key check against an in-memory table of key
// hashes, encoding/json, and SQLite (pure Go) with the same tables Capture
// uses. No validation beyond the basics, no rate limits, no logs per request.
//
// Usage:
//
//	capture-baseline -init -db FILE          create the tables and exit
//	capture-baseline -addr 127.0.0.1:8090 -db FILE
//
// Keys are read from the api_keys table when the server starts.
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oklog/ulid/v2"
	"modernc.org/sqlite"
)

// schema is the subset of Capture's tables the baseline serves.
const schema = `
CREATE TABLE IF NOT EXISTS accounts (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	prospect_limit INTEGER NOT NULL,
	rate_limit INTEGER,
	live_prospects INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
	id TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	hash BLOB NOT NULL UNIQUE,
	role TEXT NOT NULL,
	created INTEGER NOT NULL,
	revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS prospects (
	id TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts(id),
	email TEXT NOT NULL,
	first_name TEXT, last_name TEXT, company TEXT, title TEXT,
	phone TEXT, website TEXT, source TEXT,
	status TEXT NOT NULL DEFAULT 'new',
	tags TEXT NOT NULL DEFAULT '[]',
	metadata TEXT NOT NULL DEFAULT '{}',
	marketing_consent INTEGER NOT NULL DEFAULT 0,
	consent_at INTEGER,
	hidden INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	deleted_at INTEGER
);
CREATE INDEX IF NOT EXISTS prospects_account_id ON prospects(account_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS prospects_live_email ON prospects(account_id, email) WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS idempotency_keys (
	account_id TEXT NOT NULL,
	key TEXT NOT NULL,
	status INTEGER NOT NULL,
	body BLOB NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (account_id, key)
);
`

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address to listen on")
	dbPath := flag.String("db", "baseline.db", "SQLite database file")
	initOnly := flag.Bool("init", false, "create the tables and exit")
	flag.Parse()

	if err := run(*addr, *dbPath, *initOnly); err != nil {
		log.Fatal(err)
	}
}

func run(addr, dbPath string, initOnly bool) error {
	dsn := "file:" + dbPath + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return err
	}
	defer write.Close()
	write.SetMaxOpenConns(1) // SQLite has one writer; queue here rather than spin on SQLITE_BUSY
	if _, err := write.Exec(schema); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	if initOnly {
		return nil
	}
	read, err := sql.Open("sqlite", dsn+"&_query_only=1")
	if err != nil {
		return err
	}
	defer read.Close()
	read.SetMaxOpenConns(2 * runtime.GOMAXPROCS(0))

	s := &server{read: read, write: write}
	if err := s.loadKeys(); err != nil {
		return err
	}

	srv := &http.Server{Addr: addr, Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("capture-baseline listening on %s with %s (%d keys)", addr, dbPath, len(s.keys))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

type server struct {
	read, write *sql.DB
	keys        map[[sha256.Size]byte]string // key hash → account id
}

func (s *server) loadKeys() error {
	rows, err := s.read.Query(`SELECT hash, account_id FROM api_keys WHERE revoked_at IS NULL`)
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	defer rows.Close()
	s.keys = map[[sha256.Size]byte]string{}
	for rows.Next() {
		var hash []byte
		var account string
		if err := rows.Scan(&hash, &account); err != nil {
			return err
		}
		var h [sha256.Size]byte
		copy(h[:], hash)
		s.keys[h] = account
	}
	return rows.Err()
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/prospects/{id}", s.auth(s.getProspect))
	mux.HandleFunc("POST /v1/prospects", s.auth(s.createProspect))
	mux.HandleFunc("GET /v1/prospects", s.auth(s.listProspects))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "invalid_request_error", "route_not_found", "No such route: "+r.Method+" "+r.URL.Path+".", "")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Request-Id", newID("req_"))
		mux.ServeHTTP(w, r)
	})
}

// auth resolves the bearer key to its account or answers 401.
func (s *server) auth(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="capture"`)
			writeError(w, r, http.StatusUnauthorized, "authentication_error", "api_key_missing", "No API key provided.", "")
			return
		}
		account, ok := s.keys[sha256.Sum256([]byte(secret))]
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="capture"`)
			writeError(w, r, http.StatusUnauthorized, "authentication_error", "api_key_invalid", "Invalid API key provided.", "")
			return
		}
		next(w, r, account)
	}
}

// prospect is the wire form of a prospect.
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

const prospectColumns = `id, email, first_name, last_name, company, title, phone, website, source,
	status, tags, metadata, marketing_consent, consent_at, hidden, created, updated, deleted_at`

type scanner interface{ Scan(...any) error }

func scanProspect(sc scanner) (prospect, *int64, error) {
	var p prospect
	var tags, metadata string
	var deleted *int64
	err := sc.Scan(&p.ID, &p.Email, &p.FirstName, &p.LastName, &p.Company, &p.Title, &p.Phone,
		&p.Website, &p.Source, &p.Status, &tags, &metadata, &p.MarketingConsent, &p.ConsentAt,
		&p.Hidden, &p.Created, &p.Updated, &deleted)
	p.Object = "prospect"
	p.Tags, p.Metadata = json.RawMessage(tags), json.RawMessage(metadata)
	return p, deleted, err
}

func (s *server) getProspect(w http.ResponseWriter, r *http.Request, account string) {
	id := r.PathValue("id")
	row := s.read.QueryRowContext(r.Context(),
		`SELECT `+prospectColumns+` FROM prospects WHERE id = ? AND account_id = ?`, id, account)
	p, deleted, err := scanProspect(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		writeError(w, r, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such prospect: "+id+".", "id")
	case err != nil:
		internalError(w, r, err)
	case deleted != nil:
		writeError(w, r, http.StatusGone, "invalid_request_error", "resource_gone", "The prospect "+id+" was deleted.", "id")
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

// createRequest is the body of POST /v1/prospects.
type createRequest struct {
	Email            *string           `json:"email"`
	FirstName        *string           `json:"first_name"`
	LastName         *string           `json:"last_name"`
	Company          *string           `json:"company"`
	Title            *string           `json:"title"`
	Phone            *string           `json:"phone"`
	Website          *string           `json:"website"`
	Source           *string           `json:"source"`
	Status           *string           `json:"status"`
	Tags             []string          `json:"tags"`
	Metadata         map[string]string `json:"metadata"`
	MarketingConsent bool              `json:"marketing_consent"`
	Hidden           bool              `json:"hidden"`
}

func (s *server) createProspect(w http.ResponseWriter, r *http.Request, account string) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, r, http.StatusBadRequest, "invalid_request_error", "content_type_invalid", "Send the body as application/json.", "")
		return
	}
	idemKey := r.Header.Get("Idempotency-Key")
	if len(idemKey) > 255 {
		writeError(w, r, http.StatusBadRequest, "invalid_request_error", "idempotency_key_invalid", "Idempotency-Key is longer than 255 characters.", "Idempotency-Key")
		return
	}
	var req createRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, r, http.StatusBadRequest, "invalid_request_error", "body_invalid_json", "The body is not valid JSON: "+err.Error(), "")
		return
	}
	if req.Email == nil || *req.Email == "" {
		writeError(w, r, http.StatusBadRequest, "invalid_request_error", "parameter_missing", "email: is required.", "email")
		return
	}
	email := strings.ToLower(*req.Email)
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 {
		writeError(w, r, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "email: must be a valid email address.", "email")
		return
	}

	ctx := r.Context()
	if idemKey != "" {
		var status int
		var body []byte
		err := s.read.QueryRowContext(ctx, `SELECT status, body FROM idempotency_keys WHERE account_id = ? AND key = ?`,
			account, idemKey).Scan(&status, &body)
		if err == nil {
			w.Header().Set("Idempotent-Replayed", "true")
			writeRaw(w, status, body)
			return
		}
		if !errors.Is(err, sql.ErrNoRows) {
			internalError(w, r, err)
			return
		}
	}

	now := time.Now().Unix()
	tags, _ := json.Marshal(orEmpty(req.Tags))
	metadata, _ := json.Marshal(orEmptyMap(req.Metadata))
	status := "new"
	if req.Status != nil {
		status = *req.Status
	}
	var consentAt *int64
	if req.MarketingConsent {
		consentAt = &now
	}
	p := prospect{
		ID: newID("prs_"), Object: "prospect", Email: email,
		FirstName: req.FirstName, LastName: req.LastName, Company: req.Company, Title: req.Title,
		Phone: req.Phone, Website: req.Website, Source: req.Source, Status: status,
		Tags: tags, Metadata: metadata, MarketingConsent: req.MarketingConsent, ConsentAt: consentAt,
		Hidden: req.Hidden, Created: now, Updated: now,
	}
	body, err := json.Marshal(p)
	if err != nil {
		internalError(w, r, err)
		return
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		internalError(w, r, err)
		return
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO prospects (id, account_id, email, first_name, last_name, company,
		title, phone, website, source, status, tags, metadata, marketing_consent, consent_at, hidden, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, account, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.Phone, p.Website, p.Source,
		p.Status, string(tags), string(metadata), p.MarketingConsent, p.ConsentAt, p.Hidden, now, now)
	if isUniqueViolation(err) {
		var existing string
		_ = tx.QueryRowContext(ctx, `SELECT id FROM prospects WHERE account_id = ? AND email = ? AND deleted_at IS NULL`,
			account, email).Scan(&existing)
		writeErrorExisting(w, r, existing)
		return
	}
	if err != nil {
		internalError(w, r, err)
		return
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET live_prospects = live_prospects + 1 WHERE id = ?`, account); err != nil {
		internalError(w, r, err)
		return
	}
	if idemKey != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (account_id, key, status, body, created) VALUES (?, ?, ?, ?, ?)`,
			account, idemKey, http.StatusCreated, body, now); err != nil {
			if isUniqueViolation(err) {
				writeError(w, r, http.StatusConflict, "invalid_request_error", "idempotency_key_in_use", "Another request with this Idempotency-Key is in flight.", "Idempotency-Key")
				return
			}
			internalError(w, r, err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		internalError(w, r, err)
		return
	}
	writeRaw(w, http.StatusCreated, body)
}

// listPage is the wire form of a page of prospects.
type listPage struct {
	Object  string     `json:"object"`
	Data    []prospect `json:"data"`
	HasMore bool       `json:"has_more"`
	URL     string     `json:"url"`
}

func (s *server) listProspects(w http.ResponseWriter, r *http.Request, account string) {
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, r, http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "limit: must be an integer from 1 to 100.", "limit")
			return
		}
		limit = n
	}
	query := `SELECT ` + prospectColumns + ` FROM prospects WHERE account_id = ? AND deleted_at IS NULL`
	args := []any{account}
	if after := q.Get("starting_after"); after != "" {
		query += ` AND id < ?`
		args = append(args, after)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit+1)

	rows, err := s.read.QueryContext(r.Context(), query, args...)
	if err != nil {
		internalError(w, r, err)
		return
	}
	defer rows.Close()
	page := listPage{Object: "list", Data: make([]prospect, 0, limit), URL: "/v1/prospects"}
	for rows.Next() {
		p, _, err := scanProspect(rows)
		if err != nil {
			internalError(w, r, err)
			return
		}
		if len(page.Data) == limit {
			page.HasMore = true
			break
		}
		page.Data = append(page.Data, p)
	}
	if err := rows.Err(); err != nil {
		internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// errorBody is the wire form of every error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type       string `json:"type"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Param      string `json:"param,omitempty"`
	RequestID  string `json:"request_id"`
	DocURL     string `json:"doc_url"`
	ExistingID string `json:"existing_id,omitempty"`
}

func writeError(w http.ResponseWriter, r *http.Request, status int, typ, code, message, param string) {
	writeJSON(w, status, errorBody{Error: errorDetail{
		Type: typ, Code: code, Message: message, Param: param,
		RequestID: w.Header().Get("Request-Id"), DocURL: "http://" + r.Host + "/docs#error-" + code,
	}})
}

func writeErrorExisting(w http.ResponseWriter, r *http.Request, existing string) {
	writeJSON(w, http.StatusConflict, errorBody{Error: errorDetail{
		Type: "invalid_request_error", Code: "prospect_exists",
		Message: "A live prospect with this email exists: " + existing + ".", Param: "email",
		RequestID: w.Header().Get("Request-Id"), DocURL: "http://" + r.Host + "/docs#error-prospect_exists",
		ExistingID: existing,
	}})
}

func internalError(w http.ResponseWriter, r *http.Request, err error) {
	log.Printf("%s %s: %v", r.Method, r.URL.Path, err)
	writeError(w, r, http.StatusInternalServerError, "api_error", "internal_error", "Something went wrong on our side.", "")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
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

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	// SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY
	return errors.As(err, &e) && (e.Code() == 2067 || e.Code() == 1555)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// newID makes a time-ordered id as capture does: the prefix and a ULID in lower case.
func newID(prefix string) string { return prefix + strings.ToLower(ulid.Make().String()) }
