package warehouse

import (
	"strings"
	"time"
)

// Audit is the bookkeeping every mutable resource carries. Version goes up
// by one per change and is what If-Match compares.
type Audit struct {
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
	Version   int64     `json:"version"`
}

// Item is a stock-keeping unit.
type Item struct {
	ID           int64  `json:"id"`
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	UOM          string `json:"uom"`
	QtyPrecision int    `json:"qty_precision"`
	Barcode      string `json:"barcode"`
	LotTracked   bool   `json:"lot_tracked"`
	ReorderPoint *Qty   `json:"reorder_point" nullable:"true"`
	Active       bool   `json:"active"`
	Audit
	// Totals over all locations, filled on reads.
	OnHand    Qty `json:"on_hand"`
	Available Qty `json:"available"`
}

// ItemPatch is a partial change to an item; nil fields stay as they are.
type ItemPatch struct {
	SKU          *string
	Name         *string
	Description  *string
	UOM          *string
	QtyPrecision *int
	Barcode      *string
	LotTracked   *bool
	ReorderPoint **Qty // non-nil pointer to nil: clear
	Active       *bool
}

// ItemFilter selects items. Zero values select everything.
type ItemFilter struct {
	Q            string
	SKU          string
	Barcode      string
	Active       *bool
	BelowReorder bool
}

// Page asks for one page of a list: Limit rows after the opaque key After.
type Page struct {
	Limit int
	After string // encoded sort key of the last row already seen; "" for the first page
}

// ValidateCode checks a business key (sku, location code, barcode):
// 1-64 characters of [A-Za-z0-9._-].
func ValidateCode(field, s string) error {
	if s == "" || len(s) > 64 {
		return invalidField(field, "must be 1-64 characters")
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalidField(field, "may contain only letters, digits and . _ -")
		}
	}
	return nil
}

func invalidField(field, msg string) *Error {
	return &Error{Code: EINVALID, Message: field + " " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// Validate checks an item's fields before it is stored.
func (it *Item) Validate() error {
	if err := ValidateCode("sku", it.SKU); err != nil {
		return err
	}
	it.Name = strings.TrimSpace(it.Name)
	if it.Name == "" || len([]rune(it.Name)) > 200 {
		return invalidField("name", "must be 1-200 characters")
	}
	if len(it.Description) > 4000 {
		return invalidField("description", "must be at most 4000 characters")
	}
	if it.UOM == "" || len(it.UOM) > 16 {
		return invalidField("uom", "must be 1-16 characters")
	}
	if it.QtyPrecision < 0 || it.QtyPrecision > 3 {
		return invalidField("qty_precision", "must be 0-3")
	}
	if it.Barcode != "" {
		if err := ValidateCode("barcode", it.Barcode); err != nil {
			return err
		}
	}
	if it.ReorderPoint != nil {
		if *it.ReorderPoint < 0 {
			return invalidField("reorder_point", "must be >= 0")
		}
		if err := CheckPrecision("reorder_point", *it.ReorderPoint, it.QtyPrecision, it.SKU); err != nil {
			return err
		}
	}
	return nil
}

// AnyVersion, passed as the version of a conditional change, matches
// every version of an existing row (If-Match: *, or the CLI's changes).
const AnyVersion int64 = -1

// LowStock is one line of the low-stock report.
type LowStock struct {
	ItemID       int64  `json:"item_id"`
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	UOM          string `json:"uom"`
	ReorderPoint Qty    `json:"reorder_point"`
	Available    Qty    `json:"available"`
	Shortfall    Qty    `json:"shortfall" doc:"reorder_point - available"`
}

// Apply sets the fields p gives on it.
func (p ItemPatch) Apply(it *Item) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&it.SKU, p.SKU)
	set(&it.Name, p.Name)
	set(&it.Description, p.Description)
	set(&it.UOM, p.UOM)
	set(&it.Barcode, p.Barcode)
	if p.QtyPrecision != nil {
		it.QtyPrecision = *p.QtyPrecision
	}
	if p.LotTracked != nil {
		it.LotTracked = *p.LotTracked
	}
	if p.ReorderPoint != nil {
		it.ReorderPoint = *p.ReorderPoint
	}
	if p.Active != nil {
		it.Active = *p.Active
	}
}

// BelowReorder reports whether the item's available stock (filled on
// reads) is under its reorder point, the rule of ItemFilter.BelowReorder.
func (it *Item) BelowReorder() bool {
	return it.ReorderPoint != nil && it.Available < *it.ReorderPoint
}
