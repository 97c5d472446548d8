package warehouse

import "time"

// Order states: draft -> confirmed -> partially_allocated | allocated ->
// picking -> shipped, and cancelled from any state before shipped.
const (
	OrderDraft              = "draft"
	OrderConfirmed          = "confirmed"
	OrderPartiallyAllocated = "partially_allocated"
	OrderAllocated          = "allocated"
	OrderPicking            = "picking"
	OrderShipped            = "shipped"
	OrderCancelled          = "cancelled"
)

// OrderStates lists every order state, in lifecycle order.
var OrderStates = []string{OrderDraft, OrderConfirmed, OrderPartiallyAllocated, OrderAllocated, OrderPicking, OrderShipped, OrderCancelled}

// Reservation states: open while some of it is still to pick; picked when
// all of it was picked; released when the rest was given back (cancel,
// release, expiry, short pick).
const (
	ReservationOpen     = "open"
	ReservationPicked   = "picked"
	ReservationReleased = "released"
)

// EORDERSTATE is an action the order's state does not allow (allocating a
// shipped order, editing a confirmed one).
const EORDERSTATE = "order_state"

// MaxOrderLines bounds one order.
const MaxOrderLines = 500

// Order is an outbound (sales or transfer) order: what must leave the
// warehouse, for whom, and how far it got.
type Order struct {
	ID     int64  `json:"id"`
	Number string `json:"number" doc:"The order's number, unique (e.g. SO-1001)"`
	// Customer is the customer or destination reference.
	Customer string `json:"customer" doc:"Customer or destination reference"`
	Note     string `json:"note"`
	State    string `json:"state" enum:"draft,confirmed,partially_allocated,allocated,picking,shipped,cancelled"`
	// StagingLocationID, when set, is where picks go (a transfer); the
	// ship then issues from there. Without it a pick is the issue.
	StagingLocationID *int64 `json:"staging_location_id" nullable:"true" doc:"Packing/staging location picks transfer to; null: a pick issues the stock"`
	// ExpiresAt ends the hold: an order not shipped by then is cancelled
	// and its reservations released.
	ExpiresAt    *time.Time    `json:"expires_at" nullable:"true" doc:"Hold expiry: the order is cancelled and its reservations released when it passes"`
	Lines        []OrderLine   `json:"lines"`
	Reservations []Reservation `json:"reservations,omitempty"`
	Picks        []Pick        `json:"picks,omitempty"`
	CreatedBy    string        `json:"created_by"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedBy    string        `json:"updated_by"`
	UpdatedAt    time.Time     `json:"updated_at"`
	Version      int64         `json:"version"`
}

// OrderLine is one item and quantity of an order, with how much of it is
// reserved, picked and found short.
type OrderLine struct {
	ID     int64  `json:"id"`
	LineNo int    `json:"line_no"`
	ItemID int64  `json:"item_id"`
	SKU    string `json:"sku"`
	Qty    Qty    `json:"qty"`
	// Reserved is what open reservations hold for the line now.
	Reserved Qty `json:"reserved"`
	Picked   Qty `json:"picked"`
	Short    Qty `json:"short" doc:"Found missing by short picks"`
}

// Open is what the line still needs: neither reserved nor picked.
func (l OrderLine) Open() Qty { return max(0, l.Qty-l.Reserved-l.Picked) }

// Reservation holds stock of one balance for one order line. Qty is what
// was reserved; Picked, Short and Released say where it went; the rest is
// still held (OpenQty), and stock_balances.reserved is the sum of that.
type Reservation struct {
	ID           int64     `json:"id"`
	OrderID      int64     `json:"order_id"`
	OrderNumber  string    `json:"order_number"`
	LineID       int64     `json:"line_id"`
	ItemID       int64     `json:"item_id"`
	SKU          string    `json:"sku"`
	LocationID   int64     `json:"location_id"`
	LocationCode string    `json:"location_code"`
	LocationPath string    `json:"location_path"`
	Lot          string    `json:"lot"`
	Qty          Qty       `json:"qty"`
	Picked       Qty       `json:"picked"`
	Short        Qty       `json:"short"`
	Released     Qty       `json:"released"`
	State        string    `json:"state" enum:"open,picked,released"`
	CreatedAt    time.Time `json:"created_at"`
}

// OpenQty is what the reservation still holds.
func (r Reservation) OpenQty() Qty { return r.Qty - r.Picked - r.Short - r.Released }

// Pick is one confirmed pick: found stock taken from a reservation's
// location (the movement), and what was found missing.
type Pick struct {
	ID            int64     `json:"id"`
	OrderID       int64     `json:"order_id"`
	ReservationID int64     `json:"reservation_id"`
	LineID        int64     `json:"line_id"`
	ItemID        int64     `json:"item_id"`
	SKU           string    `json:"sku"`
	LocationID    int64     `json:"location_id"`
	LocationCode  string    `json:"location_code"`
	Lot           string    `json:"lot"`
	Qty           Qty       `json:"qty" doc:"Picked"`
	Short         Qty       `json:"short" doc:"Found missing; released from the reservation"`
	MovementID    *int64    `json:"movement_id" nullable:"true" doc:"The ledger movement of the pick; null when nothing was found"`
	PickedBy      string    `json:"picked_by"`
	PickedAt      time.Time `json:"picked_at"`
}

// NewOrder is what a client creates.
type NewOrder struct {
	Number            string
	Customer          string
	Note              string
	StagingLocationID *int64
	ExpiresAt         *time.Time
	Lines             []NewOrderLine
}

// NewOrderLine names an item by ID or SKU.
type NewOrderLine struct {
	ItemID int64
	SKU    string
	Qty    Qty
}

// OrderFilter selects orders.
type OrderFilter struct {
	State    string
	Customer string
	ItemID   int64
}

// ReservationFilter selects reservations.
type ReservationFilter struct {
	ItemID      int64
	LocationID  int64
	OrderNumber string
	// State "" is every state.
	State string
}

// PickRequest confirms one pick line: by reservation id, or by the codes
// scanned (location code, then item barcode or SKU). Qty nil picks all the
// reservation still holds; Short records the rest as missing and
// releases it.
type PickRequest struct {
	ReservationID int64
	LocationCode  string
	ItemCode      string
	Lot           string
	Qty           *Qty
	Short         bool
	Picker        string
}

// PickListLine is one stop of a pick list.
type PickListLine struct {
	Seq           int    `json:"seq" doc:"Walking order, from 1"`
	Picker        string `json:"picker" doc:"Who walks this stop; empty when no pickers were named"`
	ReservationID int64  `json:"reservation_id"`
	LineID        int64  `json:"line_id"`
	ItemID        int64  `json:"item_id"`
	SKU           string `json:"sku"`
	LocationID    int64  `json:"location_id"`
	LocationCode  string `json:"location_code"`
	LocationPath  string `json:"location_path"`
	Lot           string `json:"lot"`
	Qty           Qty    `json:"qty" doc:"Still to pick"`
}
