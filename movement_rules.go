package warehouse

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// The movement rules, as pure functions: a store looks up the rows a
// movement names (Resolved), calls PlanMovement or PlanReversal inside its
// transaction, and applies the Postings it gets back.

// Posting is one planned change to one balance, the unit the ledger
// records. A movement's lines become postings.
type Posting struct {
	Line     int // index into the movement's lines
	Item     *Item
	Location *Location
	Lot      string
	Delta    Qty
	// Count: Delta is Counted - on hand, known only when the balance is
	// read (SetOnHand).
	Count    bool
	Counted  Qty
	Expected *Qty
}

// Resolved is what a store found for the items and locations a movement
// names. A row that does not exist is absent, and planning reports it
// at the line's field.
type Resolved struct {
	ItemsByID  map[int64]*Item
	ItemsBySKU map[string]*Item
	Locations  map[int64]*Location
}

// ItemRef is how a line names its item: by ID if set, else by SKU. A
// store resolves lines with it so that it looks up what planning reads.
func (l *MovementLine) ItemRef() (id int64, sku string) {
	if l.ItemID != 0 {
		return l.ItemID, ""
	}
	return 0, l.SKU
}

// LocationRefs are the location IDs a line names, in field order.
func (l *MovementLine) LocationRefs() []int64 {
	var ids []int64
	for _, p := range []*int64{l.FromLocationID, l.ToLocationID, l.LocationID} {
		if p != nil {
			ids = append(ids, *p)
		}
	}
	return ids
}

func lineErr(i int, field, msg string) error {
	f := fmt.Sprintf("lines[%d].%s", i, field)
	return &Error{Code: EINVALID, Message: f + ": " + msg, Fields: []FieldError{{Field: f, Message: msg}}}
}

// CanPostMovement says whether a user with roles may post a movement of
// type typ: adjustments change stock without a document, so they need a
// manager; the other types a clerk (which the route checks).
func CanPostMovement(roles []string, typ string) error {
	if typ == MoveAdjustment && !HasRole(roles, RoleManager) {
		return Errorf(EFORBIDDEN, "This action requires role %s (or higher)", RoleManager)
	}
	return nil
}

// Validate checks the fields of a movement that need no lookup.
func (m *NewMovement) Validate() error {
	if !slices.Contains(MovementTypes, m.Type) {
		return &Error{Code: EINVALID, Message: "type must be one of " + strings.Join(MovementTypes, ", "),
			Fields: []FieldError{{Field: "type", Message: "unknown movement type"}}}
	}
	if m.Type == MoveAdjustment {
		if !slices.Contains(AdjustmentReasons, m.Reason) {
			return &Error{Code: EINVALID, Message: "an adjustment needs a reason: " + strings.Join(AdjustmentReasons, ", "),
				Fields: []FieldError{{Field: "reason", Message: "required, one of " + strings.Join(AdjustmentReasons, ", ")}}}
		}
	} else if m.Reason != "" && !slices.Contains(AdjustmentReasons, m.Reason) {
		return &Error{Code: EINVALID, Message: "reason must be one of " + strings.Join(AdjustmentReasons, ", "),
			Fields: []FieldError{{Field: "reason", Message: "unknown reason"}}}
	}
	if len(m.Reference) > 100 {
		return &Error{Code: EINVALID, Message: "reference must be at most 100 characters", Fields: []FieldError{{Field: "reference", Message: "too long"}}}
	}
	if err := validateNote(m.Note); err != nil {
		return err
	}
	if len(m.Lines) == 0 || len(m.Lines) > MaxMovementLines {
		return &Error{Code: EINVALID, Message: fmt.Sprintf("a movement has 1 to %d lines", MaxMovementLines),
			Fields: []FieldError{{Field: "lines", Message: fmt.Sprintf("1 to %d lines", MaxMovementLines)}}}
	}
	return nil
}

func validateNote(note string) error {
	if len(note) > 1000 {
		return &Error{Code: EINVALID, Message: "note must be at most 1000 characters", Fields: []FieldError{{Field: "note", Message: "too long"}}}
	}
	return nil
}

// ValidateReversalNote checks the note a reversal gives.
func ValidateReversalNote(note string) error { return validateNote(note) }

func (r Resolved) item(i int, l *MovementLine) (*Item, error) {
	var it *Item
	switch {
	case l.ItemID != 0:
		if it = r.ItemsByID[l.ItemID]; it == nil {
			return nil, lineErr(i, "item_id", fmt.Sprintf("no item %d", l.ItemID))
		}
	case l.SKU != "":
		if it = r.ItemsBySKU[l.SKU]; it == nil {
			return nil, lineErr(i, "sku", fmt.Sprintf("no item with sku %q", l.SKU))
		}
	default:
		return nil, lineErr(i, "item_id", "give item_id or sku")
	}
	if l.ItemID != 0 && l.SKU != "" && l.SKU != it.SKU {
		return nil, lineErr(i, "sku", fmt.Sprintf("item %d has sku %s, not %s", it.ID, it.SKU, l.SKU))
	}
	return it, nil
}

func (r Resolved) location(i int, field string, id *int64) (*Location, error) {
	if id == nil {
		return nil, lineErr(i, field, "field required")
	}
	l := r.Locations[*id]
	if l == nil {
		return nil, lineErr(i, field, fmt.Sprintf("no location %d", *id))
	}
	return l, nil
}

// usable checks that stock may be posted to the location.
func usable(i int, field string, l *Location) error {
	if l.Structural {
		return lineErr(i, field, fmt.Sprintf("location %s is structural and cannot hold stock", l.Path))
	}
	if !l.Active {
		return lineErr(i, field, fmt.Sprintf("location %s is archived", l.Path))
	}
	return nil
}

func positive(i int, field string, q *Qty, it *Item) error {
	if q == nil {
		return lineErr(i, field, "field required")
	}
	if *q <= 0 {
		return lineErr(i, field, "must be greater than 0")
	}
	return precision(i, field, *q, it)
}

func precision(i int, field string, q Qty, it *Item) error {
	if q.Decimals() > it.QtyPrecision {
		return lineErr(i, field, fmt.Sprintf("%s has more decimals than item %s allows (qty_precision %d)", q, it.SKU, it.QtyPrecision))
	}
	return nil
}

// forbid refuses fields that do not belong to the movement type, so that a
// client's mistake (say, to_location_id on an issue) is not silently ignored.
func forbid(i int, l *MovementLine, fields ...string) error {
	set := map[string]bool{
		"from_location_id": l.FromLocationID != nil, "to_location_id": l.ToLocationID != nil, "location_id": l.LocationID != nil,
		"qty": l.Qty != nil, "qty_delta": l.QtyDelta != nil, "counted_qty": l.CountedQty != nil, "expected_qty": l.ExpectedQty != nil,
	}
	for _, f := range fields {
		if set[f] {
			return lineErr(i, f, "not allowed for this movement type")
		}
	}
	return nil
}

// PlanMovement validates m against the rows res holds and turns its lines
// into postings. It fills each line's LineNo, ItemID and SKU. Errors name
// the first field at fault, line by line.
func PlanMovement(m *NewMovement, res Resolved) ([]Posting, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var ps []Posting
	counted := map[[3]string]bool{}
	for i := range m.Lines {
		l := &m.Lines[i]
		l.LineNo = int64(i + 1)
		it, err := res.item(i, l)
		if err != nil {
			return nil, err
		}
		l.ItemID, l.SKU = it.ID, it.SKU
		if !it.Active {
			return nil, lineErr(i, "item_id", fmt.Sprintf("item %s is archived", it.SKU))
		}
		if it.LotTracked && l.Lot == "" {
			return nil, lineErr(i, "lot", fmt.Sprintf("item %s is lot-tracked: lot is required", it.SKU))
		}
		if !it.LotTracked && l.Lot != "" {
			return nil, lineErr(i, "lot", fmt.Sprintf("item %s is not lot-tracked: lot is not allowed", it.SKU))
		}
		if len(l.Lot) > 64 {
			return nil, lineErr(i, "lot", "must be at most 64 characters")
		}
		at := func(field string, id *int64) (*Location, error) {
			loc, err := res.location(i, field, id)
			if err != nil {
				return nil, err
			}
			return loc, usable(i, field, loc)
		}
		base := Posting{Line: i, Item: it, Lot: l.Lot}
		switch m.Type {
		case MoveReceipt, MoveIssue, MoveTransfer:
			if err := forbid(i, l, "location_id", "qty_delta", "counted_qty", "expected_qty"); err != nil {
				return nil, err
			}
			if m.Type == MoveReceipt {
				if err := forbid(i, l, "from_location_id"); err != nil {
					return nil, err
				}
			}
			if m.Type == MoveIssue {
				if err := forbid(i, l, "to_location_id"); err != nil {
					return nil, err
				}
			}
			if err := positive(i, "qty", l.Qty, it); err != nil {
				return nil, err
			}
			if m.Type != MoveReceipt {
				from, err := at("from_location_id", l.FromLocationID)
				if err != nil {
					return nil, err
				}
				p := base
				p.Location, p.Delta = from, -*l.Qty
				ps = append(ps, p)
			}
			if m.Type != MoveIssue {
				to, err := at("to_location_id", l.ToLocationID)
				if err != nil {
					return nil, err
				}
				if m.Type == MoveTransfer && *l.FromLocationID == *l.ToLocationID {
					return nil, lineErr(i, "to_location_id", "must differ from from_location_id")
				}
				p := base
				p.Location, p.Delta = to, *l.Qty
				ps = append(ps, p)
			}
		case MoveAdjustment:
			if err := forbid(i, l, "from_location_id", "to_location_id", "qty", "counted_qty", "expected_qty"); err != nil {
				return nil, err
			}
			if l.QtyDelta == nil || *l.QtyDelta == 0 {
				return nil, lineErr(i, "qty_delta", "required and not 0")
			}
			if err := precision(i, "qty_delta", *l.QtyDelta, it); err != nil {
				return nil, err
			}
			loc, err := at("location_id", l.LocationID)
			if err != nil {
				return nil, err
			}
			p := base
			p.Location, p.Delta = loc, *l.QtyDelta
			ps = append(ps, p)
		case MoveCount:
			if err := forbid(i, l, "from_location_id", "to_location_id", "qty", "qty_delta"); err != nil {
				return nil, err
			}
			if l.CountedQty == nil {
				return nil, lineErr(i, "counted_qty", "field required")
			}
			if *l.CountedQty < 0 {
				return nil, lineErr(i, "counted_qty", "must be >= 0")
			}
			if err := precision(i, "counted_qty", *l.CountedQty, it); err != nil {
				return nil, err
			}
			loc, err := at("location_id", l.LocationID)
			if err != nil {
				return nil, err
			}
			k := [3]string{fmt.Sprint(it.ID), fmt.Sprint(loc.ID), l.Lot}
			if counted[k] {
				return nil, lineErr(i, "location_id", "this item, location and lot is already counted in this movement")
			}
			counted[k] = true
			p := base
			p.Location, p.Count, p.Counted, p.Expected = loc, true, *l.CountedQty, l.ExpectedQty
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// CanReverse says whether m may be reversed: once, and never a reversal.
func (m *Movement) CanReverse() error {
	if m.ReversalOf != nil {
		return Errorf(ECONFLICT, "movement %d is itself a reversal (of %d); post a new movement instead", m.ID, *m.ReversalOf)
	}
	if m.ReversedBy != nil {
		return Errorf(ECONFLICT, "movement %d is already reversed by movement %d", m.ID, *m.ReversedBy)
	}
	return nil
}

// PlanReversal builds the compensating movement of orig: every ledger
// entry negated, under the same lines, so it obeys the same stock floor.
// Archived items and locations may be reversed (the stock is there). The
// caller sets CreatedBy and CreatedAt. res must hold orig's items (by ID)
// and the locations of its entries.
func PlanReversal(orig *Movement, note string, res Resolved) (*Movement, []Posting, error) {
	if err := ValidateReversalNote(note); err != nil {
		return nil, nil, err
	}
	if err := orig.CanReverse(); err != nil {
		return nil, nil, err
	}
	if note == "" {
		note = fmt.Sprintf("reversal of movement %d", orig.ID)
	}
	m := &Movement{Type: orig.Type, Reference: orig.Reference, Note: note, Reason: orig.Reason, ReversalOf: &orig.ID}
	var ps []Posting
	for i, l := range orig.Lines {
		nl := l
		nl.Entries = []Entry{}
		m.Lines = append(m.Lines, nl)
		it, err := res.item(i, &MovementLine{ItemID: l.ItemID})
		if err != nil {
			return nil, nil, err
		}
		for _, e := range l.Entries {
			loc, err := res.location(i, "location_id", &e.LocationID)
			if err != nil {
				return nil, nil, err
			}
			ps = append(ps, Posting{Line: i, Item: it, Location: loc, Lot: l.Lot, Delta: -e.QtyDelta})
		}
	}
	return m, ps, nil
}

// SortPostings orders postings by (item, location, lot), the order in
// which balances are locked, so that two movements never lock in opposite
// orders. For one key, increments come first, so a movement that passes
// stock through a location in one go (A->B, B->C) does not fail on the
// order of its lines.
func SortPostings(ps []Posting) {
	slices.SortStableFunc(ps, func(a, b Posting) int {
		return cmp.Or(cmp.Compare(a.Item.ID, b.Item.ID), cmp.Compare(a.Location.ID, b.Location.ID), strings.Compare(a.Lot, b.Lot), cmp.Compare(b.Delta, a.Delta))
	})
}

// SetOnHand completes a count posting with the balance it found: the
// delta is what makes on hand what was counted. If the counter said what
// they saw (Expected) and stock moved since, the count is outdated.
func (p *Posting) SetOnHand(onHand Qty) error {
	if p.Expected != nil && *p.Expected != onHand {
		return &CountOutdatedError{SKU: p.Item.SKU, LocationCode: p.Location.Path, Lot: p.Lot, Expected: *p.Expected, OnHand: onHand}
	}
	p.Delta = p.Counted - onHand
	return nil
}

// CheckBalance refuses a balance above MaxQty.
func (p *Posting) CheckBalance(after Qty) error {
	if after > MaxQty {
		return Errorf(EINVALID, "%s at %s would exceed the largest balance (10^12)", p.Item.SKU, p.Location.Path)
	}
	return nil
}

// Shortage describes the posting's lack of stock, given what is available.
func (p *Posting) Shortage(available Qty) Shortage {
	req := -p.Delta
	if p.Count {
		req = available - p.Counted
	}
	return Shortage{SKU: p.Item.SKU, LocationCode: p.Location.Path, Lot: p.Lot, Requested: req, Available: available}
}
