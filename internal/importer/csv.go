package importer

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/warehouse-api/warehouse"
)

// spec is the columns of one kind of file, named as the API's JSON fields.
type spec struct {
	columns  []string
	required []string
	// ignored are the read-only columns of the API's CSV export (ids,
	// totals, versions): accepted so that an export imports back, and
	// ignored, since no file may set them.
	ignored      []string
	newValidator func() validator
	example      string
}

var specs = map[Kind]*spec{
	Items: {
		columns:      []string{"sku", "name", "description", "uom", "qty_precision", "barcode", "lot_tracked", "reorder_point", "active"},
		required:     []string{"sku"},
		ignored:      []string{"id", "on_hand", "available", "version", "created_at", "created_by", "updated_at", "updated_by"},
		newValidator: func() validator { return &itemValidator{seen: map[string]int{}} },
		example:      "sku,name,uom",
	},
	Locations: {
		columns:      []string{"code", "name", "parent_code", "structural", "active"},
		required:     []string{"code"},
		ignored:      []string{"id", "parent_id", "path", "depth", "version", "created_at", "created_by", "updated_at", "updated_by"},
		newValidator: func() validator { return &locationValidator{line: map[string]int{}, parent: map[string]string{}} },
		example:      "code,name,parent_code",
	},
	Stock: {
		columns:      []string{"sku", "location_code", "lot", "qty"},
		required:     []string{"sku", "location_code", "qty"},
		newValidator: func() validator { return &stockValidator{seen: map[[3]string]int{}} },
		example:      "sku,location_code,lot,qty",
	},
}

// record is one data row of a file.
type record struct {
	n      int // data rows so far, this one included
	line   int // line in the file (the header is line 1)
	fields []string
	idx    map[string]int
}

// get returns column col of the row and whether the file has that column.
func (r record) get(col string) (string, bool) {
	i, ok := r.idx[col]
	if !ok {
		return "", false
	}
	return r.fields[i], true
}

// reader reads a file's header and then its rows, one at a time.
type reader struct {
	cr  *csv.Reader
	idx map[string]int
	n   int
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// newReader reads the header. Its problems are recorded in bad (line 1);
// the reader is then nil.
func newReader(src io.Reader, sp *spec, bad *warehouse.RowErrors) (*reader, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	// Spreadsheets save CSV with a byte order mark.
	if b, err := br.Peek(3); err == nil && string(b) == string(bom) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		bad.Add(1, "", fmt.Sprintf("the file is empty: its first line must name the columns, e.g. %s", sp.example))
		return nil, nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		bad.Add(1, "", "the header is not valid CSV: "+pe.Err.Error())
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the header: %w", err)
	}
	known := map[string]bool{}
	for _, c := range sp.columns {
		known[c] = true
	}
	for _, c := range sp.ignored {
		known[c] = true
	}
	idx := map[string]int{}
	ok := true
	for i, c := range header {
		c = strings.TrimSpace(c)
		switch {
		case c == "":
			bad.Add(1, "", fmt.Sprintf("column %d has no name", i+1))
			ok = false
		case !known[c]:
			bad.Add(1, c, fmt.Sprintf("unknown column %q: the first line must name the columns, of %s (and the export's read-only %s, ignored)",
				c, strings.Join(sp.columns, ", "), strings.Join(sp.ignored, ", ")))
			ok = false
		case hasKey(idx, c):
			bad.Add(1, c, fmt.Sprintf("column %q appears twice", c))
			ok = false
		default:
			idx[c] = i
		}
	}
	for _, c := range sp.required {
		if !hasKey(idx, c) && known[c] && ok {
			bad.Add(1, c, "required column missing")
			ok = false
		}
	}
	if !ok {
		return nil, nil
	}
	cr.FieldsPerRecord = len(header)
	// Only the writable columns are read: the ignored ones are forgotten.
	for _, c := range sp.ignored {
		delete(idx, c)
	}
	return &reader{cr: cr, idx: idx}, nil
}

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

// next returns the next row; io.EOF at the end; a *csv.ParseError for a
// row that is no valid CSV (or has the wrong number of fields), after
// which reading goes on.
func (r *reader) next() (record, error) {
	fields, err := r.cr.Read()
	if errors.Is(err, io.EOF) {
		return record{}, io.EOF
	}
	r.n++
	// A row that is no valid CSV may have no fields, and FieldPos panics
	// on a field the last row does not have (a file ending in an
	// unterminated quote did): the error then knows the line.
	var line int
	var pe *csv.ParseError
	switch {
	case len(fields) > 0:
		line, _ = r.cr.FieldPos(0)
	case errors.As(err, &pe):
		line = cmp.Or(pe.StartLine, pe.Line)
	}
	rec := record{n: r.n, line: line, fields: fields, idx: r.idx}
	return rec, err
}

// scan is the first pass: every row to check, problems to bad. It returns
// how many data rows the file has.
func scan(ctx context.Context, src io.Reader, sp *spec, bad *warehouse.RowErrors, check func(record)) (int, error) {
	r, err := newReader(src, sp, bad)
	if err != nil || r == nil {
		return 0, err
	}
	for {
		rec, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line := pe.StartLine
			if line == 0 {
				line = pe.Line
			}
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				bad.Add(line, "", fmt.Sprintf("has %d fields, the header has %d", len(rec.fields), r.cr.FieldsPerRecord))
			} else {
				bad.Add(line, "", "not valid CSV: "+pe.Err.Error())
			}
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read line %d: %w", rec.line, err)
		}
		if rec.n%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		check(rec)
	}
	if bad.Len() == 0 && r.n == 0 {
		bad.Add(2, "", "the file has a header but no rows")
	}
	return r.n, nil
}

// rescan is the second pass over a file the first found good.
func rescan(ctx context.Context, src io.Reader, sp *spec, fn func(record) error) error {
	var bad warehouse.RowErrors
	r, err := newReader(src, sp, &bad)
	if err != nil {
		return err
	}
	if r == nil {
		return errChanged
	}
	for {
		rec, err := r.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errChanged
		}
		if rec.n%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// validator checks rows one at a time, then what only the whole file
// shows.
type validator interface {
	check(r record, bad *warehouse.RowErrors)
	finish(bad *warehouse.RowErrors)
}

// Field parsers: each records its problem at the row's line and column.

func parseBool(r record, col string, bad *warehouse.RowErrors) *bool {
	s, ok := r.get(col)
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		bad.Add(r.line, col, "must be true or false")
		return nil
	}
	return &b
}

func parseString(r record, col string) *string {
	s, ok := r.get(col)
	if !ok {
		return nil
	}
	return &s
}

// code reads a business key column (sku, code...), trimmed.
func code(r record, col string) string {
	s, _ := r.get(col)
	return strings.TrimSpace(s)
}

func parseItemRow(r record, bad *warehouse.RowErrors) warehouse.ItemRow {
	row := warehouse.ItemRow{Line: r.line, SKU: code(r, "sku")}
	p := &row.Patch
	p.Name = parseString(r, "name")
	p.Description = parseString(r, "description")
	p.UOM = parseString(r, "uom")
	if s := parseString(r, "barcode"); s != nil {
		b := strings.TrimSpace(*s)
		p.Barcode = &b
	}
	if s, ok := r.get("qty_precision"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			bad.Add(r.line, "qty_precision", "must be a whole number, 0-3")
		} else {
			p.QtyPrecision = &n
		}
	}
	p.LotTracked = parseBool(r, "lot_tracked", bad)
	p.Active = parseBool(r, "active", bad)
	if s, ok := r.get("reorder_point"); ok {
		var rp *warehouse.Qty
		if strings.TrimSpace(s) != "" {
			q, err := warehouse.ParseQty(s)
			if err != nil {
				bad.Add(r.line, "reorder_point", err.Error())
			} else {
				rp = &q
			}
		}
		p.ReorderPoint = &rp
	}
	return row
}

func itemRow(r record) warehouse.ItemRow {
	var ignore warehouse.RowErrors
	return parseItemRow(r, &ignore)
}

type itemValidator struct{ seen map[string]int }

func (v *itemValidator) check(r record, bad *warehouse.RowErrors) {
	before := bad.Len()
	row := parseItemRow(r, bad)
	if first, dup := v.seen[row.SKU]; dup && row.SKU != "" {
		bad.Add(r.line, "sku", fmt.Sprintf("%q is already on line %d", row.SKU, first))
		return
	}
	// A clone: the field shares its memory with the whole line.
	v.seen[strings.Clone(row.SKU)] = r.line
	if bad.Len() > before {
		return
	}
	// The domain's own rules, on the fields the row gives; fields it does
	// not give take values that pass, since the item stored decides them
	// (the store validates the merged item again).
	it := warehouse.Item{SKU: row.SKU, Name: "-", UOM: "-", QtyPrecision: 3}
	row.Patch.Apply(&it)
	if err := it.Validate(); err != nil {
		bad.AddErr(r.line, "", err)
	}
}

func (v *itemValidator) finish(*warehouse.RowErrors) {}

func parseLocationRow(r record, bad *warehouse.RowErrors) warehouse.LocationRow {
	row := warehouse.LocationRow{Line: r.line, Code: code(r, "code"), Name: parseString(r, "name")}
	if _, ok := r.get("parent_code"); ok {
		pc := code(r, "parent_code")
		row.ParentCode = &pc
	}
	row.Structural = parseBool(r, "structural", bad)
	row.Active = parseBool(r, "active", bad)
	return row
}

func locationRow(r record) warehouse.LocationRow {
	var ignore warehouse.RowErrors
	return parseLocationRow(r, &ignore)
}

// locationValidator also learns the file's tree: each code's level (0: its
// parent is not in the file), so that the second pass can give parents
// before children.
type locationValidator struct {
	line     map[string]int
	parent   map[string]string
	level    map[string]int
	maxLevel int
}

func (v *locationValidator) check(r record, bad *warehouse.RowErrors) {
	before := bad.Len()
	row := parseLocationRow(r, bad)
	if first, dup := v.line[row.Code]; dup && row.Code != "" {
		bad.Add(r.line, "code", fmt.Sprintf("%q is already on line %d", row.Code, first))
		return
	}
	v.line[strings.Clone(row.Code)] = r.line
	if row.ParentCode != nil && *row.ParentCode != "" {
		v.parent[strings.Clone(row.Code)] = strings.Clone(*row.ParentCode)
		if err := warehouse.ValidateCode("parent_code", *row.ParentCode); err != nil {
			bad.AddErr(r.line, "parent_code", err)
		}
	}
	if bad.Len() > before {
		return
	}
	l := warehouse.Location{Code: row.Code, Name: "-"}
	if row.Name != nil {
		l.Name = *row.Name
	}
	if err := l.Validate(); err != nil {
		bad.AddErr(r.line, "", err)
	}
}

// finish computes the levels and refuses cycles.
func (v *locationValidator) finish(bad *warehouse.RowErrors) {
	v.level = make(map[string]int, len(v.line))
	const visiting = -1
	var levelOf func(code string, depth int) int
	levelOf = func(code string, depth int) int {
		if l, ok := v.level[code]; ok {
			return l
		}
		p, ok := v.parent[code]
		if _, inFile := v.line[p]; !ok || !inFile {
			v.level[code] = 0
			return 0
		}
		if depth > len(v.line) {
			return visiting
		}
		v.level[code] = visiting
		l := levelOf(p, depth+1)
		if l == visiting {
			return visiting
		}
		v.level[code] = l + 1
		return l + 1
	}
	// In line order, so that the errors are.
	codes := slices.SortedFunc(maps.Keys(v.line), func(a, b string) int { return cmp.Compare(v.line[a], v.line[b]) })
	for _, code := range codes {
		line := v.line[code]
		l := levelOf(code, 0)
		if l == visiting {
			bad.Add(line, "parent_code", fmt.Sprintf("%q is its own ancestor: the file's parents form a cycle", code))
			continue
		}
		v.maxLevel = max(v.maxLevel, l)
	}
}

func parseStockRow(r record, bad *warehouse.RowErrors) warehouse.StockRow {
	row := warehouse.StockRow{Line: r.line, SKU: code(r, "sku"), LocationCode: code(r, "location_code"), Lot: code(r, "lot")}
	s, _ := r.get("qty")
	q, err := warehouse.ParseQty(s)
	switch {
	case err != nil:
		bad.Add(r.line, "qty", err.Error())
	case q < 0:
		bad.Add(r.line, "qty", "must be >= 0: it is the quantity counted")
	}
	row.Qty = q
	return row
}

func stockRow(r record) warehouse.StockRow {
	var ignore warehouse.RowErrors
	return parseStockRow(r, &ignore)
}

type stockValidator struct{ seen map[[3]string]int }

func (v *stockValidator) check(r record, bad *warehouse.RowErrors) {
	row := parseStockRow(r, bad)
	if err := warehouse.ValidateCode("sku", row.SKU); err != nil {
		bad.AddErr(r.line, "sku", err)
	}
	if err := warehouse.ValidateCode("location_code", row.LocationCode); err != nil {
		bad.AddErr(r.line, "location_code", err)
	}
	if len(row.Lot) > 64 {
		bad.Add(r.line, "lot", "must be at most 64 characters")
	}
	k := [3]string{strings.Clone(row.SKU), strings.Clone(row.LocationCode), strings.Clone(row.Lot)}
	if first, dup := v.seen[k]; dup {
		bad.Add(r.line, "sku", fmt.Sprintf("%s at %s (lot %q) is already counted on line %d", row.SKU, row.LocationCode, row.Lot, first))
		return
	}
	v.seen[k] = r.line
}

func (v *stockValidator) finish(*warehouse.RowErrors) {}
