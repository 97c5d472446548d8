package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// openTestDB opens a new database on engine (pgtest.SQLite or
// pgtest.Postgres).
func openTestDB(tb testing.TB, engine string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), pgtest.URL(tb, engine), "", Options{Logger: logcheck.New(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// seedStock creates one item and two bin locations under a warehouse.
func seedStock(tb testing.TB, db *DB) (*warehouse.Item, *warehouse.Location, *warehouse.Location) {
	tb.Helper()
	ctx := context.Background()
	it := &warehouse.Item{SKU: "WID-RED", Name: "Red widget", UOM: "ea", Active: true}
	if err := db.CreateItem(ctx, it, "test"); err != nil {
		tb.Fatal(err)
	}
	wh := &warehouse.Location{Code: "WH1", Name: "Main", Structural: true}
	if err := db.CreateLocation(ctx, wh, "test"); err != nil {
		tb.Fatal(err)
	}
	a := &warehouse.Location{Code: "A-01", Name: "Bin A1", ParentID: &wh.ID}
	b := &warehouse.Location{Code: "B-01", Name: "Bin B1", ParentID: &wh.ID}
	for _, l := range []*warehouse.Location{a, b} {
		if err := db.CreateLocation(ctx, l, "test"); err != nil {
			tb.Fatal(err)
		}
	}
	return it, a, b
}

func qty(n int64) *warehouse.Qty { q := warehouse.Qty(n * warehouse.QtyScale); return &q }

func TestMovementLedgerAndBalance(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, b := seedStock(t, db)

		m, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{SKU: it.SKU, ToLocationID: &a.ID, Qty: qty(10)}}}, "u", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Lines[0].Entries[0].QtyAfter; got != *qty(10) {
			t.Fatalf("qty_after = %v", got)
		}
		_, err = db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveTransfer, Lines: []warehouse.MovementLine{{ItemID: it.ID, FromLocationID: &a.ID, ToLocationID: &b.ID, Qty: qty(4)}}}, "u", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveIssue, Lines: []warehouse.MovementLine{{ItemID: it.ID, FromLocationID: &a.ID, Qty: qty(7)}}}, "u", nil)
		var se *warehouse.StockError
		if !errors.As(err, &se) || se.Shortages[0].Available != *qty(6) || warehouse.ErrorCode(err) != warehouse.EINSUFFICIENT {
			t.Fatalf("want shortage with 6 available, got %v", err)
		}
		// The ledger cannot be rewritten, even by hand.
		if _, err := db.write.ExecContext(ctx, `UPDATE ledger_entries SET qty_delta = 0`); err == nil {
			t.Fatal("ledger UPDATE was allowed")
		}
		if _, err := db.write.ExecContext(ctx, `DELETE FROM ledger_entries`); err == nil {
			t.Fatal("ledger DELETE was allowed")
		}
		// The CHECK refuses negative stock even if the code were wrong.
		if _, err := db.write.ExecContext(ctx, `UPDATE stock_balances SET on_hand = -1`); err == nil {
			t.Fatal("negative on_hand was allowed")
		}
		checkLedgerMatchesBalances(t, db)
	})
}

// checkLedgerMatchesBalances asserts that every balance equals the sum of
// its ledger entries and that none is negative.
func checkLedgerMatchesBalances(t *testing.T, db *DB) {
	t.Helper()
	var bad int
	err := db.read.QueryRowContext(context.Background(), `SELECT count(*) FROM stock_balances b WHERE b.on_hand < 0 OR b.on_hand <> (SELECT coalesce(sum(e.qty_delta), 0) FROM ledger_entries e
		WHERE e.item_id = b.item_id AND e.location_id = b.location_id AND e.lot = b.lot)`).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d balances disagree with the ledger", bad)
	}
}

func TestConcurrentIssuesNeverGoNegative(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, _ := seedStock(t, db)
		if _, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{ItemID: it.ID, ToLocationID: &a.ID, Qty: qty(50)}}}, "u", nil); err != nil {
			t.Fatal(err)
		}
		const workers, each = 40, 3 // 120 issues of 1 against 50 in stock
		var ok, short atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range each {
					_, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveIssue, Reference: fmt.Sprint(w),
						Lines: []warehouse.MovementLine{{ItemID: it.ID, FromLocationID: &a.ID, Qty: qty(1)}}}, "u", nil)
					switch warehouse.ErrorCode(err) {
					case "":
						ok.Add(1)
					case warehouse.EINSUFFICIENT:
						short.Add(1)
					default:
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if ok.Load() != 50 || short.Load() != workers*each-50 {
			t.Fatalf("ok=%d short=%d, want 50 and %d", ok.Load(), short.Load(), workers*each-50)
		}
		checkLedgerMatchesBalances(t, db)
	})
}

func TestReverseAndCount(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, _ := seedStock(t, db)
		rec, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{ItemID: it.ID, ToLocationID: &a.ID, Qty: qty(5)}}}, "u", nil)
		if err != nil {
			t.Fatal(err)
		}
		// A count with a stale expectation is refused.
		_, err = db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveCount, Lines: []warehouse.MovementLine{{ItemID: it.ID, LocationID: &a.ID, CountedQty: qty(3), ExpectedQty: qty(4)}}}, "u", nil)
		if warehouse.ErrorCode(err) != warehouse.ECOUNTOUTDATED {
			t.Fatalf("want count_outdated, got %v", err)
		}
		cnt, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveCount, Lines: []warehouse.MovementLine{{ItemID: it.ID, LocationID: &a.ID, CountedQty: qty(3), ExpectedQty: qty(5)}}}, "u", nil)
		if err != nil {
			t.Fatal(err)
		}
		if e := cnt.Lines[0].Entries[0]; e.QtyDelta != -*qty(2) || e.QtyAfter != *qty(3) {
			t.Fatalf("count entry %+v", e)
		}
		// Reversing the receipt of 5 would leave -2: refused.
		if _, err := db.ReverseMovement(ctx, rec.ID, "", "u", nil); warehouse.ErrorCode(err) != warehouse.EINSUFFICIENT {
			t.Fatalf("want insufficient_stock, got %v", err)
		}
		rc, err := db.ReverseMovement(ctx, cnt.ID, "oops", "u", nil)
		if err != nil {
			t.Fatal(err)
		}
		if rc.Lines[0].Entries[0].QtyAfter != *qty(5) || *rc.ReversalOf != cnt.ID {
			t.Fatalf("reversal %+v", rc)
		}
		if _, err := db.ReverseMovement(ctx, cnt.ID, "", "u", nil); warehouse.ErrorCode(err) != warehouse.ECONFLICT {
			t.Fatalf("second reversal: %v", err)
		}
		got, err := db.Movement(ctx, cnt.ID)
		if err != nil || got.ReversedBy == nil || *got.ReversedBy != rc.ID {
			t.Fatalf("reversed_by: %+v %v", got, err)
		}
		checkLedgerMatchesBalances(t, db)
	})
}

// BenchmarkPostMovement measures a receipt plus an issue (two movements,
// two transactions) through the store, on a file-backed SQLite database and
// on PostgreSQL (the test cluster: local, fsync off).
// Run: go test ./internal/store -run '^$' -bench PostMovement -benchtime 3s
func BenchmarkPostMovement(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) { benchmarkPostMovement(b, engine) })
	}
}

func benchmarkPostMovement(b *testing.B, engine string) {
	ctx := context.Background()
	db := openTestDB(b, engine)
	it, a, _ := seedStock(b, db)
	rec := warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{ItemID: it.ID, ToLocationID: &a.ID, Qty: qty(2)}}}
	iss := warehouse.NewMovement{Type: warehouse.MoveIssue, Lines: []warehouse.MovementLine{{ItemID: it.ID, FromLocationID: &a.ID, Qty: qty(1)}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.PostMovement(ctx, rec, "bench", nil); err != nil {
			b.Fatal(err)
		}
		if _, err := db.PostMovement(ctx, iss, "bench", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "movements/s")
}

// BenchmarkPostMovementParallel is the same with concurrent writers (they
// queue on the one write connection).
func BenchmarkPostMovementParallel(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) { benchmarkPostMovementParallel(b, engine) })
	}
}

func benchmarkPostMovementParallel(b *testing.B, engine string) {
	ctx := context.Background()
	db := openTestDB(b, engine)
	it, a, _ := seedStock(b, db)
	rec := warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{ItemID: it.ID, ToLocationID: &a.ID, Qty: qty(2)}}}
	iss := warehouse.NewMovement{Type: warehouse.MoveIssue, Lines: []warehouse.MovementLine{{ItemID: it.ID, FromLocationID: &a.ID, Qty: qty(1)}}}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer() // not the database's creation
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.PostMovement(ctx, rec, "bench", nil); err != nil {
				b.Error(err)
				return
			}
			if _, err := db.PostMovement(ctx, iss, "bench", nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "movements/s")
}
