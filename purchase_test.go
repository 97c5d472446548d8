package warehouse

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func testOrder(status string, pct int) *PurchaseOrder {
	return &PurchaseOrder{Number: "PO-1", Status: status, TolerancePct: pct, Lines: []PurchaseLine{
		{LineNo: 1, ItemID: 10, SKU: "WID", Expected: 10 * QtyScale},
		{LineNo: 2, ItemID: 11, SKU: "MILK", Lot: "L1", ExpiresOn: "2030-01-31", Expected: 5 * QtyScale, Received: 2 * QtyScale},
	}}
}

func TestPlanReceipt(t *testing.T) {
	t.Parallel()
	u := func(n int64) Qty { return Qty(n * QtyScale) }
	for _, tc := range []struct {
		name    string
		status  string
		pct     int
		r       NewReceipt
		code    string // "" if planned
		msg     string
		state   string
		line1   Qty
		lotExp  string
		lineLot string
	}{
		{name: "partial", status: PurchaseConfirmed, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 1, Qty: u(4), LocationID: 1}}},
			state: PurchasePartiallyReceived, line1: u(4)},
		{name: "in full, split over locations", status: PurchasePartiallyReceived, r: NewReceipt{Lines: []ReceiptLine{
			{LineNo: 1, Qty: u(6), LocationID: 1}, {LineNo: 1, Qty: u(4), LocationID: 2}, {LineNo: 2, Qty: u(3), LocationID: 1}}},
			state: PurchaseReceived, line1: u(10)},
		{name: "lot and expiry from the order line", status: PurchaseConfirmed, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 2, Qty: u(1), LocationID: 1}}},
			state: PurchasePartiallyReceived, lotExp: "2030-01-31", lineLot: "L1"},
		{name: "another lot has no expiry of the line's", status: PurchaseConfirmed, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 2, Qty: u(1), LocationID: 1, Lot: "L2"}}},
			state: PurchasePartiallyReceived, lotExp: "", lineLot: "L2"},
		{name: "draft", status: PurchaseDraft, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 1, Qty: u(1), LocationID: 1}}}, code: ECONFLICT, msg: "is draft"},
		{name: "received", status: PurchaseReceived, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 1, Qty: u(1), LocationID: 1}}}, code: ECONFLICT},
		{name: "cancelled", status: PurchaseCancelled, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 1, Qty: u(1), LocationID: 1}}}, code: ECONFLICT},
		{name: "no lines", status: PurchaseConfirmed, r: NewReceipt{}, code: EINVALID},
		{name: "unknown line", status: PurchaseConfirmed, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 3, Qty: u(1), LocationID: 1}}}, code: EINVALID, msg: "no line 3"},
		{name: "zero qty", status: PurchaseConfirmed, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 1, LocationID: 1}}}, code: EINVALID},
		{name: "no location", status: PurchaseConfirmed, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 1, Qty: u(1)}}}, code: EINVALID},
		{name: "bad expiry", status: PurchaseConfirmed, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 2, Qty: u(1), LocationID: 1, ExpiresOn: "2030-13-01"}}}, code: EINVALID},
		{name: "over with no tolerance", status: PurchaseConfirmed, r: NewReceipt{Reason: "extra", Lines: []ReceiptLine{{LineNo: 1, Qty: u(11), LocationID: 1}}},
			code: EOVERRECEIPT, msg: "line 1 (WID)"},
		{name: "over within tolerance, no reason", status: PurchaseConfirmed, pct: 10, r: NewReceipt{Lines: []ReceiptLine{{LineNo: 1, Qty: u(11), LocationID: 1}}},
			code: EINVALID, msg: "give a reason"},
		{name: "over within tolerance, with a reason", status: PurchaseConfirmed, pct: 10, r: NewReceipt{Reason: "extra", Lines: []ReceiptLine{{LineNo: 1, Qty: u(11), LocationID: 1}}},
			state: PurchasePartiallyReceived, line1: u(11)},
		{name: "over beyond tolerance, split", status: PurchaseConfirmed, pct: 10, r: NewReceipt{Reason: "extra", Lines: []ReceiptLine{
			{LineNo: 1, Qty: u(6), LocationID: 1}, {LineNo: 1, Qty: u(6), LocationID: 2}}}, code: EOVERRECEIPT},
		{name: "over on an already received part", status: PurchasePartiallyReceived, pct: 20, r: NewReceipt{Reason: "extra", Lines: []ReceiptLine{{LineNo: 2, Qty: u(5), LocationID: 1}}},
			code: EOVERRECEIPT, msg: "line 2 (MILK): 7 received would exceed the expected 5 by 2; the order allows 20% (1) over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			po := testOrder(tc.status, tc.pct)
			p, err := po.PlanReceipt(tc.r)
			if tc.code != "" {
				if ErrorCode(err) != tc.code || !strings.Contains(ErrorMessage(err), tc.msg) {
					t.Fatalf("got %v, want %s %q", err, tc.code, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != tc.state {
				t.Errorf("status %s, want %s", p.Status, tc.state)
			}
			if tc.line1 != 0 && p.Received[1] != tc.line1 {
				t.Errorf("line 1 received %s, want %s", p.Received[1], tc.line1)
			}
			if tc.lineLot != "" && (p.Lines[0].Lot != tc.lineLot || p.Lines[0].ExpiresOn != tc.lotExp) {
				t.Errorf("lot %q expires %q", p.Lines[0].Lot, p.Lines[0].ExpiresOn)
			}
		})
	}
}

func TestPurchaseStatesAndOpenQty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status            string
		confirm, cancelOK bool
	}{
		{PurchaseDraft, true, true},
		{PurchaseConfirmed, false, true},
		{PurchasePartiallyReceived, false, true},
		{PurchaseReceived, false, false},
		{PurchaseCancelled, false, false},
	} {
		po := testOrder(tc.status, 0)
		if err := po.CanConfirm(); (err == nil) != tc.confirm {
			t.Errorf("%s: confirm %v", tc.status, err)
		}
		if err := po.CanCancel("supplier gone"); (err == nil) != tc.cancelOK {
			t.Errorf("%s: cancel %v", tc.status, err)
		}
		if err := po.CanCancel(""); ErrorCode(err) != EINVALID {
			t.Errorf("%s: cancel without a reason: %v", tc.status, err)
		}
	}
	for _, tc := range []struct{ expected, received, open Qty }{{10, 0, 10}, {10, 4, 6}, {10, 10, 0}, {10, 11, 0}} {
		if got := (PurchaseLine{Expected: tc.expected, Received: tc.received}).OpenQty(); got != tc.open {
			t.Errorf("open of %d/%d = %d", tc.received, tc.expected, got)
		}
	}
	for _, tc := range []struct {
		expected Qty
		pct      int
		want     Qty
	}{{10000, 0, 0}, {10000, 10, 1000}, {3, 50, 1}, {2500, 5, 125}} {
		if got := OverReceiptAllowance(tc.expected, tc.pct); got != tc.want {
			t.Errorf("allowance of %d at %d%% = %d, want %d", tc.expected, tc.pct, got, tc.want)
		}
	}
}

func TestNewPurchaseOrderValidate(t *testing.T) {
	t.Parallel()
	ok := func() NewPurchaseOrder {
		return NewPurchaseOrder{Number: "PO-1", Supplier: "S", Lines: []NewPurchaseLine{{SKU: "WID", Expected: 1}}}
	}
	pct := func(n int) *int { return &n }
	for _, tc := range []struct {
		name  string
		edit  func(*NewPurchaseOrder)
		field string
	}{
		{"valid", func(*NewPurchaseOrder) {}, ""},
		{"number", func(n *NewPurchaseOrder) { n.Number = "PO 1" }, "number"},
		{"supplier", func(n *NewPurchaseOrder) { n.Supplier = "" }, "supplier"},
		{"tolerance", func(n *NewPurchaseOrder) { n.TolerancePct = pct(101) }, "over_receipt_tolerance_pct"},
		{"no lines", func(n *NewPurchaseOrder) { n.Lines = nil }, "lines"},
		{"no item", func(n *NewPurchaseOrder) { n.Lines[0].SKU = "" }, "lines[0].sku"},
		{"qty", func(n *NewPurchaseOrder) { n.Lines[0].Expected = 0 }, "lines[0].expected_qty"},
		{"expiry without lot", func(n *NewPurchaseOrder) { n.Lines[0].ExpiresOn = "2030-01-01" }, "lines[0].expires_on"},
		{"bad expiry", func(n *NewPurchaseOrder) { n.Lines[0].Lot, n.Lines[0].ExpiresOn = "L", "01/01/2030" }, "lines[0].expires_on"},
	} {
		n := ok()
		tc.edit(&n)
		err := n.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != tc.field {
			t.Errorf("%s: %v, want field %s", tc.name, err, tc.field)
		}
	}
}

func TestDaysUntil(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 12, 2, 23, 59, 0, 0, time.UTC)
	for d, want := range map[string]int{"2026-12-02": 0, "2026-12-01": -1, "2026-12-12": 10, "2027-12-02": 365} {
		if got := DaysUntil(today, d); got != want {
			t.Errorf("DaysUntil(%s) = %d, want %d", d, got, want)
		}
	}
	if !ExpiresBefore("2026-12-01", "2026-12-02") || ExpiresBefore("", "2026-12-02") || ExpiresBefore("2026-12-02", "2026-12-02") {
		t.Error("ExpiresBefore")
	}
}
