package importer

import (
	"context"
	"encoding/csv"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
)

// maxFuzzFile bounds a fuzzed file: the row parser is linear, so a few KiB
// find what a few MiB would.
const maxFuzzFile = 16 << 10

// FuzzImportRows runs both passes of the row parser on an arbitrary file
// of each kind, as Import does before it reaches the store: the first
// never panics and refuses only with the domain's invalid error listing
// each problem at a line of the file with a message; a file it accepts
// reads again in the second pass (no errChanged) to the same rows, each
// row's quantities in range, and the rows written back as CSV parse to
// the same rows.
func FuzzImportRows(f *testing.F) {
	for _, s := range []struct {
		kind Kind
		file string
	}{
		{Items, "sku,name,uom,qty_precision,barcode,reorder_point\nWID-RED,Red widget,ea,0,4006381333931,5\nBOLT,Bolt,kg,3,,0.25\n"},
		{Items, "\xEF\xBB\xBFsku,name\nA,\"quoted, with comma\"\nB,\"line\nbreak\"\n"},
		{Items, "sku,name,uom,qty_precision,reorder_point\nNEW-1,New,ea,0,1\nNEW-2,,ea,0,1\nNEW-3,x,ea,7,1\nNEW-4,x,ea,0,-1\nNEW-1,again,ea,0,1\n"},
		{Items, "id,sku,name,on_hand,available,version\n1,WID,Widget,5,5,3\n"},
		{Items, "sku,lot_tracked,active\nA,true,false\nB,yes,1\n"},
		{Items, "sku,reorder_point\nA,1e400\nB,1e-9\nC,0x10\nD, 7 \nE,\n"},
		{Items, ""}, {Items, "sku\n"}, {Items, "sku,sku\nA,B\n"}, {Items, ",\n"}, {Items, "sku\n\"unterminated\n"},
		{Locations, "code,name,parent_code,structural\nA1,Bin A1,WH,false\nWH,Main,,true\n"},
		{Locations, "code,name,parent_code\nA,a,B\nB,b,C\nC,c,A\n"},
		{Locations, "code,parent_code\nA,A\n"},
		{Locations, "code,name\nWH,\n"},
		{Stock, "sku,location_code,lot,qty\nWID-RED,A1,,20\nBOLT,A1,L1,0.125\n"},
		{Stock, "sku,location_code,qty\nWID,A1,-1\nWID,A1,1.0001\nWID,A1,1\nWID,A1,2\n"},
		{Stock, "sku,qty\nBOLT,1\n"},
		{Stock, "sku,location_code,lot,qty\nA,B,C\n"},
		{Stock, "sku,location_code,lot,qty\nbad sku,A1,,1\n"},
	} {
		f.Add(string(s.kind), s.file)
	}
	f.Fuzz(func(t *testing.T, kind, file string) {
		if len(file) > maxFuzzFile {
			return
		}
		sp, ok := specs[Kind(kind)]
		if !ok {
			return
		}
		v := sp.newValidator()
		var bad warehouse.RowErrors
		var checked []record
		n, err := scan(context.Background(), strings.NewReader(file), sp, &bad, func(r record) {
			v.check(r, &bad)
			checked = append(checked, record{n: r.n, line: r.line, fields: append([]string(nil), r.fields...), idx: r.idx})
		})
		if err != nil {
			t.Fatalf("scan: an error that is no row's: %v", err)
		}
		v.finish(&bad)
		lines := strings.Count(file, "\n") + 1
		if err := bad.Err(); err != nil {
			var e *warehouse.Error
			if !errors.As(err, &e) || e.Code != warehouse.EINVALID || e.Message == "" || len(e.Fields) == 0 {
				t.Fatalf("refusal %v (%T) is not an invalid error listing the rows", err, err)
			}
			for _, fe := range e.Fields {
				if fe.Line < 1 || fe.Line > lines+1 || fe.Message == "" {
					t.Fatalf("problem %+v: no line of the file (%d lines) or no message", fe, lines)
				}
			}
			return
		}
		if n == 0 || n != len(checked) {
			t.Fatalf("accepted a file of %d rows, %d checked", n, len(checked))
		}

		// The second pass reads the same rows.
		var again []record
		if err := rescan(context.Background(), strings.NewReader(file), sp, func(r record) error {
			again = append(again, record{n: r.n, line: r.line, fields: append([]string(nil), r.fields...), idx: r.idx})
			return nil
		}); err != nil {
			t.Fatalf("second pass: %v", err)
		}
		if !reflect.DeepEqual(again, checked) {
			t.Fatalf("second pass read other rows:\n%v\n%v", again, checked)
		}
		for _, r := range checked {
			switch Kind(kind) {
			case Items:
				if rp := itemRow(r).Patch.ReorderPoint; rp != nil && *rp != nil && (**rp < 0 || **rp > warehouse.MaxQty) {
					t.Fatalf("line %d: reorder point %d out of range", r.line, **rp)
				}
			case Stock:
				if q := stockRow(r).Qty; q < 0 || q > warehouse.MaxQty {
					t.Fatalf("line %d: qty %d out of range", r.line, q)
				}
			}
		}

		// Written back as CSV (the header of the columns read, each row's
		// fields), the file parses to the same rows.
		header, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(file, string(bom)))).Read()
		if err != nil {
			t.Fatalf("the accepted file's header: %v", err)
		}
		var b strings.Builder
		w := csv.NewWriter(&b)
		_ = w.Write(header)
		for _, r := range checked {
			_ = w.Write(r.fields)
		}
		w.Flush()
		var back []record
		if err := rescan(context.Background(), strings.NewReader(b.String()), sp, func(r record) error {
			back = append(back, record{fields: append([]string(nil), r.fields...), idx: r.idx})
			return nil
		}); err != nil {
			t.Fatalf("the rows written back: %v\n%s", err, b.String())
		}
		if len(back) != len(checked) {
			t.Fatalf("written back, %d rows read as %d", len(checked), len(back))
		}
		for i := range back {
			if !sameRow(Kind(kind), back[i], checked[i]) {
				t.Fatalf("row %d written back reads differently:\n%q\n%q", i+1, back[i].fields, checked[i].fields)
			}
		}
	})
}

// sameRow compares the rows two records give, without their line.
func sameRow(k Kind, a, b record) bool {
	switch k {
	case Items:
		x, y := itemRow(a), itemRow(b)
		x.Line, y.Line = 0, 0
		return reflect.DeepEqual(x, y)
	case Locations:
		x, y := locationRow(a), locationRow(b)
		x.Line, y.Line = 0, 0
		return reflect.DeepEqual(x, y)
	}
	x, y := stockRow(a), stockRow(b)
	x.Line, y.Line = 0, 0
	return reflect.DeepEqual(x, y)
}
