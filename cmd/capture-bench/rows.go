package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// row is one kind of request the table reports on.
type row struct {
	key    string // short name for -rows
	name   string // what the table shows
	status int    // the status every answer must have
	// target fills in the n-th request of the row.
	target func(env *rowEnv, n uint64, t *vegeta.Target)
	// check looks at the body of one answer before the load starts, to make
	// sure the row measures what it says; nil accepts any body.
	check func(body []byte) error
	// perRequest is how many prospects one request writes, when it is more
	// than one: the report gives the row's prospects per second.
	perRequest int
	// skip names the server the row does not run on: the floor has no batch,
	// and its plain create is what an idempotent create is held to.
	skip string
	// against is the floor's row the ratio compares with, when not this one.
	against string
	// goal is what Capture's figures on the row are held to.
	goal goal
	// listed is how many prospects one answer lists, for the CPU a prospect.
	listed int
	// connections caps the row's connections below -concurrency: batches of one
	// account serialise on its plan-limit counter, and an import sends a few at
	// a time, not dozens.
	connections int
}

// goal is a target from the issue the harness reports on. The table shows it
// next to the ratio and whether it was met; nothing fails when it is not.
type goal struct {
	// minRatio: Capture's req/s at least this times the floor's.
	minRatio float64
	// maxCPUPerListed: Capture's server CPU time a listed prospect at most this.
	maxCPUPerListed time.Duration
	// maxCPUOf and maxCPUFactor: Capture's server CPU time a request at most
	// maxCPUFactor times that of the row maxCPUOf (the same request on the
	// small database).
	maxCPUOf     string
	maxCPUFactor float64
}

// String is the target as the table shows it.
func (g goal) String() string {
	switch {
	case g.minRatio > 0:
		return fmt.Sprintf("≥%.2f×", g.minRatio)
	case g.maxCPUPerListed > 0:
		return fmt.Sprintf("≤%s CPU/row", fmtCPU(g.maxCPUPerListed))
	case g.maxCPUOf != "":
		return fmt.Sprintf("CPU/req ≤%g× %s", g.maxCPUFactor, g.maxCPUOf)
	}
	return ""
}

// rowEnv is what the rows of one server share.
type rowEnv struct {
	bases  []string // http://127.0.0.1:PORT of each replica, taken in turn
	key    string   // the account's secret key
	ids    []string // ids of seeded prospects
	server string   // the server's name, to keep emails unique across servers
	// prospects is how many were seeded: the search rows look for one of them.
	prospects int
	seq       atomic.Uint64
	// smallKey is the secret key of an account of smallAccountProspects
	// prospects beside the load's account (search-small).
	smallKey string
	// spreadKeys are the keys of the spread row's accounts, one each.
	spreadKeys []string
}

// at is the base URL the n-th request goes to: the replicas in turn.
func (e *rowEnv) at(n uint64) string { return e.bases[n%uint64(len(e.bases))] }

func (e *rowEnv) header(extra ...string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+e.key)
	h.Set("Accept", "application/json")
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// createBody is a realistic new prospect with a unique email.
func (e *rowEnv) createBody(n uint64) []byte {
	return []byte(`{"email":"load-` + e.server + `-` + strconv.FormatUint(n, 10) + `@example.com",` +
		`"first_name":"Grace","last_name":"Hopper","company":"Compilers Inc","title":"Rear Admiral",` +
		`"source":"web_form","tags":["bench","load"],"metadata":{"campaign":"spring"},"marketing_consent":true}`)
}

// batchSize is how many prospects a request of the batch row sends: the most
// the API takes.
const batchSize = 500

// batchBody is a batch of n realistic new prospects, each with a unique email.
func (e *rowEnv) batchBody(seq uint64, n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 260)
	b.WriteString(`{"prospects":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.createBody(seq*uint64(n) + uint64(i) + 1<<40)) // apart from the create row's emails
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// batchCreated checks that a batch created every one of its n items.
func batchCreated(n int) func([]byte) error {
	return func(body []byte) error {
		var v struct {
			Object  string `json:"object"`
			Created int    `json:"created"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Object != "batch" || v.Created != n {
			return fmt.Errorf("want a batch that created %d prospects, got %.300s", n, body)
		}
		return nil
	}
}

// unknownID is a well-formed prospect id that no seeded or created
// prospect has.
const unknownID = "prs_00000000000000000000000000"

// badKey has the shape of a key but belongs to no one.
const badKey = "sk_0000000000000000000000000000000000000000"

func rowKeys() []string {
	var keys []string
	for _, r := range smallRows() {
		keys = append(keys, r.key)
	}
	keys = append(keys, "list-big")
	for _, r := range bigSearchRows(0) {
		keys = append(keys, r.key)
	}
	return append(keys, hangRowKey, floodRowKey, formFloodRowKey, idleRowKey)
}

// smallRows are the rows run against the database of BENCH_SEED prospects.
func smallRows() []row {
	return append([]row{
		{
			key: "get", name: "GET /v1/prospects/{id}", status: 200,
			target: func(e *rowEnv, n uint64, t *vegeta.Target) {
				t.Method, t.URL, t.Header = "GET", e.at(n)+"/v1/prospects/"+e.ids[n%uint64(len(e.ids))], e.header()
			},
			check: objectIs("prospect"),
			goal:  goal{minRatio: 0.7},
		},
		{
			key: "create", name: "POST /v1/prospects", status: 201,
			target: func(e *rowEnv, n uint64, t *vegeta.Target) {
				t.Method, t.URL = "POST", e.at(n)+"/v1/prospects"
				t.Header = e.header("Content-Type", "application/json")
				t.Body = e.createBody(n)
			},
			check: objectIs("prospect"),
			goal:  goal{minRatio: 1.0},
		},
		{
			key: "create-idem", name: "POST /v1/prospects + Idempotency-Key", status: 201,
			target: func(e *rowEnv, n uint64, t *vegeta.Target) {
				t.Method, t.URL = "POST", e.at(n)+"/v1/prospects"
				t.Header = e.header("Content-Type", "application/json",
					"Idempotency-Key", "load-"+e.server+"-"+strconv.FormatUint(n, 10))
				t.Body = e.createBody(n)
			},
			check:   objectIs("prospect"),
			skip:    "floor",
			against: "create",
			goal:    goal{minRatio: 0.8},
		},
		{
			key: "batch", name: "POST /v1/prospects/batch (500 a request, 4 connections)", status: 200,
			target: func(e *rowEnv, n uint64, t *vegeta.Target) {
				t.Method, t.URL = "POST", e.at(n)+"/v1/prospects/batch"
				t.Header = e.header("Content-Type", "application/json")
				t.Body = e.batchBody(n, batchSize)
			},
			check:       batchCreated(batchSize),
			perRequest:  batchSize,
			skip:        "floor",
			connections: 4,
		},
		upsertRow(),
		{
			key: "list", name: "GET /v1/prospects?limit=100", status: 200,
			target: listTarget,
			check:  fullPage,
			goal:   listGoal,
			listed: 100,
		},
		{
			key: "404", name: "GET /v1/prospects/{unknown} → 404", status: 404,
			target: func(e *rowEnv, n uint64, t *vegeta.Target) {
				t.Method, t.URL, t.Header = "GET", e.at(n)+"/v1/prospects/"+unknownID, e.header()
			},
			check: errorCode("resource_missing"),
			goal:  goal{minRatio: 0.7},
		},
		{
			// Every other request has no key, the rest a key no one has.
			key: "401", name: "GET /v1/prospects/{id}, no or bad key → 401", status: 401,
			target: func(e *rowEnv, n uint64, t *vegeta.Target) {
				t.Method, t.URL = "GET", e.at(n)+"/v1/prospects/"+e.ids[n%uint64(len(e.ids))]
				t.Header = http.Header{"Accept": {"application/json"}}
				if n%2 == 0 {
					t.Header.Set("Authorization", "Bearer "+badKey)
				}
			},
			check: errorCode("api_key_missing", "api_key_invalid"),
			goal:  goal{minRatio: 0.7},
		},
		{
			key: "400", name: "POST /v1/prospects, bad JSON → 400", status: 400,
			target: func(e *rowEnv, n uint64, t *vegeta.Target) {
				t.Method, t.URL = "POST", e.at(n)+"/v1/prospects"
				t.Header = e.header("Content-Type", "application/json")
				t.Body = []byte(`{"email": "broken@example.com", "first_name": `)
			},
			check: errorCode("body_invalid_json"),
			goal:  goal{minRatio: 0.7},
		},
	}, append(searchRows(), spreadRow())...)
}

// listGoal holds a page of 100 to 10 µs of server CPU a prospect.
var listGoal = goal{maxCPUPerListed: 10 * time.Microsecond}

// bigListRow is the list row against the big database.
func bigListRow(prospects int) row {
	return row{
		key: "list-big", name: "GET /v1/prospects?limit=100 @ " + countLabel(prospects), status: 200,
		target: listTarget,
		check:  fullPage,
		goal:   listGoal,
		listed: 100,
	}
}

func listTarget(e *rowEnv, n uint64, t *vegeta.Target) {
	t.Method, t.URL, t.Header = "GET", e.at(n)+"/v1/prospects?limit=100", e.header()
}

func countLabel(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return strconv.Itoa(n/1000000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

func objectIs(object string) func([]byte) error {
	return func(body []byte) error {
		var v struct {
			Object string `json:"object"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Object != object {
			return fmt.Errorf("want a %s object, got %.200s", object, body)
		}
		return nil
	}
}

func fullPage(body []byte) error {
	var v struct {
		Object  string            `json:"object"`
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Object != "list" || len(v.Data) != 100 || !v.HasMore {
		return fmt.Errorf("want a list of 100 prospects with more to come, got %.200s", body)
	}
	return nil
}

// errorCode accepts an error answer with one of the codes.
func errorCode(codes ...string) func([]byte) error {
	return func(body []byte) error {
		var v struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &v); err != nil || !slices.Contains(codes, v.Error.Code) {
			return fmt.Errorf("want error code %s, got %.200s", strings.Join(codes, " or "), body)
		}
		return nil
	}
}

// result is what one row measured on one server.
type result struct {
	requests   uint64
	rps        float64
	p50, p99   time.Duration
	rssKB      int64
	cpu        time.Duration // user and system CPU time of the server's processes during the measured load
	unexpected string        // answers with another status than the row's, if any
	note       string        // a doubt about the row that does not stop it
	err        string        // why the row was not measured
}

// runRow checks one answer, then drives the row: a warm-up, then the
// measured attack at full speed on cfg.concurrency connections.
func runRow(ctx context.Context, cfg config, ps []*process, env *rowEnv, r row) result {
	var res result
	var t vegeta.Target
	r.target(env, env.seq.Add(1), &t)
	status, body, err := once(ctx, t)
	if err != nil {
		res.err = err.Error()
		return res
	}
	if status != r.status {
		res.err = fmt.Sprintf("status %d, want %d: %.300s", status, r.status, body)
		return res
	}
	if r.check != nil {
		if err := r.check(body); err != nil {
			res.note = err.Error()
		}
	}

	for _, p := range ps {
		if err := p.resetPeakRSS(); err != nil {
			res.note = strings.TrimPrefix(res.note+"; ", "; ") + "peak RSS not reset between rows: " + err.Error()
			break
		}
	}
	targeter := func(tgt *vegeta.Target) error {
		r.target(env, env.seq.Add(1), tgt)
		return nil
	}
	if r.connections > 0 {
		cfg.concurrency = min(cfg.concurrency, r.connections)
	}
	if cfg.warmup > 0 {
		attack(ctx, cfg, targeter, cfg.warmup, r.key+"-warmup")
	}
	cpuBefore, cpuErr := cpuTime(ps)
	m := attack(ctx, cfg, targeter, cfg.duration, r.key)
	if cpuAfter, err := cpuTime(ps); err == nil && cpuErr == nil {
		res.cpu = cpuAfter - cpuBefore
	}
	for _, p := range ps { // replicas: the sum of their peaks
		if rss, err := p.peakRSS(); err == nil {
			res.rssKB += rss
		}
	}

	res.requests = m.Requests
	if wall := (m.Duration + m.Wait).Seconds(); wall > 0 {
		res.rps = float64(m.Requests) / wall
	}
	res.p50, res.p99 = m.Latencies.P50, m.Latencies.P99
	if ok := uint64(m.StatusCodes[strconv.Itoa(r.status)]); ok != m.Requests {
		var parts []string
		codes := make([]string, 0, len(m.StatusCodes))
		for c := range m.StatusCodes {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for _, c := range codes {
			if c != strconv.Itoa(r.status) {
				label := c
				if c == "0" {
					label = "no answer"
				}
				parts = append(parts, fmt.Sprintf("%d× %s", m.StatusCodes[c], label))
			}
		}
		res.unexpected = fmt.Sprintf("%d of %d answers were not %d: %s", m.Requests-ok, m.Requests, r.status, strings.Join(parts, ", "))
		if len(m.Errors) > 0 {
			res.unexpected += fmt.Sprintf(" (first errors: %s)", strings.Join(m.Errors[:min(3, len(m.Errors))], "; "))
		}
	}
	return res
}

// attack sends requests from the targeter for d on cfg.concurrency
// connections, each sending its next request as soon as the last is
// answered, and returns the metrics.
func attack(ctx context.Context, cfg config, tr vegeta.Targeter, d time.Duration, name string) *vegeta.Metrics {
	c := uint64(cfg.concurrency)
	atk := vegeta.NewAttacker(
		vegeta.Workers(c), vegeta.MaxWorkers(c),
		vegeta.Connections(cfg.concurrency), vegeta.MaxConnections(cfg.concurrency),
		vegeta.KeepAlive(true), vegeta.HTTP2(false),
		vegeta.MaxBody(0), // read every body, keep none
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.Timeout(30*time.Second),
	)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	var m vegeta.Metrics
	for res := range atk.Attack(tr, vegeta.ConstantPacer{}, d, name) { // zero pacer: no rate limit
		m.Add(res)
	}
	m.Close()
	return &m
}

// once sends one request outside the load and returns its status and body.
func once(ctx context.Context, t vegeta.Target) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, bytes.NewReader(t.Body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = t.Header.Clone()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}
