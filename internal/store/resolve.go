// The resolver looks up and locks the items and locations a movement names,
// once per transaction, for the domain's planning to read.

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/warehouse-api/warehouse"
)

// resolver looks up items and locations once per transaction. A row that
// does not exist is left out: the domain's planning reports it at the
// line's field.
type resolver struct {
	ctx context.Context
	tx  *txn
	res warehouse.Resolved
}

func newResolver(ctx context.Context, tx *txn) *resolver {
	return &resolver{ctx: ctx, tx: tx, res: warehouse.Resolved{
		ItemsByID: map[int64]*warehouse.Item{}, ItemsBySKU: map[string]*warehouse.Item{}, Locations: map[int64]*warehouse.Location{}}}
}

// lines resolves the item and locations of every line, in line order
// (which is the order of the key-share locks on PostgreSQL).
func (r *resolver) lines(lines []warehouse.MovementLine) error {
	for i := range lines {
		l := &lines[i]
		id, sku := l.ItemRef()
		if err := r.item(id, sku); err != nil {
			return err
		}
		for _, loc := range l.LocationRefs() {
			if err := r.location(loc); err != nil {
				return err
			}
		}
	}
	return nil
}

// reversal resolves what reversing orig reads: its items and the
// locations of its entries.
func (r *resolver) reversal(orig *warehouse.Movement) error {
	for _, l := range orig.Lines {
		if err := r.item(l.ItemID, ""); err != nil {
			return err
		}
		for _, e := range l.Entries {
			if err := r.location(e.LocationID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *resolver) item(id int64, sku string) error {
	var row *sql.Row
	switch {
	case id != 0:
		if _, ok := r.res.ItemsByID[id]; ok {
			return nil
		}
		row = r.tx.QueryRowContext(r.ctx, `SELECT `+itemColumns+` FROM items i WHERE i.id = ?`+r.tx.keyShare("i"), id)
	case sku != "":
		if _, ok := r.res.ItemsBySKU[sku]; ok {
			return nil
		}
		row = r.tx.QueryRowContext(r.ctx, `SELECT `+itemColumns+` FROM items i WHERE i.sku = ?`+r.tx.keyShare("i"), sku)
	default:
		return nil
	}
	it, err := scanItem(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read item: %w", wrapErr(err))
	}
	if id != 0 {
		r.res.ItemsByID[id] = it
	} else {
		r.res.ItemsBySKU[sku] = it
	}
	return nil
}

func (r *resolver) location(id int64) error {
	if _, ok := r.res.Locations[id]; ok {
		return nil
	}
	l, err := lockLocationTx(r.ctx, r.tx, id, r.tx.keyShare("l"))
	if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	r.res.Locations[id] = l
	return nil
}
