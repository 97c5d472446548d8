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

// lines resolves the items and locations of every line: in one statement
// when it can (resolveBoth), else one for the items and one for the
// locations, whatever the number of lines.
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
	if ok, err := r.both(ids, skus, locs); ok || err != nil {
		return err
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

// maxResolvePairs bounds the rows of resolver.both's cross join; a
// movement naming more items times locations resolves them apart.
const maxResolvePairs = 64

// both resolves items and locations in one statement, a cross join of
// the two lookups (a round trip less than two statements). It reports
// ok=false, having resolved nothing, when there are too many pairs or
// when the join is empty because an item or every location is missing:
// then the separate lookups find what exists, for planning to report the
// rest.
func (r *resolver) both(ids []int64, skus []string, locs []int64) (ok bool, err error) {
	ids, skus, locs = dedup(ids), dedup(skus), dedup(locs)
	n := (len(ids) + len(skus)) * len(locs)
	if n == 0 || n > maxResolvePairs || len(r.res.ItemsByID)+len(r.res.ItemsBySKU)+len(r.res.Locations) > 0 {
		return false, nil
	}
	cond, args := itemCond(ids, skus)
	for _, id := range locs {
		args = append(args, id)
	}
	q := `SELECT ` + resolveItemColumns + `, ` + locationColumns + ` FROM items i CROSS JOIN locations l
		WHERE (` + cond + `) AND l.id IN (` + placeholders(len(locs)) + `)` + r.tx.keyShare("i, l")
	type pair struct {
		it  *warehouse.Item
		loc *warehouse.Location
	}
	pairs, err := queryRows(r.ctx, r.tx, q, args, func(row scanner) (pair, error) {
		p := pair{it: &warehouse.Item{}, loc: &warehouse.Location{}}
		idest, idone := itemDest(p.it)
		ldest, ldone := locationDest(p.loc)
		if err := row.Scan(append(idest, ldest...)...); err != nil {
			return p, err
		}
		idone()
		ldone()
		return p, nil
	})
	if err != nil {
		return false, fmt.Errorf("read items and locations: %w", err)
	}
	if len(pairs) == 0 {
		return false, nil
	}
	for _, p := range pairs {
		r.addItem(p.it, ids, skus)
		r.res.Locations[p.loc.ID] = p.loc
	}
	return true, nil
}

func (r *resolver) addItem(it *warehouse.Item, ids []int64, skus []string) {
	if slices.Contains(ids, it.ID) {
		r.res.ItemsByID[it.ID] = it
	}
	if slices.Contains(skus, it.SKU) {
		r.res.ItemsBySKU[it.SKU] = it
	}
}

// itemCond is the WHERE condition on items i of ids or skus, with its
// arguments.
func itemCond(ids []int64, skus []string) (string, []any) {
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
	return strings.Join(cond, " OR "), args
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
	cond, args := itemCond(ids, skus)
	items, err := queryRows(r.ctx, r.tx, `SELECT `+resolveItemColumns+` FROM items i WHERE `+cond+r.tx.keyShare("i"), args, scanItem)
	if err != nil {
		return fmt.Errorf("read items: %w", err)
	}
	// A row that does not exist is left out: planning reports it.
	for _, it := range items {
		r.addItem(it, ids, skus)
	}
	return nil
}

// item looks up one item by id, else by sku (a use case resolving its
// lines one at a time); none is a no-op.
func (r *resolver) item(id int64, sku string) error {
	switch {
	case id != 0:
		return r.items([]int64{id}, nil)
	case sku != "":
		return r.items(nil, []string{sku})
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
