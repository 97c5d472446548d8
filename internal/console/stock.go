package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/warehouse-api/warehouse"
)

// pageRows bounds every list the console shows at once.
const pageRows = 200

type stockData struct {
	Q string
	// By is "item" or "location": what the overview lists.
	By        string
	Items     []*warehouse.Item
	Locations []*warehouse.Location
	// Item or Location, when one is chosen: its balances.
	Item     *warehouse.Item
	Location *warehouse.Location
	Balances []*warehouse.Balance
	// Low marks, by item id, the items below their reorder point.
	Low map[int64]bool
}

// Stock is the stock overview: by item or by location, with search (SKU,
// name, barcode, location code or path), or the balances of one item or
// one location, each linking to its ledger lines.
func (c *Console) Stock() http.Handler {
	return c.gate(warehouse.RoleViewer, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		ctx := r.Context()
		q := r.URL.Query()
		d := stockData{Q: strings.TrimSpace(q.Get("q")), By: q.Get("by"), Low: map[int64]bool{}}
		if d.By != "location" {
			d.By = "item"
		}
		v := c.view(s, "Stock")
		status := http.StatusOK
		var err error
		switch {
		case q.Get("item") != "":
			err = c.itemStock(ctx, q.Get("item"), &d)
		case q.Get("location") != "":
			err = c.locationStock(ctx, q.Get("location"), &d)
		case d.By == "location":
			d.Locations, err = c.searchLocations(ctx, d.Q)
		default:
			d.Items, err = c.searchItems(ctx, d.Q)
		}
		if err != nil {
			p := c.auth.Problem(err)
			status, v.Error = p.Status, sentence(p)
		}
		if msg := q.Get("notfound"); msg != "" {
			status, v.Error = http.StatusNotFound, fmt.Sprintf("Nothing has the code %q: no item barcode or SKU, no location code.", msg)
		}
		for _, it := range append(d.Items, d.Item) {
			if it != nil && it.BelowReorder() {
				d.Low[it.ID] = true
			}
		}
		v.Data = d
		c.render(w, r, status, "stock", v)
	})
}

// searchItems finds items by SKU or name (the API's q) and by exact
// barcode.
func (c *Console) searchItems(ctx context.Context, q string) ([]*warehouse.Item, error) {
	items, _, err := c.read.ListItems(ctx, warehouse.ItemFilter{Q: q}, warehouse.Page{Limit: pageRows})
	if err != nil || q == "" {
		return items, err
	}
	byCode, _, err := c.read.ListItems(ctx, warehouse.ItemFilter{Barcode: q}, warehouse.Page{Limit: pageRows})
	if err != nil {
		return nil, err
	}
	for _, it := range byCode {
		if !containsItem(items, it.ID) {
			items = append(items, it)
		}
	}
	return items, nil
}

func containsItem(items []*warehouse.Item, id int64) bool {
	for _, it := range items {
		if it.ID == id {
			return true
		}
	}
	return false
}

// searchLocations finds locations by code or name, or by path
// ("WH1/A/01": its last code, kept where the path matches).
func (c *Console) searchLocations(ctx context.Context, q string) ([]*warehouse.Location, error) {
	last := q
	if i := strings.LastIndexByte(q, '/'); i >= 0 {
		last = q[i+1:]
	}
	locs, _, err := c.read.ListLocations(ctx, warehouse.LocationFilter{Q: last}, warehouse.Page{Limit: pageRows})
	if err != nil || last == q {
		return locs, err
	}
	var out []*warehouse.Location
	for _, l := range locs {
		if strings.Contains(strings.ToLower(l.Path), strings.ToLower(q)) {
			out = append(out, l)
		}
	}
	return out, nil
}

func (c *Console) itemStock(ctx context.Context, id string, d *stockData) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return warehouse.Errorf(warehouse.EINVALID, "item must be an item id")
	}
	if d.Item, err = c.read.Item(ctx, n); err != nil {
		return err
	}
	d.Balances, _, err = c.read.ListStock(ctx, warehouse.StockFilter{ItemID: n, Nonzero: true}, warehouse.Page{Limit: pageRows})
	return err
}

func (c *Console) locationStock(ctx context.Context, id string, d *stockData) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return warehouse.Errorf(warehouse.EINVALID, "location must be a location id")
	}
	if d.Location, err = c.read.Location(ctx, n); err != nil {
		return err
	}
	d.Balances, _, err = c.read.ListStock(ctx, warehouse.StockFilter{LocationID: n, IncludeSublocations: true, Nonzero: true}, warehouse.Page{Limit: pageRows})
	return err
}

// Scan jumps to what a scanned code names, by the API's GET
// /api/v1/lookup rule (an item's barcode first, then a location's code),
// and also an item's SKU, which labels often carry.
func (c *Console) Scan() http.Handler {
	return c.gate(warehouse.RoleViewer, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		ctx := r.Context()
		code := strings.TrimSpace(r.URL.Query().Get("code"))
		if code == "" {
			http.Redirect(w, r, "/stock", http.StatusSeeOther)
			return
		}
		it, err := c.read.ItemByBarcode(ctx, code)
		if err == nil {
			http.Redirect(w, r, "/stock?item="+strconv.FormatInt(it.ID, 10), http.StatusSeeOther)
			return
		}
		if warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
			c.fail(w, r, s, err)
			return
		}
		l, err := c.read.LocationByCode(ctx, code)
		if err == nil {
			http.Redirect(w, r, "/stock?location="+strconv.FormatInt(l.ID, 10), http.StatusSeeOther)
			return
		}
		if warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
			c.fail(w, r, s, err)
			return
		}
		items, _, err := c.read.ListItems(ctx, warehouse.ItemFilter{SKU: code}, warehouse.Page{Limit: 1})
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		if len(items) == 1 {
			http.Redirect(w, r, "/stock?item="+strconv.FormatInt(items[0].ID, 10), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/stock?notfound="+urlQueryEscape(code), http.StatusSeeOther)
	})
}

type ledgerData struct {
	Item     *warehouse.Item
	Location *warehouse.Location
	Entries  []*warehouse.LedgerEntry
}

// Ledger is the ledger lines of one item, one location, or one balance
// (both), newest first, each linking to its movement.
func (c *Console) Ledger() http.Handler {
	return c.gate(warehouse.RoleViewer, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		ctx := r.Context()
		q := r.URL.Query()
		var f warehouse.LedgerFilter
		var d ledgerData
		var err error
		if v := q.Get("item"); v != "" {
			if f.ItemID, err = strconv.ParseInt(v, 10, 64); err == nil {
				d.Item, err = c.read.Item(ctx, f.ItemID)
			}
		}
		if v := q.Get("location"); v != "" && err == nil {
			if f.LocationID, err = strconv.ParseInt(v, 10, 64); err == nil {
				d.Location, err = c.read.Location(ctx, f.LocationID)
			}
		}
		if v, ok := q["lot"]; ok && err == nil {
			f.Lot = &v[0]
		}
		if err == nil {
			d.Entries, _, err = c.read.ListLedger(ctx, f, warehouse.Page{Limit: pageRows})
		}
		if err != nil {
			if _, ok := err.(*strconv.NumError); ok {
				err = warehouse.Errorf(warehouse.EINVALID, "item and location must be ids")
			}
			c.fail(w, r, s, err)
			return
		}
		v := c.view(s, "Ledger")
		v.Data = d
		c.render(w, r, http.StatusOK, "ledger", v)
	})
}

// fail renders err as the API would word it, on the error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s signedIn, err error) {
	p := c.auth.Problem(err)
	v := c.view(s, "Error")
	v.Error = sentence(p)
	c.render(w, r, p.Status, "error", v)
}
