package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestLowStockCountsAvailable: stock reserved for orders is not stock to
// sell, so an item whose on_hand is above its reorder point but whose
// available is below it is low.
func TestLowStockCountsAvailable(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, _ := seedStock(t, db)
		rp := *qty(5)
		if _, err := db.UpdateItem(ctx, it.ID, warehouse.AnyVersion, warehouse.ItemPatch{ReorderPoint: &[]*warehouse.Qty{&rp}[0]}, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{ItemID: it.ID, ToLocationID: &a.ID, Qty: qty(8)}}}, "u", nil); err != nil {
			t.Fatal(err)
		}
		low, _, err := db.ListLowStock(ctx, 0, warehouse.Page{})
		if err != nil || len(low) != 0 {
			t.Fatalf("8 on hand, none reserved: low %v, %v", low, err)
		}
		// Reservations are the orders' (not built here): set one directly.
		if _, err := db.write.ExecContext(ctx, `UPDATE stock_balances SET reserved = 4000 WHERE item_id = ?`, it.ID); err != nil {
			t.Fatal(err)
		}
		low, _, err = db.ListLowStock(ctx, 0, warehouse.Page{})
		if err != nil || len(low) != 1 || low[0].Available != *qty(4) || low[0].Shortfall != *qty(1) {
			t.Fatalf("8 on hand, 4 reserved: low %+v, %v", low, err)
		}
		low, _, err = db.ListLowStock(ctx, a.ID, warehouse.Page{})
		if err != nil || len(low) != 1 {
			t.Fatalf("under the bin: %+v, %v", low, err)
		}
		got, err := db.Item(ctx, it.ID)
		if err != nil || got.OnHand != *qty(8) || got.Available != *qty(4) {
			t.Fatalf("item totals %+v, %v", got, err)
		}
	})
}

// TestReceiptEventsAndConcurrency: each receipt writes its events in its
// own transaction, and concurrent receipts against one order never receive
// past the tolerance (the order's row lock serializes them).
func TestReceiptEventsAndConcurrency(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, _ := seedStock(t, db)
		po, err := db.CreatePurchaseOrder(ctx, warehouse.NewPurchaseOrder{Number: "PO-9", Supplier: "S", TolerancePct: new(int),
			Lines: []warehouse.NewPurchaseLine{{ItemID: it.ID, Expected: *qty(10)}}}, "m")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ConfirmPurchaseOrder(ctx, po.Number, warehouse.AnyVersion, "m"); err != nil {
			t.Fatal(err)
		}
		// 16 clients each receive 1: exactly 10 succeed.
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				idem := &warehouse.Idempotency{User: "c", Key: "k" + string(rune('a'+i)), Hash: []byte{byte(i)}}
				_, _, err := db.ReceivePurchaseOrder(ctx, po.Number, warehouse.NewReceipt{Lines: []warehouse.ReceiptLine{{LineNo: 1, Qty: *qty(1), LocationID: a.ID}}}, "c", idem)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case warehouse.ErrorCode(err) == warehouse.EOVERRECEIPT || warehouse.ErrorCode(err) == warehouse.ECONFLICT:
					refused++
				default:
					t.Errorf("receipt: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 10 || refused != 6 {
			t.Fatalf("%d received, %d refused", ok, refused)
		}
		got, err := db.PurchaseOrder(ctx, po.Number)
		if err != nil || got.Status != warehouse.PurchaseReceived || got.Lines[0].Received != *qty(10) || len(got.Receipts) != 10 {
			t.Fatalf("order after: %+v, %v", got, err)
		}
		var received, changed int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE kind = ? AND subject = ?`, warehouse.EventPurchaseReceived, "purchase_order/PO-9").Scan(&received); err != nil {
			t.Fatal(err)
		}
		// draft, confirmed, partially_received, received
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE kind = ? AND subject = ?`, warehouse.EventPurchaseChanged, "purchase_order/PO-9").Scan(&changed); err != nil {
			t.Fatal(err)
		}
		if received != 10 || changed != 4 {
			t.Fatalf("events: %d received, %d state changes", received, changed)
		}
		// A failed receipt leaves nothing behind: no movement, no event.
		_, _, err = db.ReceivePurchaseOrder(ctx, po.Number, warehouse.NewReceipt{Lines: []warehouse.ReceiptLine{{LineNo: 1, Qty: *qty(1), LocationID: a.ID}}}, "c", nil)
		var de *warehouse.Error
		if !errors.As(err, &de) {
			t.Fatalf("receipt on a received order: %v", err)
		}
	})
}

// BenchmarkReceivePurchaseOrder measures a receipt against a purchase
// order (the order locked and read with its lines and receipts, the
// receipt movement with its idempotency record, the line's received
// quantity, the receipt row and its event, in one transaction), to compare
// with BenchmarkPostMovement's bare movements. An order takes 20 receipts
// (reading an order reads its receipts), then the next one is used.
// Run: go test ./internal/store -run '^$' -bench ReceivePurchaseOrder -benchtime 3s
func BenchmarkReceivePurchaseOrder(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			db := openTestDB(b, engine)
			it, a, _ := seedStock(b, db)
			order := func(i int) string {
				po, err := db.CreatePurchaseOrder(ctx, warehouse.NewPurchaseOrder{Number: fmt.Sprintf("PO-%d", i), Supplier: "S",
					Lines: []warehouse.NewPurchaseLine{{ItemID: it.ID, Expected: warehouse.MaxQty}}}, "m")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.ConfirmPurchaseOrder(ctx, po.Number, warehouse.AnyVersion, "m"); err != nil {
					b.Fatal(err)
				}
				return po.Number
			}
			r := warehouse.NewReceipt{Lines: []warehouse.ReceiptLine{{LineNo: 1, Qty: *qty(1), LocationID: a.ID}}}
			n, number := 0, order(0)
			b.ReportAllocs()
			for b.Loop() {
				n++
				if n%20 == 0 {
					b.StopTimer()
					number = order(n)
					b.StartTimer()
				}
				idem := &warehouse.Idempotency{User: "c", Key: fmt.Sprintf("k%d", n), Hash: []byte{1}}
				if _, _, err := db.ReceivePurchaseOrder(ctx, number, r, "c", idem); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
		})
	}
}
