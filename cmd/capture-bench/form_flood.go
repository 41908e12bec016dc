package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The form-flood row: the authenticated API's create throughput while one
// client address floods one public form with formFloodSubmissions
// submissions, against the same creates without it. The submissions are
// spread evenly over the measured run on floodConnections connections, with
// no key (as a bot's are), and the creates are single POST /v1/prospects on as
// many connections with the bench account's admin key, on Capture with SQLite.
// Past the form's limit for one address (10 a minute) the submissions answer
// 429 before their bodies are read: what the row shows is what that refusal,
// and the few accepted ones, cost everyone else. Reported, never asserted.

// formFloodRowKey names the row for -rows.
const formFloodRowKey = "form-flood"

// formFloodSubmissions is how many submissions the flood sends.
const formFloodSubmissions = 2000

// formFloodResult is what the form-flood row measured.
type formFloodResult struct {
	alone, during     result // the creates
	accepted, refused uint64 // the flood's submissions answered 201, and 429
	other             uint64 // answered anything else, or not at all
	floodWall         time.Duration
	err               string
}

// runFormFlood measures the form-flood row on a fresh Capture on SQLite in dir.
func runFormFlood(ctx context.Context, cfg config, captureBin, dir string) formFloodResult {
	var out formFloodResult
	fail := func(err error) formFloodResult { out.err = err.Error(); return out }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	db := filepath.Join(dir, "bench.db")
	acct, err := prepareWithCapture(ctx, captureBin, db)
	if err != nil {
		return fail(err)
	}
	p, err := startServer(ctx, captureKind(captureBin), db, acct, dir)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := p.stop(); err != nil {
			logf("form-flood: %v", err)
		}
	}()
	env := &rowEnv{bases: []string{p.base}, key: acct.key, server: "form-flood"}
	submitURL, err := createBenchForm(ctx, env)
	if err != nil {
		return fail(err)
	}
	measure := func(name string) result { return measureCreates(ctx, cfg, env, name) }

	out.alone = measure("form-flood-alone")
	var wg sync.WaitGroup
	var accepted, refused, other atomic.Uint64
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: floodConnections, MaxIdleConnsPerHost: floodConnections}}
	// Each connection sends its share at an even pace across the measured run.
	share := formFloodSubmissions / floodConnections
	interval := cfg.duration / time.Duration(share)
	started := time.Now()
	for c := range floodConnections {
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := range share {
				body := `{"email":"bot-` + strconv.Itoa(c) + `-` + strconv.Itoa(i) + `@example.com","utm_source":"flood"}`
				switch submitOnce(ctx, client, submitURL, body) {
				case http.StatusCreated:
					accepted.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					other.Add(1)
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	out.during = measure("form-flood-during")
	wg.Wait()
	out.floodWall = time.Since(started)
	out.accepted, out.refused, out.other = accepted.Load(), refused.Load(), other.Load()
	return out
}

// createBenchForm makes the form the flood posts to and returns its submit URL.
func createBenchForm(ctx context.Context, env *rowEnv) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", env.bases[0]+"/v1/forms",
		strings.NewReader(`{"name":"Bench","allowed_origins":[],"defaults":{"source":"web_form"}}`))
	if err != nil {
		return "", err
	}
	req.Header = env.header("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var f struct {
		SubmitURL string `json:"submit_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create the form: status %d, %v", resp.StatusCode, err)
	}
	if strings.HasPrefix(f.SubmitURL, "/") {
		f.SubmitURL = env.bases[0] + f.SubmitURL
	}
	return f.SubmitURL, nil
}

// submitOnce posts one submission without a key and returns the status, 0 when none came.
func submitOnce(ctx context.Context, client *http.Client, url, body string) int {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// print writes the form-flood row's lines under the table.
func (f formFloodResult) print(w io.Writer) {
	fmt.Fprintf(w, "\ncreates during a flood of %d submissions from one address to one form (capture on SQLite; %d connections each):\n",
		formFloodSubmissions, floodConnections)
	if f.err != "" {
		fmt.Fprintf(w, "  not measured: %s\n", f.err)
		return
	}
	line := func(label string, r result) {
		fmt.Fprintf(w, "  %-22s %7.0f creates/s  p50 %-7s p99 %s", label, r.rps, fmtLatency(r.p50), fmtLatency(r.p99))
		if r.unexpected != "" {
			fmt.Fprintf(w, "  (%s)", r.unexpected)
		}
		fmt.Fprintln(w)
	}
	line("creates alone", f.alone)
	line("during the flood", f.during)
	if f.alone.rps > 0 {
		fmt.Fprintf(w, "  the API keeps %.0f%% of its creates\n", 100*f.during.rps/f.alone.rps)
	}
	fmt.Fprintf(w, "  the flood: %d accepted, %d answered 429, %d other, in %s\n", f.accepted, f.refused, f.other,
		f.floodWall.Round(time.Millisecond))
}
