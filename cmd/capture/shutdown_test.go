package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/captureapi/capture/internal/poll"
)

// TestGracefulShutdown starts the real binary, puts requests in flight (their bodies
// still arriving), sends SIGTERM, and checks that every one of them completes with
// its normal answer and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := binary(t)
	db := filepath.Join(dir, "capture.db")
	if out, err := exec.Command(bin, "migrate", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "keys", "create", "--account", "acme", "--create-account", "--role", "standard", "--db", db).Output()
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(out))

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", db)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	addr, metricsAddr := "", ""
	logs := bufio.NewScanner(stderr)
	for addr == "" && logs.Scan() {
		var line struct {
			Msg, Addr   string
			MetricsAddr string `json:"metrics_addr"`
		}
		if json.Unmarshal(logs.Bytes(), &line) == nil && line.Msg == "serving" {
			addr, metricsAddr = line.Addr, line.MetricsAddr
		}
	}
	if addr == "" {
		t.Fatal("server did not log its address")
	}
	// The rest of the log, up to the process's exit.
	rest := make(chan []string, 1)
	go func() {
		var lines []string
		for logs.Scan() {
			lines = append(lines, logs.Text())
		}
		rest <- lines
	}()

	const inFlight = 10
	writers := make([]*io.PipeWriter, inFlight)
	statuses := make([]int, inFlight)
	var wg sync.WaitGroup
	for i := range inFlight {
		pr, pw := io.Pipe()
		writers[i] = pw
		wg.Go(func() {
			req, _ := http.NewRequest("POST", "http://"+addr+"/v1/prospects", pr)
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses[i] = res.StatusCode
		})
		fmt.Fprintf(pw, `{"email": "p%d@`, i) // half a body: the request is in flight
	}
	poll.Until(t, 10*time.Second, fmt.Sprintf("the server to count %d requests in flight", inFlight), func() (bool, string) {
		res, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer res.Body.Close()
		m, _ := io.ReadAll(res.Body)
		return strings.Contains(string(m), fmt.Sprintf("\ncapture_http_requests_in_flight %d\n", inFlight)),
			"/metrics:\n" + string(m)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutting down, it stops listening first; the requests in flight go on.
	poll.Until(t, 10*time.Second, "the server to stop listening after SIGTERM", func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil, "it still accepts connections"
	})
	for _, pw := range writers {
		io.WriteString(pw, `example.com"}`)
		pw.Close()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusCreated {
			t.Errorf("in-flight request %d answered %d, want 201", i, s)
		}
	}
	// Every answered request has its log line, written before the process ended,
	// though its line waited in the log's buffer.
	var lines []string
	select {
	case lines = <-rest:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not exit after draining")
	}
	logged := 0
	for _, l := range lines {
		var line struct {
			Msg, Route string
			Status     int
		}
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "request" && line.Route == "/v1/prospects" && line.Status == http.StatusCreated {
			logged++
		}
	}
	if logged != inFlight {
		t.Errorf("%d request lines for the %d creates answered while stopping; the log:\n%s", logged, inFlight, strings.Join(lines, "\n"))
	}
	if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], `"msg":"stopped"`) {
		t.Errorf("the log should end with the stopped line:\n%s", strings.Join(lines, "\n"))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not exit after draining")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the server still accepts connections after SIGTERM")
	}
}
