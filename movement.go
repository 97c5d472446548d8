package warehouse

import (
	"fmt"
	"strings"
	"time"
)

// Movement types.
const (
	MoveReceipt    = "receipt"
	MoveIssue      = "issue"
	MoveTransfer   = "transfer"
	MoveAdjustment = "adjustment"
	MoveCount      = "count"
)

// MovementTypes lists the types a client may post.
var MovementTypes = []string{MoveReceipt, MoveIssue, MoveTransfer, MoveAdjustment, MoveCount}

// AdjustmentReasons are the reasons an adjustment may give.
var AdjustmentReasons = []string{"damaged", "lost", "found", "correction", "other"}

// MaxMovementLines bounds one movement.
const MaxMovementLines = 500

// Error codes of stock rules, more precise than ECONFLICT so clients can
// react (recount, reduce the quantity).
const (
	EINSUFFICIENT  = "insufficient_stock"
	ECOUNTOUTDATED = "count_outdated"
)

// Movement is an immutable record of stock moving; its ledger entries are
// the truth from which balances follow.
type Movement struct {
	ID         int64          `json:"id"`
	Type       string         `json:"type"`
	Reference  string         `json:"reference"`
	Note       string         `json:"note"`
	Reason     *string        `json:"reason" nullable:"true"`
	ReversalOf *int64         `json:"reversal_of"`
	ReversedBy *int64         `json:"reversed_by"`
	CreatedBy  string         `json:"created_by"`
	CreatedAt  time.Time      `json:"created_at"`
	Lines      []MovementLine `json:"lines"`
}

// MovementLine is one line of a movement. Which location and quantity
// fields are set depends on the movement type.
type MovementLine struct {
	LineNo         int64   `json:"line_no"`
	ItemID         int64   `json:"item_id"`
	SKU            string  `json:"sku"`
	Lot            string  `json:"lot"`
	FromLocationID *int64  `json:"from_location_id,omitempty"`
	ToLocationID   *int64  `json:"to_location_id,omitempty"`
	LocationID     *int64  `json:"location_id,omitempty"`
	Qty            *Qty    `json:"qty,omitempty"`
	QtyDelta       *Qty    `json:"qty_delta,omitempty"`
	CountedQty     *Qty    `json:"counted_qty,omitempty"`
	ExpectedQty    *Qty    `json:"expected_qty,omitempty"`
	Entries        []Entry `json:"entries"`
}

// Entry is one ledger entry as shown inside a movement line.
type Entry struct {
	ID         int64 `json:"id"`
	LocationID int64 `json:"location_id"`
	QtyDelta   Qty   `json:"qty_delta"`
	QtyAfter   Qty   `json:"qty_after"`
}

// LedgerEntry is one append-only row of the stock ledger.
type LedgerEntry struct {
	ID           int64     `json:"id"`
	MovementID   int64     `json:"movement_id"`
	LineNo       int64     `json:"line_no"`
	Type         string    `json:"type"`
	ItemID       int64     `json:"item_id"`
	SKU          string    `json:"sku"`
	LocationID   int64     `json:"location_id"`
	LocationCode string    `json:"location_code"`
	Lot          string    `json:"lot"`
	QtyDelta     Qty       `json:"qty_delta"`
	QtyAfter     Qty       `json:"qty_after"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
}

// Balance is the stock of one item at one location and lot.
type Balance struct {
	ItemID         int64      `json:"item_id"`
	SKU            string     `json:"sku"`
	LocationID     int64      `json:"location_id"`
	LocationCode   string     `json:"location_code"`
	LocationPath   string     `json:"location_path"`
	Lot            string     `json:"lot"`
	OnHand         Qty        `json:"on_hand"`
	Reserved       Qty        `json:"reserved"`
	Available      Qty        `json:"available"`
	LastMovementAt *time.Time `json:"last_movement_at" nullable:"true"`
	LastCountedAt  *time.Time `json:"last_counted_at" nullable:"true"`
	// ExpiresOn is the lot's expiry date, when it has one.
	ExpiresOn string `json:"expires_on,omitempty" doc:"The lot's expiry date (YYYY-MM-DD), when it has one"`
}

// NewMovement is what a client posts. Lines name items by ID or SKU.
type NewMovement struct {
	Type      string
	Reference string
	Note      string
	Reason    string
	Lines     []MovementLine
}

// Shortage is one (item, location, lot) that a movement would take below
// zero available.
type Shortage struct {
	SKU          string `json:"sku"`
	LocationCode string `json:"location_code"`
	Lot          string `json:"lot"`
	Requested    Qty    `json:"requested"`
	Available    Qty    `json:"available"`
	// Reserved is what reservations hold at the balance, and ReservedBy
	// the orders they belong to: stock that is there but promised.
	Reserved   Qty      `json:"reserved,omitempty" doc:"What reservations hold at this balance"`
	ReservedBy []string `json:"reserved_by,omitempty" doc:"The orders (numbers) whose reservations hold it"`
}

// StockError is the refusal of a movement for lack of stock. It carries
// every shortage found; its code is EINSUFFICIENT.
type StockError struct{ Shortages []Shortage }

func (e *StockError) Error() string {
	s := e.Shortages[0]
	where := s.LocationCode
	if s.Lot != "" {
		where += " lot " + s.Lot
	}
	msg := fmt.Sprintf("%s at %s: requested %s, available %s", s.SKU, where, s.Requested, s.Available)
	if len(s.ReservedBy) > 0 {
		msg += fmt.Sprintf(" (%s reserved by order %s)", s.Reserved, strings.Join(s.ReservedBy, ", "))
	}
	return msg
}

// Unwrap exposes the domain code and message.
func (e *StockError) Unwrap() error { return &Error{Code: EINSUFFICIENT, Message: e.Error()} }

// CountOutdatedError is a count whose expected quantity no longer matches
// the balance: someone moved stock since the counter looked.
type CountOutdatedError struct {
	SKU, LocationCode, Lot string
	Expected, OnHand       Qty
}

func (e *CountOutdatedError) Error() string {
	return fmt.Sprintf("count outdated: %s at %s: expected %s but on hand is now %s; recount or resubmit without expected_qty",
		e.SKU, e.LocationCode, e.Expected, e.OnHand)
}

// Unwrap exposes the domain code and message.
func (e *CountOutdatedError) Unwrap() error { return &Error{Code: ECOUNTOUTDATED, Message: e.Error()} }

// StaleError is an If-Match that names an older version than the current.
type StaleError struct{ Current int64 }

func (e *StaleError) Error() string {
	return fmt.Sprintf("the resource has changed: current version is %d; fetch it again and retry", e.Current)
}

// Unwrap exposes the domain code and message.
func (e *StaleError) Unwrap() error { return &Error{Code: EPRECONDITION, Message: e.Error()} }

// MovementFilter selects movements.
type MovementFilter struct {
	Type       string
	ItemID     int64
	LocationID int64
	Reference  string
	CreatedBy  string
	Since      *time.Time
	Until      *time.Time
}

// LedgerFilter selects ledger entries.
type LedgerFilter struct {
	ItemID     int64
	LocationID int64
	Lot        *string
	MovementID int64
	Type       string
	CreatedBy  string
	Since      *time.Time
	Until      *time.Time
}

// StockFilter selects balances.
type StockFilter struct {
	ItemID              int64
	SKU                 string
	LocationID          int64
	IncludeSublocations bool
	Lot                 *string
	Nonzero             bool
}

// Idempotency identifies a retried request: per user and key, with a hash
// of what was asked so another request under the same key is refused.
type Idempotency struct {
	User string
	Key  string
	Hash []byte
}

// IdempotentReplay is returned instead of posting when the key was already
// used for the same request: the movement the first request posted and the
// exact bytes answered then. What status and headers a replay gets is the
// caller's business (the HTTP layer answers 201 with Idempotent-Replayed).
type IdempotentReplay struct {
	MovementID int64 // 0 if the record names none
	Body       []byte
}

func (r *IdempotentReplay) Error() string { return "idempotent replay" }
