package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverKind is one server under test: how to lay out its database and how
// to start it.
type serverKind struct {
	name string
	bin  string
	// prepare creates the database file with one account and one admin key.
	prepare func(ctx context.Context, db string) (account, error)
	// serveArgs are the arguments that start the server on addr with db,
	// serving acct.
	serveArgs func(addr, db string, acct account) []string
	// serveEnv is what the server's environment adds for acct; nil for nothing.
	serveEnv func(acct account) []string
	// postgres is the PostgreSQL server whose database holds a schema for
	// each phase; "" for a SQLite file.
	postgres string
	// replicas is how many processes serve the one database, taking the load in turns.
	replicas int
}

// account is the account the load runs as.
type account struct {
	id  string // accounts.id
	key string // the secret key, sk_…
	// smallID and smallKey are a second account's, which holds
	// smallAccountProspects prospects beside the load's many (search-small).
	smallID, smallKey string
}

// buildOrFind returns path when given, or builds pkg (relative to the module
// root) into out.
func buildOrFind(ctx context.Context, path, pkg, out string) (string, error) {
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", err
		}
		return abs, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
		return "", fmt.Errorf("cannot build %s: %w", pkg, err)
	}
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	logf("built %s in %s", pkg, time.Since(t0).Round(time.Millisecond))
	return out, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the capture module: run from the repository, or pass the binaries' paths")
	}
	return filepath.Dir(gomod), nil
}

// process is a running server.
type process struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	// metrics is where Capture serves /metrics (http://127.0.0.1:PORT), a port
	// of its own per server so that replicas do not contend for the default.
	metrics string
	log     string
	done    chan error
}

// startServer starts s on a free loopback port and waits until it answers.
func startServer(ctx context.Context, s *serverKind, db string, acct account, dir string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(metricsPort)
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.bin, s.serveArgs(addr, db, acct)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CAPTURE_METRICS_ADDR="+metricsAddr) // the floor ignores it
	if s.serveEnv != nil {
		cmd.Env = append(cmd.Env, s.serveEnv(acct)...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	p := &process{cmd: cmd, base: "http://" + addr, metrics: "http://" + metricsAddr, log: logPath, done: make(chan error, 1)}
	go func() {
		p.done <- cmd.Wait()
		logFile.Close()
	}()

	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(p.base + "/v1/prospects")
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("%s exited before answering (%v):\n%s", s.name, err, tail(logPath, 20))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not answer on %s within 30s:\n%s", s.name, addr, tail(logPath, 20))
		}
	}
}

// stop asks the server to drain and exit, and kills it after 10 seconds.
func (p *process) stop() error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return errors.New("server ignored SIGTERM for 10s and was killed")
	}
}

// resetPeakRSS makes the kernel start the process's peak resident set size
// (VmHWM) afresh, so that each row reports its own peak.
func (p *process) resetPeakRSS() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0)
}

// peakRSS reads the process's peak resident set size in KiB.
func (p *process) peakRSS() (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// runCmd runs a command to completion and returns its standard output.
func runCmd(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// clockTick is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// cpuTime is the user and system CPU time the processes have used so far, all
// their threads together, to a clock tick.
func cpuTime(ps []*process) (time.Duration, error) {
	var total time.Duration
	for _, p := range ps {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			return 0, err
		}
		// The command name, in parentheses, may hold spaces: count fields after it.
		i := bytes.LastIndex(stat, []byte(") "))
		f := strings.Fields(string(stat[i+1:]))
		if i < 0 || len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: unexpected %q", p.cmd.Process.Pid, stat)
		}
		// Fields 14 and 15 of the line, utime and stime; rest starts at field 3.
		utime, err1 := strconv.ParseInt(f[11], 10, 64)
		stime, err2 := strconv.ParseInt(f[12], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", p.cmd.Process.Pid, err)
		}
		total += time.Duration(utime+stime) * clockTick
	}
	return total, nil
}
