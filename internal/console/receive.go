package console

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/receiving"
)

// receiveRow is one line of a purchase order on the receiving screen.
type receiveRow struct {
	L warehouse.PurchaseLine
	// Name and Barcode of the line's item: what a scan matches.
	Name, Barcode string
	// LotTracked: the line asks for a lot and its expiry.
	LotTracked bool
	// What the form carries for the line.
	Qty, Lot, ExpiresOn string
}

// receiveForm is the receiving screen of one order, as rendered and as
// posted.
type receiveForm struct {
	PO                     *warehouse.PurchaseOrder
	Open                   bool // the order can be received
	Rows                   []*receiveRow
	Location, Reason, Note string
	Key                    string
	Errors                 []string
	FieldErrors            map[string]string
	Locations              []*warehouse.Location
	ReceivedMovement       int64
	status                 int
}

// Receiving is GET /receive: the purchase orders open for receiving.
func (c *Console) Receiving() http.Handler {
	return c.gate(warehouse.RoleClerk, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		var open []*warehouse.PurchaseOrder
		for _, st := range []string{warehouse.PurchaseConfirmed, warehouse.PurchasePartiallyReceived} {
			pos, _, err := c.receiving.Orders(r.Context(), warehouse.PurchaseFilter{Status: st}, warehouse.Page{Limit: pageRows})
			if err != nil {
				c.fail(w, r, s, err)
				return
			}
			open = append(open, pos...)
		}
		v := c.view(s, "Receive against a purchase order")
		v.Data = open
		c.render(w, r, http.StatusOK, "receiving", v)
	})
}

// ReceiveForm is GET (the order's lines, with a fresh idempotency key) and
// POST (receive through receiving.Service, as POST
// /api/v1/purchase-orders/{number}/receipts does) of /receive/{number}. A
// POST with a scanned code in the scan field only counts one more of that
// line (what the script does without a round trip).
func (c *Console) ReceiveForm() http.Handler {
	return c.gate(warehouse.RoleClerk, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		number := r.PathValue("number")
		f, err := c.receiveForm(r.Context(), number)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		v := c.view(s, "Receive "+f.PO.Number)
		status := http.StatusOK
		switch {
		case r.Method != http.MethodPost:
			f.Key = newKey()
			if id, err := strconv.ParseInt(r.URL.Query().Get("received"), 10, 64); err == nil && id > 0 {
				f.ReceivedMovement = id
				v.Notice = fmt.Sprintf("Received: movement %d posted.", id)
			}
		case s.renewed:
			f.read(r)
			v.Notice = "Your sign-in was renewed; check the form and press Receive again."
		default:
			f.read(r)
			if code := strings.TrimSpace(r.PostFormValue("scan")); code != "" {
				v.Notice = f.scan(code)
				break
			}
			if id, ok := c.receive(r.Context(), s, f); ok {
				http.Redirect(w, r, "/receive/"+f.PO.Number+"?received="+strconv.FormatInt(id, 10), http.StatusSeeOther)
				return
			}
			status = f.status
		}
		v.Data = f
		c.render(w, r, status, "receive", v)
	})
}

func (c *Console) receiveForm(ctx context.Context, number string) (*receiveForm, error) {
	po, err := c.receiving.Order(ctx, number)
	if err != nil {
		return nil, err
	}
	f := &receiveForm{PO: po, FieldErrors: map[string]string{},
		Open: po.Status == warehouse.PurchaseConfirmed || po.Status == warehouse.PurchasePartiallyReceived}
	for _, l := range po.Lines {
		row := &receiveRow{L: l, Lot: l.Lot, ExpiresOn: l.ExpiresOn}
		if it, err := c.read.Item(ctx, l.ItemID); err == nil {
			row.Name, row.Barcode, row.LotTracked = it.Name, it.Barcode, it.LotTracked
		}
		f.Rows = append(f.Rows, row)
	}
	active, structural := true, false
	f.Locations, _, _ = c.read.ListLocations(ctx, warehouse.LocationFilter{Active: &active, Structural: &structural}, warehouse.Page{Limit: pageRows})
	return f, nil
}

func rowField(name string, no int64) string { return name + "-" + strconv.FormatInt(no, 10) }

func (f *receiveForm) read(r *http.Request) {
	g := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f.Location, f.Reason, f.Note, f.Key = g("location"), g("reason"), r.PostFormValue("note"), g("idempotency_key")
	for _, row := range f.Rows {
		row.Qty, row.Lot, row.ExpiresOn = g(rowField("qty", row.L.LineNo)), g(rowField("lot", row.L.LineNo)), g(rowField("expires", row.L.LineNo))
	}
}

// scan counts one more of the line whose item has code as SKU or barcode.
func (f *receiveForm) scan(code string) string {
	for _, row := range f.Rows {
		if row.L.SKU == code || (row.Barcode != "" && row.Barcode == code) {
			n := warehouse.Qty(0)
			if q, err := warehouse.ParseQty(row.Qty); err == nil {
				n = q
			}
			row.Qty = (n + warehouse.QtyScale).String()
			return fmt.Sprintf("Scanned %s: line %d now %s.", row.L.SKU, row.L.LineNo, row.Qty)
		}
	}
	f.Errors = append(f.Errors, fmt.Sprintf("No line of %s is for the code %q.", f.PO.Number, code))
	return ""
}

// hash is what was asked under the form's key.
func (f *receiveForm) hash() []byte {
	h := sha256.New()
	parts := []string{"console receive", f.PO.Number, f.Location, f.Reason, f.Note}
	for _, row := range f.Rows {
		parts = append(parts, row.Qty, row.Lot, row.ExpiresOn)
	}
	for _, s := range parts {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return h.Sum(nil)
}

// receive posts the lines with a quantity; on failure the form carries
// the errors and status.
func (c *Console) receive(ctx context.Context, s signedIn, f *receiveForm) (int64, bool) {
	f.status = http.StatusUnprocessableEntity
	var locID int64
	if f.Location == "" {
		f.FieldErrors["location"] = "enter or scan the location the goods are put away at"
	} else if l, err := c.read.LocationByCode(ctx, f.Location); err != nil {
		f.FieldErrors["location"] = fmt.Sprintf("no location has the code %q", f.Location)
	} else {
		locID = l.ID
	}
	rc := warehouse.NewReceipt{Reason: f.Reason, Note: f.Note}
	var rows []*receiveRow
	for _, row := range f.Rows {
		if row.Qty == "" {
			continue
		}
		q, err := warehouse.ParseQty(row.Qty)
		if err != nil {
			f.FieldErrors[rowField("qty", row.L.LineNo)] = err.Error()
			continue
		}
		rc.Lines = append(rc.Lines, warehouse.ReceiptLine{LineNo: row.L.LineNo, Qty: q, LocationID: locID, Lot: row.Lot, ExpiresOn: row.ExpiresOn})
		rows = append(rows, row)
	}
	if len(rc.Lines) == 0 && len(f.FieldErrors) == 0 {
		f.Errors = append(f.Errors, "Enter the quantity received on at least one line (or scan the items).")
	}
	if len(f.FieldErrors) > 0 || len(f.Errors) > 0 {
		return 0, false
	}
	got, err := c.receiving.Receive(ctx, receiving.Actor{Name: s.name(), Roles: s.p.Roles}, f.PO.Number, rc, receiving.Key{Key: f.Key, Hash: f.hash()})
	if err != nil {
		p := c.auth.Problem(err)
		f.status = p.Status
		placed := false
		for _, fe := range p.Errors {
			name := fe.Field
			// lines[i].x is the i-th line posted.
			if i, rest, ok := lineField(fe.Field); ok && i < len(rows) {
				switch rest {
				case "qty":
					name = rowField("qty", rows[i].L.LineNo)
				case "lot":
					name = rowField("lot", rows[i].L.LineNo)
				case "expires_on":
					name = rowField("expires", rows[i].L.LineNo)
				case "location_id", "to_location_id":
					name = "location"
				}
			}
			if name == "reason" || name == "location" || strings.Contains(name, "-") {
				f.FieldErrors[name] = fe.Message
				placed = true
			}
		}
		if !placed {
			f.Errors = append(f.Errors, sentence(p))
		}
		return 0, false
	}
	return got.MovementID, true
}

// lineField splits "lines[2].qty" into 2 and "qty".
func lineField(field string) (int, string, bool) {
	rest, ok := strings.CutPrefix(field, "lines[")
	if !ok {
		return 0, "", false
	}
	n, after, ok := strings.Cut(rest, "].")
	if !ok {
		return 0, "", false
	}
	i, err := strconv.Atoi(n)
	return i, after, err == nil
}
