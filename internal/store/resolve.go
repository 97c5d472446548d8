// The resolver looks up and locks the items and locations a movement names,
// once per transaction, for the domain's planning to read.

package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

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

// lines resolves the items and locations of every line: one statement
// for the items and one for the locations, whatever the number of lines.
func (r *resolver) lines(lines []warehouse.MovementLine) error {
	var ids, locs []int64
	var skus []string
	for i := range lines {
		id, sku := lines[i].ItemRef()
		switch {
		case id != 0:
			ids = append(ids, id)
		case sku != "":
			skus = append(skus, sku)
		}
		locs = append(locs, lines[i].LocationRefs()...)
	}
	if err := r.items(ids, skus); err != nil {
		return err
	}
	return r.locations(locs)
}

// reversal resolves what reversing orig reads: its items and the
// locations of its entries.
func (r *resolver) reversal(orig *warehouse.Movement) error {
	var ids, locs []int64
	for _, l := range orig.Lines {
		ids = append(ids, l.ItemID)
		for _, e := range l.Entries {
			locs = append(locs, e.LocationID)
		}
	}
	if err := r.items(ids, nil); err != nil {
		return err
	}
	return r.locations(locs)
}

// resolveItemColumns are itemColumns without the stock totals, which
// planning does not read (and which would sum every balance of the item
// in each movement).
const resolveItemColumns = `i.id, i.sku, i.name, i.description, i.uom, i.qty_precision, i.barcode, i.lot_tracked, i.reorder_point, i.active,
	i.created_at, i.created_by, i.updated_at, i.updated_by, i.version, 0, 0`

// items looks up and key-share locks (PostgreSQL) the items named by id or
// sku. The locks do not block other movements; an archive (FOR UPDATE)
// waits for the movement, and the movement for it. They are taken in the
// index's order, so two movements never wait on each other here.
func (r *resolver) items(ids []int64, skus []string) error {
	ids = slices.DeleteFunc(dedup(ids), func(id int64) bool { _, ok := r.res.ItemsByID[id]; return ok })
	skus = slices.DeleteFunc(dedup(skus), func(s string) bool { _, ok := r.res.ItemsBySKU[s]; return ok })
	if len(ids) == 0 && len(skus) == 0 {
		return nil
	}
	var cond []string
	var args []any
	if len(ids) > 0 {
		cond = append(cond, `i.id IN (`+placeholders(len(ids))+`)`)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if len(skus) > 0 {
		cond = append(cond, `i.sku IN (`+placeholders(len(skus))+`)`)
		for _, s := range skus {
			args = append(args, s)
		}
	}
	items, err := queryRows(r.ctx, r.tx, `SELECT `+resolveItemColumns+` FROM items i WHERE `+strings.Join(cond, " OR ")+r.tx.keyShare("i"), args, scanItem)
	if err != nil {
		return fmt.Errorf("read items: %w", err)
	}
	// A row that does not exist is left out: planning reports it.
	for _, it := range items {
		if slices.Contains(ids, it.ID) {
			r.res.ItemsByID[it.ID] = it
		}
		if slices.Contains(skus, it.SKU) {
			r.res.ItemsBySKU[it.SKU] = it
		}
	}
	return nil
}

// locations looks up and key-share locks the locations, as items does.
func (r *resolver) locations(ids []int64) error {
	ids = slices.DeleteFunc(dedup(ids), func(id int64) bool { _, ok := r.res.Locations[id]; return ok })
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	locs, err := queryRows(r.ctx, r.tx, `SELECT `+locationColumns+` FROM locations l WHERE l.id IN (`+placeholders(len(ids))+`)`+r.tx.keyShare("l"), args, scanLocation)
	if err != nil {
		return fmt.Errorf("read locations: %w", err)
	}
	for _, l := range locs {
		r.res.Locations[l.ID] = l
	}
	return nil
}

func dedup[T cmp.Ordered](s []T) []T {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// placeholders is n comma-separated ?.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
