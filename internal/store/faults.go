package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Storage faults (disk full, a read-only or vanished database, PostgreSQL
// down) reach clients as 503s, one per request; the operator needs the
// cause once. A faultWatch sees the outcome of every statement of one
// path (reads or writes) and logs a warning naming the error and the
// database when the first one fails, and one info line when one succeeds
// again after none has failed for a while (settle), not a line per
// request. The wait matters on a full disk: a write that fits in the
// pages the database already has succeeds between the ones that fail, and
// an incident closed by each of them would log two lines per request.
//
// Reads and writes are watched apart: a read-only database or a full disk
// fails every write while reads succeed, and one watch fed both would
// open and close an incident on every request.
type faultWatch struct {
	log  *slog.Logger
	what string // "reads" or "writes"
	// where names the database for the log: the SQLite file, or the
	// PostgreSQL URL redacted (host and database, never a password).
	where string
	// rawURL is the PostgreSQL URL as given, only to scrub its password
	// out of driver errors (redact.go); never logged.
	rawURL string

	// failing is read on every statement, so the healthy path costs one
	// atomic load; mu serializes the transitions and their log lines.
	failing atomic.Bool
	mu      sync.Mutex
	since   time.Time // the incident's first failure
	last    time.Time // its latest
	count   int64
	// settle is how long an incident must go without failures before a
	// success closes it (tests set 0).
	settle time.Duration
}

// faultSettle is faultWatch.settle's default.
const faultSettle = 10 * time.Second

func newFaultWatch(log *slog.Logger, what, where, rawURL string) *faultWatch {
	return &faultWatch{log: log, what: what, where: where, rawURL: rawURL, settle: faultSettle}
}

// observe records the outcome of one statement or transaction and returns
// err unchanged. Only outages count (errors that wrapErr classifies as
// unavailable): a refusal (a conflict, a missing row) means the database
// answered. A caller's own end (its context canceled or past its
// deadline) and a closed store (shutdown) say nothing about the storage.
func (w *faultWatch) observe(err error) error {
	if w == nil {
		return err
	}
	if !isFault(err) {
		if w.failing.Load() {
			w.cleared()
		}
		return err
	}
	w.failed(err)
	return err
}

// observeFailure records a failure like observe, but a success clears
// nothing (Ping: a check that predicts failures of writes without writing).
func (w *faultWatch) observeFailure(err error) error {
	if w != nil && isFault(err) {
		w.failed(err)
	}
	return err
}

// isFault reports whether err is an outage of the storage. err may be a
// driver error not yet classified (fn's own, in a transaction): wrapErr
// classifies it here without changing what the caller returns.
func isFault(err error) bool {
	if err == nil {
		return false
	}
	var ue *unavailableError
	if !errors.As(wrapErr(err), &ue) {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, errClosed) && !strings.Contains(err.Error(), "sql: database is closed")
}

func (w *faultWatch) failed(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.count++
	w.last = now
	if w.failing.Load() {
		return
	}
	w.failing.Store(true)
	w.since = now
	w.count = 1
	// The driver's text may quote the URL (PostgreSQL): only its
	// scrubbed form is logged.
	w.log.Warn("database "+w.what+" failing; requests are refused as unavailable until they succeed again",
		"database", w.where, "error", scrub(cause(err).Error(), w.rawURL))
}

// cause is err without the unavailableError around it, whose text only
// adds "database unavailable".
func cause(err error) error {
	var ue *unavailableError
	if errors.As(err, &ue) {
		return ue.err
	}
	return err
}

func (w *faultWatch) cleared() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.failing.Load() || time.Since(w.last) < w.settle {
		return
	}
	w.failing.Store(false)
	w.log.Info("database "+w.what+" succeed again",
		"database", w.where, "failed", w.count, "duration", time.Since(w.since).Round(time.Millisecond).String())
}
