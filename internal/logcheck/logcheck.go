package logcheck

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// TB is what the checks need of a test: testing.TB has it (and a test of
// the checker passes a fake, to see it fail).
type TB interface {
	Helper()
	Name() string
	Cleanup(func())
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

// keepLines is how many of a test's last lines are kept to print when
// the test fails (the lines are quiet otherwise).
const keepLines = 200

// process is what every recorder of a test binary shares: the secrets
// registered by any test (a password one test uses must not appear in
// any log) and the artifacts file. A test-support package, so one per
// process is the point, not a hidden dependency of the product.
var process = struct {
	mu      sync.Mutex
	secrets secretSet
	// late are findings in lines written after their test ended, or by
	// the default logger: Main reports them.
	late []string
	file struct {
		once sync.Once
		f    *os.File
	}
}{}

// Secret registers secrets the test uses (passwords, keys) to be looked
// for in every line, as is and in base64 and hex. Strings shorter than 6
// bytes are ignored: they would match ordinary words.
func Secret(t TB, secrets ...string) {
	t.Helper()
	process.mu.Lock()
	defer process.mu.Unlock()
	for _, s := range secrets {
		process.secrets.add(s)
	}
}

// Recorder collects the lines written to it (as an io.Writer, whole lines
// or pieces of them), checks each for secrets, and reports at the end of
// its test. Make one with New, Handler, Writer or Tee.
type Recorder struct {
	t    TB
	name string
	next io.Writer // Tee's destination, or nil

	mu       sync.Mutex
	partial  []byte
	last     []string // the last keepLines lines, masked
	lines    int
	findings []string // masked lines that hold a secret
	done     bool
}

// NewRecorder returns a Recorder for t, checked when t ends.
func NewRecorder(t TB) *Recorder {
	t.Helper()
	r := &Recorder{t: t, name: t.Name()}
	t.Cleanup(r.finish)
	return r
}

// New returns a logger for t: text lines at debug level (every line the
// code writes), each checked.
func New(t TB) *slog.Logger {
	t.Helper()
	return slog.New(Handler(t))
}

// Handler is New's handler, for tests that combine it with their own
// (slog.NewMultiHandler) to look at the records too.
func Handler(t TB) slog.Handler {
	t.Helper()
	return slog.NewTextHandler(NewRecorder(t), &slog.HandlerOptions{Level: slog.LevelDebug})
}

// Writer returns a writer for output made of lines (a command's stderr,
// a server process's logs), each checked.
func Writer(t TB) io.Writer {
	t.Helper()
	return NewRecorder(t)
}

// Tee returns a writer that checks every line and passes everything on to
// w (for tests that read the logs they capture).
func Tee(t TB, w io.Writer) io.Writer {
	t.Helper()
	r := NewRecorder(t)
	r.next = w
	return r
}

// Write records p, checking every complete line.
func (r *Recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		r.line(string(r.partial[:i]))
		r.partial = r.partial[i+1:]
	}
	if len(r.partial) == 0 {
		r.partial = nil
	}
	r.mu.Unlock()
	if r.next != nil {
		return r.next.Write(p)
	}
	return len(p), nil
}

// line checks one line; r.mu is held.
func (r *Recorder) line(s string) {
	writeArtifact(r.name, s)
	process.mu.Lock()
	fs := scan(s, &process.secrets)
	process.mu.Unlock()
	shown := s
	if len(fs) > 0 {
		shown = Mask(s, fs)
		if r.done {
			addLate(r.name + " (after it ended): " + shown)
		} else {
			r.findings = append(r.findings, shown)
		}
	}
	r.lines++
	if !r.done {
		if len(r.last) == keepLines {
			r.last = r.last[1:]
		}
		r.last = append(r.last, shown)
	}
}

// finish checks the last partial line and reports: an error listing the
// lines that hold a secret; the last lines when the test failed anyway.
func (r *Recorder) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.partial) > 0 {
		r.line(string(r.partial))
		r.partial = nil
	}
	r.done = true
	if len(r.findings) > 0 {
		r.t.Errorf("logcheck: %d of %d log line(s) hold a secret (shown masked; a token, password, hash or key must never be logged):\n%s",
			len(r.findings), r.lines, strings.Join(r.findings, "\n"))
	} else if r.t.Failed() && len(r.last) > 0 {
		r.t.Logf("logcheck: the last %d of %d log line(s):\n%s", len(r.last), r.lines, strings.Join(r.last, "\n"))
	}
	r.last = nil
}

func addLate(s string) {
	process.mu.Lock()
	process.late = append(process.late, s)
	process.mu.Unlock()
}

// Main runs a test binary's tests (m.Run) with the default logger (slog's
// and the log package's) recording into the same checks, and fails the
// binary if any line written there, or written by a test's logger after
// the test ended, holds a secret. Call it from TestMain.
func Main(run func() int) int {
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(defaultWriter{}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	code := run()
	slog.SetDefault(prev)
	process.mu.Lock()
	late := process.late
	process.mu.Unlock()
	if len(late) > 0 {
		fmt.Fprintf(os.Stderr, "logcheck: %d log line(s) outside a test's check hold a secret (shown masked):\n%s\nFAIL\n",
			len(late), strings.Join(late, "\n"))
		if code == 0 {
			code = 1
		}
	}
	if f := process.file.f; f != nil {
		_ = f.Close()
	}
	return code
}

// defaultWriter checks the default logger's lines; it prints nothing.
type defaultWriter struct{}

func (defaultWriter) Write(p []byte) (int, error) {
	for _, s := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		writeArtifact("default logger", s)
		process.mu.Lock()
		fs := scan(s, &process.secrets)
		process.mu.Unlock()
		if len(fs) > 0 {
			addLate("default logger: " + Mask(s, fs))
		}
	}
	return len(p), nil
}

// ArtifactsEnv names the directory under which every line is also kept,
// in logs/<package>.log, for cmd/logscan.
const ArtifactsEnv = "WAREHOUSE_ARTIFACTS"

// writeArtifact appends the test's name and the line to this package's
// file, if CI asked for one. A failure to write is no test failure.
func writeArtifact(test, line string) {
	f := artifactFile()
	if f == nil {
		return
	}
	// One write per line: O_APPEND keeps the lines of concurrent test
	// processes (fuzz workers) whole.
	_, _ = f.WriteString(test + "\t" + line + "\n")
}

func artifactFile() *os.File {
	process.file.once.Do(func() {
		dir := os.Getenv(ArtifactsEnv)
		if dir == "" {
			return
		}
		dir = filepath.Join(dir, "logs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return
		}
		f, err := os.OpenFile(filepath.Join(dir, packageName()+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return
		}
		process.file.f = f
	})
	return process.file.f
}

// packageName names the package under test from the directory go test
// runs its binary in: the path below the module root, dots for slashes
// ("internal.httpapi"; "warehouse" for the root package).
func packageName() string {
	wd, err := os.Getwd()
	if err != nil {
		return "unknown"
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, wd)
			if err != nil || rel == "." {
				return "warehouse"
			}
			return strings.ReplaceAll(filepath.ToSlash(rel), "/", ".")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Base(wd)
		}
		dir = parent
	}
}
