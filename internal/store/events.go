package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warehouse-api/warehouse"
)

// EventsChannel is the PostgreSQL NOTIFY channel on which instances
// announce that they committed events to the integration event log. It is
// separate from AuthChannel: its listeners (streams, webhook senders)
// have nothing to do with auth state.
const EventsChannel = "warehouse_events"

// appendEvent writes one entry of the integration event log in tx, the
// transaction of the change it describes. data is marshalled to JSON. On
// PostgreSQL the row records the writing transaction's id, which readers
// use to know when no smaller event can still commit (see EventsAfter).
// Once tx commits, this instance's readers are woken and the other
// instances are notified (eventFeed).
func appendEvent(ctx context.Context, tx *txn, now time.Time, kind, subject, actor string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("event %s: %w", kind, err)
	}
	q := `INSERT INTO events (tx, kind, subject, data, actor, at) VALUES (0, ?, ?, ?, ?, ?)`
	if tx.pg {
		q = `INSERT INTO events (tx, kind, subject, data, actor, at) VALUES (pg_current_xact_id()::text::bigint, ?, ?, ?, ?, ?)`
	}
	// Nothing reads the entry back: it goes out with the commit.
	mapErr := func(err error) error { return fmt.Errorf("insert event %s: %w", kind, wrapErr(err)) }
	if err := tx.later(ctx, mapErr, q, kind, subject, string(b), actor, ms(now)); err != nil {
		return err
	}
	tx.wroteEvents = true
	return nil
}

// eventFeed tells this instance's readers of the event log that events
// were committed. The zero value is ready.
//
// The NOTIFY for other instances is sent after the commit, from
// FollowEvents, and coalesced: a NOTIFY inside the writing transaction
// would take PostgreSQL's global notification lock at every commit and
// serialize all movements (a third of the throughput, measured with
// pgbench).
type eventFeed struct {
	mu sync.Mutex
	// ch is closed at the next change, then replaced.
	ch chan struct{}
	// kick asks FollowEvents to NOTIFY the other instances (capacity 1).
	kick chan struct{}
}

func (f *eventFeed) init() {
	if f.kick == nil {
		f.kick = make(chan struct{}, 1)
	}
	if f.ch == nil {
		f.ch = make(chan struct{})
	}
}

// changed is a channel closed at the next change.
func (f *eventFeed) changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	return f.ch
}

// wake wakes every reader waiting on changed.
func (f *eventFeed) wake() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	close(f.ch)
	f.ch = make(chan struct{})
}

// committed is called after a transaction that wrote events committed.
func (f *eventFeed) committed() {
	f.wake()
	f.mu.Lock()
	k := f.kick
	f.mu.Unlock()
	select {
	case k <- struct{}{}:
	default: // a NOTIFY is already due; it covers this commit too
	}
}

func (f *eventFeed) kicks() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	return f.kick
}

// EventsChanged returns a channel closed when events may have been
// committed since: on this instance, or on another one (PostgreSQL, while
// FollowEvents runs). It is a hint: readers still poll now and then.
func (db *DB) EventsChanged() <-chan struct{} { return db.feed.changed() }

// EventHead is the position of the newest event a reader may take now:
// a reader starting there sees only events committed from now on (on
// PostgreSQL, possibly a few committed just before).
func (db *DB) EventHead(ctx context.Context) (_ warehouse.EventPos, err error) {
	defer wrap(&err, "EventHead")
	return eventHead(ctx, db.read, db.pg)
}

func eventHead(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, pg bool) (warehouse.EventPos, error) {
	if pg {
		// Every transaction below xmin has ended, so every event it wrote
		// is visible: all of those are before the head; every event of a
		// transaction from xmin on is after it.
		var xmin int64
		if err := q.QueryRowContext(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin); err != nil {
			return warehouse.EventPos{}, fmt.Errorf("read the event head: %w", wrapErr(err))
		}
		return warehouse.EventPos{Tx: xmin - 1, Seq: math.MaxInt64}, nil
	}
	var last int64
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&last); err != nil {
		return warehouse.EventPos{}, fmt.Errorf("read the event head: %w", wrapErr(err))
	}
	return warehouse.EventPos{Seq: last}, nil
}

// EventsAfter returns up to limit events after pos, in (tx, seq) order,
// and the position of the last one (pos if there are none).
//
// On PostgreSQL an event's seq is drawn when it is written, not when its
// transaction commits: a reader that followed seq alone would skip a
// smaller seq committed late. It takes only events of transactions below
// the snapshot's xmin, which have all ended, ordered by transaction id:
// every event still to commit then belongs to a transaction at or above
// xmin, so it sorts after everything returned, and nothing is skipped or
// returned twice. On SQLite tx is 0 and the one writer commits seq in
// order.
func (db *DB) EventsAfter(ctx context.Context, pos warehouse.EventPos, limit int) (_ []warehouse.Event, _ warehouse.EventPos, err error) {
	defer wrap(&err, "EventsAfter")
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q := `SELECT id, tx, kind, subject, data, actor, at FROM events WHERE (tx, id) > (?, ?) ORDER BY tx, id LIMIT ?`
	if db.pg {
		q = `SELECT id, tx, kind, subject, data, actor, at FROM events
			WHERE (tx, id) > (?, ?) AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
			ORDER BY tx, id LIMIT ?`
	}
	evs, err := queryRows(ctx, db.read, q, []any{pos.Tx, pos.Seq, limit}, scanEvent)
	if err != nil {
		return nil, pos, fmt.Errorf("read events: %w", err)
	}
	if len(evs) > 0 {
		pos = evs[len(evs)-1].Pos()
	}
	return evs, pos, nil
}

func scanEvent(s scanner) (warehouse.Event, error) {
	var e warehouse.Event
	var data string
	var at int64
	if err := s.Scan(&e.Seq, &e.Tx, &e.Kind, &e.Subject, &data, &e.Actor, &at); err != nil {
		return e, err
	}
	e.Data, e.At = json.RawMessage(data), fromMS(at)
	return e, nil
}

// FollowEvents runs until ctx ends, on PostgreSQL: it NOTIFYs the other
// instances after this one commits events (at most one NOTIFY per
// notifyGap), and wakes this instance's readers when another instance
// NOTIFYs. Its LISTEN connection is its own and reconnects with backoff;
// after every (re)connection it wakes the readers, since events may have
// been committed while it was away. On SQLite it returns at once: the
// writer wakes the readers in-process.
func (db *DB) FollowEvents(ctx context.Context, log *slog.Logger) {
	if !db.pg {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { db.notifyEvents(ctx, log) })
	defer wg.Wait()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := redactErr(db.listenEvents(ctx), db.rawURL)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		log.Warn("event listener disconnected; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff/2)))):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// notifyGap is the least time between two NOTIFYs of one instance: a busy
// instance announces its commits in batches, at little cost to latency.
const notifyGap = 10 * time.Millisecond

func (db *DB) notifyEvents(ctx context.Context, log *slog.Logger) {
	kicks := db.feed.kicks()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kicks:
		}
		if _, err := db.write.ExecContext(ctx, `SELECT pg_notify(?, '')`, EventsChannel); err != nil && ctx.Err() == nil {
			// The others still poll; this only delays them.
			log.Debug("event notification failed", "err", redactErr(wrapErr(err), db.rawURL))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(notifyGap):
		}
	}
}

func (db *DB) listenEvents(ctx context.Context) error {
	cfg := db.pgConfig.Copy()
	delete(cfg.RuntimeParams, "statement_timeout") // it idles by design
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{EventsChannel}.Sanitize()); err != nil {
		return err
	}
	db.feed.wake()
	for {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			db.feed.wake()
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil:
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// movementEvent is the payload of a movement.posted event: the movement
// without its note and ledger entries (GET /api/v1/movements/{id} has them).
type movementEvent struct {
	ID         int64               `json:"id"`
	Type       string              `json:"type"`
	Reference  string              `json:"reference"`
	Reason     *string             `json:"reason,omitempty"`
	ReversalOf *int64              `json:"reversal_of,omitempty"`
	Lines      []movementEventLine `json:"lines"`
}

type movementEventLine struct {
	LineNo         int64          `json:"line_no"`
	ItemID         int64          `json:"item_id"`
	SKU            string         `json:"sku,omitempty"`
	Lot            string         `json:"lot,omitempty"`
	FromLocationID *int64         `json:"from_location_id,omitempty"`
	ToLocationID   *int64         `json:"to_location_id,omitempty"`
	LocationID     *int64         `json:"location_id,omitempty"`
	Qty            *warehouse.Qty `json:"qty,omitempty"`
	QtyDelta       *warehouse.Qty `json:"qty_delta,omitempty"`
	CountedQty     *warehouse.Qty `json:"counted_qty,omitempty"`
}

func movementSubject(m *warehouse.Movement) string { return "movement/" + strconv.FormatInt(m.ID, 10) }

func movementSummary(m *warehouse.Movement) movementEvent {
	ev := movementEvent{ID: m.ID, Type: m.Type, Reference: m.Reference, Reason: m.Reason, ReversalOf: m.ReversalOf, Lines: make([]movementEventLine, len(m.Lines))}
	for i, l := range m.Lines {
		ev.Lines[i] = movementEventLine{LineNo: l.LineNo, ItemID: l.ItemID, SKU: l.SKU, Lot: l.Lot, FromLocationID: l.FromLocationID, ToLocationID: l.ToLocationID,
			LocationID: l.LocationID, Qty: l.Qty, QtyDelta: l.QtyDelta, CountedQty: l.CountedQty}
	}
	return ev
}
