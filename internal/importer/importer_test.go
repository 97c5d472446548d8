package importer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/importer"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var manager = importer.Actor{Name: "max", Roles: []string{"manager"}}

func open(t testing.TB, engine string) (*store.DB, *importer.Service) {
	t.Helper()
	db, err := store.Open(context.Background(), pgtest.URL(t, engine), "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, importer.New(db)
}

func run(t *testing.T, svc *importer.Service, kind importer.Kind, file string, dryRun bool) (importer.Summary, error) {
	t.Helper()
	return svc.Import(context.Background(), manager, kind, strings.NewReader(file), dryRun, nil)
}

func must(t *testing.T, svc *importer.Service, kind importer.Kind, file string) importer.Summary {
	t.Helper()
	s, err := run(t, svc, kind, file, false)
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	return s
}

// rowErrors returns the "line N, column: message" of every problem err lists.
func rowErrors(t *testing.T, err error) []string {
	t.Helper()
	var e *warehouse.Error
	if !errors.As(err, &e) || e.Code != warehouse.EINVALID {
		t.Fatalf("err = %v, want an invalid error listing the rows", err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.String())
	}
	return out
}

const items = "sku,name,uom,qty_precision,barcode,reorder_point\nWID-RED,Red widget,ea,0,4006381333931,5\nBOLT,Bolt,kg,3,,0.25\n"
const locations = "code,name,parent_code,structural\nA1,Bin A1,WH,false\nWH,Main,,true\n"

func TestImportBadFilesRefusedWhole(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		db, svc := open(t, engine)
		must(t, svc, importer.Items, items)
		must(t, svc, importer.Locations, locations)
		for _, tc := range []struct {
			name string
			kind importer.Kind
			file string
			want []string
		}{
			{"empty file", importer.Items, "", []string{"line 1: the file is empty"}},
			{"missing header", importer.Items, "NEW-1,New,ea\n", []string{`line 1, NEW-1: unknown column "NEW-1"`, `line 1, New: unknown column`, `line 1, ea: unknown column`}},
			{"unknown column", importer.Items, "sku,name,colour\nX,Y,red\n", []string{`line 1, colour: unknown column "colour"`}},
			{"duplicate column", importer.Items, "sku,name,name\nX,Y,Z\n", []string{`line 1, name: column "name" appears twice`}},
			{"required column", importer.Stock, "sku,qty\nBOLT,1\n", []string{"line 1, location_code: required column missing"}},
			{"every bad row", importer.Items, "sku,name,uom,qty_precision,reorder_point\nNEW-1,New,ea,0,1\nNEW-2,,ea,0,1\nNEW-3,x,ea,7,1\nNEW-4,x,ea,0,-1\nNEW-1,again,ea,0,1\nbad sku,x,ea,0,1\nNEW-5,x,ea,0,1.5\nNEW-6,x,ea,zero,1\n",
				[]string{"line 3, name: must be 1-200 characters", "line 4, qty_precision: must be 0-3", "line 5, reorder_point: must be >= 0",
					`line 6, sku: "NEW-1" is already on line 2`, "line 7, sku: may contain only", "line 8, reorder_point:", "line 9, qty_precision: must be a whole number"}},
			{"wrong field count", importer.Items, "sku,name,uom\nNEW-1,New\n", []string{"line 2: has 2 fields, the header has 3"}},
			{"bad bool", importer.Locations, "code,name,structural\nB1,Bin,maybe\n", []string{"line 2, structural: must be true or false"}},
			{"unknown parent", importer.Locations, "code,name,parent_code\nB1,Bin,NOPE\nB2,Bin,A1\n", []string{`line 2, parent_code: no location "NOPE"`}},
			{"errors in line order", importer.Locations, "code,name,parent_code\nB1,Bin,B0\nB0,Bin,NOPE\n",
				[]string{`line 2, parent_code: no location "B0"`, `line 3, parent_code: no location "NOPE"`}},
			{"cycle", importer.Locations, "code,name,parent_code\nC1,x,C2\nC2,x,C1\n", []string{"parent_code: \"C1\" is its own ancestor", "parent_code: \"C2\" is its own ancestor"}},
			{"barcode taken", importer.Items, "sku,name,uom,barcode\nNEW-1,x,ea,4006381333931\nNEW-2,x,ea,A1\n", []string{"line 2: barcode \"4006381333931\" is already used", "line 3: barcode \"A1\" is already used"}},
			{"new item needs a name", importer.Items, "sku,uom\nNEW-1,ea\n", []string{"line 2, name: must be 1-200 characters"}},
			{"stock: bad qty, unknown sku and location", importer.Stock, "sku,location_code,lot,qty\nBOLT,A1,,abc\nWID-RED,A1,,-2\nBOLT,WH,,1\nBOLT,WH,,2\n",
				[]string{"line 2, qty: quantity must be a number", "line 3, qty: must be >= 0", `line 5, sku: BOLT at WH (lot "") is already counted on line 4`}},
			{"stock: unknown sku and location", importer.Stock, "sku,location_code,qty\nNOPE,A1,1\nBOLT,NOWHERE,1\nWID-RED,WH,1\nWID-RED,A1,1.5\n",
				[]string{`line 2, sku: no item with sku "NOPE"`, `line 3, location_code: no location with code "NOWHERE"`}},
			{"stock: structural, precision", importer.Stock, "sku,location_code,qty\nWID-RED,WH,1\n", []string{"line 2, location_code:"}},
			{"stock: precision", importer.Stock, "sku,location_code,qty\nWID-RED,A1,1.5\n", []string{"line 2, qty:"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, dry := range []bool{true, false} {
					_, err := run(t, svc, tc.kind, tc.file, dry)
					got := rowErrors(t, err)
					if len(got) != len(tc.want) {
						t.Fatalf("dry run %v: errors = %q, want %d like %q", dry, got, len(tc.want), tc.want)
					}
					for i, w := range tc.want {
						if !strings.HasPrefix(got[i], w) && !strings.Contains(got[i], w) {
							t.Errorf("error %d = %q, want %q", i, got[i], w)
						}
					}
					if !strings.Contains(err.Error(), "nothing was imported") {
						t.Errorf("message %q", err)
					}
				}
			})
		}
		// Nothing of any refused file was written.
		n, err := db.CountItems(context.Background(), warehouse.ItemFilter{})
		if err != nil || n != 2 {
			t.Fatalf("items = %d, %v; want the 2 imported first", n, err)
		}
		n, err = db.CountLocations(context.Background(), warehouse.LocationFilter{})
		if err != nil || n != 2 {
			t.Fatalf("locations = %d, %v", n, err)
		}
		if moves, _, err := db.ListMovements(context.Background(), warehouse.MovementFilter{}, warehouse.Page{}); err != nil || len(moves) != 0 {
			t.Fatalf("movements = %d, %v", len(moves), err)
		}
	})
}

func TestImportUpsertAndDryRun(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db, svc := open(t, engine)
		dry, err := run(t, svc, importer.Items, items, true)
		if err != nil || !dry.DryRun || dry.Rows != 2 || dry.Created != 2 {
			t.Fatalf("dry run = %+v, %v", dry, err)
		}
		if n, _ := db.CountItems(ctx, warehouse.ItemFilter{}); n != 0 {
			t.Fatalf("dry run wrote %d items", n)
		}
		if s := must(t, svc, importer.Items, items); s.Created != 2 || s.Updated != 0 {
			t.Fatalf("first import = %+v", s)
		}
		// Upsert: one row changed, one the same, one new; a column the file
		// lacks (description) stays as it is.
		upsert := "sku,name,reorder_point\nWID-RED,Red widget,7\nBOLT,Bolt,0.25\nNUT,Nut,\n"
		if _, err := run(t, svc, importer.Items, upsert, false); fmt.Sprint(rowErrors(t, err)) != "[line 4, uom: must be 1-16 characters]" {
			t.Fatalf("a new item without uom: %v", err)
		}
		s := must(t, svc, importer.Items, "sku,name,uom,reorder_point\nWID-RED,Red widget,ea,7\nBOLT,Bolt,kg,0.25\nNUT,Nut,ea,\n")
		if s.Rows != 3 || s.Created != 1 || s.Updated != 1 || s.Unchanged != 1 {
			t.Fatalf("summary %+v", s)
		}
		it, err := db.ItemByBarcode(ctx, "WID-RED")
		if err != nil || it.Barcode != "4006381333931" || it.ReorderPoint == nil || *it.ReorderPoint != 7*warehouse.QtyScale || it.Version != 2 {
			t.Fatalf("WID-RED = %+v, %v", it, err)
		}
		bolt, _ := db.ItemByBarcode(ctx, "BOLT")
		if bolt.Version != 1 {
			t.Fatalf("an unchanged row wrote: version %d", bolt.Version)
		}
	})
}

func TestImportLocationsParentsLater(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db, svc := open(t, engine)
		s := must(t, svc, importer.Locations, "code,name,parent_code,structural\nA1-1,Shelf,A1,false\nA1,Aisle,WH,true\nWH,Main,,true\n")
		if s.Created != 3 {
			t.Fatalf("summary %+v", s)
		}
		l, err := db.LocationByCode(ctx, "A1-1")
		if err != nil || l.Path != "WH/A1/A1-1" || l.Depth != 3 {
			t.Fatalf("A1-1 = %+v, %v", l, err)
		}
		// Re-parent an existing one to a new one of the same file.
		s = must(t, svc, importer.Locations, "code,name,parent_code,structural\nA1,Aisle,WH2,true\nWH2,Second,,true\n")
		if s.Created != 1 || s.Updated != 1 {
			t.Fatalf("summary %+v", s)
		}
		if l, _ = db.LocationByCode(ctx, "A1-1"); l.Path != "WH2/A1/A1-1" {
			t.Fatalf("path after re-parenting = %q", l.Path)
		}
		events, _, err := db.ListAuditEvents(ctx, warehouse.AuditFilter{Entity: "location"}, warehouse.Page{})
		if err != nil || len(events) != 5 || events[0].Actor != "max" {
			t.Fatalf("audit events = %d, %v", len(events), err)
		}
	})
}

func TestImportStockTwicePostsOnce(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db, svc := open(t, engine)
		var b strings.Builder
		b.WriteString("sku,name,uom\n")
		for i := range 600 {
			fmt.Fprintf(&b, "SKU-%04d,Item %d,ea\n", i, i)
		}
		must(t, svc, importer.Items, b.String())
		must(t, svc, importer.Locations, locations)
		b.Reset()
		b.WriteString("sku,location_code,lot,qty\n")
		for i := range 600 {
			fmt.Fprintf(&b, "SKU-%04d,A1,,%d\n", i, i+1)
		}
		stock := b.String()
		dry, err := run(t, svc, importer.Stock, stock, true)
		if err != nil || len(dry.MovementIDs) != 2 {
			t.Fatalf("dry run = %+v, %v", dry, err)
		}
		first := must(t, svc, importer.Stock, stock)
		if first.Replayed || len(first.MovementIDs) != 2 || first.Created != 600 {
			t.Fatalf("first = %+v", first)
		}
		// The records of imports outlive the purge of idempotency keys.
		if _, err := db.PurgeIdempotencyKeys(ctx, 0); err != nil {
			t.Fatal(err)
		}
		again := must(t, svc, importer.Stock, stock)
		if !again.Replayed || fmt.Sprint(again.MovementIDs) != fmt.Sprint(first.MovementIDs) {
			t.Fatalf("again = %+v, first %+v", again, first)
		}
		moves, _, err := db.ListMovements(ctx, warehouse.MovementFilter{}, warehouse.Page{})
		if err != nil || len(moves) != 2 {
			t.Fatalf("movements = %d, %v", len(moves), err)
		}
		it, err := db.ItemByBarcode(ctx, "SKU-0599")
		if err != nil || it.OnHand != 600*warehouse.QtyScale {
			t.Fatalf("SKU-0599 on hand = %v, %v", it, err)
		}
		if _, err := svc.Import(ctx, importer.Actor{Name: "carla", Roles: []string{"clerk"}}, importer.Stock, strings.NewReader(stock), false, nil); warehouse.ErrorCode(err) != warehouse.EFORBIDDEN {
			t.Fatalf("clerk import: %v", err)
		}
	})
}
