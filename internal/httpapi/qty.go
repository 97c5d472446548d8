package httpapi

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// BodyQty is a quantity in a request body. Decoding it never fails: it
// keeps the reason a number is not a quantity (more than 3 decimals,
// beyond 10^12), and Huma's resolver reports it with the field's path
// (lines[1].qty). A failing json.Unmarshaler would abort the whole body
// with an error that names no field. Documented as a number, like Qty.
type BodyQty struct {
	q   warehouse.Qty
	err error
}

var _ huma.ResolverWithPath = (*BodyQty)(nil)

// UnmarshalJSON reads the number exactly, as Qty does; a string is
// refused by the schema before this is reached.
func (b *BodyQty) UnmarshalJSON(raw []byte) error {
	var q warehouse.Qty
	b.err = q.UnmarshalJSON(raw)
	b.q = q
	return nil
}

// MarshalJSON writes the quantity as Qty does, so that an Idempotency-Key's
// request hash is what it was before this type.
func (b BodyQty) MarshalJSON() ([]byte, error) { return b.q.MarshalJSON() }

// Resolve reports a number that is not a quantity, at its field.
func (b *BodyQty) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	if b.err == nil {
		return nil
	}
	return []error{&huma.ErrorDetail{Location: prefix.String(), Message: b.err.Error()}}
}

// qtyPtr is the quantity of an optional body field (nil when absent).
func qtyPtr(b *BodyQty) *warehouse.Qty {
	if b == nil {
		return nil
	}
	q := b.q
	return &q
}

// qtyNumber is how quantities (Qty, BodyQty) are documented: a JSON number
// bounded as Qty is, and not a "double", which would tell clients a
// float is exact enough. At most 3 decimals is said in words:
// multipleOf 0.001 would make Huma's float check refuse quantities such
// as 0.3.
type qtyNumber float64

// TransformSchema implements huma.SchemaTransformer.
func (qtyNumber) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	limit := float64(warehouse.MaxQty / warehouse.QtyScale)
	s.Format = ""
	s.Minimum, s.Maximum = ptr(-limit), ptr(limit)
	s.Description = "A decimal quantity, read exactly (never as a float): at most 3 decimals, at most 10^12 in absolute value"
	return s
}
