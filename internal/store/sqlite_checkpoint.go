package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Background checkpoints (SQLite only).
//
// In WAL mode a commit appends pages to the -wal file; a checkpoint copies
// them back into the database file and fsyncs it. SQLite's automatic
// checkpoint runs inside the COMMIT that crosses 1000 pages, so a request
// pays for the fsync: the p99 spikes. The write connection turns it off
// (wal_autocheckpoint=0) and this goroutine checkpoints instead, on a
// connection of its own, so no request waits for it.
//
// PASSIVE never waits for, nor blocks, readers or the writer: it copies
// what it can, and SQLite restarts the WAL from its beginning once a
// checkpoint has copied all of it. Close runs a TRUNCATE checkpoint, which
// leaves an empty WAL behind.
//
// Durability is unchanged: journal_mode=WAL with synchronous=NORMAL, as
// before. A COMMIT writes its frames to the WAL (to the OS) before the
// request is answered, so an acknowledged transaction survives the process
// being killed (kill -9): the OS still writes the file. The WAL is fsynced
// only by checkpoints, so an OS crash or power loss can lose the last
// transactions committed since then (never corrupting the database); a
// checkpoint runs at least every checkpointEvery, so the window is about
// as long as before, when auto-checkpoints came every 1000 pages.

// checkpointEvery is the longest time between checkpoints.
const checkpointEvery = time.Second

// checkpointBatches starts a checkpoint early after that many committed
// batches: a few pages each, so about the 4 MiB of SQLite's default
// auto-checkpoint.
const checkpointBatches = 250

type checkpointer struct {
	db    *sql.DB // one connection, not query_only
	nudge chan struct{}

	stopOnce sync.Once
	quit     chan struct{}
	stopped  chan struct{}
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, nudge: make(chan struct{}, 1), quit: make(chan struct{}), stopped: make(chan struct{})}
	go c.run()
	return c
}

// committed is called by the writer after each COMMIT.
func (c *checkpointer) committed(n int64) {
	if n%checkpointBatches != 0 {
		return
	}
	select {
	case c.nudge <- struct{}{}:
	default: // one is pending already
	}
}

func (c *checkpointer) run() {
	defer close(c.stopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		case <-c.nudge:
		}
		// Errors are not fatal: the WAL just grows until the next one.
		var busy, log, done int64
		_ = c.db.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done)
	}
}

func (c *checkpointer) stop() {
	c.stopOnce.Do(func() { close(c.quit) })
	<-c.stopped
}
