package store

import (
	"fmt"
	"slices"
	"strings"

	"github.com/warehouse-api/warehouse"
)

func lineErr(i int, field, msg string) error {
	f := fmt.Sprintf("lines[%d].%s", i, field)
	return &warehouse.Error{Code: warehouse.EINVALID, Message: f + ": " + msg, Fields: []warehouse.FieldError{{Field: f, Message: msg}}}
}

// usable checks that stock may be posted to the location.
func usable(i int, field string, l *warehouse.Location) error {
	if l.Structural {
		return lineErr(i, field, fmt.Sprintf("location %s is structural and cannot hold stock", l.Path))
	}
	if !l.Active {
		return lineErr(i, field, fmt.Sprintf("location %s is archived", l.Path))
	}
	return nil
}

func positive(i int, field string, q *warehouse.Qty, it *warehouse.Item) error {
	if q == nil {
		return lineErr(i, field, "field required")
	}
	if *q <= 0 {
		return lineErr(i, field, "must be greater than 0")
	}
	return precision(i, field, *q, it)
}

func precision(i int, field string, q warehouse.Qty, it *warehouse.Item) error {
	if q.Decimals() > it.QtyPrecision {
		return lineErr(i, field, fmt.Sprintf("%s has more decimals than item %s allows (qty_precision %d)", q, it.SKU, it.QtyPrecision))
	}
	return nil
}

// forbid refuses fields that do not belong to the movement type, so that a
// client's mistake (say, to_location_id on an issue) is not silently ignored.
func forbid(i int, l *warehouse.MovementLine, fields ...string) error {
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

// plan validates a new movement against the database and turns its lines
// into ops. It fills each line's item id and sku.
func plan(r *resolver, m *warehouse.NewMovement) ([]op, error) {
	if !slices.Contains(warehouse.MovementTypes, m.Type) {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "type must be one of " + strings.Join(warehouse.MovementTypes, ", "),
			Fields: []warehouse.FieldError{{Field: "type", Message: "unknown movement type"}}}
	}
	if m.Type == warehouse.MoveAdjustment {
		if !slices.Contains(warehouse.AdjustmentReasons, m.Reason) {
			return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "an adjustment needs a reason: " + strings.Join(warehouse.AdjustmentReasons, ", "),
				Fields: []warehouse.FieldError{{Field: "reason", Message: "required, one of " + strings.Join(warehouse.AdjustmentReasons, ", ")}}}
		}
	} else if m.Reason != "" && !slices.Contains(warehouse.AdjustmentReasons, m.Reason) {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "reason must be one of " + strings.Join(warehouse.AdjustmentReasons, ", "),
			Fields: []warehouse.FieldError{{Field: "reason", Message: "unknown reason"}}}
	}
	if len(m.Reference) > 100 {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "reference must be at most 100 characters", Fields: []warehouse.FieldError{{Field: "reference", Message: "too long"}}}
	}
	if len(m.Note) > 1000 {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: "note must be at most 1000 characters", Fields: []warehouse.FieldError{{Field: "note", Message: "too long"}}}
	}
	if len(m.Lines) == 0 || len(m.Lines) > warehouse.MaxMovementLines {
		return nil, &warehouse.Error{Code: warehouse.EINVALID, Message: fmt.Sprintf("a movement has 1 to %d lines", warehouse.MaxMovementLines),
			Fields: []warehouse.FieldError{{Field: "lines", Message: fmt.Sprintf("1 to %d lines", warehouse.MaxMovementLines)}}}
	}
	var ops []op
	counted := map[[3]string]bool{}
	for i := range m.Lines {
		l := &m.Lines[i]
		l.LineNo = int64(i + 1)
		it, err := r.item(i, l)
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
		at := func(field string, id *int64) (*warehouse.Location, error) {
			loc, err := r.location(i, field, id)
			if err != nil {
				return nil, err
			}
			return loc, usable(i, field, loc)
		}
		base := op{line: i, item: it, lot: l.Lot}
		switch m.Type {
		case warehouse.MoveReceipt, warehouse.MoveIssue, warehouse.MoveTransfer:
			if err := forbid(i, l, "location_id", "qty_delta", "counted_qty", "expected_qty"); err != nil {
				return nil, err
			}
			if m.Type == warehouse.MoveReceipt {
				if err := forbid(i, l, "from_location_id"); err != nil {
					return nil, err
				}
			}
			if m.Type == warehouse.MoveIssue {
				if err := forbid(i, l, "to_location_id"); err != nil {
					return nil, err
				}
			}
			if err := positive(i, "qty", l.Qty, it); err != nil {
				return nil, err
			}
			if m.Type != warehouse.MoveReceipt {
				from, err := at("from_location_id", l.FromLocationID)
				if err != nil {
					return nil, err
				}
				o := base
				o.loc, o.delta = from, -*l.Qty
				ops = append(ops, o)
			}
			if m.Type != warehouse.MoveIssue {
				to, err := at("to_location_id", l.ToLocationID)
				if err != nil {
					return nil, err
				}
				if m.Type == warehouse.MoveTransfer && *l.FromLocationID == *l.ToLocationID {
					return nil, lineErr(i, "to_location_id", "must differ from from_location_id")
				}
				o := base
				o.loc, o.delta = to, *l.Qty
				ops = append(ops, o)
			}
		case warehouse.MoveAdjustment:
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
			o := base
			o.loc, o.delta = loc, *l.QtyDelta
			ops = append(ops, o)
		case warehouse.MoveCount:
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
			o := base
			o.loc, o.count, o.counted, o.expected = loc, true, *l.CountedQty, l.ExpectedQty
			ops = append(ops, o)
		}
	}
	return ops, nil
}
