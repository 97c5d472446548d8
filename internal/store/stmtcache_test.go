package store

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestCloseJoinsStatementCache runs a write transaction whose statements
// are all new, so that the write pool's statement cache has them to
// prepare once the transaction ends, and closes the database right after:
// when Close returns, none of that work may still be running, and none of
// it may have prepared a statement on the closed pools. tryTx is called
// directly because it is the path that prepared them on a goroutine of
// its own (on SQLite, db.tx goes through the batcher, whose writer
// prepares them and which Close joins).
//
// Whether a straggler is caught depends on the scheduler, so the scenario
// runs a few times: before the fix, one run caught it about 5 times in 6.
func TestCloseJoinsStatementCache(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		for run := range 5 {
			closeAfterNewStatements(t, engine, run)
		}
	})
}

func closeAfterNewStatements(t *testing.T, engine string, run int) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, pgtest.URL(t, engine), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.tryTx(ctx, func(tx *txn) error {
		// As many new statements as the cache takes, so that preparing
		// them takes a while.
		for i := range maxCachedStmts - 1 {
			var n int
			if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d + ?`, i), 1).Scan(&n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if stacks := txGoroutines(); len(stacks) > 0 {
		t.Fatalf("run %d: after Close, a transaction's goroutine still runs:\n%s", run, strings.Join(stacks, "\n\n"))
	}
	for name, c := range map[string]*conn{"write": db.write, "read": db.read} {
		if c.cache == nil {
			continue
		}
		c.cache.mu.RLock()
		n := len(c.cache.stmts)
		c.cache.mu.RUnlock()
		if n > 0 {
			t.Fatalf("run %d: %s pool: %d statements prepared after Close closed the cache", run, name, n)
		}
	}
}

// txGoroutines returns the stacks of the goroutines that a transaction
// started and Close knows nothing of. (The batcher's writer prepares
// statements too, possibly for the package's other tests right now, but
// Close joins it.)
func txGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "created by github.com/warehouse-api/warehouse/internal/store.(*DB).tryTx") {
			found = append(found, g)
		}
	}
	return found
}

// TestRebinds: the remembered answers are rebind's, the same every time,
// and the memory stays bounded however many statements are built.
func TestRebinds(t *testing.T) {
	t.Parallel()
	var r rebinds
	for i := range maxRebinds + 50 {
		q := fmt.Sprintf("SELECT ? FROM t WHERE a = ? AND b = '?' LIMIT %d", i)
		want := rebind(q)
		for range 2 {
			if got := r.rebind(q); got != want {
				t.Fatalf("rebind(%q) = %q, want %q", q, got, want)
			}
		}
	}
	if n := r.n.Load(); n != maxRebinds {
		t.Errorf("remembered %d statements, want the bound %d", n, maxRebinds)
	}
	var none *rebinds // a txn built without the pool's: rebinds every time
	if got, want := none.rebind("a = ?"), "a = $1"; got != want {
		t.Errorf("nil rebinds: %q, want %q", got, want)
	}
}
