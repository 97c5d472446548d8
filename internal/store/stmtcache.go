package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxCachedStmts bounds the statement cache: the store's statements are a
// fixed set, but a few are built from filters, and those must not grow it
// without end.
const maxCachedStmts = 256

// stmtCache keeps prepared statements for SQLite, where parsing a
// statement costs more than running it (a movement runs a dozen). The pgx
// driver caches prepared statements itself, so PostgreSQL needs none.
//
// On the write pool (one connection) nothing can be prepared while a
// transaction holds the connection, so statements first seen inside a
// transaction are queued and prepared after it ends.
type stmtCache struct {
	db *sql.DB

	mu      sync.RWMutex
	stmts   map[string]*sql.Stmt
	pending map[string]struct{}
	// closed is set by close: a caller still querying while the database
	// closes must not prepare statements on the closing pool, nor leave
	// them in the cache.
	closed bool

	preparing atomic.Bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]struct{}{}}
}

// lookup returns the prepared statement for q, or nil (and remembers q to
// be prepared later).
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.RLock()
	st := c.stmts[q]
	_, queued := c.pending[q]
	full := len(c.stmts)+len(c.pending) >= maxCachedStmts
	closed := c.closed
	c.mu.RUnlock()
	if st != nil || queued || full || closed {
		return st
	}
	c.mu.Lock()
	if !c.closed {
		c.pending[q] = struct{}{}
	}
	c.mu.Unlock()
	return nil
}

// prepare returns the statement for q, preparing it now (read pool: a
// connection is free to prepare on).
func (c *stmtCache) prepare(ctx context.Context, q string) *sql.Stmt {
	if st := c.lookup(q); st != nil {
		return st
	}
	c.flush(ctx)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stmts[q]
}

// flush prepares the queued statements. Failures are dropped: the query
// then keeps running unprepared and reports its own error.
func (c *stmtCache) flush(ctx context.Context) {
	if !c.preparing.CompareAndSwap(false, true) {
		return
	}
	defer c.preparing.Store(false)
	c.mu.Lock()
	queue := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queue = append(queue, q)
	}
	c.mu.Unlock()
	for _, q := range queue {
		c.mu.RLock()
		closed := c.closed
		c.mu.RUnlock()
		if closed {
			return
		}
		st, err := c.db.PrepareContext(ctx, q)
		c.mu.Lock()
		delete(c.pending, q)
		if err == nil {
			if _, dup := c.stmts[q]; dup || c.closed {
				st.Close()
			} else {
				c.stmts[q] = st
			}
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) hasPending() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.pending) > 0
}

// close releases every prepared statement, and prepares no more.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	clear(c.pending)
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// maxRebinds bounds the rebound statements remembered: the store's
// statements are a fixed set, but some are built from filters or sized by
// their arguments (IN lists, multi-row INSERTs).
const maxRebinds = 1024

// rebinds remembers rebind's answers: every query on PostgreSQL is
// rebound, and scanning it costs more per request than a map lookup.
type rebinds struct {
	m sync.Map // query -> rebound query
	n atomic.Int64
}

func (r *rebinds) rebind(q string) string {
	if r == nil {
		return rebind(q)
	}
	if v, ok := r.m.Load(q); ok {
		return v.(string)
	}
	out := rebind(q)
	if r.n.Load() < maxRebinds {
		if _, loaded := r.m.LoadOrStore(q, out); !loaded {
			r.n.Add(1)
		}
	}
	return out
}
