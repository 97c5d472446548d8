package warehouse_test

import (
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
)

func q(n int64) warehouse.Qty { return warehouse.Qty(n * warehouse.QtyScale) }

func TestPlanAllocation(t *testing.T) {
	t.Parallel()
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	cs := []warehouse.Candidate{
		{LocationID: 1, LocationPath: "WH/A-01", Lot: "L3", ExpiresOn: "", OnHand: q(10), Received: day(1)},
		{LocationID: 2, LocationPath: "WH/A-02", Lot: "L2", ExpiresOn: "2026-03-01", OnHand: q(5), Reserved: q(1), Received: day(3)},
		{LocationID: 3, LocationPath: "WH/B-01", Lot: "L1", ExpiresOn: "2026-02-01", OnHand: q(2), Received: day(5)},
		{LocationID: 4, LocationPath: "WH/B-02", Lot: "L0", ExpiresOn: "2025-12-31", OnHand: q(9), Received: day(2)},
		{LocationID: 5, LocationPath: "WH/C-01", Lot: "L4", ExpiresOn: "2026-02-01", OnHand: q(3), Reserved: q(3), Received: day(1)},
	}
	type alloc struct {
		loc int64
		qty warehouse.Qty
	}
	tests := []struct {
		name       string
		need       warehouse.Qty
		lotTracked bool
		want       []alloc
		short      warehouse.Qty
	}{
		{"FEFO first expiring, expired and fully reserved skipped", q(5), true, []alloc{{3, q(2)}, {2, q(3)}}, 0},
		{"FEFO lots without expiry last", q(10), true, []alloc{{3, q(2)}, {2, q(4)}, {1, q(4)}}, 0},
		{"FEFO short when not enough", q(20), true, []alloc{{3, q(2)}, {2, q(4)}, {1, q(10)}}, q(4)},
		{"FIFO oldest receipt first", q(12), false, []alloc{{1, q(10)}, {4, q(2)}}, 0},
		{"FIFO never more than available", q(30), false, []alloc{{1, q(10)}, {4, q(9)}, {2, q(4)}, {3, q(2)}}, q(5)},
		{"nothing needed", 0, false, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan, short := warehouse.PlanAllocation(tc.need, tc.lotTracked, "2026-01-10", cs)
			var got []alloc
			for _, p := range plan {
				got = append(got, alloc{p.LocationID, p.Qty})
				if p.Qty > p.Available() {
					t.Errorf("allocated %s from %d with %s available", p.Qty, p.LocationID, p.Available())
				}
			}
			if len(got) != len(tc.want) || short != tc.short {
				t.Fatalf("plan %v short %s, want %v short %s", got, short, tc.want, tc.short)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("plan %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestOrderStateMachine(t *testing.T) {
	t.Parallel()
	allowed := map[string][]string{
		warehouse.ActUpdate:   {warehouse.OrderDraft},
		warehouse.ActConfirm:  {warehouse.OrderDraft},
		warehouse.ActAllocate: {warehouse.OrderConfirmed, warehouse.OrderPartiallyAllocated, warehouse.OrderAllocated, warehouse.OrderPicking},
		warehouse.ActRelease:  {warehouse.OrderPartiallyAllocated, warehouse.OrderAllocated, warehouse.OrderPicking},
		warehouse.ActPick:     {warehouse.OrderPartiallyAllocated, warehouse.OrderAllocated, warehouse.OrderPicking},
		warehouse.ActShip:     {warehouse.OrderPartiallyAllocated, warehouse.OrderAllocated, warehouse.OrderPicking},
		warehouse.ActCancel:   {warehouse.OrderDraft, warehouse.OrderConfirmed, warehouse.OrderPartiallyAllocated, warehouse.OrderAllocated, warehouse.OrderPicking},
	}
	for act, states := range allowed {
		for _, st := range warehouse.OrderStates {
			o := &warehouse.Order{Number: "SO-1", State: st}
			err := o.CanDo(act)
			want := false
			for _, s := range states {
				want = want || s == st
			}
			if (err == nil) != want {
				t.Errorf("%s in %s: err %v, want allowed=%v", act, st, err, want)
			}
			if err != nil && warehouse.ErrorCode(err) != warehouse.EORDERSTATE {
				t.Errorf("%s in %s: code %s", act, st, warehouse.ErrorCode(err))
			}
		}
	}
}

func TestAllocationStateAndShip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state   string
		lines   []warehouse.OrderLine
		want    string
		canShip bool
	}{
		{warehouse.OrderConfirmed, []warehouse.OrderLine{{Qty: q(5)}}, warehouse.OrderConfirmed, false},
		{warehouse.OrderConfirmed, []warehouse.OrderLine{{Qty: q(5), Reserved: q(2)}}, warehouse.OrderPartiallyAllocated, false},
		{warehouse.OrderConfirmed, []warehouse.OrderLine{{Qty: q(5), Reserved: q(5)}, {Qty: q(1), Reserved: q(1)}}, warehouse.OrderAllocated, false},
		{warehouse.OrderPicking, []warehouse.OrderLine{{Qty: q(5), Reserved: q(2), Picked: q(3)}}, warehouse.OrderPicking, false},
		{warehouse.OrderPicking, []warehouse.OrderLine{{Qty: q(5), Picked: q(3), Short: q(2)}}, warehouse.OrderPartiallyAllocated, true},
		{warehouse.OrderPicking, []warehouse.OrderLine{{Qty: q(5), Picked: q(5)}}, warehouse.OrderPicking, true},
	}
	for i, tc := range tests {
		o := &warehouse.Order{Number: "SO-1", State: tc.state, Lines: tc.lines}
		if got := o.AllocationState(); got != tc.want {
			t.Errorf("%d: AllocationState = %s, want %s", i, got, tc.want)
		}
		o.State = tc.want
		if err := o.CanShip(); (err == nil) != tc.canShip {
			t.Errorf("%d: CanShip = %v, want ok=%v", i, err, tc.canShip)
		}
	}
}

func TestPlanPickList(t *testing.T) {
	t.Parallel()
	rs := []warehouse.Reservation{
		{ID: 1, SKU: "B", LocationPath: "Z2/B-01", Qty: q(1), State: warehouse.ReservationOpen},
		{ID: 2, SKU: "A", LocationPath: "Z1/A-02", Qty: q(2), State: warehouse.ReservationOpen},
		{ID: 3, SKU: "A", LocationPath: "Z1/A-01", Qty: q(3), Picked: q(1), State: warehouse.ReservationOpen},
		{ID: 4, SKU: "C", LocationPath: "Z1/A-00", Qty: q(3), Picked: q(3), State: warehouse.ReservationPicked},
		{ID: 5, SKU: "C", LocationPath: "Z3/C-01", Qty: q(3), State: warehouse.ReservationOpen},
	}
	all := warehouse.PlanPickList(rs, []string{"ann", "bob"})
	var ids []int64
	var pickers []string
	for _, l := range all {
		ids = append(ids, l.ReservationID)
		pickers = append(pickers, l.Picker)
	}
	if len(ids) != 4 || ids[0] != 3 || ids[1] != 2 || ids[2] != 1 || ids[3] != 5 || all[0].Qty != q(2) {
		t.Fatalf("walking order %v (%v)", ids, all)
	}
	if pickers[0] != "ann" || pickers[1] != "ann" || pickers[2] != "bob" || pickers[3] != "ann" {
		t.Fatalf("pickers %v", pickers)
	}
	bob := warehouse.PickListFor(all, "bob")
	if len(bob) != 1 || bob[0].Seq != 1 || bob[0].ReservationID != 1 {
		t.Fatalf("bob's list %v", bob)
	}
}

func TestPlanPick(t *testing.T) {
	t.Parallel()
	r := warehouse.Reservation{ID: 1, Qty: q(5), Picked: q(1), State: warehouse.ReservationOpen}
	ptr := func(v warehouse.Qty) *warehouse.Qty { return &v }
	tests := []struct {
		qty            *warehouse.Qty
		short          bool
		picked, short2 warehouse.Qty
		code           string
	}{
		{nil, false, q(4), 0, ""},
		{ptr(q(2)), false, q(2), 0, ""},
		{ptr(q(2)), true, q(2), q(2), ""},
		{ptr(0), true, 0, q(4), ""},
		{ptr(0), false, 0, 0, warehouse.EINVALID},
		{ptr(q(5)), false, 0, 0, warehouse.EINVALID},
	}
	for i, tc := range tests {
		p, s, err := warehouse.PlanPick(r, tc.qty, tc.short)
		if warehouse.ErrorCode(err) != tc.code || p != tc.picked || s != tc.short2 {
			t.Errorf("%d: picked %s short %s err %v", i, p, s, err)
		}
	}
	done := warehouse.Reservation{ID: 2, Qty: q(1), Picked: q(1), State: warehouse.ReservationPicked}
	if _, _, err := warehouse.PlanPick(done, nil, false); warehouse.ErrorCode(err) != warehouse.ECONFLICT {
		t.Errorf("pick of a picked reservation: %v", err)
	}
}
