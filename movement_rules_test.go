package warehouse

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func q(s string) *Qty {
	v, err := ParseQty(s)
	if err != nil {
		panic(err)
	}
	return &v
}

func id(n int64) *int64 { return &n }

// world is what a store would have resolved: two active bins, a
// structural warehouse, an archived bin; a plain item, a lot-tracked one,
// an archived one and one with qty_precision 2.
func world() Resolved {
	items := []*Item{
		{ID: 1, SKU: "PLAIN", Active: true},
		{ID: 2, SKU: "LOTTED", Active: true, LotTracked: true},
		{ID: 3, SKU: "OLD", Active: false},
		{ID: 4, SKU: "CABLE", Active: true, QtyPrecision: 2},
	}
	r := Resolved{ItemsByID: map[int64]*Item{}, ItemsBySKU: map[string]*Item{}, Locations: map[int64]*Location{}}
	for _, it := range items {
		r.ItemsByID[it.ID], r.ItemsBySKU[it.SKU] = it, it
	}
	for _, l := range []*Location{
		{ID: 10, Path: "WH1", Structural: true, Active: true},
		{ID: 11, Path: "WH1/A", Active: true},
		{ID: 12, Path: "WH1/B", Active: true},
		{ID: 13, Path: "WH1/OLD", Active: false},
	} {
		r.Locations[l.ID] = l
	}
	return r
}

func TestNewMovementValidate(t *testing.T) {
	line := []MovementLine{{ItemID: 1, ToLocationID: id(11), Qty: q("1")}}
	many := make([]MovementLine, MaxMovementLines+1)
	for _, tc := range []struct {
		name      string
		m         NewMovement
		field     string // "" means valid
		inMessage string
	}{
		{"receipt", NewMovement{Type: MoveReceipt, Lines: line}, "", ""},
		{"unknown type", NewMovement{Type: "gift", Lines: line}, "type", "type must be one of receipt, issue, transfer, adjustment, count"},
		{"empty type", NewMovement{Lines: line}, "type", "type must be one of"},
		{"adjustment without reason", NewMovement{Type: MoveAdjustment, Lines: line}, "reason", "an adjustment needs a reason: damaged, lost, found, correction, other"},
		{"adjustment with unknown reason", NewMovement{Type: MoveAdjustment, Reason: "stolen", Lines: line}, "reason", "an adjustment needs a reason"},
		{"adjustment with reason", NewMovement{Type: MoveAdjustment, Reason: "found", Lines: line}, "", ""},
		{"receipt with a known reason", NewMovement{Type: MoveReceipt, Reason: "correction", Lines: line}, "", ""},
		{"receipt with unknown reason", NewMovement{Type: MoveReceipt, Reason: "gift", Lines: line}, "reason", "reason must be one of"},
		{"reference 100", NewMovement{Type: MoveReceipt, Reference: strings.Repeat("r", 100), Lines: line}, "", ""},
		{"reference 101", NewMovement{Type: MoveReceipt, Reference: strings.Repeat("r", 101), Lines: line}, "reference", "reference must be at most 100 characters"},
		{"note 1000", NewMovement{Type: MoveReceipt, Note: strings.Repeat("n", 1000), Lines: line}, "", ""},
		{"note 1001", NewMovement{Type: MoveReceipt, Note: strings.Repeat("n", 1001), Lines: line}, "note", "note must be at most 1000 characters"},
		{"no lines", NewMovement{Type: MoveReceipt}, "lines", "a movement has 1 to 500 lines"},
		{"too many lines", NewMovement{Type: MoveReceipt, Lines: many}, "lines", "a movement has 1 to 500 lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkFieldErr(t, tc.m.Validate(), tc.field, tc.inMessage)
		})
	}
}

// checkFieldErr asserts err is nil (field "") or an EINVALID naming field
// whose message contains inMessage.
func checkFieldErr(t *testing.T, err error, field, inMessage string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	var de *Error
	if !errors.As(err, &de) || de.Code != EINVALID {
		t.Fatalf("err = %v, want an %s error", err, EINVALID)
	}
	if len(de.Fields) != 1 || de.Fields[0].Field != field {
		t.Fatalf("fields = %+v, want one naming %s", de.Fields, field)
	}
	if !strings.Contains(de.Message, inMessage) {
		t.Fatalf("message = %q, want it to contain %q", de.Message, inMessage)
	}
}

func TestPlanMovementRules(t *testing.T) {
	for _, tc := range []struct {
		name      string
		typ       string
		lines     []MovementLine
		field     string
		inMessage string
	}{
		// Items.
		{"no item named", MoveReceipt, []MovementLine{{ToLocationID: id(11), Qty: q("1")}}, "lines[0].item_id", "give item_id or sku"},
		{"unknown item id", MoveReceipt, []MovementLine{{ItemID: 99, ToLocationID: id(11), Qty: q("1")}}, "lines[0].item_id", "no item 99"},
		{"unknown sku", MoveReceipt, []MovementLine{{SKU: "NOPE", ToLocationID: id(11), Qty: q("1")}}, "lines[0].sku", `no item with sku "NOPE"`},
		{"id and sku disagree", MoveReceipt, []MovementLine{{ItemID: 1, SKU: "CABLE", ToLocationID: id(11), Qty: q("1")}}, "lines[0].sku", "item 1 has sku PLAIN, not CABLE"},
		{"id and sku agree", MoveReceipt, []MovementLine{{ItemID: 1, SKU: "PLAIN", ToLocationID: id(11), Qty: q("1")}}, "", ""},
		{"archived item", MoveReceipt, []MovementLine{{ItemID: 3, ToLocationID: id(11), Qty: q("1")}}, "lines[0].item_id", "item OLD is archived"},
		{"error names the line", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(11), Qty: q("1")}, {ItemID: 3, ToLocationID: id(11), Qty: q("1")}}, "lines[1].item_id", "lines[1].item_id: item OLD is archived"},
		// Lots.
		{"lot-tracked without lot", MoveReceipt, []MovementLine{{ItemID: 2, ToLocationID: id(11), Qty: q("1")}}, "lines[0].lot", "item LOTTED is lot-tracked: lot is required"},
		{"lot-tracked with lot", MoveReceipt, []MovementLine{{ItemID: 2, Lot: "L1", ToLocationID: id(11), Qty: q("1")}}, "", ""},
		{"lot on a plain item", MoveReceipt, []MovementLine{{ItemID: 1, Lot: "L1", ToLocationID: id(11), Qty: q("1")}}, "lines[0].lot", "item PLAIN is not lot-tracked: lot is not allowed"},
		{"lot of 65", MoveReceipt, []MovementLine{{ItemID: 2, Lot: strings.Repeat("l", 65), ToLocationID: id(11), Qty: q("1")}}, "lines[0].lot", "must be at most 64 characters"},
		// Forbidden fields per type.
		{"receipt with location_id", MoveReceipt, []MovementLine{{ItemID: 1, LocationID: id(11), ToLocationID: id(11), Qty: q("1")}}, "lines[0].location_id", "not allowed for this movement type"},
		{"receipt with from", MoveReceipt, []MovementLine{{ItemID: 1, FromLocationID: id(12), ToLocationID: id(11), Qty: q("1")}}, "lines[0].from_location_id", "not allowed"},
		{"receipt with qty_delta", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(11), Qty: q("1"), QtyDelta: q("1")}}, "lines[0].qty_delta", "not allowed"},
		{"issue with to", MoveIssue, []MovementLine{{ItemID: 1, FromLocationID: id(11), ToLocationID: id(12), Qty: q("1")}}, "lines[0].to_location_id", "not allowed"},
		{"transfer with counted_qty", MoveTransfer, []MovementLine{{ItemID: 1, FromLocationID: id(11), ToLocationID: id(12), Qty: q("1"), CountedQty: q("1")}}, "lines[0].counted_qty", "not allowed"},
		{"transfer with expected_qty", MoveTransfer, []MovementLine{{ItemID: 1, FromLocationID: id(11), ToLocationID: id(12), Qty: q("1"), ExpectedQty: q("1")}}, "lines[0].expected_qty", "not allowed"},
		{"adjustment with qty", MoveAdjustment, []MovementLine{{ItemID: 1, LocationID: id(11), Qty: q("1"), QtyDelta: q("1")}}, "lines[0].qty", "not allowed"},
		{"adjustment with to", MoveAdjustment, []MovementLine{{ItemID: 1, LocationID: id(11), ToLocationID: id(11), QtyDelta: q("1")}}, "lines[0].to_location_id", "not allowed"},
		{"count with qty_delta", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(11), CountedQty: q("1"), QtyDelta: q("1")}}, "lines[0].qty_delta", "not allowed"},
		{"count with from", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(11), FromLocationID: id(11), CountedQty: q("1")}}, "lines[0].from_location_id", "not allowed"},
		// Required fields and quantities.
		{"receipt without qty", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(11)}}, "lines[0].qty", "field required"},
		{"receipt of 0", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(11), Qty: q("0")}}, "lines[0].qty", "must be greater than 0"},
		{"receipt of -1", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(11), Qty: q("-1")}}, "lines[0].qty", "must be greater than 0"},
		{"receipt without to", MoveReceipt, []MovementLine{{ItemID: 1, Qty: q("1")}}, "lines[0].to_location_id", "field required"},
		{"issue without from", MoveIssue, []MovementLine{{ItemID: 1, Qty: q("1")}}, "lines[0].from_location_id", "field required"},
		{"transfer without to", MoveTransfer, []MovementLine{{ItemID: 1, FromLocationID: id(11), Qty: q("1")}}, "lines[0].to_location_id", "field required"},
		{"transfer to itself", MoveTransfer, []MovementLine{{ItemID: 1, FromLocationID: id(11), ToLocationID: id(11), Qty: q("1")}}, "lines[0].to_location_id", "must differ from from_location_id"},
		{"adjustment without delta", MoveAdjustment, []MovementLine{{ItemID: 1, LocationID: id(11)}}, "lines[0].qty_delta", "required and not 0"},
		{"adjustment of 0", MoveAdjustment, []MovementLine{{ItemID: 1, LocationID: id(11), QtyDelta: q("0")}}, "lines[0].qty_delta", "required and not 0"},
		{"adjustment without location", MoveAdjustment, []MovementLine{{ItemID: 1, QtyDelta: q("-2")}}, "lines[0].location_id", "field required"},
		{"count without counted", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(11)}}, "lines[0].counted_qty", "field required"},
		{"count below 0", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(11), CountedQty: q("-1")}}, "lines[0].counted_qty", "must be >= 0"},
		{"count of 0", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(11), CountedQty: q("0")}}, "", ""},
		{"count without location", MoveCount, []MovementLine{{ItemID: 1, CountedQty: q("1")}}, "lines[0].location_id", "field required"},
		{"same count twice", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(11), CountedQty: q("1")}, {SKU: "PLAIN", LocationID: id(11), CountedQty: q("2")}},
			"lines[1].location_id", "this item, location and lot is already counted in this movement"},
		{"count of two lots", MoveCount, []MovementLine{{ItemID: 2, Lot: "L1", LocationID: id(11), CountedQty: q("1")}, {ItemID: 2, Lot: "L2", LocationID: id(11), CountedQty: q("2")}}, "", ""},
		// Precision.
		{"decimals on a whole item", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(11), Qty: q("1.5")}}, "lines[0].qty", "1.5 has more decimals than item PLAIN allows (qty_precision 0)"},
		{"two decimals allowed", MoveReceipt, []MovementLine{{ItemID: 4, ToLocationID: id(11), Qty: q("1.25")}}, "", ""},
		{"three decimals refused", MoveReceipt, []MovementLine{{ItemID: 4, ToLocationID: id(11), Qty: q("1.125")}}, "lines[0].qty", "qty_precision 2"},
		{"adjustment precision", MoveAdjustment, []MovementLine{{ItemID: 1, LocationID: id(11), QtyDelta: q("-0.5")}}, "lines[0].qty_delta", "has more decimals"},
		{"count precision", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(11), CountedQty: q("0.5")}}, "lines[0].counted_qty", "has more decimals"},
		// Locations.
		{"unknown location", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(99), Qty: q("1")}}, "lines[0].to_location_id", "no location 99"},
		{"structural location", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(10), Qty: q("1")}}, "lines[0].to_location_id", "location WH1 is structural and cannot hold stock"},
		{"archived location", MoveIssue, []MovementLine{{ItemID: 1, FromLocationID: id(13), Qty: q("1")}}, "lines[0].from_location_id", "location WH1/OLD is archived"},
		{"archived count location", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(13), CountedQty: q("1")}}, "lines[0].location_id", "is archived"},
		// Order of checks: the forbidden field is named before a missing quantity.
		{"forbidden before required", MoveIssue, []MovementLine{{ItemID: 1, FromLocationID: id(11), ToLocationID: id(12)}}, "lines[0].to_location_id", "not allowed"},
		// Header rules come first.
		{"header first", "gift", []MovementLine{{ItemID: 99}}, "type", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMovement{Type: tc.typ, Lines: tc.lines}
			if tc.typ == MoveAdjustment {
				m.Reason = "correction"
			}
			_, err := PlanMovement(&m, world())
			inMessage := tc.inMessage
			if tc.field == "type" {
				inMessage = "type must be one of"
			}
			checkFieldErr(t, err, tc.field, inMessage)
		})
	}
}

func TestPlanMovementPostings(t *testing.T) {
	type want struct {
		line  int
		loc   int64
		delta string
		count bool
	}
	for _, tc := range []struct {
		name  string
		typ   string
		lines []MovementLine
		want  []want
	}{
		{"receipt adds to the bin", MoveReceipt, []MovementLine{{SKU: "PLAIN", ToLocationID: id(11), Qty: q("5")}}, []want{{0, 11, "5", false}}},
		{"issue takes from the bin", MoveIssue, []MovementLine{{ItemID: 1, FromLocationID: id(11), Qty: q("2")}}, []want{{0, 11, "-2", false}}},
		{"transfer takes then adds", MoveTransfer, []MovementLine{{ItemID: 4, FromLocationID: id(11), ToLocationID: id(12), Qty: q("0.25")}},
			[]want{{0, 11, "-0.25", false}, {0, 12, "0.25", false}}},
		{"adjustment is signed", MoveAdjustment, []MovementLine{{ItemID: 1, LocationID: id(12), QtyDelta: q("-3")}}, []want{{0, 12, "-3", false}}},
		{"count waits for the balance", MoveCount, []MovementLine{{ItemID: 1, LocationID: id(12), CountedQty: q("7")}}, []want{{0, 12, "0", true}}},
		{"lines in order", MoveReceipt, []MovementLine{{ItemID: 1, ToLocationID: id(12), Qty: q("1")}, {ItemID: 4, ToLocationID: id(11), Qty: q("2")}},
			[]want{{0, 12, "1", false}, {1, 11, "2", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMovement{Type: tc.typ, Reason: "found", Lines: tc.lines}
			ps, err := PlanMovement(&m, world())
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != len(tc.want) {
				t.Fatalf("%d postings, want %d: %+v", len(ps), len(tc.want), ps)
			}
			for i, w := range tc.want {
				p := ps[i]
				if p.Line != w.line || p.Location.ID != w.loc || p.Delta.String() != w.delta || p.Count != w.count {
					t.Errorf("posting %d = line %d loc %d delta %s count %v, want %+v", i, p.Line, p.Location.ID, p.Delta, p.Count, w)
				}
			}
			for i, l := range m.Lines {
				it := world().ItemsByID[l.ItemID]
				if l.LineNo != int64(i+1) || it == nil || l.SKU != it.SKU {
					t.Errorf("line %d: line_no %d, item %d, sku %q: want them filled", i, l.LineNo, l.ItemID, l.SKU)
				}
			}
		})
	}
}

func TestSortPostings(t *testing.T) {
	r := world()
	a, b := r.Locations[11], r.Locations[12]
	p1, p4 := r.ItemsByID[1], r.ItemsByID[4]
	ps := []Posting{
		{Line: 0, Item: p4, Location: a, Delta: 1},
		{Line: 1, Item: p1, Location: b, Delta: -5}, // B->C after A->B: the increment of B goes first
		{Line: 2, Item: p1, Location: a, Lot: "", Delta: -5},
		{Line: 3, Item: p1, Location: b, Delta: 5},
	}
	SortPostings(ps)
	var got []int
	for _, p := range ps {
		got = append(got, p.Line)
	}
	if want := []int{2, 3, 1, 0}; !equalInts(got, want) {
		t.Fatalf("order = %v, want %v (item, location, lot; increments first)", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPostingCount(t *testing.T) {
	r := world()
	for _, tc := range []struct {
		name     string
		counted  string
		expected *Qty
		onHand   string
		delta    string
		outdated bool
	}{
		{"count up", "7", nil, "5", "2", false},
		{"count down", "3", nil, "5", "-2", false},
		{"count to zero", "0", nil, "5", "-5", false},
		{"expected matches", "7", q("5"), "5", "2", false},
		{"stock moved since", "7", q("4"), "5", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Posting{Item: r.ItemsByID[1], Location: r.Locations[11], Count: true, Counted: *q(tc.counted), Expected: tc.expected}
			err := p.SetOnHand(*q(tc.onHand))
			if tc.outdated {
				var co *CountOutdatedError
				if !errors.As(err, &co) || ErrorCode(err) != ECOUNTOUTDATED || co.OnHand != *q(tc.onHand) || co.Expected != *tc.expected || co.LocationCode != "WH1/A" {
					t.Fatalf("err = %#v, want a CountOutdatedError at WH1/A", err)
				}
				return
			}
			if err != nil || p.Delta.String() != tc.delta {
				t.Fatalf("delta %s, err %v; want %s", p.Delta, err, tc.delta)
			}
		})
	}
}

func TestPostingShortageAndBalance(t *testing.T) {
	r := world()
	issue := Posting{Item: r.ItemsByID[2], Location: r.Locations[11], Lot: "L1", Delta: -*q("5")}
	if got, want := issue.Shortage(*q("3")), (Shortage{SKU: "LOTTED", LocationCode: "WH1/A", Lot: "L1", Requested: *q("5"), Available: *q("3")}); !reflect.DeepEqual(got, want) {
		t.Errorf("issue shortage = %+v, want %+v", got, want)
	}
	// A count below what is reserved asks for what it would take away.
	count := Posting{Item: r.ItemsByID[1], Location: r.Locations[11], Count: true, Counted: *q("1"), Delta: -*q("9")}
	if got := count.Shortage(*q("4")); got.Requested != *q("3") || got.Available != *q("4") {
		t.Errorf("count shortage = %+v, want requested 3 of 4", got)
	}
	if err := issue.CheckBalance(MaxQty); err != nil {
		t.Errorf("MaxQty refused: %v", err)
	}
	err := issue.CheckBalance(MaxQty + 1)
	if ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), "LOTTED at WH1/A would exceed the largest balance (10^12)") {
		t.Errorf("above MaxQty: %v", err)
	}
}

func TestCanPostMovement(t *testing.T) {
	for _, tc := range []struct {
		roles []string
		typ   string
		ok    bool
	}{
		{[]string{"clerk"}, MoveReceipt, true},
		{[]string{"clerk"}, MoveCount, true},
		{[]string{"clerk"}, MoveAdjustment, false},
		{[]string{"viewer", "clerk"}, MoveAdjustment, false},
		{[]string{"manager"}, MoveAdjustment, true},
		{[]string{"admin"}, MoveAdjustment, true},
		{nil, MoveAdjustment, false},
	} {
		err := CanPostMovement(tc.roles, tc.typ)
		if tc.ok != (err == nil) {
			t.Errorf("CanPostMovement(%v, %s) = %v, want ok %v", tc.roles, tc.typ, err, tc.ok)
		}
		if err != nil && (ErrorCode(err) != EFORBIDDEN || ErrorMessage(err) != "This action requires role manager (or higher)") {
			t.Errorf("CanPostMovement(%v, %s) = %v, want forbidden naming manager", tc.roles, tc.typ, err)
		}
	}
}

func TestPlanReversal(t *testing.T) {
	r := world()
	r.Locations[13].Active = false // archived since: a reversal still returns the stock
	reason := "found"
	orig := &Movement{ID: 7, Type: MoveTransfer, Reference: "PO-1", Reason: &reason, Lines: []MovementLine{
		{LineNo: 1, ItemID: 1, SKU: "PLAIN", Entries: []Entry{{ID: 1, LocationID: 11, QtyDelta: -*q("2")}, {ID: 2, LocationID: 13, QtyDelta: *q("2")}}},
	}}
	m, ps, err := PlanReversal(orig, "", r)
	if err != nil {
		t.Fatal(err)
	}
	if m.Note != "reversal of movement 7" || *m.ReversalOf != 7 || m.Type != MoveTransfer || m.Reference != "PO-1" || m.Reason != &reason {
		t.Errorf("reversal = %+v", m)
	}
	if len(m.Lines) != 1 || len(m.Lines[0].Entries) != 0 || len(orig.Lines[0].Entries) != 2 {
		t.Errorf("lines = %+v: want the original's lines without entries, the original untouched", m.Lines)
	}
	if len(ps) != 2 || ps[0].Location.ID != 11 || ps[0].Delta != *q("2") || ps[1].Location.ID != 13 || ps[1].Delta != -*q("2") {
		t.Errorf("postings = %+v, want every entry negated", ps)
	}
	if m, _, _ := PlanReversal(orig, "wrong bin", r); m.Note != "wrong bin" {
		t.Errorf("note = %q, want the one given", m.Note)
	}

	for _, tc := range []struct {
		name string
		orig *Movement
		note string
		code string
		msg  string
	}{
		{"note too long", orig, strings.Repeat("n", 1001), EINVALID, "note must be at most 1000 characters"},
		{"a reversal", &Movement{ID: 8, ReversalOf: id(7)}, "", ECONFLICT, "movement 8 is itself a reversal (of 7); post a new movement instead"},
		{"already reversed", &Movement{ID: 7, ReversedBy: id(8)}, "", ECONFLICT, "movement 7 is already reversed by movement 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := PlanReversal(tc.orig, tc.note, r)
			if ErrorCode(err) != tc.code || ErrorMessage(err) != tc.msg {
				t.Fatalf("err = %v, want %s %q", err, tc.code, tc.msg)
			}
		})
	}
}
