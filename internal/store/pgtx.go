package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL write transactions run on a connection taken from the pool
// for the whole transaction, begun and ended by the store rather than by
// database/sql's Tx. The reason is the end: the writes queued with
// txn.later (the event log entry, the idempotency record) are sent
// together with COMMIT as one pgx batch, one round trip for what were
// three. Every other statement runs through database/sql on that
// connection as it would in a Tx, with the same prepared statements.

// deferredExec is one statement queued by txn.later, already bound.
type deferredExec struct {
	q      string
	args   []any
	mapErr func(error) error
}

// errCommitRolledBack is COMMIT's answer for a transaction PostgreSQL had
// already aborted: nothing was written.
var errCommitRolledBack = errors.New("commit rolled back: the transaction had failed")

// endTimeout bounds a ROLLBACK sent after the request's context ended.
const endTimeout = 5 * time.Second

// beginConn takes a connection and starts a READ COMMITTED transaction on it.
func (c *conn) beginConn(ctx context.Context) (*txn, error) {
	sc, err := c.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx := &txn{conn: sc, pg: true, binds: c.binds}
	if _, err := sc.ExecContext(ctx, `BEGIN`); err != nil {
		tx.release()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return tx, nil
}

// commitConn sends the deferred writes and COMMIT in one batch, and
// returns the connection to the pool. A deferred write that fails aborts
// the transaction (PostgreSQL skips the rest of the batch, COMMIT
// included): it is rolled back and the write's error, mapped, returned.
func (tx *txn) commitConn(ctx context.Context) error {
	var mapped bool
	err := tx.conn.Raw(func(dc any) error {
		pc, err := pgxConn(dc)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, d := range tx.deferred {
			b.Queue(d.q, d.args...)
		}
		b.Queue(`COMMIT`)
		br := pc.SendBatch(ctx, b)
		var first error
		for _, d := range tx.deferred {
			if _, err := br.Exec(); err != nil && first == nil {
				first = err
				if d.mapErr != nil {
					first, mapped = d.mapErr(err), true
				}
			}
		}
		tag, err := br.Exec()
		if first == nil && err == nil && tag.String() == "ROLLBACK" {
			err = errCommitRolledBack
		}
		if first == nil {
			first = err
		}
		if err := br.Close(); err != nil && first == nil {
			first = err
		}
		return first
	})
	tx.deferred = nil
	if err != nil {
		// Not committed: end whatever is left of the transaction. A
		// failed COMMIT has ended it already; a rollback then is a no-op.
		_ = tx.rollbackConn(ctx)
		if mapped {
			return err
		}
		return fmt.Errorf("commit: %w", err)
	}
	tx.release()
	return nil
}

// rollbackConn rolls the transaction back, even after ctx ended, and
// returns the connection to the pool (or drops it, if it is not idle).
func (tx *txn) rollbackConn(ctx context.Context) error {
	tx.deferred = nil
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	_, err := tx.conn.ExecContext(ctx, `ROLLBACK`)
	tx.release()
	return err
}

// release returns the connection to the pool, unless it is broken or still
// inside a transaction: then the pool drops it, and no later user can find
// itself in what is left of this one.
func (tx *txn) release() {
	_ = tx.conn.Raw(func(dc any) error {
		pc, err := pgxConn(dc)
		if err != nil || pc.IsClosed() || pc.PgConn().TxStatus() != 'I' {
			return driver.ErrBadConn
		}
		return nil
	})
	_ = tx.conn.Close()
}

func pgxConn(dc any) (*pgx.Conn, error) {
	c, ok := dc.(*stdlib.Conn)
	if !ok {
		return nil, fmt.Errorf("store: PostgreSQL connection is a %T, not pgx's", dc)
	}
	return c.Conn(), nil
}

var _ sqlRunner = (*sql.Conn)(nil)
