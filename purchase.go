package warehouse

import (
	"fmt"
	"slices"
	"time"
)

// Purchase order states. An order is drafted, confirmed (open for
// receiving), partially received, then received in full or cancelled
// (closed short) by a manager with a reason.
const (
	PurchaseDraft             = "draft"
	PurchaseConfirmed         = "confirmed"
	PurchasePartiallyReceived = "partially_received"
	PurchaseReceived          = "received"
	PurchaseCancelled         = "cancelled"
)

// PurchaseStates lists every state, in the order an order goes through them.
var PurchaseStates = []string{PurchaseDraft, PurchaseConfirmed, PurchasePartiallyReceived, PurchaseReceived, PurchaseCancelled}

// EOVERRECEIPT is a receipt that takes a line beyond its expected quantity
// plus the order's tolerance: refused whole, naming the line.
const EOVERRECEIPT = "over_receipt"

// Bounds of a purchase order.
const (
	MaxPurchaseLines   = 500
	MaxOverReceiptPct  = 100
	maxPurchaseTextLen = 1000
	maxSupplierLen     = 200
)

// PurchaseOrder is an inbound order: what a supplier is expected to
// deliver, and how much of it has been received.
type PurchaseOrder struct {
	ID       int64  `json:"id"`
	Number   string `json:"number" doc:"The order's business key (1-64 of [A-Za-z0-9._-])"`
	Supplier string `json:"supplier" doc:"The supplier's reference (name or account)"`
	Note     string `json:"note"`
	Status   string `json:"status" enum:"draft,confirmed,partially_received,received,cancelled"`
	// TolerancePct is how far (percent of a line's expected quantity) a
	// line may be over-received, with a reason.
	TolerancePct int               `json:"over_receipt_tolerance_pct" doc:"Percent of a line's expected quantity it may be over-received by, with a reason; beyond it a receipt is refused"`
	CloseReason  string            `json:"close_reason,omitempty" doc:"Why the order was cancelled (closed short)"`
	Lines        []PurchaseLine    `json:"lines"`
	Receipts     []PurchaseReceipt `json:"receipts"`
	CreatedAt    time.Time         `json:"created_at"`
	CreatedBy    string            `json:"created_by"`
	UpdatedAt    time.Time         `json:"updated_at"`
	UpdatedBy    string            `json:"updated_by"`
	Version      int64             `json:"version"`
}

// PurchaseLine is one expected line of a purchase order.
type PurchaseLine struct {
	LineNo    int64  `json:"line_no"`
	ItemID    int64  `json:"item_id"`
	SKU       string `json:"sku"`
	Lot       string `json:"lot,omitempty" doc:"The lot expected, if known (lot-tracked items)"`
	ExpiresOn string `json:"expires_on,omitempty" doc:"ISO date the expected lot expires on"`
	Expected  Qty    `json:"expected_qty"`
	Received  Qty    `json:"received_qty"`
	Open      Qty    `json:"open_qty" doc:"expected_qty - received_qty, never below 0"`
}

// PurchaseReceipt is one receipt posted against an order.
type PurchaseReceipt struct {
	MovementID int64     `json:"movement_id"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
	Reason     string    `json:"reason,omitempty" doc:"Why a line was over-received"`
}

// OpenQty is what is still expected of the line.
func (l PurchaseLine) OpenQty() Qty { return max(l.Expected-l.Received, 0) }

// NewPurchaseOrder is what a client creates: lines name items by ID or SKU.
type NewPurchaseOrder struct {
	Number       string
	Supplier     string
	Note         string
	TolerancePct *int // nil: the server's default
	Lines        []NewPurchaseLine
}

// NewPurchaseLine is one expected line.
type NewPurchaseLine struct {
	ItemID    int64
	SKU       string
	Lot       string
	ExpiresOn string
	Expected  Qty
}

// Validate checks the order's own fields; items are checked by the store
// (Item.CheckPurchaseLine) once resolved.
func (n NewPurchaseOrder) Validate() error {
	if err := ValidateCode("number", n.Number); err != nil {
		return err
	}
	if n.Supplier == "" || len(n.Supplier) > maxSupplierLen {
		return invalidField("supplier", fmt.Sprintf("must be 1-%d characters", maxSupplierLen))
	}
	if len(n.Note) > maxPurchaseTextLen {
		return invalidField("note", fmt.Sprintf("must be at most %d characters", maxPurchaseTextLen))
	}
	if n.TolerancePct != nil && (*n.TolerancePct < 0 || *n.TolerancePct > MaxOverReceiptPct) {
		return invalidField("over_receipt_tolerance_pct", fmt.Sprintf("must be 0-%d", MaxOverReceiptPct))
	}
	if len(n.Lines) == 0 || len(n.Lines) > MaxPurchaseLines {
		return invalidField("lines", fmt.Sprintf("must have 1-%d lines", MaxPurchaseLines))
	}
	for i, l := range n.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		if l.ItemID == 0 && l.SKU == "" {
			return invalidField(f+".sku", "give item_id or sku")
		}
		if l.Expected <= 0 {
			return invalidField(f+".expected_qty", "must be > 0")
		}
		if l.ExpiresOn != "" {
			if l.Lot == "" {
				return invalidField(f+".expires_on", "needs a lot")
			}
			if _, err := ParseDate(l.ExpiresOn); err != nil {
				return invalidField(f+".expires_on", "must be a date of the form YYYY-MM-DD")
			}
		}
	}
	return nil
}

// CheckPurchaseLine checks line i of an order against its item: active,
// the quantity's precision, a lot only for lot-tracked items.
func (it *Item) CheckPurchaseLine(i int, l NewPurchaseLine) error {
	f := fmt.Sprintf("lines[%d]", i)
	if !it.Active {
		return invalidField(f+".sku", "item "+it.SKU+" is archived")
	}
	if l.Lot != "" && !it.LotTracked {
		return invalidField(f+".lot", "item "+it.SKU+" is not lot-tracked")
	}
	return CheckPrecision(f+".expected_qty", l.Expected, it.QtyPrecision, it.SKU)
}

// CanConfirm: only a draft is confirmed.
func (po *PurchaseOrder) CanConfirm() error {
	if po.Status != PurchaseDraft {
		return Errorf(ECONFLICT, "purchase order %s is %s; only a draft can be confirmed", po.Number, po.Status)
	}
	return nil
}

// CanCancel: an order not yet closed is cancelled (closed short) with a
// reason; what was received stays received.
func (po *PurchaseOrder) CanCancel(reason string) error {
	if reason == "" || len(reason) > maxPurchaseTextLen {
		return invalidField("reason", fmt.Sprintf("must be 1-%d characters: say why the order is closed short", maxPurchaseTextLen))
	}
	if po.Status == PurchaseReceived || po.Status == PurchaseCancelled {
		return Errorf(ECONFLICT, "purchase order %s is already %s", po.Number, po.Status)
	}
	return nil
}

// ReceiptLine is one line of a receipt against an order.
type ReceiptLine struct {
	// LineNo is the order's line received.
	LineNo     int64
	Qty        Qty
	LocationID int64
	// Lot and ExpiresOn default to the order line's.
	Lot       string
	ExpiresOn string
}

// NewReceipt is a receipt against an order.
type NewReceipt struct {
	// Reason is required when a line is over-received (within tolerance).
	Reason string
	Note   string
	Lines  []ReceiptLine
}

// PlannedReceipt is a receipt checked against its order: the movement's
// lines and each order line's received quantity after it.
type PlannedReceipt struct {
	Lines    []ReceiptLine // with the order line's lot and expiry filled in
	ItemIDs  []int64       // the item of each line
	Received map[int64]Qty // order line -> received after this receipt
	// Status is the order's state after the receipt.
	Status string
}

// PlanReceipt checks r against po and returns what it changes. It enforces
// the state (only confirmed or partially received orders are received),
// the lines (known, qty > 0), and the over-receipt rule: a line may go
// beyond its expected quantity by at most TolerancePct percent, and only
// with a reason.
func (po *PurchaseOrder) PlanReceipt(r NewReceipt) (*PlannedReceipt, error) {
	if po.Status != PurchaseConfirmed && po.Status != PurchasePartiallyReceived {
		return nil, Errorf(ECONFLICT, "purchase order %s is %s; only a confirmed order is received", po.Number, po.Status)
	}
	if len(r.Lines) == 0 || len(r.Lines) > MaxMovementLines {
		return nil, invalidField("lines", fmt.Sprintf("must have 1-%d lines", MaxMovementLines))
	}
	if len(r.Reason) > maxPurchaseTextLen {
		return nil, invalidField("reason", fmt.Sprintf("must be at most %d characters", maxPurchaseTextLen))
	}
	if len(r.Note) > maxPurchaseTextLen {
		return nil, invalidField("note", fmt.Sprintf("must be at most %d characters", maxPurchaseTextLen))
	}
	byNo := map[int64]PurchaseLine{}
	for _, l := range po.Lines {
		byNo[l.LineNo] = l
	}
	p := &PlannedReceipt{Received: map[int64]Qty{}}
	for i, rl := range r.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		ol, ok := byNo[rl.LineNo]
		if !ok {
			return nil, invalidField(f+".line", fmt.Sprintf("purchase order %s has no line %d", po.Number, rl.LineNo))
		}
		if rl.Qty <= 0 {
			return nil, invalidField(f+".qty", "must be > 0")
		}
		if rl.LocationID <= 0 {
			return nil, invalidField(f+".location_id", "required")
		}
		if rl.Lot == "" {
			rl.Lot = ol.Lot
		}
		if rl.ExpiresOn == "" && rl.Lot == ol.Lot {
			rl.ExpiresOn = ol.ExpiresOn
		}
		if rl.ExpiresOn != "" {
			if rl.Lot == "" {
				return nil, invalidField(f+".expires_on", "needs a lot")
			}
			if _, err := ParseDate(rl.ExpiresOn); err != nil {
				return nil, invalidField(f+".expires_on", "must be a date of the form YYYY-MM-DD")
			}
		}
		got, seen := p.Received[rl.LineNo]
		if !seen {
			got = ol.Received
		}
		p.Received[rl.LineNo] = got + rl.Qty
		p.Lines = append(p.Lines, rl)
		p.ItemIDs = append(p.ItemIDs, ol.ItemID)
	}
	// Over-receipt is judged on each order line's total after the receipt,
	// so splitting a line over locations changes nothing.
	nos := make([]int64, 0, len(p.Received))
	for no := range p.Received {
		nos = append(nos, no)
	}
	slices.Sort(nos)
	for _, no := range nos {
		ol := byNo[no]
		if err := po.checkOverReceipt(ol, p.Received[no], r.Reason); err != nil {
			return nil, err
		}
	}
	p.Status = PurchaseReceived
	for _, l := range po.Lines {
		got, ok := p.Received[l.LineNo]
		if !ok {
			got = l.Received
		}
		if got < l.Expected {
			p.Status = PurchasePartiallyReceived
		}
	}
	return p, nil
}

// OverReceiptAllowance is how much a line of expected may be over-received
// by at pct percent, rounded down to the unit of storage.
func OverReceiptAllowance(expected Qty, pct int) Qty {
	return expected * Qty(pct) / 100
}

func (po *PurchaseOrder) checkOverReceipt(ol PurchaseLine, after Qty, reason string) error {
	over := after - ol.Expected
	if over <= 0 {
		return nil
	}
	allowed := OverReceiptAllowance(ol.Expected, po.TolerancePct)
	if over > allowed {
		return Errorf(EOVERRECEIPT, "line %d (%s): %s received would exceed the expected %s by %s; the order allows %d%% (%s) over",
			ol.LineNo, ol.SKU, after, ol.Expected, over, po.TolerancePct, allowed)
	}
	if reason == "" {
		return &Error{Code: EINVALID,
			Message: fmt.Sprintf("line %d (%s) is over-received by %s (within the %d%% tolerance): give a reason", ol.LineNo, ol.SKU, over, po.TolerancePct),
			Fields:  []FieldError{{Field: "reason", Message: "required when a line is over-received"}}}
	}
	return nil
}

// PurchaseFilter selects purchase orders.
type PurchaseFilter struct {
	Status   string
	Supplier string
}
