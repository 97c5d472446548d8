package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/warehouse-api/warehouse"
)

// ordersPage is how many orders the list shows at once (then a "next" link).
const ordersPage = 50

type ordersData struct {
	State  string
	States []string
	Orders []*warehouse.Order
	// Next is the cursor of the next page, "" on the last.
	Next string
	// First: this is not the first page (a link back to it).
	Paged bool
}

// Orders is the list of outbound orders, newest first, filtered by state,
// a page at a time, read through orders.Service.List as GET
// /api/v1/orders is.
func (c *Console) Orders() http.Handler {
	return c.gate(warehouse.RoleViewer, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		q := r.URL.Query()
		d := ordersData{State: q.Get("state"), States: warehouse.OrderStates, Paged: q.Get("after") != ""}
		v := c.view(s, "Orders")
		status := http.StatusOK
		var err error
		if d.State != "" && !slices.Contains(warehouse.OrderStates, d.State) {
			err = warehouse.Errorf(warehouse.EINVALID, "There is no order state %q (states: %s)", d.State, strings.Join(warehouse.OrderStates, ", "))
		} else {
			d.Orders, d.Next, err = c.orders.List(r.Context(), s.actor(), warehouse.OrderFilter{State: d.State}, warehouse.Page{Limit: ordersPage, After: q.Get("after")})
		}
		if err != nil {
			p := c.auth.Problem(err)
			status, v.Error = p.Status, sentence(p)
		}
		v.Data = d
		c.render(w, r, status, "orders", v)
	})
}

// orderAction is a button of the order page: an action of the order's
// state machine and the role the orders service requires for it (the
// service checks both again; the page only offers what would pass).
type orderAction struct {
	Name, Label string
	Role        warehouse.Role
	// Danger marks an action that gives something up (cancel, release).
	Danger bool
}

var orderActions = []orderAction{
	{Name: warehouse.ActConfirm, Label: "Confirm", Role: warehouse.RoleManager},
	{Name: warehouse.ActAllocate, Label: "Allocate", Role: warehouse.RoleManager},
	{Name: warehouse.ActShip, Label: "Ship", Role: warehouse.RoleClerk},
	{Name: warehouse.ActRelease, Label: "Release reservations", Role: warehouse.RoleManager, Danger: true},
	{Name: warehouse.ActCancel, Label: "Cancel order", Role: warehouse.RoleManager, Danger: true},
}

type orderData struct {
	O *warehouse.Order
	// Staging is the code of the order's staging location, if any.
	Staging string
	Actions []orderAction
	// CanPick: the caller may pick and the order has stock reserved.
	CanPick bool
	Error   string
}

// Order is one order: its lines, reservations and picks, and a button for
// each action the caller's role and the order's state allow.
func (c *Console) Order() http.Handler {
	return c.gate(warehouse.RoleViewer, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		d, err := c.order(r.Context(), s, r.PathValue("number"))
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		v := c.view(s, "Order "+d.O.Number)
		v.Notice = doneNotice(r.URL.Query().Get("done"), d.O)
		v.Data = d
		c.render(w, r, http.StatusOK, "order", v)
	})
}

// doneNotice is the sentence after an action succeeded.
func doneNotice(done string, o *warehouse.Order) string {
	state := strings.ReplaceAll(o.State, "_", " ")
	switch done {
	case warehouse.ActConfirm:
		return "Confirmed."
	case warehouse.ActAllocate:
		if o.State == warehouse.OrderPartiallyAllocated {
			return "Allocated what stock allows: the order is partially allocated."
		}
		return "Allocated: the order is " + state + "."
	case warehouse.ActRelease:
		return "Reservations released: the order is " + state + "."
	case warehouse.ActCancel:
		return "Cancelled: every reservation of the order was released."
	case warehouse.ActShip:
		return "Shipped."
	}
	return ""
}

func (c *Console) order(ctx context.Context, s signedIn, number string) (*orderData, error) {
	o, err := c.orders.Order(ctx, s.actor(), number)
	if err != nil {
		return nil, err
	}
	d := &orderData{O: o}
	if o.StagingLocationID != nil {
		if l, err := c.read.Location(ctx, *o.StagingLocationID); err == nil {
			d.Staging = l.Code
		}
	}
	for _, a := range orderActions {
		if !warehouse.HasRole(s.p.Roles, a.Role) {
			continue
		}
		allowed := o.CanDo(a.Name)
		if a.Name == warehouse.ActShip {
			allowed = o.CanShip()
		}
		if allowed == nil {
			d.Actions = append(d.Actions, a)
		}
	}
	if warehouse.HasRole(s.p.Roles, warehouse.RoleClerk) && o.CanDo(warehouse.ActPick) == nil {
		for _, l := range o.Lines {
			if l.Reserved > 0 {
				d.CanPick = true
			}
		}
	}
	return d, nil
}

// OrderAction is POST /orders/{number}/{action}: confirm, allocate,
// release, cancel or ship, through the orders service as the API's POST
// /api/v1/orders/{number}/{action} does; the order page again, with what
// happened or why it was refused.
func (c *Console) OrderAction() http.Handler {
	return c.gate(warehouse.RoleViewer, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		ctx, number, action := r.Context(), r.PathValue("number"), r.PathValue("action")
		var err error
		if !s.renewed {
			switch action {
			case warehouse.ActConfirm:
				_, err = c.orders.Confirm(ctx, s.actor(), number)
			case warehouse.ActAllocate:
				_, err = c.orders.Allocate(ctx, s.actor(), number, 0)
			case warehouse.ActRelease:
				_, err = c.orders.Release(ctx, s.actor(), number, 0)
			case warehouse.ActCancel:
				_, err = c.orders.Cancel(ctx, s.actor(), number)
			case warehouse.ActShip:
				_, err = c.orders.Ship(ctx, s.actor(), number)
			default:
				c.fail(w, r, s, warehouse.Errorf(warehouse.ENOTFOUND, "There is no order action %q", action))
				return
			}
			if err == nil {
				http.Redirect(w, r, "/orders/"+pathEscape(number)+"?done="+action, http.StatusSeeOther)
				return
			}
		}
		d, derr := c.order(ctx, s, number)
		if derr != nil {
			c.fail(w, r, s, derr)
			return
		}
		v := c.view(s, "Order "+d.O.Number)
		status := http.StatusOK
		if s.renewed {
			v.Notice = "Your sign-in was renewed; press the button again."
		} else {
			p := c.auth.Problem(err)
			status = p.Status
			d.Error = fmt.Sprintf("Could not %s order %s: %s", action, number, sentence(p))
		}
		v.Data = d
		c.render(w, r, status, "order", v)
	})
}
