package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// revokeTwice is a write transaction with two rows and two auth events.
func revokeTwice(ctx context.Context, tx *txn, now time.Time, name string) error {
	for _, s := range []string{"a", "b"} {
		if err := revokeTx(ctx, tx, now, name+"-"+s, now.Add(time.Hour)); err != nil {
			return err
		}
	}
	return nil
}

// TestBatchMixedOutcomes runs many concurrent transactions, some failing,
// some cancelled, most succeeding, so that they share batches on SQLite:
// the failed leave nothing, the others all persist, and each request's
// auth events are complete, adjacent and in order.
func TestBatchMixedOutcomes(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		last, err := db.LastAuthEvent(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		errBoom := errors.New("boom")
		const workers, each = 16, 40
		var mu sync.Mutex
		want := map[string]bool{} // request name -> must persist
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					name := fmt.Sprintf("w%d-%d", w, i)
					rctx, fail := ctx, i%3 == 1
					if i%7 == 5 {
						rctx, fail = cancelled, true
					}
					err := db.tx(rctx, func(tx *txn) error {
						if err := revokeTwice(rctx, tx, db.now(), name); err != nil {
							return err
						}
						if i%3 == 1 {
							return errBoom
						}
						return nil
					})
					switch {
					case i%7 == 5:
						if !errors.Is(err, context.Canceled) {
							t.Errorf("%s: err %v, want context.Canceled", name, err)
						}
					case fail:
						if !errors.Is(err, errBoom) {
							t.Errorf("%s: err %v, want boom", name, err)
						}
					case err != nil:
						t.Errorf("%s: %v", name, err)
					}
					mu.Lock()
					want[name] = !fail
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}

		rows, err := db.read.QueryContext(ctx, `SELECT jti FROM revoked_tokens`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for rows.Next() {
			var jti string
			if err := rows.Scan(&jti); err != nil {
				t.Fatal(err)
			}
			got[jti] = true
		}
		rows.Close()
		nok := 0
		for name, ok := range want {
			if ok {
				nok++
			}
			for _, s := range []string{"-a", "-b"} {
				if got[name+s] != ok {
					t.Errorf("%s%s persisted: %v, want %v", name, s, got[name+s], ok)
				}
			}
		}

		events, _, err := db.AuthEventsAfter(ctx, last, 10*workers*each)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2*nok {
			t.Fatalf("%d events, want %d", len(events), 2*nok)
		}
		next := map[string]int{} // worker -> smallest request index still to come
		for i := 0; i < len(events); i += 2 {
			a, b := events[i], events[i+1]
			name, ok := strings.CutSuffix(a.Subject, "-a")
			if !ok || b.Subject != name+"-b" || !want[name] || a.ID >= b.ID {
				t.Fatalf("events %d, %d: %+v %+v", i, i+1, a, b)
			}
			var w, n int
			fmt.Sscanf(name, "w%d-%d", &w, &n)
			if n < next[fmt.Sprint(w)] {
				t.Fatalf("event for %s after a later request of the same worker", name)
			}
			next[fmt.Sprint(w)] = n + 1
		}
		if !db.pg {
			t.Logf("%d commits for %d transactions", db.batch.commits.Load(), nok)
		}
		if !db.pg && db.batch.commits.Load() >= int64(nok) {
			t.Errorf("%d commits for %d transactions: nothing was batched", db.batch.commits.Load(), nok)
		}
	})
}

// TestBatchPanic checks that a panic in one transaction fails only that
// one, and that the writer goes on.
func TestBatchPanic(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		if engine == pgtest.Postgres {
			t.Skip("the batcher is SQLite's; PostgreSQL runs fn on the caller's goroutine")
		}
		ctx := context.Background()
		db := openTestDB(t, engine)
		const n = 40
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = db.tx(ctx, func(tx *txn) error {
					if err := revokeTwice(ctx, tx, db.now(), fmt.Sprint("p", i)); err != nil {
						return err
					}
					if i%10 == 3 {
						panic("kaboom")
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if i%10 == 3 {
				if err == nil || !strings.Contains(err.Error(), "kaboom") {
					t.Errorf("%d: err %v, want the panic", i, err)
				}
			} else if err != nil {
				t.Errorf("%d: %v", i, err)
			}
		}
		var count int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM revoked_tokens`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != 2*(n-n/10) {
			t.Fatalf("%d tokens revoked, want %d", count, 2*(n-n/10))
		}
	})
}

// TestBatchLostTransaction ends the batch's transaction behind the
// batcher's back (as SQLite does on some errors): that request fails, and
// the others of its batch run again and persist.
func TestBatchLostTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestDB(t, pgtest.SQLite)
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.tx(ctx, func(tx *txn) error {
				if err := revokeTwice(ctx, tx, db.now(), fmt.Sprint("l", i)); err != nil {
					return err
				}
				if i == 17 {
					_, err := tx.ExecContext(ctx, `ROLLBACK`)
					return err
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 17) {
			t.Errorf("%d: %v", i, err)
		}
	}
	var count int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM revoked_tokens WHERE jti NOT LIKE 'l17-%'`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 2*(n-1) {
		t.Fatalf("%d tokens revoked, want %d", count, 2*(n-1))
	}
}

// TestBatchClose checks that Close runs what is queued, does not hang, and
// that later transactions fail with EUNAVAILABLE.
func TestBatchClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestDB(t, pgtest.SQLite)
	// Hold the writer so that the others queue behind it.
	release, running := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := db.tx(ctx, func(tx *txn) error {
			close(running)
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-running
	const n = 20
	for i := range n {
		wg.Go(func() {
			if err := db.tx(ctx, func(tx *txn) error { return revokeTwice(ctx, tx, db.now(), fmt.Sprint("c", i)) }); err != nil {
				t.Errorf("%d: %v", i, err)
			}
		})
	}
	for len(db.batch.queue) < n {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error)
	go func() { closed <- db.Close() }()
	time.Sleep(10 * time.Millisecond) // let Close refuse new requests
	close(release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs")
	}
	wg.Wait()
	err := db.tx(ctx, func(tx *txn) error { return nil })
	if warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
		t.Fatalf("after Close: %v, want EUNAVAILABLE", err)
	}
}

// BenchmarkRotateRefresh measures refresh-token rotations, one client.
// Run: go test ./internal/store -run '^$' -bench RotateRefresh -benchtime 3s
func BenchmarkRotateRefresh(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) { benchmarkRotateRefresh(b, engine, false) })
	}
}

// BenchmarkRotateRefreshParallel is the same with 8 clients per core, each
// rotating its own session's tokens.
func BenchmarkRotateRefreshParallel(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) { benchmarkRotateRefresh(b, engine, true) })
	}
}

func benchmarkRotateRefresh(b *testing.B, engine string, parallel bool) {
	ctx := context.Background()
	db := openTestDB(b, engine)
	var seq atomic.Int64
	// client creates a session and returns a function rotating its
	// current refresh token.
	client := func() (func() error, error) {
		sid := fmt.Sprint("s", seq.Add(1))
		exp := time.Now().Add(24 * time.Hour)
		cur := fmt.Sprint("r", seq.Add(1))
		if err := db.CreateSession(ctx, warehouse.Session{ID: sid, Username: "bench", ExpiresAt: exp},
			warehouse.RefreshToken{JTI: cur, Username: "bench", ExpiresAt: exp}, "token-"+cur); err != nil {
			return nil, err
		}
		return func() error {
			next := fmt.Sprint("r", seq.Add(1))
			_, err := db.RotateRefresh(ctx, warehouse.RefreshRequest{OldJTI: cur, OldToken: "token-" + cur,
				Next: warehouse.RefreshToken{JTI: next, Username: "bench", ExpiresAt: exp}, NextToken: "token-" + next,
				Sealed: []byte("sealed-" + next), Grace: 10 * time.Second, Inactivity: time.Hour})
			cur = next
			return err
		}, nil
	}
	b.ReportAllocs()
	if !parallel {
		rotate, err := client()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := rotate(); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rotate, err := client()
			if err != nil {
				b.Error(err)
				return
			}
			for pb.Next() {
				if err := rotate(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
}

// TestTxPanicRollsBack checks, on both engines, that a panic in a write
// transaction comes back as an error, that its writes are rolled back, and
// that nothing it locked stays locked: more panics than the pool has
// connections, then the same rows written again. On PostgreSQL the panic
// used to escape db.tx with the transaction still open on its connection.
func TestTxPanicRollsBack(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		// call runs db.tx and reports a panic that escaped it as an error
		// of its own, so that the test fails instead of crashing.
		call := func(fn func(*txn) error) (escaped any, err error) {
			defer func() { escaped = recover() }()
			return nil, db.tx(ctx, fn)
		}
		const n = 12 // more than PostgreSQL's pool (10 connections)
		for i := range n {
			escaped, err := call(func(tx *txn) error {
				if err := revokeTwice(ctx, tx, db.now(), "panic"); err != nil {
					return err
				}
				panic(fmt.Sprint("kaboom ", i))
			})
			if escaped != nil {
				t.Fatalf("%d: the panic escaped db.tx: %v", i, escaped)
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprint("kaboom ", i)) {
				t.Fatalf("%d: err %v, want the panic", i, err)
			}
		}
		var count int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM revoked_tokens WHERE jti LIKE 'panic-%'`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != 0 {
			t.Fatalf("%d rows of panicked transactions persisted, want 0", count)
		}
		// A leaked transaction would hold the rows' unique keys: bound the
		// wait so that the test fails rather than hangs.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := db.tx(wctx, func(tx *txn) error { return revokeTwice(wctx, tx, db.now(), "panic") }); err != nil {
			t.Fatalf("the same rows after the panics: %v", err)
		}
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM revoked_tokens WHERE jti LIKE 'panic-%'`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != 2 {
			t.Fatalf("%d rows, want 2", count)
		}
	})
}
