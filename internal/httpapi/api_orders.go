package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/orders"
)

// OrderCreateBody creates a draft order.
type OrderCreateBody struct {
	Number            string          `json:"number" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$" example:"SO-1001" doc:"The order's number, unique"`
	Customer          string          `json:"customer,omitempty" maxLength:"200" doc:"Customer or destination reference"`
	Note              string          `json:"note,omitempty" maxLength:"1000"`
	StagingLocationID *int64          `json:"staging_location_id,omitempty" minimum:"1" doc:"Packing/staging location: picks transfer there and the ship issues from there; absent: a pick issues the stock"`
	ExpiresAt         *time.Time      `json:"expires_at,omitempty" doc:"Hold expiry (RFC 3339): the order is cancelled and its reservations released when it passes"`
	Lines             []OrderLineBody `json:"lines" minItems:"1" maxItems:"500"`
}

// OrderLineBody is one line: an item (by id or sku) and a quantity.
type OrderLineBody struct {
	ItemID int64   `json:"item_id,omitempty" minimum:"1" doc:"The item, or give sku"`
	SKU    string  `json:"sku,omitempty" maxLength:"64"`
	Qty    BodyQty `json:"qty" doc:"> 0, at most the item's qty_precision decimals"`
}

// OrderPatchBody replaces the lines of a draft order.
type OrderPatchBody struct {
	Lines []OrderLineBody `json:"lines" minItems:"1" maxItems:"500"`
}

// OrderLineRef names one line of an order, or none for every line.
type OrderLineRef struct {
	LineID int64 `json:"line_id,omitempty" minimum:"1" doc:"One line of the order; absent: every line"`
}

// PickBody confirms one pick line: by reservation_id, or by the codes
// scanned (location, then item).
type PickBody struct {
	ReservationID int64    `json:"reservation_id,omitempty" minimum:"1" doc:"The pick-list line's reservation; or give location and item"`
	Location      string   `json:"location,omitempty" maxLength:"64" doc:"Scanned location code (barcode)"`
	Item          string   `json:"item,omitempty" maxLength:"64" doc:"Scanned item barcode or SKU"`
	Lot           string   `json:"lot,omitempty" maxLength:"64"`
	Qty           *BodyQty `json:"qty,omitempty" doc:"What was found; absent: all the reservation holds"`
	Short         bool     `json:"short,omitempty" doc:"Less was found than reserved: record the rest as missing and release it"`
}

type OrderNumberParam struct {
	Number string `path:"number" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$"`
}

type orderOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     *warehouse.Order
}

func orderOut(o *warehouse.Order, err error) (*orderOutput, error) {
	if err != nil {
		return nil, apiError(err)
	}
	return &orderOutput{ETag: etag(o.Version), Body: o}, nil
}

func orderLines(ls []OrderLineBody) []warehouse.NewOrderLine {
	out := make([]warehouse.NewOrderLine, len(ls))
	for i, l := range ls {
		out[i] = warehouse.NewOrderLine{ItemID: l.ItemID, SKU: l.SKU, Qty: l.Qty.q}
	}
	return out
}

func (s *Server) opCreateOrder() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"orders"},
		Summary:       "Create an outbound order",
		Description:   "Creates a draft: lines of item and quantity, each item once. Confirm it, then allocate it.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}})
}

func (s *Server) createOrder(ctx context.Context, in *struct{ Body OrderCreateBody }) (*orderOutput, error) {
	b := in.Body
	o, err := s.orders.Create(ctx, mover(ctx), warehouse.NewOrder{Number: b.Number, Customer: b.Customer, Note: b.Note, StagingLocationID: b.StagingLocationID,
		ExpiresAt: b.ExpiresAt, Lines: orderLines(b.Lines)})
	out, err := orderOut(o, err)
	if err == nil {
		out.Location = v1 + "/orders/" + o.Number
	}
	return out, err
}

func (s *Server) opListOrders() huma.Operation {
	list := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"orders"}, Summary: "List orders", Description: "Newest first, with their lines."})
	s.jsonListDoc(&list, PageBody[*warehouse.Order]{})
	return list
}

type listOrdersInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor   string `query:"cursor" maxLength:"1000" doc:"Opaque cursor: next_cursor of the previous page"`
	State    string `query:"state" enum:"draft,confirmed,partially_allocated,allocated,picking,shipped,cancelled"`
	Customer string `query:"customer" maxLength:"200"`
	ItemID   int64  `query:"item_id" minimum:"1" doc:"Orders with a line of this item"`
}

func (s *Server) listOrders(ctx context.Context, in *listOrdersInput) (*streamOutput, error) {
	os, next, err := s.orders.List(ctx, mover(ctx), warehouse.OrderFilter{State: in.State, Customer: in.Customer, ItemID: in.ItemID}, warehouse.Page{Limit: in.Limit, After: in.Cursor})
	if err != nil {
		return nil, apiError(err)
	}
	return jsonPage(os, next), nil
}

func (s *Server) opGetOrder() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"orders"},
		Summary: "One order with its lines, reservations and picks", Errors: []int{http.StatusNotFound}})
}

func (s *Server) getOrder(ctx context.Context, in *OrderNumberParam) (*orderOutput, error) {
	return orderOut(s.orders.Order(ctx, mover(ctx), in.Number))
}

func (s *Server) opUpdateOrder() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"orders"},
		Summary: "Replace a draft order's lines", Description: "Send If-Match with the ETag of your last GET. Only a draft can be edited (409 order_state).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired, http.StatusUnprocessableEntity}})
}

type updateOrderInput struct {
	OrderNumberParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v3\", or * for any"`
	Body    OrderPatchBody
}

func (s *Server) updateOrder(ctx context.Context, in *updateOrderInput) (*orderOutput, error) {
	pc, err := parseIfMatch(in.IfMatch)
	if err != nil {
		return nil, err
	}
	var o *warehouse.Order
	err = pc.apply(func(version int64) (err error) {
		o, err = s.orders.UpdateLines(ctx, mover(ctx), in.Number, version, orderLines(in.Body.Lines))
		return err
	})
	return orderOut(o, err)
}

// orderAction documents one state-changing POST of an order.
func (s *Server) orderAction(role warehouse.Role, summary, description string) huma.Operation {
	return s.v1op(role, huma.Operation{Tags: []string{"orders"}, Summary: summary, Description: description,
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}})
}

func (s *Server) opConfirmOrder() huma.Operation {
	return s.orderAction(warehouse.RoleManager, "Confirm a draft order", "Fixes the lines; the order may then be allocated. 409 order_state unless a draft.")
}

func (s *Server) confirmOrder(ctx context.Context, in *OrderNumberParam) (*orderOutput, error) {
	return orderOut(s.orders.Confirm(ctx, mover(ctx), in.Number))
}

func (s *Server) opAllocateOrder() huma.Operation {
	return s.orderAction(warehouse.RoleManager, "Allocate an order",
		"Reserves stock at specific locations (and lots) for every line, or the line named: lot-tracked items first-expiring first (FEFO; lots without "+
			"expiry last, expired lots never), others first-in first-out. When stock is short the order is partially_allocated; allocate again later for the rest. "+
			"Reserved stock lowers available while on_hand stays; the database never lets reservations exceed on_hand.")
}

type orderLineInput struct {
	OrderNumberParam
	Body *OrderLineRef `required:"false"`
}

func (in *orderLineInput) lineID() int64 {
	if in.Body == nil {
		return 0
	}
	return in.Body.LineID
}

func (s *Server) allocateOrder(ctx context.Context, in *orderLineInput) (*orderOutput, error) {
	return orderOut(s.orders.Allocate(ctx, mover(ctx), in.Number, in.lineID()))
}

func (s *Server) opReleaseOrder() huma.Operation {
	return s.orderAction(warehouse.RoleManager, "Release an order's reservations", "Gives back what the open reservations of the order (or the line named) hold.")
}

func (s *Server) releaseOrder(ctx context.Context, in *orderLineInput) (*orderOutput, error) {
	return orderOut(s.orders.Release(ctx, mover(ctx), in.Number, in.lineID()))
}

func (s *Server) opCancelOrder() huma.Operation {
	return s.orderAction(warehouse.RoleManager, "Cancel an order", "Releases every reservation of the order in the same transaction. A shipped order cannot be cancelled.")
}

func (s *Server) cancelOrder(ctx context.Context, in *OrderNumberParam) (*orderOutput, error) {
	return orderOut(s.orders.Cancel(ctx, mover(ctx), in.Number))
}

func (s *Server) opShipOrder() huma.Operation {
	return s.orderAction(warehouse.RoleClerk, "Ship an order",
		"Ships what was picked: with a staging location, an issue of the picked stock from there; without, the picks issued it already. "+
			"Refused (409 order_state) while anything is still reserved to pick.")
}

func (s *Server) shipOrder(ctx context.Context, in *OrderNumberParam) (*orderOutput, error) {
	return orderOut(s.orders.Ship(ctx, mover(ctx), in.Number))
}

func (s *Server) opPickList() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"orders"},
		Summary: "An order's pick list", Description: "Open reservations in walking order (by location path). With pickers=ann,bob each top-level zone goes to one picker; picker=ann keeps ann's stops.",
		Errors: []int{http.StatusNotFound}})
}

type pickListInput struct {
	OrderNumberParam
	Picker  string `query:"picker" maxLength:"150" doc:"Only this picker's stops"`
	Pickers string `query:"pickers" maxLength:"1000" doc:"Comma-separated pickers to deal the zones to"`
}

func (s *Server) pickList(ctx context.Context, in *pickListInput) (*struct{ Body *orders.PickList }, error) {
	var pickers []string
	for _, p := range strings.Split(in.Pickers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			pickers = append(pickers, p)
		}
	}
	pl, err := s.orders.PickList(ctx, mover(ctx), in.Number, pickers, in.Picker)
	if err != nil {
		return nil, apiError(err)
	}
	return &struct{ Body *orders.PickList }{pl}, nil
}

func (s *Server) opConfirmPick() huma.Operation {
	op := s.v1op(warehouse.RoleClerk, huma.Operation{Tags: []string{"orders"},
		Summary: "Confirm a pick line",
		Description: "By reservation_id, or by scanning: the location code, then the item's barcode or SKU. In one transaction the reservation and the " +
			"balance's reserved go down and the picked stock is issued (or transferred to the order's staging location) through the ledger. short: true records " +
			"what was not found and releases it; the order goes back to partially_allocated. Idempotency-Key is required: a retry with the same key and body posts " +
			"nothing and returns the first answer with Idempotent-Replayed: true.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}})
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[warehouse.Pick](), true, "")
	op.DefaultStatus = http.StatusCreated
	op.Responses = map[string]*huma.Response{"201": {
		Description: "Picked (or, with Idempotent-Replayed: true, the stored answer to the first request with this key)",
		Content:     map[string]*huma.MediaType{"application/json": {Schema: schema}},
	}}
	return op
}

type confirmPickInput struct {
	OrderNumberParam
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required: 1-255 characters, unique per request (e.g. a UUID)"`
	Body           PickBody
}

func (s *Server) confirmPick(ctx context.Context, in *confirmPickInput) (*movementOutput, error) {
	hash, err := requestHash(http.MethodPost, v1+"/orders/"+in.Number+"/picks", in.Body)
	if err != nil {
		return nil, apiError(err)
	}
	b := in.Body
	req := warehouse.PickRequest{ReservationID: b.ReservationID, LocationCode: b.Location, ItemCode: b.Item, Lot: b.Lot, Qty: qtyPtr(b.Qty), Short: b.Short}
	p, err := s.orders.ConfirmPick(ctx, mover(ctx), in.Number, req, inventory.Key{Key: in.IdempotencyKey, Hash: hash})
	switch {
	case errors.Is(err, inventory.ErrKeyRequired), errors.Is(err, inventory.ErrKeyTooLong), errors.Is(err, inventory.ErrKeyInUse):
		return movementResponse(inventory.Posted{}, err)
	case err != nil:
		return nil, apiError(err)
	}
	// Location is the order, which lists its picks.
	out := &movementOutput{Status: http.StatusCreated, Location: v1 + "/orders/" + in.Number, ContentType: "application/json", Body: p.Body}
	if p.Replayed {
		out.Replayed = "true"
	} else if out.Body, err = json.Marshal(p.Pick); err != nil {
		return nil, apiError(err)
	}
	return out, nil
}

func (s *Server) opListReservations() huma.Operation {
	list := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"orders"}, Summary: "List reservations",
		Description: "Oldest first. qty was reserved; picked, short and released say where it went; the rest is still held (stock_balances.reserved is the sum of that)."})
	s.jsonListDoc(&list, PageBody[warehouse.Reservation]{})
	return list
}

type listReservationsInput struct {
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor     string `query:"cursor" maxLength:"1000" doc:"Opaque cursor: next_cursor of the previous page"`
	ItemID     int64  `query:"item_id" minimum:"1"`
	LocationID int64  `query:"location_id" minimum:"1"`
	Order      string `query:"order" maxLength:"64" doc:"Order number"`
	State      string `query:"state" enum:"open,picked,released"`
}

func (s *Server) listReservations(ctx context.Context, in *listReservationsInput) (*streamOutput, error) {
	rs, next, err := s.orders.Reservations(ctx, mover(ctx), warehouse.ReservationFilter{ItemID: in.ItemID, LocationID: in.LocationID, OrderNumber: in.Order, State: in.State},
		warehouse.Page{Limit: in.Limit, After: in.Cursor})
	if err != nil {
		return nil, apiError(err)
	}
	return jsonPage(rs, next), nil
}
