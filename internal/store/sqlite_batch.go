package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit (SQLite only).
//
// SQLite has one writer, and a COMMIT in WAL mode costs a write of every
// dirty page plus the WAL frame headers: about a third of a small write
// transaction's CPU. The batcher runs the write transactions that are
// waiting at the same time in one SQLite transaction, each in a savepoint
// of its own, and commits them once:
//
//	BEGIN IMMEDIATE
//	SAVEPOINT req; fn 1; events 1; RELEASE req      (success)
//	SAVEPOINT req; fn 2; ROLLBACK TO req; RELEASE req (fn 2 failed)
//	...
//	COMMIT
//
// Each request sees the writes of those before it in the batch, exactly as
// if they had committed just before it, so the outcome is the one the same
// requests would have had run one after the other. A failed request leaves
// nothing behind (its savepoint is rolled back); a successful one is
// answered only after the COMMIT, so nothing is acknowledged before it is
// in the WAL. The price is that a failed COMMIT fails the whole batch.
//
// The writer never waits for more requests to arrive: it takes what is
// already queued, so a lone request is not delayed, and batches grow only
// when requests queue anyway.

// maxBatch bounds a batch, so that one COMMIT does not hold back the
// answers of many requests and a failed COMMIT fails few.
const maxBatch = 64

// Request states: the writer and an impatient caller race to claim a queued
// request, and exactly one wins.
const (
	reqQueued int32 = iota
	reqRunning
	reqAbandoned
)

// writeReq is one db.tx call waiting for the writer.
type writeReq struct {
	ctx   context.Context
	fn    func(*txn) error
	state atomic.Int32
	// err is the answer, set before done is closed.
	err  error
	done chan struct{}
	// pending is fn's outcome, told to the caller after the COMMIT.
	pending error
}

func (r *writeReq) answer(err error) {
	r.err = err
	close(r.done)
}

// batcher owns the SQLite write connection's transactions.
type batcher struct {
	db *DB

	// mu guards closed against sends on queue: submit holds it shared
	// while it sends, stop exclusively while it closes queue.
	mu     sync.RWMutex
	closed bool
	queue  chan *writeReq

	// commits counts committed batches, for the checkpointer.
	commits atomic.Int64
	// onCommit is called after each COMMIT (nudges the checkpointer).
	onCommit func(n int64)

	stopOnce sync.Once
	stopped  chan struct{}
}

var errClosed = errors.New("store: database is closed")

func newBatcher(db *DB, onCommit func(int64)) *batcher {
	b := &batcher{db: db, queue: make(chan *writeReq, 4*maxBatch), stopped: make(chan struct{}), onCommit: onCommit}
	go b.run()
	return b
}

// submit queues fn and waits for its outcome. A caller whose ctx ends
// while fn is still queued gets its ctx's error at once and fn never runs;
// once fn has started, the caller waits for it (its statements use ctx,
// so they are interrupted).
func (b *batcher) submit(ctx context.Context, fn func(*txn) error) error {
	if err := ctx.Err(); err != nil {
		return wrapErr(err)
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return &unavailableError{err: errClosed}
	}
	select {
	case b.queue <- r:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return wrapErr(ctx.Err())
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return wrapErr(ctx.Err())
		}
		<-r.done
		return r.err
	}
}

// stop refuses new requests, lets the writer finish those queued and waits
// for it.
func (b *batcher) stop() {
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.queue)
		b.mu.Unlock()
	})
	<-b.stopped
}

func (b *batcher) run() {
	defer close(b.stopped)
	batch := make([]*writeReq, 0, maxBatch)
	for r := range b.queue {
		batch = append(batch[:0], r)
		if len(b.queue) == 0 {
			// Let the goroutines that are ready run first: on a busy
			// server some are about to queue a write, and joining this
			// batch saves them a COMMIT of their own (the WAL writes of
			// a COMMIT are the largest cost of a small transaction).
			runtime.Gosched()
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-b.queue:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		// A batch that had to be abandoned half way hands back the
		// requests to run again.
		for len(batch) > 0 {
			batch = b.runBatch(batch)
		}
		// Statements first seen in the batch are prepared now, while the
		// write connection is free (nothing can be prepared on it inside
		// a transaction), so the next batches find them in the cache.
		if c := b.db.write.cache; c != nil && c.hasPending() {
			c.flush(context.Background())
		}
	}
}

// runBatch runs batch in one transaction and answers its requests. If the
// transaction is lost half way (SQLite rolls a whole transaction back on
// some errors, and a savepoint can then no longer be released or rolled
// back to), the request that was running is answered with the error and
// every other unanswered request is returned, to run again in a new
// transaction: none of their writes were kept, and fn must be safe to run
// again (db.tx says so).
func (b *batcher) runBatch(batch []*writeReq) []*writeReq {
	// Claim the requests first: those abandoned by their callers are
	// dropped, and the others can no longer be abandoned.
	live := batch[:0]
	for _, r := range batch {
		if r.state.Load() == reqRunning || r.state.CompareAndSwap(reqQueued, reqRunning) {
			r.pending = nil
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return nil
	}
	// A database file deleted or replaced since Open would take the
	// batch and lose it at the next restart: refuse it (fileid.go).
	if err := b.db.file.check(); err != nil {
		for _, r := range live {
			r.answer(&unavailableError{err: err})
		}
		return nil
	}
	// The transaction belongs to the batch, not to any one request: no
	// request's cancellation may roll it back.
	sqlTx, err := b.db.write.begin(context.Background())
	if err != nil {
		for _, r := range live {
			r.answer(wrapErr(err))
		}
		return nil
	}
	wroteEvents := false
	for i, r := range live {
		if err := r.ctx.Err(); err != nil {
			r.pending = wrapErr(err)
			continue
		}
		tx := &txn{tx: sqlTx, cache: b.db.write.cache}
		err, lost := runInSavepoint(r.ctx, tx, r.fn)
		if lost != nil {
			_ = sqlTx.Rollback()
			if err == nil {
				err = wrapErr(lost)
			}
			r.answer(err)
			return requeue(live, i)
		}
		r.pending = err
		wroteEvents = wroteEvents || err == nil && tx.wroteEvents
	}
	committing := time.Now()
	err = sqlTx.Commit()
	if err == nil {
		b.db.metrics.CommitBatch(len(live), time.Since(committing))
	}
	if err == nil && b.onCommit != nil {
		b.onCommit(b.commits.Add(1))
	}
	if err == nil && wroteEvents {
		b.db.feed.committed()
	}
	// Every answer waits for the COMMIT, failures included: a failure can
	// depend on what an earlier request of the batch wrote (an
	// Idempotency-Key replaying a movement posted just before it), and must
	// not be told to a client if that write is then lost with the batch.
	for _, r := range live {
		if err != nil {
			r.answer(wrapErr(err))
		} else {
			r.answer(r.pending)
		}
	}
	return nil
}

// requeue returns the requests of live to run again after the transaction
// was lost while live[failed] ran (it has been answered): every other one,
// since whatever they wrote or saw is gone with the transaction.
func requeue(live []*writeReq, failed int) []*writeReq {
	var again []*writeReq
	for i, r := range live {
		if i == failed {
			continue
		}
		r.pending = nil
		again = append(again, r)
	}
	return again
}

// runInSavepoint runs fn and then writes its auth events, inside a
// savepoint of its own: released if fn succeeds, rolled back to if it
// fails. err is fn's outcome; lost is set if the savepoint could not be
// taken, released or rolled back to, which means the whole transaction is
// gone.
func runInSavepoint(ctx context.Context, tx *txn, fn func(*txn) error) (err, lost error) {
	// The savepoint statements must run even if ctx has just ended: they
	// keep the batch consistent.
	bg := context.Background()
	if _, err := tx.ExecContext(bg, `SAVEPOINT req`); err != nil {
		return nil, err
	}
	if err := runFn(ctx, tx, fn); err != nil {
		if _, lost := tx.ExecContext(bg, `ROLLBACK TO req`); lost != nil {
			return err, lost
		}
		if _, lost := tx.ExecContext(bg, `RELEASE req`); lost != nil {
			return err, lost
		}
		return err, nil
	}
	if _, lost := tx.ExecContext(bg, `RELEASE req`); lost != nil {
		return nil, lost
	}
	return nil, nil
}

// runFn runs fn and then writes its auth events. A panic in fn fails this
// request only: the writer goroutine serves every other request and must
// survive it. PostgreSQL's tryTx uses it too, so that a panic has the same
// outcome on both engines (rolled back, returned as an error).
func runFn(ctx context.Context, tx *txn, fn func(*txn) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: panic in write transaction: %v\n%s", p, debug.Stack())
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.flushEvents(ctx)
}
