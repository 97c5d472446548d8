package console

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/orders"
)

// The pick list at phone width: one stop at a time in walking order. The
// picker scans the stop's location, then its item; the item scan confirms
// the line through orders.Service.ConfirmPick by the scanned codes (the
// service's scan rule finds the reservation). A scan that does not match
// the stop says what was expected and posts nothing. "Short" records less
// found than reserved.

type pickData struct {
	O *warehouse.Order
	// Picker, when set, keeps the stops of one picker; Pickers (comma
	// separated) deals the order's zones to several, as the API's
	// pick-list does.
	Picker, Pickers string
	// Line is the current stop, nil when nothing is left to pick.
	Line *warehouse.PickListLine
	// Item is the current stop's item (name, barcode), when it reads.
	Item *warehouse.Item
	// Next are the stops after Line, in walking order.
	Next  []warehouse.PickListLine
	Total int
	// AtLocation is the scanned code of Line's location once it matched:
	// the item is scanned next.
	AtLocation string
	// Key is the idempotency key of a confirmation of Line; ShortKey of
	// a short pick of it.
	Key, ShortKey string
	// Found is the short form's quantity as typed.
	Found string
	// Message is why the last scan or pick was refused.
	Message string
	// CanShip: the order may be shipped now (a link to its page).
	CanShip bool
}

// pickKey is the idempotency key of one attempt at one stop: the order,
// the reservation and what it still held when the page was rendered. The
// same form posted twice (a double tap, a scanner's double Enter, a
// resubmitted page) carries the same key and posts once; after a pick the
// stop holds less, so its next attempt has a key of its own.
func pickKey(kind, number string, l warehouse.PickListLine) string {
	return fmt.Sprintf("console-%s-%s-%d-%d", kind, number, l.ReservationID, int64(l.Qty))
}

// PickList is GET (the current stop) and POST (a scan or a short pick) of
// /orders/{number}/pick; ?picker=ann&pickers=ann,bob keeps the stops of
// the zones dealt to ann.
func (c *Console) PickList() http.Handler {
	return c.gate(warehouse.RoleViewer, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		ctx, number := r.Context(), r.PathValue("number")
		picker, pickers := strings.TrimSpace(r.FormValue("picker")), strings.TrimSpace(r.FormValue("pickers"))
		var resID int64
		if r.Method == http.MethodPost {
			resID, _ = strconv.ParseInt(r.PostFormValue("reservation"), 10, 64)
		}
		d, err := c.pickData(ctx, s, number, picker, pickers, resID)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		v := c.view(s, "Pick "+d.O.Number)
		status := http.StatusOK
		if r.Method == http.MethodGet {
			v.Notice = pickedNotice(d.O, r.URL.Query().Get("picked"), r.URL.Query().Get("again") == "1")
		} else if s.renewed {
			v.Notice = "Your sign-in was renewed; scan again."
		} else {
			var done *warehouse.Pick
			var replayed bool
			done, replayed, status, err = c.pickPost(r, s, d, resID)
			switch {
			case errors.Is(err, inventory.ErrKeyInUse):
				status, d.Message = http.StatusConflict, "This pick is being posted already (the button was pressed twice): wait a moment and reload the page."
			case err != nil:
				p := c.auth.Problem(err)
				status, d.Message = p.Status, sentence(p)
			case done != nil:
				to := "/orders/" + pathEscape(number) + "/pick?picked=" + strconv.FormatInt(done.ID, 10)
				if picker != "" {
					to += "&picker=" + url.QueryEscape(picker)
				}
				if pickers != "" {
					to += "&pickers=" + url.QueryEscape(pickers)
				}
				if replayed {
					to += "&again=1"
				}
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
		}
		if d.Line == nil && resID != 0 {
			// The form's stop is no longer open: show the next one.
			msg := d.Message
			if d, err = c.pickData(ctx, s, number, picker, pickers, 0); err != nil {
				c.fail(w, r, s, err)
				return
			}
			d.Message = msg
		}
		v.Data = d
		c.render(w, r, status, "pick", v)
	})
}

// pickData reads the order and its pick list; the current stop is the
// reservation a form names when it is still open, else the first.
func (c *Console) pickData(ctx context.Context, s signedIn, number, picker, pickers string, resID int64) (*pickData, error) {
	o, err := c.orders.Order(ctx, s.actor(), number)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range strings.Split(pickers, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	pl, err := c.orders.PickList(ctx, s.actor(), number, names, picker)
	if err != nil {
		return nil, err
	}
	d := &pickData{O: o, Picker: picker, Pickers: pickers, Total: len(pl.Lines), CanShip: o.CanShip() == nil && warehouse.HasRole(s.p.Roles, warehouse.RoleClerk)}
	cur := -1
	for i, l := range pl.Lines {
		if l.ReservationID == resID {
			cur = i
		}
	}
	if resID == 0 && len(pl.Lines) > 0 {
		cur = 0
	}
	if cur >= 0 {
		l := pl.Lines[cur]
		d.Line = &l
		d.Next = append(append(d.Next, pl.Lines[:cur]...), pl.Lines[cur+1:]...)
		d.Key, d.ShortKey = pickKey("pick", number, l), pickKey("short", number, l)
		if it, err := c.read.Item(ctx, l.ItemID); err == nil {
			d.Item = it
		}
	}
	return d, nil
}

// pickPost handles one posted step: a location scan (checked against the
// stop, nothing posted), an item scan (the pick, by the scanned codes) or
// a short pick. A form whose stop is no longer open is sent to the
// service by its reservation: a second submit of a pick replays it, and
// anything else gets the service's refusal.
func (c *Console) pickPost(r *http.Request, s signedIn, d *pickData, resID int64) (*warehouse.Pick, bool, int, error) {
	ctx := r.Context()
	g := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	step, loc, item, key := g("step"), g("location"), g("item"), g("idempotency_key")
	if resID == 0 {
		return nil, false, 0, warehouse.Errorf(warehouse.EINVALID, "The form names no stop of the pick list: reload the page")
	}
	if d.Line == nil && step == "location" {
		d.Message = "This stop is picked already (or was released): here is the next one."
		return nil, false, http.StatusConflict, nil
	}
	req := warehouse.PickRequest{ReservationID: resID, Picker: d.Picker}
	h := sha256.New()
	for _, v := range []string{"console pick", step, d.O.Number, strconv.FormatInt(resID, 10), loc, item, g("qty")} {
		fmt.Fprintf(h, "%d:%s", len(v), v)
	}
	switch step {
	case "location":
		if ok, msg := c.atLocation(ctx, d.Line, loc); !ok {
			d.Message = msg
			return nil, false, http.StatusUnprocessableEntity, nil
		}
		d.AtLocation = loc
		return nil, false, http.StatusOK, nil
	case "item":
		if d.Line != nil {
			if ok, msg := c.atLocation(ctx, d.Line, loc); !ok {
				d.Message = msg
				return nil, false, http.StatusUnprocessableEntity, nil
			}
			d.AtLocation = loc
			if ok, msg := c.isItem(ctx, d.Line, item); !ok {
				d.Message = msg
				return nil, false, http.StatusUnprocessableEntity, nil
			}
			// The scan names the stop: the service finds the reservation
			// by the scanned codes, as POST .../picks with codes does.
			req = warehouse.PickRequest{LocationCode: loc, ItemCode: item, Lot: d.Line.Lot, Picker: d.Picker}
		}
	case "short":
		d.Found = g("qty")
		found, err := warehouse.ParseQty(d.Found)
		if err != nil {
			return nil, false, 0, warehouse.Errorf(warehouse.EINVALID, "Found: %s", err.Error())
		}
		req.Qty, req.Short = &found, true
	default:
		return nil, false, 0, warehouse.Errorf(warehouse.EINVALID, "Unknown pick step %q", step)
	}
	picked, err := c.orders.ConfirmPick(ctx, s.actor(), d.O.Number, req, orders.Key{Key: key, Hash: h.Sum(nil)})
	if err != nil {
		return nil, false, 0, err
	}
	if picked.Replayed {
		var p warehouse.Pick
		if err := json.Unmarshal(picked.Body, &p); err != nil {
			return nil, false, 0, fmt.Errorf("read the replayed pick: %w", err)
		}
		return &p, true, http.StatusOK, nil
	}
	return picked.Pick, false, http.StatusOK, nil
}

// atLocation checks a scanned location code against the stop.
func (c *Console) atLocation(ctx context.Context, l *warehouse.PickListLine, code string) (bool, string) {
	if code == "" {
		return false, fmt.Sprintf("Scan the location: this stop is %s.", l.LocationCode)
	}
	got, err := c.read.LocationByCode(ctx, code)
	if err != nil || got.ID != l.LocationID {
		where := l.LocationCode
		if l.LocationPath != "" && l.LocationPath != l.LocationCode {
			where += " (" + l.LocationPath + ")"
		}
		return false, fmt.Sprintf("Wrong location: you scanned %s, this stop is %s.", code, where)
	}
	return true, ""
}

// isItem checks a scanned item code (barcode or SKU) against the stop.
func (c *Console) isItem(ctx context.Context, l *warehouse.PickListLine, code string) (bool, string) {
	want := l.SKU
	if it, err := c.read.Item(ctx, l.ItemID); err == nil && it.Barcode != "" {
		want += " (barcode " + it.Barcode + ")"
	}
	if code == "" {
		return false, "Scan the item: this stop is " + want + "."
	}
	sku, err := c.resolveItem(ctx, code)
	if err != nil || sku != l.SKU {
		return false, fmt.Sprintf("Wrong item: you scanned %s, this stop is %s.", code, want)
	}
	return true, ""
}

// pickedNotice is the sentence after a pick, from the order's picks.
func pickedNotice(o *warehouse.Order, id string, again bool) string {
	if id == "" {
		return ""
	}
	for _, p := range o.Picks {
		if strconv.FormatInt(p.ID, 10) != id {
			continue
		}
		s := fmt.Sprintf("Picked %s %s at %s.", p.Qty, p.SKU, p.LocationCode)
		if p.Short > 0 {
			s = fmt.Sprintf("Short pick recorded: found %s %s at %s, %s missing and released.", p.Qty, p.SKU, p.LocationCode, p.Short)
		}
		if again {
			s += " (That was a second submit of the same pick: it was posted once.)"
		}
		return s
	}
	return ""
}

func pathEscape(s string) string { return url.PathEscape(s) }
