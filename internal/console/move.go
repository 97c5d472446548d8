package console

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/inventory"
)

// moveForm is one movement form, as rendered and as posted.
type moveForm struct {
	Type string
	// What the type needs: from (issue, transfer), to (receipt,
	// transfer), one location (count, adjustment), a reason (adjustment).
	NeedFrom, NeedTo, NeedLocation, NeedReason bool
	QtyLabel                                   string
	Item, From, To, Location, Qty, Lot         string
	Reference, Note, Reason                    string
	Key                                        string
	Reasons                                    []string
	// FieldErrors are messages by input name; Shortages the sentences of
	// a refused issue.
	FieldErrors map[string]string
	Shortages   []string
	// Suggestions for the datalists (no script needed).
	Items     []*warehouse.Item
	Locations []*warehouse.Location
	status    int
}

func newMoveForm(typ string) *moveForm {
	f := &moveForm{Type: typ, QtyLabel: "Quantity", FieldErrors: map[string]string{}, Reasons: warehouse.AdjustmentReasons}
	switch typ {
	case warehouse.MoveReceipt:
		f.NeedTo = true
	case warehouse.MoveIssue:
		f.NeedFrom = true
	case warehouse.MoveTransfer:
		f.NeedFrom, f.NeedTo = true, true
	case warehouse.MoveCount:
		f.NeedLocation = true
	case warehouse.MoveAdjustment:
		f.NeedLocation, f.NeedReason = true, true
	}
	return f
}

// MovementForm is GET (the form, with a fresh idempotency key) and POST
// (post it through inventory.Service, as POST /api/v1/movements does) of
// /post/{type}. Items are named by SKU or barcode, locations by code.
func (c *Console) MovementForm() http.Handler {
	return c.gate(warehouse.RoleClerk, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		typ := r.PathValue("type")
		if !slices.Contains(warehouse.MovementTypes, typ) {
			c.fail(w, r, s, warehouse.Errorf(warehouse.ENOTFOUND, "There is no movement type %q", typ))
			return
		}
		f := newMoveForm(typ)
		v := c.view(s, titleOf(typ))
		// Who may post what is the domain's rule (adjustments need a
		// manager); the form says so before anyone fills it in.
		if err := warehouse.CanPostMovement(s.p.Roles, typ); err != nil {
			v.Error = sentence(c.auth.Problem(err))
			c.render(w, r, http.StatusForbidden, "error", v)
			return
		}
		status := http.StatusOK
		if r.Method == http.MethodPost {
			f.read(r)
			if s.renewed {
				v.Notice = "Your sign-in was renewed; check the form and press Post again."
			} else if id, ok := c.post(r.Context(), s, f); ok {
				http.Redirect(w, r, "/movement/"+strconv.FormatInt(id, 10)+"?posted=1", http.StatusSeeOther)
				return
			} else {
				status = f.status
			}
		} else {
			f.Key = newKey()
			f.Item = r.URL.Query().Get("item")
			f.From, f.To, f.Location = r.URL.Query().Get("from"), r.URL.Query().Get("to"), r.URL.Query().Get("location")
		}
		c.suggest(r.Context(), f)
		v.Data = f
		c.render(w, r, status, "move", v)
	})
}

func titleOf(typ string) string { return strings.ToUpper(typ[:1]) + typ[1:] }

func (f *moveForm) read(r *http.Request) {
	g := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f.Item, f.From, f.To, f.Location, f.Qty, f.Lot = g("item"), g("from"), g("to"), g("location"), g("qty"), g("lot")
	f.Reference, f.Note, f.Reason, f.Key = g("reference"), r.PostFormValue("note"), g("reason"), g("idempotency_key")
}

// post resolves the form's codes and posts it; on failure the form
// carries the errors and status.
func (c *Console) post(ctx context.Context, s signedIn, f *moveForm) (int64, bool) {
	nm := warehouse.NewMovement{Type: f.Type, Reference: f.Reference, Note: f.Note, Reason: f.Reason}
	line := warehouse.MovementLine{Lot: f.Lot}
	if sku, err := c.resolveItem(ctx, f.Item); err != nil {
		f.fieldError("item", err)
	} else {
		line.SKU = sku
	}
	loc := func(name, code string) *int64 {
		if code == "" {
			return nil // the domain says which type needs which location
		}
		l, err := c.read.LocationByCode(ctx, code)
		if err != nil {
			if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
				err = warehouse.Errorf(warehouse.EINVALID, "no location has the code %q", code)
			}
			f.fieldError(name, err)
			return nil
		}
		return &l.ID
	}
	if f.NeedFrom {
		line.FromLocationID = loc("from", f.From)
	}
	if f.NeedTo {
		line.ToLocationID = loc("to", f.To)
	}
	if f.NeedLocation {
		line.LocationID = loc("location", f.Location)
	}
	if f.Qty != "" {
		q, err := warehouse.ParseQty(f.Qty)
		if err != nil {
			f.fieldError("qty", warehouse.Errorf(warehouse.EINVALID, "%s", err.Error()))
		} else {
			switch f.Type {
			case warehouse.MoveCount:
				line.CountedQty = &q
			case warehouse.MoveAdjustment:
				line.QtyDelta = &q
			default:
				line.Qty = &q
			}
		}
	}
	if len(f.FieldErrors) > 0 {
		f.status = http.StatusUnprocessableEntity
		return 0, false
	}
	nm.Lines = []warehouse.MovementLine{line}
	posted, err := c.inventory.PostMovement(ctx, s.actor(), nm, inventory.Key{Key: f.Key, Hash: f.hash()})
	if err != nil {
		c.explain(f, err)
		return 0, false
	}
	return posted.ID, true
}

// hash is what was asked under the form's key, so that another form
// posted under the same key is refused rather than replayed.
func (f *moveForm) hash() []byte {
	h := sha256.New()
	for _, s := range []string{"console", f.Type, f.Item, f.From, f.To, f.Location, f.Qty, f.Lot, f.Reference, f.Note, f.Reason} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return h.Sum(nil)
}

// explain puts err on the form: a shortage as a sentence per balance,
// a domain field error next to its input, anything else on top.
func (c *Console) explain(f *moveForm, err error) {
	p := c.auth.Problem(err)
	f.status = p.Status
	var se *warehouse.StockError
	if errors.As(err, &se) {
		for _, sh := range se.Shortages {
			where := sh.LocationCode
			if sh.Lot != "" {
				where += " (lot " + sh.Lot + ")"
			}
			f.Shortages = append(f.Shortages, fmt.Sprintf("Not enough %s at %s: requested %s, available %s.", sh.SKU, where, sh.Requested, sh.Available))
		}
		return
	}
	placed := false
	for _, fe := range p.Errors {
		if name := inputOf(fe.Field); name != "" {
			f.FieldErrors[name] = fe.Message
			placed = true
		}
	}
	if !placed {
		f.FieldErrors[""] = sentence(p)
	}
}

// inputOf is the form input a domain field error names
// (lines[0].qty -> qty, the input labelled Quantity).
func inputOf(field string) string {
	_, f, ok := strings.Cut(field, ".")
	if !ok {
		f = field
	}
	switch f {
	case "qty", "qty_delta", "counted_qty", "expected_qty":
		return "qty"
	case "sku", "item_id":
		return "item"
	case "from_location_id":
		return "from"
	case "to_location_id":
		return "to"
	case "location_id":
		return "location"
	case "lot", "reference", "note", "reason":
		return f
	}
	return ""
}

func (f *moveForm) fieldError(name string, err error) {
	var de *warehouse.Error
	if errors.As(err, &de) && de.Code == warehouse.EINVALID {
		f.FieldErrors[name] = de.Message
		return
	}
	f.FieldErrors[name] = err.Error()
}

// resolveItem is the SKU of the item code names: a SKU, else a barcode.
func (c *Console) resolveItem(ctx context.Context, code string) (string, error) {
	if code == "" {
		return "", warehouse.Errorf(warehouse.EINVALID, "enter the item's SKU or scan its barcode")
	}
	items, _, err := c.read.ListItems(ctx, warehouse.ItemFilter{SKU: code}, warehouse.Page{Limit: 1})
	if err != nil {
		return "", err
	}
	if len(items) == 1 {
		return items[0].SKU, nil
	}
	it, err := c.read.ItemByBarcode(ctx, code)
	if err != nil {
		if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
			return "", warehouse.Errorf(warehouse.EINVALID, "no item has the SKU or barcode %q", code)
		}
		return "", err
	}
	return it.SKU, nil
}

// suggest fills the datalists: active items and stock-holding locations.
func (c *Console) suggest(ctx context.Context, f *moveForm) {
	active := true
	f.Items, _, _ = c.read.ListItems(ctx, warehouse.ItemFilter{Active: &active}, warehouse.Page{Limit: pageRows})
	structural := false
	f.Locations, _, _ = c.read.ListLocations(ctx, warehouse.LocationFilter{Active: &active, Structural: &structural}, warehouse.Page{Limit: pageRows})
}

type movementData struct {
	M *warehouse.Movement
	// Codes of the locations the lines name, by id.
	Codes   map[int64]string
	Entries []*warehouse.LedgerEntry
	Key     string
	Posted  bool
	Error   string
}

// Movement is one movement with its lines, its ledger lines, its
// reversal (or what it reverses), and the reversal form for a manager.
func (c *Console) Movement() http.Handler {
	return c.gate(warehouse.RoleViewer, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			c.fail(w, r, s, warehouse.Errorf(warehouse.ENOTFOUND, "There is no movement %q", r.PathValue("id")))
			return
		}
		d, err := c.movement(r.Context(), id)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		d.Posted = r.URL.Query().Get("posted") == "1"
		v := c.view(s, fmt.Sprintf("Movement %d", id))
		v.Data = d
		c.render(w, r, http.StatusOK, "movement", v)
	})
}

func (c *Console) movement(ctx context.Context, id int64) (*movementData, error) {
	m, err := c.read.Movement(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &movementData{M: m, Codes: map[int64]string{}, Key: newKey()}
	for _, l := range m.Lines {
		for _, p := range []*int64{l.FromLocationID, l.ToLocationID, l.LocationID} {
			if p != nil && d.Codes[*p] == "" {
				if loc, err := c.read.Location(ctx, *p); err == nil {
					d.Codes[*p] = loc.Code
				}
			}
		}
	}
	d.Entries, _, err = c.read.ListLedger(ctx, warehouse.LedgerFilter{MovementID: id}, warehouse.Page{Limit: pageRows})
	return d, err
}

// Reverse posts the compensating movement (manager), through
// inventory.Service.Reverse as POST /api/v1/movements/{id}/reverse does.
func (c *Console) Reverse() http.Handler {
	return c.gate(warehouse.RoleManager, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			c.fail(w, r, s, warehouse.Errorf(warehouse.ENOTFOUND, "There is no movement %q", r.PathValue("id")))
			return
		}
		note, key := r.PostFormValue("note"), r.PostFormValue("idempotency_key")
		var posted inventory.Posted
		if !s.renewed {
			sum := sha256.Sum256([]byte("console reverse " + strconv.FormatInt(id, 10) + " " + note))
			posted, err = c.inventory.Reverse(r.Context(), s.actor(), id, note, inventory.Key{Key: key, Hash: sum[:]})
			if err == nil {
				http.Redirect(w, r, "/movement/"+strconv.FormatInt(posted.ID, 10)+"?posted=1", http.StatusSeeOther)
				return
			}
		}
		d, derr := c.movement(r.Context(), id)
		if derr != nil {
			c.fail(w, r, s, derr)
			return
		}
		v := c.view(s, fmt.Sprintf("Movement %d", id))
		status := http.StatusOK
		if s.renewed {
			v.Notice = "Your sign-in was renewed; press Reverse again."
		} else {
			p := c.auth.Problem(err)
			status = p.Status
			var se *warehouse.StockError
			if errors.As(err, &se) {
				sh := se.Shortages[0]
				d.Error = fmt.Sprintf("Not enough %s at %s to reverse this movement: requested %s, available %s.", sh.SKU, sh.LocationCode, sh.Requested, sh.Available)
			} else {
				d.Error = sentence(p)
			}
		}
		v.Data = d
		c.render(w, r, status, "movement", v)
	})
}
