package warehouse

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The order rules, as pure functions: the store reads the order and the
// candidate balances inside its transaction, asks these what is allowed
// and what to reserve, and applies the answer.

// Order actions, for CanDo.
const (
	ActUpdate   = "update"
	ActConfirm  = "confirm"
	ActAllocate = "allocate"
	ActRelease  = "release"
	ActPick     = "pick"
	ActShip     = "ship"
	ActCancel   = "cancel"
)

// orderActions says in which states each action is legal.
var orderActions = map[string][]string{
	ActUpdate:   {OrderDraft},
	ActConfirm:  {OrderDraft},
	ActAllocate: {OrderConfirmed, OrderPartiallyAllocated, OrderAllocated, OrderPicking},
	ActRelease:  {OrderPartiallyAllocated, OrderAllocated, OrderPicking},
	ActPick:     {OrderPartiallyAllocated, OrderAllocated, OrderPicking},
	ActShip:     {OrderPartiallyAllocated, OrderAllocated, OrderPicking},
	ActCancel:   {OrderDraft, OrderConfirmed, OrderPartiallyAllocated, OrderAllocated, OrderPicking},
}

// CanDo says whether action is legal in the order's state: an error with
// code EORDERSTATE names the state and the states that would allow it.
func (o *Order) CanDo(action string) error {
	ok, known := orderActions[action]
	if !known {
		return Errorf(EINTERNAL, "unknown order action %q", action)
	}
	if slices.Contains(ok, o.State) {
		return nil
	}
	return Errorf(EORDERSTATE, "order %s is %s: cannot %s it (allowed when %s)", o.Number, o.State, action, strings.Join(ok, ", "))
}

// CanShip adds what the state alone does not say: nothing may still be
// held for picking, and something must have been picked.
func (o *Order) CanShip() error {
	if err := o.CanDo(ActShip); err != nil {
		return err
	}
	var picked, reserved Qty
	for _, l := range o.Lines {
		picked += l.Picked
		reserved += l.Reserved
	}
	if reserved > 0 {
		return Errorf(EORDERSTATE, "order %s still has %s reserved to pick: pick it, short-pick it or release it before shipping", o.Number, reserved)
	}
	if picked == 0 {
		return Errorf(EORDERSTATE, "order %s has nothing picked to ship", o.Number)
	}
	return nil
}

// AllocationState is the state that the lines' quantities give a
// confirmed order: allocated when every line is covered by reservations
// and picks, partially_allocated when some stock is, confirmed when none.
// An order being picked stays picking while nothing is found short.
func (o *Order) AllocationState() string {
	var covered, need Qty
	for _, l := range o.Lines {
		covered += min(l.Qty, l.Reserved+l.Picked)
		need += l.Qty
	}
	switch {
	case covered == 0:
		return OrderConfirmed
	case covered < need:
		return OrderPartiallyAllocated
	case o.State == OrderPicking:
		return OrderPicking
	default:
		return OrderAllocated
	}
}

// ValidateOrderNumber checks an order number: 1-64 characters, letters,
// digits and . _ / - only, as it appears in URLs.
func ValidateOrderNumber(n string) error {
	if n == "" || len(n) > 64 {
		return &Error{Code: EINVALID, Message: "number must be 1-64 characters", Fields: []FieldError{{Field: "number", Message: "must be 1-64 characters"}}}
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return &Error{Code: EINVALID, Message: "number may contain only letters, digits and . _ -", Fields: []FieldError{{Field: "number", Message: "invalid character"}}}
		}
	}
	return nil
}

// Validate checks what needs no lookup: number, references, lines.
func (n *NewOrder) Validate(now time.Time) error {
	if err := ValidateOrderNumber(n.Number); err != nil {
		return err
	}
	if len(n.Customer) > 200 {
		return &Error{Code: EINVALID, Message: "customer must be at most 200 characters", Fields: []FieldError{{Field: "customer", Message: "too long"}}}
	}
	if err := validateNote(n.Note); err != nil {
		return err
	}
	if n.ExpiresAt != nil && !n.ExpiresAt.After(now) {
		return &Error{Code: EINVALID, Message: "expires_at must be in the future", Fields: []FieldError{{Field: "expires_at", Message: "in the past"}}}
	}
	return ValidateOrderLines(n.Lines)
}

// ValidateOrderLines checks an order's lines: 1 to MaxOrderLines, each
// naming an item and a positive quantity, no item twice.
func ValidateOrderLines(lines []NewOrderLine) error {
	if len(lines) == 0 || len(lines) > MaxOrderLines {
		return &Error{Code: EINVALID, Message: fmt.Sprintf("an order has 1 to %d lines", MaxOrderLines),
			Fields: []FieldError{{Field: "lines", Message: fmt.Sprintf("1 to %d lines", MaxOrderLines)}}}
	}
	for i, l := range lines {
		if l.ItemID == 0 && l.SKU == "" {
			return lineErr(i, "sku", "give item_id or sku")
		}
		if l.Qty <= 0 || l.Qty > MaxQty {
			return lineErr(i, "qty", "must be > 0")
		}
	}
	return nil
}

// CheckOrderItems checks the resolved items of lines: present, active,
// the quantity within the item's precision, each item once.
func CheckOrderItems(lines []NewOrderLine, items []*Item) error {
	seen := map[int64]bool{}
	for i, l := range lines {
		it := items[i]
		switch {
		case it == nil && l.ItemID != 0:
			return lineErr(i, "item_id", fmt.Sprintf("no item %d", l.ItemID))
		case it == nil:
			return lineErr(i, "sku", fmt.Sprintf("no item with sku %q", l.SKU))
		case !it.Active:
			return lineErr(i, "sku", fmt.Sprintf("item %s is archived", it.SKU))
		case seen[it.ID]:
			return lineErr(i, "sku", fmt.Sprintf("item %s is on another line already", it.SKU))
		}
		if l.Qty.Decimals() > it.QtyPrecision {
			return lineErr(i, "qty", fmt.Sprintf("item %s takes at most %d decimals", it.SKU, it.QtyPrecision))
		}
		seen[it.ID] = true
	}
	return nil
}

// Candidate is a balance an allocation may reserve from.
type Candidate struct {
	LocationID   int64
	LocationPath string
	Lot          string
	// ExpiresOn is the lot's expiry date (ISO), "" when it has none.
	ExpiresOn string
	OnHand    Qty
	Reserved  Qty
	// Received is when stock first came into this balance (its oldest
	// receipt), for first-in first-out.
	Received time.Time
}

// Available is what the candidate can still give.
func (c Candidate) Available() Qty { return c.OnHand - c.Reserved }

// Allocation is one reservation to make: from which candidate, how much.
type Allocation struct {
	Candidate
	Qty Qty
}

// PlanAllocation picks the balances to reserve need from: for a
// lot-tracked item the lots expiring first (FEFO; lots without expiry
// last, lots expired before today never), otherwise, and among equal
// expiry, the oldest stock first (FIFO), then by location path. It never
// takes more than a candidate has available, and returns what it could
// not cover.
func PlanAllocation(need Qty, lotTracked bool, today string, cs []Candidate) (plan []Allocation, short Qty) {
	cs = slices.Clone(cs)
	slices.SortStableFunc(cs, func(a, b Candidate) int {
		if lotTracked {
			if c := compareExpiry(a.ExpiresOn, b.ExpiresOn); c != 0 {
				return c
			}
		}
		return cmp.Or(a.Received.Compare(b.Received), strings.Compare(a.LocationPath, b.LocationPath), strings.Compare(a.Lot, b.Lot))
	})
	for _, c := range cs {
		if need <= 0 {
			break
		}
		if lotTracked && ExpiresBefore(c.ExpiresOn, today) {
			continue
		}
		q := min(need, c.Available())
		if q <= 0 {
			continue
		}
		plan = append(plan, Allocation{Candidate: c, Qty: q})
		need -= q
	}
	return plan, max(need, 0)
}

// compareExpiry orders expiry dates soonest first, none last.
func compareExpiry(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return strings.Compare(a, b)
}

// PlanPickList orders the open reservations as a picker walks: by location
// path, then SKU and lot. With pickers named, each top-level zone (the
// first segment of the path) goes to one picker, zones dealt round-robin
// in walking order, so that no two pickers walk the same aisle.
func PlanPickList(rs []Reservation, pickers []string) []PickListLine {
	var out []PickListLine
	for _, r := range rs {
		if r.State != ReservationOpen || r.OpenQty() <= 0 {
			continue
		}
		out = append(out, PickListLine{ReservationID: r.ID, LineID: r.LineID, ItemID: r.ItemID, SKU: r.SKU, LocationID: r.LocationID,
			LocationCode: r.LocationCode, LocationPath: r.LocationPath, Lot: r.Lot, Qty: r.OpenQty()})
	}
	slices.SortStableFunc(out, func(a, b PickListLine) int {
		return cmp.Or(strings.Compare(a.LocationPath, b.LocationPath), strings.Compare(a.SKU, b.SKU), strings.Compare(a.Lot, b.Lot), cmp.Compare(a.ReservationID, b.ReservationID))
	})
	zones := map[string]string{}
	for i := range out {
		out[i].Seq = i + 1
		if len(pickers) == 0 {
			continue
		}
		z, _, _ := strings.Cut(out[i].LocationPath, "/")
		p, ok := zones[z]
		if !ok {
			p = pickers[len(zones)%len(pickers)]
			zones[z] = p
		}
		out[i].Picker = p
	}
	return out
}

// PickListFor is the part of a pick list one picker walks, renumbered.
func PickListFor(lines []PickListLine, picker string) []PickListLine {
	var out []PickListLine
	for _, l := range lines {
		if l.Picker == picker {
			l.Seq = len(out) + 1
			out = append(out, l)
		}
	}
	return out
}

// PlanPick checks a pick against its reservation and says how much is
// picked and how much found short: qty nil picks everything still held;
// short releases the rest as missing.
func PlanPick(r Reservation, qty *Qty, short bool) (picked, missing Qty, err error) {
	open := r.OpenQty()
	if r.State != ReservationOpen || open <= 0 {
		return 0, 0, Errorf(ECONFLICT, "reservation %d is %s: nothing left to pick", r.ID, r.State)
	}
	picked = open
	if qty != nil {
		picked = *qty
	}
	if picked < 0 || (picked == 0 && !short) {
		return 0, 0, &Error{Code: EINVALID, Message: "qty must be > 0 (or 0 with short: true when nothing was found)", Fields: []FieldError{{Field: "qty", Message: "must be > 0"}}}
	}
	if picked > open {
		return 0, 0, &Error{Code: EINVALID, Message: fmt.Sprintf("qty %s is more than the %s reserved here", picked, open), Fields: []FieldError{{Field: "qty", Message: "more than reserved"}}}
	}
	if short {
		missing = open - picked
	}
	return picked, missing, nil
}
