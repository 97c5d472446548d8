package warehouse

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Bulk import: the rows a file gives, as the store applies them. The
// application service (internal/importer) parses and validates the file;
// the store applies the rows in one transaction with the same rules as a
// single create or update.

// ItemRow is one row of an item import: the item's sku and the fields the
// file gives (nil: the file has no such column, so the field stays as it
// is, or takes its default on a new item).
type ItemRow struct {
	Line  int
	SKU   string
	Patch ItemPatch
}

// LocationRow is one row of a location import. ParentCode "" is a
// top-level location.
type LocationRow struct {
	Line       int
	Code       string
	Name       *string
	ParentCode *string
	Structural *bool
	Active     *bool
}

// StockRow is one row of a stock import: the quantity counted of an item
// (and lot) at a location.
type StockRow struct {
	Line         int
	SKU          string
	LocationCode string
	Lot          string
	Qty          Qty
}

// StockChunk is the rows one opening count movement posts, with its
// idempotency key.
type StockChunk struct {
	Rows      []StockRow
	Reference string
	Note      string
	Idem      *Idempotency
}

// ImportCounts is what an import did (or, on a dry run, would do).
type ImportCounts struct {
	Created, Updated, Unchanged int
	// MovementIDs are the stock import's movements, in file order.
	MovementIDs []int64
	// Replayed: the stock file was imported before; nothing was posted.
	Replayed bool
}

// Upserted counts an existing record the import updated, or found as the
// file says already.
func (c *ImportCounts) Upserted(changed bool) {
	if changed {
		c.Updated++
	} else {
		c.Unchanged++
	}
}

// ImportKeyUser is the namespace of stock imports' idempotency records:
// no username has a #, so the same file posts once whoever imports it, and
// the records are never purged.
const ImportKeyUser = "#import"

// MaxImportErrors bounds the errors one refused import lists: beyond it
// the file is wrong throughout and more lines would only bloat the answer.
const MaxImportErrors = 1000

// RowErrors collects the problems of an import, line by line, and becomes
// the one error that refuses the file.
type RowErrors struct {
	list  []FieldError
	total int
}

// Add records msg at line and column (the field).
func (r *RowErrors) Add(line int, column, msg string) {
	r.total++
	if len(r.list) < MaxImportErrors {
		r.list = append(r.list, FieldError{Line: line, Field: column, Message: msg})
	}
}

// AddErr records err at line: a domain error at its field, any other as
// its message.
func (r *RowErrors) AddErr(line int, column string, err error) {
	var e *Error
	if errors.As(err, &e) {
		if len(e.Fields) > 0 {
			for _, f := range e.Fields {
				r.Add(line, f.Field, f.Message)
			}
			return
		}
		r.Add(line, column, e.Message)
		return
	}
	r.Add(line, column, err.Error())
}

// Len is how many problems were found.
func (r *RowErrors) Len() int { return r.total }

// Err is nil without problems; else the EINVALID error listing them all
// (up to MaxImportErrors), the first few in its message.
func (r *RowErrors) Err() error {
	if r.total == 0 {
		return nil
	}
	// In line order: a location file is applied parents first, not in
	// the order of its lines.
	slices.SortStableFunc(r.list, func(a, b FieldError) int { return cmp.Compare(a.Line, b.Line) })
	var b strings.Builder
	fmt.Fprintf(&b, "the file has %d error(s); nothing was imported: ", r.total)
	for i, f := range r.list {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", r.total-5)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	if r.total > len(r.list) {
		fmt.Fprintf(&b, " (the first %d are listed)", len(r.list))
	}
	return &Error{Code: EINVALID, Message: b.String(), Fields: r.list}
}

// String is "line 7, reorder_point: must be >= 0".
func (f FieldError) String() string {
	var b strings.Builder
	if f.Line > 0 {
		fmt.Fprintf(&b, "line %d", f.Line)
		if f.Field != "" {
			b.WriteString(", ")
		}
	}
	b.WriteString(f.Field)
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	return b.String()
}
