package warehouse

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRoleOrder(t *testing.T) {
	if !slices.Equal(Roles, []Role{RoleViewer, RoleClerk, RoleManager, RoleAdmin}) {
		t.Fatalf("Roles = %v, want viewer, clerk, manager, admin", Roles)
	}
	for _, tc := range []struct {
		role  Role
		rank  int
		valid bool
	}{
		{"viewer", 0, true},
		{"clerk", 1, true},
		{"manager", 2, true},
		{"admin", 3, true},
		{"", -1, false},
		{"root", -1, false},
		{"Admin", -1, false}, // role names are case-sensitive
		{" admin", -1, false},
	} {
		if got := tc.role.Rank(); got != tc.rank {
			t.Errorf("Role(%q).Rank() = %d, want %d", tc.role, got, tc.rank)
		}
		if got := tc.role.Valid(); got != tc.valid {
			t.Errorf("Role(%q).Valid() = %v, want %v", tc.role, got, tc.valid)
		}
	}
}

func TestHasRole(t *testing.T) {
	for _, tc := range []struct {
		roles []string
		need  Role
		want  bool
	}{
		{[]string{"admin"}, RoleViewer, true},
		{[]string{"admin"}, RoleAdmin, true},
		{[]string{"manager"}, RoleClerk, true},
		{[]string{"clerk"}, RoleClerk, true},
		{[]string{"clerk"}, RoleManager, false},
		{[]string{"viewer"}, RoleClerk, false},
		{[]string{"viewer", "manager"}, RoleManager, true}, // any role may qualify
		{[]string{"viewer", "manager"}, RoleAdmin, false},
		{nil, RoleViewer, false},
		{[]string{}, RoleViewer, false},
		{[]string{"root"}, RoleViewer, false}, // unknown roles rank below viewer
		{[]string{"Admin"}, RoleViewer, false},
		{[]string{"admin"}, "root", false}, // an unknown need is never met
		{[]string{"root"}, "root", false},
		{[]string{""}, "", false},
	} {
		if got := HasRole(tc.roles, tc.need); got != tc.want {
			t.Errorf("HasRole(%q, %q) = %v, want %v", tc.roles, tc.need, got, tc.want)
		}
	}
}

func TestValidateRoles(t *testing.T) {
	long := strings.Repeat("x", 39) + "éé" // the 40-byte cut falls inside é
	for _, tc := range []struct {
		name    string
		in      []string
		want    []string
		wantErr string // the message
	}{
		{name: "one", in: []string{"clerk"}, want: []string{"clerk"}},
		{name: "sorted lowest first", in: []string{"admin", "viewer", "manager"}, want: []string{"viewer", "manager", "admin"}},
		{name: "deduplicated", in: []string{"admin", "clerk", "admin", "clerk"}, want: []string{"clerk", "admin"}},
		{name: "none", in: []string{}, want: []string{}},
		{name: "nil", in: nil, want: []string{}},
		{name: "unknown", in: []string{"clerk", "root"}, wantErr: `unknown role "root"; roles are viewer, clerk, manager, admin`},
		{name: "case matters", in: []string{"Admin"}, wantErr: `unknown role "Admin"; roles are viewer, clerk, manager, admin`},
		{name: "empty name", in: []string{""}, wantErr: `unknown role ""; roles are viewer, clerk, manager, admin`},
		{name: "long name shortened", in: []string{strings.Repeat("r", 50)},
			wantErr: `unknown role "` + strings.Repeat("r", 40) + `…"; roles are viewer, clerk, manager, admin`},
		{name: "long name shortened on a character boundary", in: []string{long},
			wantErr: `unknown role "` + strings.Repeat("x", 39) + `…"; roles are viewer, clerk, manager, admin`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ValidateRoles(tc.in)
			if tc.wantErr == "" {
				if err != nil || got == nil || !slices.Equal(got, tc.want) {
					t.Fatalf("ValidateRoles(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != EINVALID || e.Message != tc.wantErr {
				t.Fatalf("ValidateRoles(%q) = %q, %v; want %s %q", tc.in, got, err, EINVALID, tc.wantErr)
			}
			if !utf8.ValidString(e.Message) {
				t.Errorf("message is not valid UTF-8: %q", e.Message)
			}
			if len(e.Fields) != 1 || e.Fields[0].Field != "roles" || !strings.HasPrefix(e.Fields[0].Message, "unknown role ") {
				t.Errorf("fields %+v, want one for roles", e.Fields)
			}
		})
	}
}

// checkInvalid reports unless err is an EINVALID *Error naming field
// (want "" means no error).
func checkInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("%s: %v, want no error", what, err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != EINVALID {
		t.Errorf("%s: %v, want an %s error on %s", what, err, EINVALID, field)
		return
	}
	if len(e.Fields) != 1 || e.Fields[0].Field != field {
		t.Errorf("%s: fields %+v, want one on %s", what, e.Fields, field)
	}
}

func TestValidateUsername(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wantErr bool
	}{
		{"joevu", false},
		{"a", false},
		{"Joe.Vu_2@example.com+x-y", false},
		{strings.Repeat("u", 150), false},
		{"", true},
		{strings.Repeat("u", 151), true},
		{"joe vu", true},
		{"joe/vu", true},
		{"jöe", true}, // letters are ASCII letters
		{"joe\x00", true},
		{"joe\n", true},
	} {
		field := ""
		if tc.wantErr {
			field = "username"
		}
		checkInvalid(t, fmt.Sprintf("ValidateUsername(%.20q)", tc.name), ValidateUsername(tc.name), field)
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pw      string
		wantErr bool
	}{
		{"8 characters", "glinteco", false},
		{"7 characters", "glintec", true},
		{"empty", "", true},
		{"8 two-byte characters", strings.Repeat("é", 8), false}, // counted in characters
		{"7 two-byte characters", strings.Repeat("é", 7), true},
		{"1024 bytes", strings.Repeat("p", 1024), false},
		{"1025 bytes", strings.Repeat("p", 1025), true}, // bounded in bytes, for hashing
		{"513 two-byte characters", strings.Repeat("é", 513), true},
	} {
		field := ""
		if tc.wantErr {
			field = "password"
		}
		checkInvalid(t, "ValidatePassword("+tc.name+")", ValidatePassword(tc.pw), field)
	}
}

func TestValidateCode(t *testing.T) {
	for _, tc := range []struct {
		code    string
		wantErr bool
	}{
		{"SKU-1", false},
		{"a.b_c-D9", false},
		{strings.Repeat("c", 64), false},
		{"", true},
		{strings.Repeat("c", 65), true},
		{"a b", true},
		{"a/b", true},
		{"a@b", true},
		{"é", true},
	} {
		field := ""
		if tc.wantErr {
			field = "sku"
		}
		checkInvalid(t, fmt.Sprintf("ValidateCode(%.20q)", tc.code), ValidateCode("sku", tc.code), field)
	}
	err := ValidateCode("barcode", "")
	if want := "barcode must be 1-64 characters"; err == nil || err.(*Error).Message != want {
		t.Errorf("ValidateCode(barcode, \"\") = %v, want %q", err, want)
	}
}

func TestItemValidate(t *testing.T) {
	qty := func(q Qty) *Qty { return &q }
	valid := func() Item {
		return Item{SKU: "SKU-1", Name: "Bolt", UOM: "pcs", QtyPrecision: 0}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Item)
		field string // the field at fault; "" for valid
	}{
		{"valid", func(*Item) {}, ""},
		{"all fields", func(it *Item) {
			it.Description, it.Barcode, it.QtyPrecision, it.ReorderPoint = "M6", "4006381333931", 3, qty(1_250)
		}, ""},
		{"bad sku", func(it *Item) { it.SKU = "sku 1" }, "sku"},
		{"no sku", func(it *Item) { it.SKU = "" }, "sku"},
		{"blank name", func(it *Item) { it.Name = "   " }, "name"},
		{"200-character name", func(it *Item) { it.Name = strings.Repeat("é", 200) }, ""},
		{"201-character name", func(it *Item) { it.Name = strings.Repeat("n", 201) }, "name"},
		{"4000-byte description", func(it *Item) { it.Description = strings.Repeat("d", 4000) }, ""},
		{"4001-byte description", func(it *Item) { it.Description = strings.Repeat("d", 4001) }, "description"},
		{"no uom", func(it *Item) { it.UOM = "" }, "uom"},
		{"16-byte uom", func(it *Item) { it.UOM = strings.Repeat("u", 16) }, ""},
		{"17-byte uom", func(it *Item) { it.UOM = strings.Repeat("u", 17) }, "uom"},
		{"precision -1", func(it *Item) { it.QtyPrecision = -1 }, "qty_precision"},
		{"precision 4", func(it *Item) { it.QtyPrecision = 4 }, "qty_precision"},
		{"bad barcode", func(it *Item) { it.Barcode = "12 34" }, "barcode"},
		{"reorder point 0", func(it *Item) { it.ReorderPoint = qty(0) }, ""},
		{"negative reorder point", func(it *Item) { it.ReorderPoint = qty(-1_000) }, "reorder_point"},
		{"reorder point too precise", func(it *Item) { it.ReorderPoint = qty(1_500) }, "reorder_point"},
		{"reorder point within precision", func(it *Item) { it.QtyPrecision, it.ReorderPoint = 1, qty(1_500) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := valid()
			tc.edit(&it)
			checkInvalid(t, "Validate", it.Validate(), tc.field)
		})
	}
	// Validate trims the name it keeps.
	it := valid()
	it.Name = "  Bolt M6 \t"
	if err := it.Validate(); err != nil || it.Name != "Bolt M6" {
		t.Errorf("Validate: %v, name %q; want it trimmed to %q", err, it.Name, "Bolt M6")
	}
}

func TestLocationValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		loc   Location
		field string
	}{
		{"valid", Location{Code: "WH1-A-01", Name: "Aisle A"}, ""},
		{"no code", Location{Name: "Aisle A"}, "code"},
		{"bad code", Location{Code: "WH1/A", Name: "Aisle A"}, "code"},
		{"blank name", Location{Code: "A", Name: " \t"}, "name"},
		{"200-character name", Location{Code: "A", Name: strings.Repeat("ü", 200)}, ""},
		{"201-character name", Location{Code: "A", Name: strings.Repeat("n", 201)}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkInvalid(t, "Validate", tc.loc.Validate(), tc.field)
		})
	}
	l := Location{Code: "A", Name: " Aisle A "}
	if err := l.Validate(); err != nil || l.Name != "Aisle A" {
		t.Errorf("Validate: %v, name %q; want it trimmed", err, l.Name)
	}
}

// The movement rules live in the store today; what the domain holds is
// its errors, whose codes and messages clients see.
func TestMovementErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"shortage", &StockError{Shortages: []Shortage{{SKU: "SKU-1", LocationCode: "A-01", Requested: 5_000, Available: 1_500}}},
			EINSUFFICIENT, "SKU-1 at A-01: requested 5, available 1.5"},
		{"shortage of a lot, first of two", &StockError{Shortages: []Shortage{
			{SKU: "SKU-1", LocationCode: "A-01", Lot: "L7", Requested: 2_000, Available: 0},
			{SKU: "SKU-2", LocationCode: "A-02", Requested: 1, Available: 0}}},
			EINSUFFICIENT, "SKU-1 at A-01 lot L7: requested 2, available 0"},
		{"count outdated", &CountOutdatedError{SKU: "SKU-1", LocationCode: "A-01", Expected: 10_000, OnHand: 9_000},
			ECOUNTOUTDATED, "count outdated: SKU-1 at A-01: expected 10 but on hand is now 9; recount or resubmit without expected_qty"},
		{"wrapped shortage", fmt.Errorf("post movement: %w", &StockError{Shortages: []Shortage{{SKU: "S", LocationCode: "L", Requested: 1, Available: 0}}}),
			EINSUFFICIENT, "S at L: requested 0.001, available 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorCode(tc.err); got != tc.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tc.wantCode)
			}
			if got := ErrorMessage(tc.err); got != tc.wantMsg {
				t.Errorf("ErrorMessage = %q, want %q", got, tc.wantMsg)
			}
		})
	}
	if got, want := (&StaleError{Current: 4}).Error(), "the resource has changed: current version is 4; fetch it again and retry"; got != want {
		t.Errorf("StaleError = %q, want %q", got, want)
	}
	if !slices.Equal(MovementTypes, []string{"receipt", "issue", "transfer", "adjustment", "count"}) {
		t.Errorf("MovementTypes = %q", MovementTypes)
	}
}

func TestErrorCodes(t *testing.T) {
	// The codes are part of the API: clients switch on these strings.
	for code, want := range map[string]string{
		ENOTFOUND: "not_found", ECONFLICT: "conflict", EINVALID: "invalid", EUNAUTHORIZED: "unauthorized",
		EFORBIDDEN: "forbidden", EUNAVAILABLE: "unavailable", EINTERNAL: "internal",
		EINSUFFICIENT: "insufficient_stock", ECOUNTOUTDATED: "count_outdated", EBADCURSOR: "bad_cursor", EPRECONDITION: "precondition_failed",
	} {
		if code != want {
			t.Errorf("code %q, want %q", code, want)
		}
	}
	notFound := Errorf(ENOTFOUND, "item %d not found", 7)
	for _, tc := range []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"nil", nil, "", "Internal server error"},
		{"domain", notFound, ENOTFOUND, "item 7 not found"},
		{"wrapped", fmt.Errorf("get item: %w", notFound), ENOTFOUND, "item 7 not found"},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", notFound)), ENOTFOUND, "item 7 not found"},
		{"joined", errors.Join(errors.New("other"), notFound), ENOTFOUND, "item 7 not found"},
		{"plain", errors.New("disk on fire at /var/lib/x"), EINTERNAL, "Internal server error"}, // no detail leaks
		{"plain wrapped", fmt.Errorf("x: %w", errors.New("secret")), EINTERNAL, "Internal server error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorCode(tc.err); got != tc.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tc.wantCode)
			}
			if got := ErrorMessage(tc.err); got != tc.wantMsg {
				t.Errorf("ErrorMessage = %q, want %q", got, tc.wantMsg)
			}
		})
	}
	if got, want := notFound.Error(), "not_found: item 7 not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
