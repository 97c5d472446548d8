package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

func receive(tb testing.TB, db *DB, sku string, to int64, n int64) {
	tb.Helper()
	_, err := db.PostMovement(context.Background(), warehouse.NewMovement{Type: warehouse.MoveReceipt,
		Lines: []warehouse.MovementLine{{SKU: sku, ToLocationID: &to, Qty: qty(n)}}}, "test", nil)
	if err != nil {
		tb.Fatal(err)
	}
}

func confirmedOrder(tb testing.TB, db *DB, number, sku string, n int64) *warehouse.Order {
	tb.Helper()
	ctx := context.Background()
	if _, err := db.CreateOrder(ctx, warehouse.NewOrder{Number: number, Customer: "ACME", Lines: []warehouse.NewOrderLine{{SKU: sku, Qty: *qty(n)}}}, "mgr"); err != nil {
		tb.Fatal(err)
	}
	o, err := db.ConfirmOrder(ctx, number, "mgr")
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

func balanceOf(tb testing.TB, db *DB, item, loc int64) (onHand, reserved warehouse.Qty) {
	tb.Helper()
	err := db.read.QueryRowContext(context.Background(), `SELECT on_hand, reserved FROM stock_balances WHERE item_id = ? AND location_id = ? AND lot = ''`, item, loc).Scan(&onHand, &reserved)
	if err != nil {
		tb.Fatal(err)
	}
	return onHand, reserved
}

func mustCheck(tb testing.TB, db *DB) {
	tb.Helper()
	r, err := db.Check(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if !r.OK() {
		tb.Fatalf("check findings: %v", r.Findings)
	}
}

func countRows(tb testing.TB, db *DB, q string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.read.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestOrderLifecycle(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, b := seedStock(t, db)
		receive(t, db, it.SKU, a.ID, 10)
		receive(t, db, it.SKU, b.ID, 5)

		o := confirmedOrder(t, db, "SO-1", it.SKU, 12)
		if o.State != warehouse.OrderConfirmed {
			t.Fatalf("state %s", o.State)
		}
		if _, err := db.UpdateOrderLines(ctx, "SO-1", warehouse.AnyVersion, []warehouse.NewOrderLine{{SKU: it.SKU, Qty: *qty(1)}}, "mgr"); warehouse.ErrorCode(err) != warehouse.EORDERSTATE {
			t.Fatalf("edit of a confirmed order: %v", err)
		}
		o, err := db.AllocateOrder(ctx, "SO-1", 0, "mgr")
		if err != nil {
			t.Fatal(err)
		}
		// FIFO: A was received first.
		if o.State != warehouse.OrderAllocated || len(o.Reservations) != 2 || o.Reservations[0].LocationID != a.ID || o.Reservations[0].Qty != *qty(10) || o.Reservations[1].Qty != *qty(2) {
			t.Fatalf("allocated %s %+v", o.State, o.Reservations)
		}
		if _, r := balanceOf(t, db, it.ID, a.ID); r != *qty(10) {
			t.Fatalf("reserved at A %s", r)
		}

		// Reserved stock cannot be issued by anyone but its pick.
		_, err = db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveIssue, Lines: []warehouse.MovementLine{{ItemID: it.ID, FromLocationID: &a.ID, Qty: qty(1)}}}, "clerk", nil)
		var se *warehouse.StockError
		if !errors.As(err, &se) || len(se.Shortages[0].ReservedBy) != 1 || se.Shortages[0].ReservedBy[0] != "SO-1" || se.Shortages[0].Reserved != *qty(10) {
			t.Fatalf("issue of reserved stock: %v", err)
		}

		// Pick A by scanning, twice with the same key: one movement.
		movements := countRows(t, db, `SELECT count(*) FROM movements`)
		idem := &warehouse.Idempotency{User: "clerk", Key: "pick-1", Hash: []byte("h1")}
		p, err := db.ConfirmPick(ctx, "SO-1", warehouse.PickRequest{LocationCode: a.Code, ItemCode: it.SKU}, "clerk", idem)
		if err != nil {
			t.Fatal(err)
		}
		if p.Qty != *qty(10) || p.MovementID == nil {
			t.Fatalf("pick %+v", p)
		}
		_, err = db.ConfirmPick(ctx, "SO-1", warehouse.PickRequest{LocationCode: a.Code, ItemCode: it.SKU}, "clerk", idem)
		var replay *warehouse.IdempotentReplay
		if !errors.As(err, &replay) || replay.MovementID != *p.MovementID {
			t.Fatalf("second pick with the same key: %v", err)
		}
		if n := countRows(t, db, `SELECT count(*) FROM movements`); n != movements+1 {
			t.Fatalf("%d movements posted, want 1", n-movements)
		}
		if on, r := balanceOf(t, db, it.ID, a.ID); on != 0 || r != 0 {
			t.Fatalf("A after pick: on hand %s reserved %s", on, r)
		}
		if o, _ := db.Order(ctx, "SO-1"); o.State != warehouse.OrderPicking {
			t.Fatalf("state after pick %s", o.State)
		}

		// Short pick at B: 1 found of 2; the rest released, order back
		// to partially allocated, B not allocated again.
		p, err = db.ConfirmPick(ctx, "SO-1", warehouse.PickRequest{ReservationID: o.Reservations[1].ID, Qty: qty(1), Short: true}, "clerk", &warehouse.Idempotency{User: "clerk", Key: "pick-2", Hash: []byte("h2")})
		if err != nil {
			t.Fatal(err)
		}
		if p.Qty != *qty(1) || p.Short != *qty(1) {
			t.Fatalf("short pick %+v", p)
		}
		o, _ = db.Order(ctx, "SO-1")
		if o.State != warehouse.OrderPartiallyAllocated || o.Lines[0].Picked != *qty(11) || o.Lines[0].Short != *qty(1) || o.Lines[0].Reserved != 0 {
			t.Fatalf("after short pick: %s %+v", o.State, o.Lines[0])
		}
		if on, r := balanceOf(t, db, it.ID, b.ID); on != *qty(4) || r != 0 {
			t.Fatalf("B after short pick: on hand %s reserved %s", on, r)
		}
		o, err = db.AllocateOrder(ctx, "SO-1", 0, "mgr")
		if err != nil || o.State != warehouse.OrderPartiallyAllocated || len(o.Reservations) != 2 {
			t.Fatalf("re-allocation after short pick: %v %s %d", err, o.State, len(o.Reservations))
		}

		o, err = db.ShipOrder(ctx, "SO-1", "clerk")
		if err != nil || o.State != warehouse.OrderShipped {
			t.Fatalf("ship: %v", err)
		}
		if _, err := db.CancelOrder(ctx, "SO-1", "mgr"); warehouse.ErrorCode(err) != warehouse.EORDERSTATE {
			t.Fatalf("cancel of a shipped order: %v", err)
		}
		events := countRows(t, db, `SELECT count(*) FROM events WHERE subject = 'order/SO-1' AND kind = ?`, warehouse.EventOrderChanged)
		// draft, confirmed, allocated, picking, partially_allocated, shipped
		if events != 6 {
			t.Fatalf("%d order events", events)
		}
		mustCheck(t, db)
	})
}

func TestOrderStagingAndFEFO(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it := &warehouse.Item{SKU: "MILK", Name: "Milk", UOM: "l", Active: true, LotTracked: true}
		if err := db.CreateItem(ctx, it, "test"); err != nil {
			t.Fatal(err)
		}
		bin := &warehouse.Location{Code: "BIN", Name: "Bin"}
		dock := &warehouse.Location{Code: "DOCK", Name: "Dock"}
		for _, l := range []*warehouse.Location{bin, dock} {
			if err := db.CreateLocation(ctx, l, "test"); err != nil {
				t.Fatal(err)
			}
		}
		for _, lot := range []string{"L-LATE", "L-SOON", "L-NONE"} {
			_, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{SKU: it.SKU, Lot: lot, ToLocationID: &bin.ID, Qty: qty(3)}}}, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		for lot, exp := range map[string]string{"L-LATE": "2099-06-01", "L-SOON": "2099-01-01"} {
			if _, err := db.write.ExecContext(ctx, db.write.bind(`INSERT INTO lots (item_id, lot, expires_on, created_at, created_by, updated_at, updated_by) VALUES (?, ?, ?, 0, 't', 0, 't')`), it.ID, lot, exp); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.CreateOrder(ctx, warehouse.NewOrder{Number: "SO-2", StagingLocationID: &dock.ID, Lines: []warehouse.NewOrderLine{{SKU: it.SKU, Qty: *qty(5)}}}, "mgr"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ConfirmOrder(ctx, "SO-2", "mgr"); err != nil {
			t.Fatal(err)
		}
		o, err := db.AllocateOrder(ctx, "SO-2", 0, "mgr")
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Reservations) != 2 || o.Reservations[0].Lot != "L-SOON" || o.Reservations[1].Lot != "L-LATE" || o.Reservations[1].Qty != *qty(2) {
			t.Fatalf("FEFO reservations %+v", o.Reservations)
		}
		for i, r := range o.Reservations {
			if _, err := db.ConfirmPick(ctx, "SO-2", warehouse.PickRequest{ReservationID: r.ID}, "clerk", &warehouse.Idempotency{User: "clerk", Key: fmt.Sprint("k", i), Hash: []byte("h")}); err != nil {
				t.Fatal(err)
			}
		}
		var staged int64
		if err := db.read.QueryRowContext(ctx, `SELECT sum(on_hand) FROM stock_balances WHERE location_id = ?`, dock.ID).Scan(&staged); err != nil || warehouse.Qty(staged) != *qty(5) {
			t.Fatalf("staged %d %v", staged, err)
		}
		// Staged stock is on its way out: another order is not given it.
		confirmedOrder(t, db, "SO-3", it.SKU, 6)
		o3, err := db.AllocateOrder(ctx, "SO-3", 0, "mgr")
		if err != nil || o3.State != warehouse.OrderPartiallyAllocated || o3.Lines[0].Reserved != *qty(4) {
			t.Fatalf("SO-3: %v %+v", err, o3)
		}
		for _, r := range o3.Reservations {
			if r.LocationID == dock.ID {
				t.Fatalf("staged stock allocated: %+v", r)
			}
		}
		if _, err := db.ShipOrder(ctx, "SO-2", "clerk"); err != nil {
			t.Fatal(err)
		}
		if err := db.read.QueryRowContext(ctx, `SELECT sum(on_hand) FROM stock_balances WHERE location_id = ?`, dock.ID).Scan(&staged); err != nil || staged != 0 {
			t.Fatalf("staged after ship %d %v", staged, err)
		}
		mustCheck(t, db)
	})
}

func TestCancelReleasesExactlyWhatWasReserved(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, b := seedStock(t, db)
		receive(t, db, it.SKU, a.ID, 4)
		receive(t, db, it.SKU, b.ID, 4)
		confirmedOrder(t, db, "SO-KEEP", it.SKU, 3)
		if _, err := db.AllocateOrder(ctx, "SO-KEEP", 0, "mgr"); err != nil {
			t.Fatal(err)
		}
		confirmedOrder(t, db, "SO-GO", it.SKU, 4)
		o, err := db.AllocateOrder(ctx, "SO-GO", 0, "mgr")
		if err != nil || len(o.Reservations) != 2 {
			t.Fatalf("allocate: %v %+v", err, o)
		}
		if _, err := db.ConfirmPick(ctx, "SO-GO", warehouse.PickRequest{ReservationID: o.Reservations[0].ID, Qty: qty(1)}, "clerk", &warehouse.Idempotency{User: "c", Key: "k", Hash: []byte("h")}); err != nil {
			t.Fatal(err)
		}
		_, ra := balanceOf(t, db, it.ID, a.ID)
		_, rb := balanceOf(t, db, it.ID, b.ID)
		if ra+rb != *qty(6) {
			t.Fatalf("reserved %s + %s", ra, rb)
		}
		o, err = db.CancelOrder(ctx, "SO-GO", "mgr")
		if err != nil || o.State != warehouse.OrderCancelled {
			t.Fatalf("cancel: %v", err)
		}
		_, ra = balanceOf(t, db, it.ID, a.ID)
		_, rb = balanceOf(t, db, it.ID, b.ID)
		if ra+rb != *qty(3) {
			t.Fatalf("after cancel reserved %s + %s, want SO-KEEP's 3", ra, rb)
		}
		for _, r := range o.Reservations {
			if r.State == warehouse.ReservationOpen || r.OpenQty() != 0 {
				t.Fatalf("reservation outlived its order: %+v", r)
			}
		}
		mustCheck(t, db)
	})
}

func TestOrderExpiry(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, _ := seedStock(t, db)
		receive(t, db, it.SKU, a.ID, 4)
		exp := time.Now().Add(time.Hour)
		if _, err := db.CreateOrder(ctx, warehouse.NewOrder{Number: "SO-HOLD", ExpiresAt: &exp, Lines: []warehouse.NewOrderLine{{SKU: it.SKU, Qty: *qty(2)}}}, "mgr"); err != nil {
			t.Fatal(err)
		}
		db.ConfirmOrder(ctx, "SO-HOLD", "mgr")
		if _, err := db.AllocateOrder(ctx, "SO-HOLD", 0, "mgr"); err != nil {
			t.Fatal(err)
		}
		if n, err := db.ExpireOrders(ctx, "system"); err != nil || n != 0 {
			t.Fatalf("expired early: %d %v", n, err)
		}
		db.now = func() time.Time { return exp.Add(time.Second) }
		if n, err := db.ExpireOrders(ctx, "system"); err != nil || n != 1 {
			t.Fatalf("expire: %d %v", n, err)
		}
		if _, r := balanceOf(t, db, it.ID, a.ID); r != 0 {
			t.Fatalf("reserved after expiry %s", r)
		}
		mustCheck(t, db)
	})
}

// TestConcurrentAllocationNeverOverAllocates: 32 clients allocate their
// orders from the same two balances at once; the reservations never add
// up to more than is on hand, and reserved is what they hold.
func TestConcurrentAllocationNeverOverAllocates(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, b := seedStock(t, db)
		receive(t, db, it.SKU, a.ID, 20)
		receive(t, db, it.SKU, b.ID, 17)
		const clients = 32
		for i := range clients {
			confirmedOrder(t, db, fmt.Sprint("SO-C", i), it.SKU, 3)
		}
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := db.AllocateOrder(ctx, fmt.Sprint("SO-C", i), 0, "mgr"); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var held int64
		if err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(qty - picked - short - released), 0) FROM reservations WHERE state = 'open'`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		onA, ra := balanceOf(t, db, it.ID, a.ID)
		onB, rb := balanceOf(t, db, it.ID, b.ID)
		if warehouse.Qty(held) != ra+rb || ra > onA || rb > onB || warehouse.Qty(held) != *qty(37) {
			t.Fatalf("held %s, reserved %s/%s of %s/%s", warehouse.Qty(held), ra, rb, onA, onB)
		}
		full := countRows(t, db, `SELECT count(*) FROM orders WHERE state = 'allocated'`)
		part := countRows(t, db, `SELECT count(*) FROM orders WHERE state = 'partially_allocated'`)
		if full != 12 || part != 1 {
			t.Fatalf("%d allocated, %d partially", full, part)
		}
		mustCheck(t, db)
	})
}

// TestPickTwiceConcurrently: two clients confirm the same pick with the
// same key at once; one movement is posted.
func TestPickTwiceConcurrently(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := openTestDB(t, engine)
		it, a, _ := seedStock(t, db)
		receive(t, db, it.SKU, a.ID, 5)
		confirmedOrder(t, db, "SO-P", it.SKU, 2)
		if _, err := db.AllocateOrder(ctx, "SO-P", 0, "mgr"); err != nil {
			t.Fatal(err)
		}
		before := countRows(t, db, `SELECT count(*) FROM movements`)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var picked, replayed int
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.ConfirmPick(ctx, "SO-P", warehouse.PickRequest{LocationCode: a.Code, ItemCode: it.SKU, Qty: qty(1)}, "clerk", &warehouse.Idempotency{User: "clerk", Key: "same", Hash: []byte("h")})
				var replay *warehouse.IdempotentReplay
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					picked++
				case errors.As(err, &replay):
					replayed++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if picked != 1 || replayed != 1 {
			t.Fatalf("picked %d replayed %d", picked, replayed)
		}
		if n := countRows(t, db, `SELECT count(*) FROM movements`); n != before+1 {
			t.Fatalf("%d movements", n-before)
		}
		mustCheck(t, db)
	})
}
