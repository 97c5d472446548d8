package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// upload posts a CSV file to POST /api/v1/imports/{kind}.
func (e *domainEnv) upload(path, token, file string, hdr ...string) *domainResp {
	e.t.Helper()
	return e.do("POST", path, token, file, append([]string{"Content-Type", "text/csv"}, hdr...)...)
}

func (e *domainEnv) export(path string) string {
	e.t.Helper()
	r := e.do("GET", path, e.tokens["viewer"], nil).must(http.StatusOK)
	return string(r.body)
}

func TestImportAPI(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		mgr := e.tokens["manager"]

		// Refused whole, every error listed with its line and column.
		bad := "sku,name,uom,reorder_point\nA-1,A,ea,1\nA-2,B,ea,-1\nA-1,C,ea,2\n"
		r := e.upload("/api/v1/imports/items", mgr, bad).must(http.StatusUnprocessableEntity)
		var p struct {
			Code   string                 `json:"code"`
			Detail string                 `json:"detail"`
			Errors []warehouse.FieldError `json:"errors"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		want := []warehouse.FieldError{{Line: 3, Field: "reorder_point", Message: "must be >= 0"}, {Line: 4, Field: "sku", Message: `"A-1" is already on line 2`}}
		if fmt.Sprint(p.Errors) != fmt.Sprint(want) || !strings.Contains(p.Detail, "line 3, reorder_point: must be >= 0") {
			t.Fatalf("422 = %s", r.body)
		}

		items := "sku,name,uom,qty_precision,barcode,reorder_point\nWID-RED,Red widget,ea,0,4006381333931,5\nBOLT,Bolt,kg,3,,0.25\n"
		var sum struct {
			Rows, Created, Updated, Unchanged int
			DryRun                            bool    `json:"dry_run"`
			MovementIDs                       []int64 `json:"movement_ids"`
			Replayed                          bool
		}
		decode := func(r *domainResp) {
			t.Helper()
			sum.MovementIDs = nil
			if err := json.Unmarshal(r.body, &sum); err != nil {
				t.Fatal(err)
			}
		}
		decode(e.upload("/api/v1/imports/items?dry_run=true", mgr, items).must(http.StatusOK))
		if !sum.DryRun || sum.Created != 2 || e.export("/api/v1/items?format=csv") != "id,sku,name,description,uom,qty_precision,barcode,lot_tracked,reorder_point,active,on_hand,available,version,updated_at,updated_by\n" {
			t.Fatalf("dry run: %+v", sum)
		}
		decode(e.upload("/api/v1/imports/items", mgr, items).must(http.StatusOK))
		if sum.Created != 2 || sum.Rows != 2 {
			t.Fatalf("import: %+v", sum)
		}
		decode(e.upload("/api/v1/imports/locations", mgr, "code,name,parent_code,structural\nA1,Bin A1,WH,false\nWH,Main,,true\n").must(http.StatusOK))
		if sum.Created != 2 {
			t.Fatalf("locations: %+v", sum)
		}

		// The exports import back unchanged.
		for _, path := range []string{"/api/v1/items?format=csv", "/api/v1/locations?format=csv"} {
			before := e.export(path)
			kind := strings.TrimPrefix(strings.TrimSuffix(path, "?format=csv"), "/api/v1/")
			decode(e.upload("/api/v1/imports/"+kind, mgr, before).must(http.StatusOK))
			if sum.Unchanged != 2 || sum.Created+sum.Updated != 0 {
				t.Fatalf("%s back: %+v\n%s", kind, sum, before)
			}
			if after := e.export(path); after != before {
				t.Fatalf("%s changed by its own import:\n%s\n%s", kind, before, after)
			}
		}

		// Stock: the same file twice posts once.
		stock := "sku,location_code,lot,qty\nWID-RED,A1,,12\nBOLT,A1,,2.5\n"
		decode(e.upload("/api/v1/imports/stock", mgr, stock).must(http.StatusOK))
		first := sum.MovementIDs
		if len(first) != 1 || sum.Replayed {
			t.Fatalf("stock: %+v", sum)
		}
		decode(e.upload("/api/v1/imports/stock", mgr, stock).must(http.StatusOK))
		if !sum.Replayed || fmt.Sprint(sum.MovementIDs) != fmt.Sprint(first) {
			t.Fatalf("stock again: %+v, first %v", sum, first)
		}
		if r := e.do("GET", "/api/v1/movements", mgr, nil).must(http.StatusOK); len(r.items()) != 1 {
			t.Fatalf("movements: %s", r.body)
		}

		// Who may, and what is refused before any row is read.
		e.upload("/api/v1/imports/items", e.tokens["clerk"], items).must(http.StatusForbidden)
		e.upload("/api/v1/imports/pallets", mgr, items).must(http.StatusBadRequest)
		e.do("POST", "/api/v1/imports/items", mgr, items, "Content-Type", "application/json").must(http.StatusUnsupportedMediaType)
	})
}

func TestImportAPITooLarge(t *testing.T) {
	t.Parallel()
	e := newDomainTestServer(t, pgtest.SQLite, func(c *app.Config) { c.ImportMaxBytes = 100 })
	file := "sku,name,uom\n" + strings.Repeat("X-1,x,ea\n", 20)
	r := e.upload("/api/v1/imports/items", e.tokens["manager"], file).must(http.StatusRequestEntityTooLarge)
	if !strings.Contains(string(r.body), "larger than 100 bytes") {
		t.Fatalf("413 = %s", r.body)
	}
}

// TestImportAPILargeBody sends a file larger than Huma's default body
// limit (1 MiB): the import reads the body itself, under its own limit.
func TestImportAPILargeBody(t *testing.T) {
	t.Parallel()
	e := newDomainTestServer(t, pgtest.SQLite)
	var b strings.Builder
	b.WriteString("sku,name,uom,description\n")
	desc := strings.Repeat("d", 4000)
	for i := range 600 {
		fmt.Fprintf(&b, "BIG-%d,Big,ea,%s\n", i, desc)
	}
	r := e.upload("/api/v1/imports/items", e.tokens["manager"], b.String()).must(http.StatusOK)
	if !strings.Contains(string(r.body), `"created":600`) {
		t.Fatalf("large upload: %s", r.body)
	}
}
