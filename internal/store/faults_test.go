package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// logCapture is a slog handler that keeps the records, for assertions on
// what the store logs.
type logCapture struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	c.recs = append(c.recs, r.Clone())
	c.mu.Unlock()
	return nil
}
func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCapture) WithGroup(string) slog.Handler      { return c }

// lines returns the records at level whose message contains msg, each as
// "message attr=value ...".
func (c *logCapture) lines(level slog.Level, msg string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.recs {
		if r.Level != level || !strings.Contains(r.Message, msg) {
			continue
		}
		s := r.Message
		r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
		out = append(out, s)
	}
	return out
}

// openLogged opens a SQLite store in a temporary directory that logs to
// the returned capture.
func openLogged(t *testing.T) (*DB, *logCapture, string) {
	t.Helper()
	logs := &logCapture{}
	path := filepath.Join(t.TempDir(), "warehouse.db")
	db, err := Open(context.Background(), "sqlite:"+path, "", Options{Logger: slog.New(slog.NewMultiHandler(logs, logcheck.Handler(t)))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Close an incident at the first success (see faultWatch.settle).
	db.writes.settle, db.read.watch.settle = 0, 0
	return db, logs, path
}

// pragma sets a pragma on the single write connection, which keeps it.
func pragma(t *testing.T, db *DB, p string) {
	t.Helper()
	if _, err := db.write.ExecContext(context.Background(), "PRAGMA "+p); err != nil {
		t.Fatalf("PRAGMA %s: %v", p, err)
	}
}

// TestStorageFaultsLogged makes writes fail the way a read-only database
// and a full disk do, twice each, and checks that every write is refused
// with EUNAVAILABLE (503), that the log names the cause and the file once
// per incident, and that the first success after it logs that it cleared.
//
// A read-only database is made with PRAGMA query_only on the write
// connection: SQLite then answers SQLITE_READONLY, as for a file it
// cannot write. chmod does not do it: SQLite's descriptors are open
// already, and root (CI) ignores file modes anyway. A full disk is made
// with PRAGMA max_page_count at the current size: SQLite answers
// SQLITE_FULL once a transaction needs a new page, as on a full file
// system, and needs no privileges (a tmpfs would).
func TestStorageFaultsLogged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, cause    string
		break_, repair func(*testing.T, *DB)
	}{
		{"read-only", "readonly",
			func(t *testing.T, db *DB) { pragma(t, db, "query_only(ON)") },
			func(t *testing.T, db *DB) { pragma(t, db, "query_only(OFF)") }},
		{"disk full", "full",
			func(t *testing.T, db *DB) {
				var pages int64
				if err := db.write.QueryRowContext(context.Background(), `PRAGMA page_count`).Scan(&pages); err != nil {
					t.Fatal(err)
				}
				pragma(t, db, fmt.Sprintf("max_page_count(%d)", pages))
			},
			func(t *testing.T, db *DB) { pragma(t, db, "max_page_count(1073741823)") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, logs, path := openLogged(t)
			var acked []string
			n := 0
			write := func() error {
				n++
				jti := fmt.Sprintf("t%d", n)
				err := db.RevokeToken(ctx, jti, time.Now().Add(time.Hour))
				if err == nil {
					acked = append(acked, jti)
				}
				return err
			}
			for incident := 1; incident <= 2; incident++ {
				tc.break_(t, db)
				// A full disk fails once the free pages are used up.
				failed := 0
				for i := 0; failed < 20; i++ {
					if i == 5000 {
						t.Fatal("writes never failed")
					}
					err := write()
					if err == nil {
						if failed > 0 {
							t.Fatalf("a write succeeded after %d failures", failed)
						}
						continue
					}
					if warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
						t.Fatalf("write: %v (code %q), want EUNAVAILABLE", err, warehouse.ErrorCode(err))
					}
					failed++
				}
				warns := logs.lines(slog.LevelWarn, "writes failing")
				if len(warns) != incident {
					t.Fatalf("incident %d: %d cause lines, want %d:\n%s", incident, len(warns), incident, strings.Join(warns, "\n"))
				}
				if w := warns[incident-1]; !strings.Contains(w, path) || !strings.Contains(w, tc.cause) {
					t.Fatalf("cause line names neither the file nor the cause: %s", w)
				}
				if got := logs.lines(slog.LevelInfo, "succeed again"); len(got) != incident-1 {
					t.Fatalf("cleared before the repair: %q", got)
				}
				tc.repair(t, db)
				for range 3 {
					if err := write(); err != nil {
						t.Fatalf("after the repair: %v", err)
					}
				}
				cleared := logs.lines(slog.LevelInfo, "succeed again")
				if len(cleared) != incident {
					t.Fatalf("incident %d: %d cleared lines, want %d: %q", incident, len(cleared), incident, cleared)
				}
				if !strings.Contains(cleared[incident-1], path) || !strings.Contains(cleared[incident-1], "failed=20") {
					t.Fatalf("cleared line: %s", cleared[incident-1])
				}
			}
			// Nothing acknowledged was lost.
			for _, jti := range acked {
				if ok, err := db.AnyRevoked(ctx, jti); err != nil || !ok {
					t.Fatalf("acknowledged revocation %s: %v %v", jti, ok, err)
				}
			}
			// Reads went on working: no line about them.
			if got := logs.lines(slog.LevelWarn, "reads"); len(got) != 0 {
				t.Fatalf("reads logged as failing: %q", got)
			}
		})
	}
}

// TestDatabaseFileGone deletes, and replaces, the database file under an
// open store: every write after it is refused with EUNAVAILABLE instead of
// being acknowledged into a file no path names, Ping (readiness) fails,
// and the log says once what happened to which file. It stays so: the
// store cannot go back to the file it lost.
func TestDatabaseFileGone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, what string
		do         func(t *testing.T, path string)
	}{
		{"deleted", "deleted", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced", "replaced", func(t *testing.T, path string) {
			// Another database, moved in as a restore from backup would.
			other, _, otherPath := openLogged(t)
			other.Close()
			if err := os.Rename(otherPath, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted and recreated", "replaced", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, logs, path := openLogged(t)
			if err := db.RevokeToken(ctx, "before", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := db.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			tc.do(t, path)
			for i := range 10 {
				err := db.RevokeToken(ctx, fmt.Sprint("after", i), time.Now().Add(time.Hour))
				if warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
					t.Fatalf("write %d after the file was %s: %v, want EUNAVAILABLE", i, tc.what, err)
				}
				if err := db.Ping(ctx); warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
					t.Fatalf("ping after the file was %s: %v, want EUNAVAILABLE", tc.what, err)
				}
			}
			warns := logs.lines(slog.LevelWarn, "failing")
			if len(warns) != 1 {
				t.Fatalf("%d cause lines, want 1:\n%s", len(warns), strings.Join(warns, "\n"))
			}
			if !strings.Contains(warns[0], path) || !strings.Contains(warns[0], tc.what) {
				t.Fatalf("cause line names neither the file nor what happened: %s", warns[0])
			}
		})
	}
}

// BenchmarkFileCheck is the price of the check the writer makes before
// every batch.
func BenchmarkFileCheck(b *testing.B) {
	db := openTestDB(b, pgtest.SQLite)
	for b.Loop() {
		if err := db.file.check(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDiskFullTmpfs fills a real file system under the database: a small
// tmpfs, which needs root (CI runs as root); skipped where it cannot be
// mounted. Writes are refused with EUNAVAILABLE while it is full, the log
// says so once, naming the file, and once more when space returns and a
// write succeeds; nothing acknowledged is lost.
func TestDiskFullTmpfs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs (needs root): %v %s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI=true (CI runs as root), so this is a failure, not a skip")
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	ctx := context.Background()
	logs := &logCapture{}
	path := filepath.Join(dir, "warehouse.db")
	db, err := Open(ctx, "sqlite:"+path, "", Options{Logger: slog.New(slog.NewMultiHandler(logs, logcheck.Handler(t)))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() // before the umount (cleanups run after)
	db.writes.settle = 0

	// Long ids make each write take a few pages.
	pad := strings.Repeat("x", 1500)
	var acked []string
	write := func(i int) error {
		jti := fmt.Sprintf("%s-%d", pad, i)
		err := db.RevokeToken(ctx, jti, time.Now().Add(time.Hour))
		if err == nil {
			acked = append(acked, jti)
		}
		return err
	}
	for i := range 10 {
		if err := write(i); err != nil {
			t.Fatal(err)
		}
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break // ENOSPC
		}
	}
	f.Close()

	failed, i := 0, 10
	for ; failed < 20; i++ {
		if i == 20000 {
			t.Fatal("writes never failed on a full file system")
		}
		err := write(i)
		if err == nil {
			if failed > 0 {
				t.Fatalf("a write succeeded after %d failures", failed)
			}
			continue
		}
		if warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
			t.Fatalf("write on a full disk: %v (code %q), want EUNAVAILABLE", err, warehouse.ErrorCode(err))
		}
		failed++
	}
	warns := logs.lines(slog.LevelWarn, "failing")
	if len(warns) != 1 || !strings.Contains(warns[0], path) || !strings.Contains(warns[0], "full") {
		t.Fatalf("cause lines, want one naming %s and the full disk:\n%s", path, strings.Join(warns, "\n"))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		i++
		if err := write(i); err != nil {
			t.Fatalf("after space returned: %v", err)
		}
	}
	if got := logs.lines(slog.LevelInfo, "succeed again"); len(got) != 1 || !strings.Contains(got[0], path) {
		t.Fatalf("cleared lines: %q", got)
	}
	for _, jti := range acked {
		if ok, err := db.AnyRevoked(ctx, jti); err != nil || !ok {
			t.Fatalf("acknowledged revocation %d lost: %v %v", len(jti), ok, err)
		}
	}
	t.Logf("%d writes acknowledged, %d refused while full; %s", len(acked), failed, warns[0])
}

// TestFaultWatchSettles: successes between failures (on a full disk, the
// writes that fit in free pages) do not close the incident until it has
// gone a while without failures, so flapping logs one line, not two per
// request.
func TestFaultWatchSettles(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	w := newFaultWatch(slog.New(slog.NewMultiHandler(logs, logcheck.Handler(t))), "writes", "/data/warehouse.db", "")
	w.settle = time.Hour
	full := &unavailableError{err: errors.New("database or disk is full (13)")}
	for range 5 {
		w.observe(full)
		w.observe(nil)
		w.observe(&warehouse.Error{Code: warehouse.ECONFLICT}) // a refusal: the database answered
	}
	if got := logs.lines(slog.LevelWarn, "failing"); len(got) != 1 {
		t.Fatalf("cause lines: %q", got)
	}
	if got := logs.lines(slog.LevelInfo, "again"); len(got) != 0 {
		t.Fatalf("closed while still failing: %q", got)
	}
	// Neither a caller's own end nor a closed store is a fault.
	w2 := newFaultWatch(slog.New(slog.NewMultiHandler(logs, logcheck.Handler(t))), "reads", "/data/warehouse.db", "")
	w2.observe(&unavailableError{err: context.DeadlineExceeded})
	w2.observe(&unavailableError{err: errClosed})
	if got := logs.lines(slog.LevelWarn, "reads"); len(got) != 0 {
		t.Fatalf("logged as a fault: %q", got)
	}
	w.mu.Lock()
	w.settle = 0
	w.mu.Unlock()
	w.observe(nil)
	got := logs.lines(slog.LevelInfo, "again")
	if len(got) != 1 || !strings.Contains(got[0], "failed=5") {
		t.Fatalf("cleared lines: %q", got)
	}
}

// TestFaultLogHidesPassword: a PostgreSQL driver error quoting the URL is
// logged without its password, and the database is named by host and
// name only.
func TestFaultLogHidesPassword(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	raw := "postgres://app:s3cr3t-pw@db.internal:5432/wh"
	w := newFaultWatch(slog.New(slog.NewMultiHandler(logs, logcheck.Handler(t))), "writes", "postgres://db.internal:5432/wh", raw)
	w.observe(&unavailableError{err: errors.New("failed to connect to " + raw + ": password s3cr3t-pw refused")})
	got := logs.lines(slog.LevelWarn, "failing")
	if len(got) != 1 || strings.Contains(got[0], "s3cr3t-pw") || !strings.Contains(got[0], "db.internal:5432/wh") {
		t.Fatalf("cause line: %q", got)
	}
}

// TestCloseTwice: Close may be called again, as before the file's identity
// was kept.
func TestCloseTwice(t *testing.T) {
	t.Parallel()
	db, _, _ := openLogged(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
