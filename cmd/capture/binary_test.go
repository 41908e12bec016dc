package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/captureapi/capture/internal/poll"
	"github.com/captureapi/capture/server/postgres/pgtest"
	"github.com/captureapi/capture/server/sqlite"
	"github.com/captureapi/capture/server/store"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds the capture command once per test run and returns its path.
// Tests that need it are skipped with -short.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "capture-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "capture"), ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return filepath.Join(buildDir, "capture")
}

// command prepares the binary with args and an environment free of the
// caller's CAPTURE_* variables, plus env. A server it starts serves metrics on
// a port the system picks (unless env says otherwise), so that servers of
// parallel tests do not contend for the default one.
func command(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAPTURE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "CAPTURE_METRICS_ADDR=127.0.0.1:0") // the last of a name wins
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runPiped runs the binary with stdout and stderr as pipes, as in a script.
func runPiped(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := command(t, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// terminal is the binary running in a pseudo-terminal: its stdin, stdout and
// stderr are the terminal, as when a person runs it.
type terminal struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	out     bytes.Buffer  // everything the program wrote, \r\n turned into \n
	changed chan struct{} // signalled after each read
	closed  chan struct{} // closed when the terminal has nothing more to read
}

func startTerminal(t *testing.T, env []string, args ...string) *terminal {
	t.Helper()
	cmd := command(t, env, args...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{cmd: cmd, changed: make(chan struct{}, 1), closed: make(chan struct{})}
	go func() {
		defer close(term.closed)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			term.mu.Lock()
			term.out.Write(bytes.ReplaceAll(buf[:n], []byte("\r\n"), []byte("\n")))
			term.mu.Unlock()
			select {
			case term.changed <- struct{}{}:
			default:
			}
			if err != nil { // EIO once the program has exited and closed the terminal
				return
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		f.Close()
	})
	return term
}

// output returns what the program has written so far.
func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// waitFor waits until the output contains want and returns the output.
func (term *terminal) waitFor(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if out := term.output(); strings.Contains(out, want) {
			return out
		}
		select {
		case <-term.changed:
		case <-term.closed:
			if out := term.output(); !strings.Contains(out, want) {
				t.Fatalf("the program stopped without printing %q; it printed:\n%s", want, out)
			}
		case <-deadline:
			t.Fatalf("no %q after 20s; the terminal shows:\n%s", want, term.output())
		}
	}
}

// wait waits for the program to exit and returns its exit status and all it printed.
func (term *terminal) wait(t *testing.T) (string, int) {
	t.Helper()
	err := term.cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	select {
	case <-term.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal stayed open after the program exited")
	}
	return term.output(), term.cmd.ProcessState.ExitCode()
}

// seedKey makes an account "acme" and a key with the role in a new database file.
func seedKey(t *testing.T, path string, role store.Role) string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return seedAccountKey(t, db, role)
}

// seedAccountKey makes the account acme, with room for a million prospects
// and requests a second, and a key of the role for it.
func seedAccountKey(t *testing.T, db store.Store, role store.Role) string {
	t.Helper()
	ctx := context.Background()
	a, err := db.CreateAccount(ctx, "acme", 1_000_000, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := db.CreateKey(ctx, a.ID, role)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// seedPostgresKey is seedKey on the PostgreSQL database at dsn.
func seedPostgresKey(t *testing.T, dsn string, role store.Role) string {
	t.Helper()
	return seedAccountKey(t, pgtest.OpenURL(t, dsn), role)
}

// startServer starts `capture serve` on addr and waits until /healthz answers.
func startServer(t *testing.T, db, addr string, flags ...string) *exec.Cmd {
	t.Helper()
	cmd := command(t, nil, append([]string{"serve", "--db", db, "--addr", addr}, flags...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	poll.Until(t, 20*time.Second, "the server to answer /healthz", func() (bool, string) {
		res, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		res.Body.Close()
		return true, ""
	})
	return cmd
}
