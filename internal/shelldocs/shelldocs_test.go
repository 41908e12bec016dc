//go:build unix

package shelldocs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/captureapi/capture/server/postgres/pgtest"
)

const (
	// blockTimeout bounds each block, so that a block that hangs fails.
	blockTimeout = 2 * time.Minute
	// pageAddr and pageBinary are where a page's reader has the server and
	// the binary (`make run` in the repository root); the test puts its own
	// in their place in each block.
	pageAddr   = "127.0.0.1:8080"
	pageBinary = "./bin/capture"
	// pageMetricsAddr is where the reader's server serves /metrics (the
	// default --metrics-addr); the test puts its server's in its place.
	pageMetricsAddr = "127.0.0.1:9464"
	// redisEnvVar names the Redis the `sh postgres` blocks get, with PostgreSQL.
	redisEnvVar = "CAPTURE_TEST_REDIS_URL"
)

// TestShellBlocks runs the sh blocks of README.md and of every page under
// docs/, page by page, as a reader pasting them would: each page against a
// server of its own on a fresh SQLite database, its blocks in order in one
// shell, each with `set -euo pipefail`, from the repository root. A block
// fails the page when it exits non-zero, outlives blockTimeout, or does not
// print the output the page shows after it; a page fails when its blocks leave
// a process running or a file in the repository. `sh norun` blocks are logged
// and skipped; `sh postgres` blocks run when CAPTURE_TEST_POSTGRES_URL and
// CAPTURE_TEST_REDIS_URL are set, with POSTGRES_URL (a schema of the page's
// own) and REDIS_URL, and are logged and skipped otherwise.
//
// Pages run one after another: they share the repository, where two pages'
// blocks may write the same directory (a `quickstart`).
//
// The command line's default server, http://127.0.0.1:8080, is not the test's:
// a page names its server (CAPTURE_URL, --url) in its blocks, as the reader of
// a page that uses another port would have to.
func TestShellBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the capture binary and runs every shell block of the docs against it; skipped with -short")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("the shell blocks run in bash: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	pages := docPages(t, root)
	bin := filepath.Join(t.TempDir(), "capture")
	build := exec.Command("go", "build", "-o", bin, "./cmd/capture")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the capture binary: %v\n%s", err, out)
	}
	for _, page := range pages {
		t.Run(page, func(t *testing.T) {
			runPage(t, &pageRun{root: root, page: page, bin: bin, bash: bash})
		})
	}
}

// docPages returns the Markdown pages whose blocks run: every *.md of the
// repository root and every *.md under docs/, relative to root.
func docPages(t *testing.T, root string) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == filepath.Join(root, "docs") {
				return fs.SkipDir
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			pages = append(pages, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pages {
		if pages[i], err = filepath.Rel(root, p); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Contains(pages, "README.md") {
		t.Fatalf("no README.md in %s", root)
	}
	return pages
}

// pageRun is one page's run: its server, its shell, its place in the repository.
type pageRun struct {
	root, page, bin, bash string

	addr        string // the page's server
	metricsAddr string // where it serves /metrics
	db          string // its SQLite file, CAPTURE_DB in the blocks
	pgURL       string // the page's PostgreSQL schema, made at its first `sh postgres` block
}

func runPage(t *testing.T, p *pageRun) {
	src, err := os.ReadFile(filepath.Join(p.root, p.page))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := Blocks(string(src))
	if err != nil {
		t.Fatalf("%s: %v", p.page, err)
	}
	if !slices.ContainsFunc(blocks, func(b Block) bool { return !b.NoRun }) {
		for _, b := range blocks {
			t.Logf("%s:%d: not run (sh norun): %s", p.page, b.Line, b.FirstLine())
		}
		t.Logf("%s has no block to run", p.page)
		return
	}
	dir := t.TempDir()
	p.db = filepath.Join(dir, "capture.db")
	checkRepositoryLeftAlone(t, p.root, p.page)
	p.addr, p.metricsAddr = startServer(t, p.bin, p.db, dir)
	sh := startShell(t, p.bash, p.root, dir, blockEnv(p.db))

	substitute := strings.NewReplacer(pageAddr, p.addr, pageMetricsAddr, p.metricsAddr, pageBinary, p.bin)
	unsubstitute := strings.NewReplacer(p.addr, pageAddr, p.metricsAddr, pageMetricsAddr, p.bin, pageBinary) // for messages in the page's words
	for _, b := range blocks {
		where := fmt.Sprintf("%s:%d", p.page, b.Line)
		if b.NoRun {
			t.Logf("%s: not run (sh norun): %s", where, b.FirstLine())
			continue
		}
		var setup, teardown string
		if b.Postgres {
			pg := p.postgresURL(t)
			if pg == "" {
				t.Logf("%s: skipped (sh postgres: set %s and %s to run it): %s", where, pgtest.EnvVar, redisEnvVar, b.FirstLine())
				continue
			}
			setup = "export POSTGRES_URL=" + shQuote(pg) + " REDIS_URL=" + shQuote(os.Getenv(redisEnvVar))
			teardown = "unset POSTGRES_URL REDIS_URL"
		}
		res := sh.run(t, setup, substitute.Replace(b.Text), teardown)
		if res.failure != "" {
			msg := fmt.Sprintf("%s: the block starting %q %s", where, b.FirstLine(), res.failure)
			if res.line > 0 {
				msg += fmt.Sprintf(", at %s:%d: %s", p.page, b.Line+res.line, unsubstitute.Replace(res.command))
			}
			t.Fatalf("%s\n%s\nThe page's later blocks were not run.", msg, res.show())
		}
		if b.Output == nil {
			t.Logf("%s: ok: %s", where, b.FirstLine())
			continue
		}
		if err := MatchOutput(substitute.Replace(b.Output.Text), res.stdout); err != nil {
			var m *MismatchError
			line := ""
			if errors.As(err, &m) {
				line = fmt.Sprintf(" (%s:%d)", p.page, b.Output.Line+m.Line)
			}
			t.Fatalf("%s: the block starting %q printed other than the output the page shows after it at %s:%d:\n%v%s\n%s\nThe page's later blocks were not run.",
				where, b.FirstLine(), p.page, b.Output.Line, err, line, res.show())
		}
		t.Logf("%s: ok, printed the output shown: %s", where, b.FirstLine())
	}
	sh.finish(t)
}

// postgresURL returns the page's PostgreSQL database, a schema of its own, or
// "" when the test has no PostgreSQL or no Redis.
func (p *pageRun) postgresURL(t *testing.T) string {
	if os.Getenv(pgtest.EnvVar) == "" || os.Getenv(redisEnvVar) == "" {
		return ""
	}
	if p.pgURL == "" {
		p.pgURL = pgtest.URL(t)
	}
	return p.pgURL
}

// cleanEnv is the test's environment without the variables that would change
// what capture or a block does: CAPTURE_* and the URLs of `sh postgres` blocks.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "CAPTURE_") && name != "POSTGRES_URL" && name != "REDIS_URL" {
			env = append(env, kv)
		}
	}
	return env
}

// blockEnv is the environment of a page's shell: admin commands act on the
// page server's database.
func blockEnv(db string) []string {
	return append(cleanEnv(), "CAPTURE_DB="+db)
}

// startServer starts `capture serve` on a port the system picks, with a new
// database, its output in a file shown when the page fails, waits until it logs
// that it is serving, and stops it when the page ends. It returns its address
// and its metrics listener's.
func startServer(t *testing.T, bin, db, dir string) (addr, metricsAddr string) {
	t.Helper()
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// The log line that says it is serving names the addresses it listens on.
	serving := &lineWatch{want: func(line []byte) bool {
		var entry struct {
			Msg, Addr   string
			MetricsAddr string `json:"metrics_addr"`
		}
		if json.Unmarshal(line, &entry) != nil || entry.Msg != "serving" {
			return false
		}
		addr, metricsAddr = entry.Addr, entry.MetricsAddr
		return true
	}, seen: make(chan struct{})}
	cmd := exec.Command(bin, "serve", "--db", db, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Dir, cmd.Env = dir, cleanEnv()
	cmd.Stdout = logFile
	cmd.Stderr = io.MultiWriter(logFile, serving)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	started := false
	t.Cleanup(func() {
		select {
		case <-exited:
			if started {
				t.Errorf("the server stopped while the page ran: %s", cmd.ProcessState)
			}
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				t.Errorf("the server did not stop within 20s of SIGTERM")
				cmd.Process.Kill()
				<-exited
			}
		}
		logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("the server's output (%s):\n%s", logPath, tail(string(out), 16<<10))
		}
	})
	select {
	case <-serving.seen:
		started = true
	case <-exited:
		out, _ := os.ReadFile(logPath)
		t.Fatalf("capture serve exited before serving (%s):\n%s", cmd.ProcessState, out)
	case <-time.After(time.Minute):
		t.Fatalf("capture serve did not log that it is serving within a minute")
	}
	return addr, metricsAddr
}

// lineWatch is a writer that closes seen at the first complete line want accepts.
type lineWatch struct {
	want func(line []byte) bool
	seen chan struct{}
	mu   sync.Mutex
	buf  []byte
	done bool
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := w.buf[:i]
		w.buf = w.buf[i+1:]
		if w.want(line) {
			w.done, w.buf = true, nil
			close(w.seen)
			return len(p), nil
		}
	}
}

// shell is one bash process that runs a page's blocks one after another, so
// that variables, functions and the working directory carry from block to block
// as in a reader's terminal. It reads commands from stdin; each block is a
// file it sources with its own stdout and stderr files, and it reports a
// finished block on a control pipe. `set -e` ends the shell when a block fails.
type shell struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	dir     string        // where the block files go
	done    chan int      // the number of each block finished
	exited  chan struct{} // closed when bash has exited
	blocks  int
	logPath string
}

func startShell(t *testing.T, bash, root, dir string, env []string) *shell {
	t.Helper()
	sh := &shell{dir: dir, done: make(chan int, 1), exited: make(chan struct{}), logPath: filepath.Join(dir, "shell.log")}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(sh.logPath)
	if err != nil {
		t.Fatal(err)
	}
	sh.cmd = exec.Command(bash, "--noprofile", "--norc", "-s")
	sh.cmd.Dir, sh.cmd.Env = root, env
	sh.cmd.Stdout, sh.cmd.Stderr = logFile, logFile
	sh.cmd.ExtraFiles = []*os.File{ctlW} // fd 3: the control pipe
	// A process group of its own: what the blocks start in the background
	// is in it, so that the test can tell whether they stopped it.
	sh.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := sh.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	sh.stdin = stdin
	if err := sh.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctlW.Close()
	logFile.Close()
	go func() {
		sc := bufio.NewScanner(ctlR)
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				sh.done <- n
			}
		}
		ctlR.Close()
	}()
	go func() { sh.cmd.Wait(); close(sh.exited) }()
	t.Cleanup(func() {
		syscall.Kill(-sh.cmd.Process.Pid, syscall.SIGKILL)
		<-sh.exited
		if out, _ := os.ReadFile(sh.logPath); t.Failed() && len(out) > 0 {
			t.Logf("the shell's own output (%s):\n%s", sh.logPath, tail(string(out), 8<<10))
		}
	})
	return sh
}

// blockResult is what a block did.
type blockResult struct {
	stdout, stderr string
	failure        string // why the block failed, or ""
	line           int    // the line of the block whose command failed, from 1, or 0
	command        string // that command
}

// show is the block's output, for a failure message.
func (r blockResult) show() string {
	return fmt.Sprintf("--- its stdout:\n%s--- its stderr:\n%s---", tail(r.stdout, 8<<10), tail(r.stderr, 8<<10))
}

// run runs one block's script in the shell, with setup before it and
// teardown after it, and waits for it, at most blockTimeout.
func (sh *shell) run(t *testing.T, setup, script, teardown string) blockResult {
	t.Helper()
	sh.blocks++
	n := sh.blocks
	base := filepath.Join(sh.dir, fmt.Sprintf("block%d", n))
	if err := os.WriteFile(base+".sh", []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	// The ERR trap records the failing command's line and text before set -e
	// ends the shell; the block's processes get no control pipe, so one left
	// running cannot hold it open.
	cmds := fmt.Sprintf(`set -euo pipefail
%s
trap 'printf "%%s\t%%s\n" "$LINENO" "$BASH_COMMAND" >%s' ERR
{ source %s; } </dev/null >%s 2>%s 3>&-
trap - ERR
%s
echo %d >&3
`, setup, shQuote(base+".failed"), shQuote(base+".sh"), shQuote(base+".out"), shQuote(base+".err"), teardown, n)
	var res blockResult
	if _, err := sh.stdin.Write([]byte(cmds)); err != nil {
		res.failure = fmt.Sprintf("could not be given to the shell: %v", err)
	} else {
		select {
		case <-sh.done:
		case <-sh.exited:
			res.failure = fmt.Sprintf("failed with exit status %d", sh.cmd.ProcessState.ExitCode())
			if b, err := os.ReadFile(base + ".failed"); err == nil {
				line, command, _ := strings.Cut(strings.TrimSpace(string(b)), "\t")
				res.line, _ = strconv.Atoi(line)
				res.command = command
			}
		case <-time.After(blockTimeout):
			res.failure = fmt.Sprintf("did not finish within %s", blockTimeout)
			syscall.Kill(-sh.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	out, _ := os.ReadFile(base + ".out")
	errOut, _ := os.ReadFile(base + ".err")
	res.stdout, res.stderr = string(out), string(errOut)
	return res
}

// finish ends the shell after the page's last block and fails the page when
// its blocks left a process running.
func (sh *shell) finish(t *testing.T) {
	t.Helper()
	sh.stdin.Close() // bash exits at the end of its input
	select {
	case <-sh.exited:
	case <-time.After(blockTimeout):
		t.Fatalf("the shell did not exit after the last block")
	}
	if pgid := sh.cmd.Process.Pid; syscall.Kill(-pgid, 0) == nil {
		t.Errorf("the page's blocks left processes running (a block must stop what it starts):\n%s", processes(pgid))
	}
}

// processes lists the processes of a process group, as ps shows them.
func processes(pgid int) string {
	out, err := exec.Command("ps", "-eo", "pgid=,pid=,args=").Output()
	if err != nil {
		return fmt.Sprintf("(ps: %v)", err)
	}
	var list []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 2 && f[0] == strconv.Itoa(pgid) {
			list = append(list, strings.Join(f[1:], " "))
		}
	}
	return strings.Join(list, "\n")
}

// checkRepositoryLeftAlone fails the page when its blocks leave a file in the
// repository that git sees as new or changed (a block must remove what it
// makes there, such as a quickstart directory). Without git, it checks nothing.
func checkRepositoryLeftAlone(t *testing.T, root, page string) {
	t.Helper()
	status := func() (map[string]bool, error) {
		cmd := exec.Command("git", "status", "--porcelain=v1", "-z", "--untracked-files=normal")
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			return nil, err
		}
		entries := map[string]bool{}
		for e := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
			entries[e] = true
		}
		return entries, nil
	}
	before, err := status()
	if err != nil {
		t.Logf("not checking that the page leaves the repository as it found it: git status: %v", err)
		return
	}
	t.Cleanup(func() {
		after, err := status()
		if err != nil {
			t.Errorf("git status after the page: %v", err)
			return
		}
		var left []string
		for e := range after {
			if !before[e] {
				left = append(left, e)
			}
		}
		if len(left) == 0 {
			return
		}
		slices.Sort(left)
		msg := fmt.Sprintf("the blocks of %s left these in the repository (git status); a block must remove what it makes, remove them by hand:\n%s",
			page, strings.Join(left, "\n"))
		if t.Failed() {
			t.Log(msg) // the page stopped at a failing block, before its cleanup
		} else {
			t.Error(msg)
		}
	})
}

// shQuote quotes s for the shell.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tail is the end of s, at most n bytes, saying what it left out.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("[… %d bytes before]\n%s", len(s)-n, s[len(s)-n:])
}
