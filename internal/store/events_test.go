package store

import (
	"context"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// reader follows the event log as a stream does, recording what it sees.
type reader struct {
	t    *testing.T
	db   *DB
	pos  warehouse.EventPos
	seen []string
}

func (r *reader) poll() {
	r.t.Helper()
	for {
		evs, pos, err := r.db.EventsAfter(context.Background(), r.pos, 2)
		if err != nil {
			r.t.Fatal(err)
		}
		if pos.Less(r.pos) {
			r.t.Fatalf("position went back: %v after %v", pos, r.pos)
		}
		r.pos = pos
		for _, e := range evs {
			r.seen = append(r.seen, e.Subject)
		}
		if len(evs) < 2 {
			return
		}
	}
}

// pollUntil polls until the reader has seen n events. The test cluster is
// shared: another test's open transaction holds the snapshot's xmin back,
// so what has committed can take a moment to come below it.
func (r *reader) pollUntil(n int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.poll(); len(r.seen) < n && time.Now().Before(deadline); r.poll() {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEventsAfterCommitOrder: on PostgreSQL an event's seq is drawn when
// it is written, so transactions can commit their events out of seq
// order. A reader that follows (tx, seq) below the snapshot's xmin sees
// every event exactly once whatever the order of the commits.
func TestEventsAfterCommitOrder(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		db := openTestDB(t, engine)
		ctx := context.Background()
		write := func(subject string) error {
			return db.tx(ctx, func(tx *txn) error {
				return appendEvent(ctx, tx, time.Now(), warehouse.EventMovementPosted, subject, "test", map[string]int{})
			})
		}
		head, err := db.EventHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := &reader{t: t, db: db, pos: head}
		if err := write("before"); err != nil {
			t.Fatal(err)
		}
		r.pollUntil(1)
		if engine != pgtest.Postgres {
			// One writer: commit order is seq order; nothing to race.
			if err := write("a"); err != nil {
				t.Fatal(err)
			}
			r.pollUntil(2)
			checkSeen(t, r.seen, "before", "a")
			return
		}

		// slow takes its transaction id first, writes its event after
		// fast has written and committed its own (so slow's seq is the
		// larger, fast's transaction id the larger), and commits last.
		// late writes its event first (the smaller seq) and commits
		// after fast too.
		slowHasXID, fastDone := make(chan struct{}), make(chan struct{})
		lateWrote, lateGo := make(chan struct{}), make(chan struct{})
		slowGo := make(chan struct{})
		errs := make(chan error, 3)
		go func() {
			errs <- db.tx(ctx, func(tx *txn) error {
				if _, err := tx.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil {
					return err
				}
				close(slowHasXID)
				<-fastDone
				if err := appendEvent(ctx, tx, time.Now(), warehouse.EventMovementPosted, "slow", "test", map[string]int{}); err != nil {
					return err
				}
				if err := sendDeferred(ctx, tx); err != nil {
					return err
				}
				<-slowGo
				return nil
			})
		}()
		<-slowHasXID
		go func() {
			errs <- db.tx(ctx, func(tx *txn) error {
				if err := appendEvent(ctx, tx, time.Now(), warehouse.EventMovementPosted, "late", "test", map[string]int{}); err != nil {
					return err
				}
				if err := sendDeferred(ctx, tx); err != nil {
					return err
				}
				close(lateWrote)
				<-lateGo
				return nil
			})
		}()
		<-lateWrote
		if err := write("fast"); err != nil { // seq after late's, committed first
			t.Fatal(err)
		}
		close(fastDone)
		r.poll() // fast is committed, but slow and late are below it: nothing yet
		checkSeen(t, r.seen, "before")

		close(lateGo) // late (smaller seq than fast) commits after fast
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		r.poll() // slow's transaction, the oldest, still runs
		checkSeen(t, r.seen, "before")

		close(slowGo)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		r.pollUntil(4)
		// In transaction order: slow's xid is the oldest, then late's, then fast's.
		checkSeen(t, r.seen, "before", "slow", "late", "fast")
	})
}

// sendDeferred runs now what tx queued for its commit (txn.later), so that
// the test, not the commit, decides when an event draws its seq.
func sendDeferred(ctx context.Context, tx *txn) error {
	for _, d := range tx.deferred {
		if _, err := tx.conn.ExecContext(ctx, d.q, d.args...); err != nil {
			return err
		}
	}
	tx.deferred = nil
	return nil
}

func checkSeen(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("events seen %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("events seen %q, want %q", got, want)
		}
	}
}
