package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/store"
)

// seedDemo gives --demo a small believable warehouse (two sites, a few
// bins, six items, opening receipts) so a new user sees data at once. It
// runs only while the database has no items, so it never touches real data.
func seedDemo(ctx context.Context, db *store.DB, log *slog.Logger) error {
	has, err := db.HasItems(ctx)
	if err != nil || has {
		return err
	}
	const who = "demo"
	loc := func(code, name string, parent *warehouse.Location, structural bool) (*warehouse.Location, error) {
		l := &warehouse.Location{Code: code, Name: name, Structural: structural}
		if parent != nil {
			l.ParentID = &parent.ID
		}
		if err := db.CreateLocation(ctx, l, who); err != nil {
			return nil, fmt.Errorf("demo location %s: %w", code, err)
		}
		return l, nil
	}
	wh1, err := loc("WH1", "Main warehouse", nil, true)
	if err != nil {
		return err
	}
	aisleA, err := loc("WH1-A", "Aisle A", wh1, true)
	if err != nil {
		return err
	}
	bins := map[string]*warehouse.Location{}
	for _, b := range []struct {
		code, name string
		parent     *warehouse.Location
	}{
		{"WH1-A-01", "Aisle A, bin 1", aisleA}, {"WH1-A-02", "Aisle A, bin 2", aisleA},
		{"WH1-DOCK", "Receiving dock", wh1}, {"WH1-PICK", "Pick face", wh1},
	} {
		if bins[b.code], err = loc(b.code, b.name, b.parent, false); err != nil {
			return err
		}
	}
	wh2, err := loc("WH2", "Overflow store", nil, true)
	if err != nil {
		return err
	}
	if bins["WH2-01"], err = loc("WH2-01", "Overflow bay 1", wh2, false); err != nil {
		return err
	}
	q := func(n float64) *warehouse.Qty { v := warehouse.Qty(n * warehouse.QtyScale); return &v }
	items := []warehouse.Item{
		{SKU: "WID-RED", Name: "Widget, red", UOM: "ea", ReorderPoint: q(20), Barcode: "4006381333931"},
		{SKU: "WID-BLU", Name: "Widget, blue", UOM: "ea", ReorderPoint: q(20)},
		{SKU: "BOLT-M8", Name: "Hex bolt M8x40, zinc", UOM: "ea", ReorderPoint: q(500)},
		{SKU: "CABLE-CU", Name: "Copper cable 2.5mm2", UOM: "m", QtyPrecision: 1, ReorderPoint: q(100)},
		{SKU: "GREASE", Name: "Lithium grease", UOM: "kg", QtyPrecision: 3, ReorderPoint: q(5)},
		{SKU: "GLUE-EP", Name: "Epoxy glue, 2-part", UOM: "ea", LotTracked: true, ReorderPoint: q(10)},
	}
	ids := map[string]int64{}
	for i := range items {
		it := &items[i]
		it.Active = true
		if err := db.CreateItem(ctx, it, who); err != nil {
			return fmt.Errorf("demo item %s: %w", it.SKU, err)
		}
		ids[it.SKU] = it.ID
	}
	to := func(code string) *int64 { return &bins[code].ID }
	lines := []warehouse.MovementLine{
		{SKU: "WID-RED", ToLocationID: to("WH1-A-01"), Qty: q(42)},
		{SKU: "WID-RED", ToLocationID: to("WH1-PICK"), Qty: q(8)},
		{SKU: "WID-BLU", ToLocationID: to("WH1-A-02"), Qty: q(15)},
		{SKU: "BOLT-M8", ToLocationID: to("WH1-A-02"), Qty: q(2400)},
		{SKU: "CABLE-CU", ToLocationID: to("WH2-01"), Qty: q(350.5)},
		{SKU: "GREASE", ToLocationID: to("WH1-DOCK"), Qty: q(12.75)},
		{SKU: "GLUE-EP", Lot: "EP-2025-11", ToLocationID: to("WH1-A-01"), Qty: q(6)},
	}
	if _, err := db.PostMovement(ctx, warehouse.NewMovement{Type: warehouse.MoveReceipt, Reference: "OPENING", Note: "demo opening balances", Lines: lines}, who, nil); err != nil {
		return fmt.Errorf("demo receipt: %w", err)
	}
	log.Warn("demo mode: seeded a sample warehouse (WH1, WH2, six items, opening receipt OPENING)")
	return nil
}
