package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/receiving"
)

// PurchaseOrderBody creates a purchase order (a draft).
type PurchaseOrderBody struct {
	Number       string             `json:"number" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$" example:"PO-1001" doc:"The order's number, unique"`
	Supplier     string             `json:"supplier" minLength:"1" maxLength:"200" example:"ACME-SUPPLY" doc:"The supplier's reference"`
	Note         string             `json:"note,omitempty" maxLength:"1000"`
	TolerancePct *int               `json:"over_receipt_tolerance_pct,omitempty" minimum:"0" maximum:"100" doc:"Percent a line may be over-received by, with a reason (default: the server's, 0)"`
	Lines        []PurchaseLineBody `json:"lines" minItems:"1" maxItems:"500"`
}

// PurchaseLineBody is one expected line.
type PurchaseLineBody struct {
	ItemID      int64   `json:"item_id,omitempty" minimum:"1" doc:"The item, or give sku"`
	SKU         string  `json:"sku,omitempty" maxLength:"64"`
	Lot         string  `json:"lot,omitempty" maxLength:"64" doc:"The lot expected (lot-tracked items only); a receipt line may name another"`
	ExpiresOn   string  `json:"expires_on,omitempty" maxLength:"10" doc:"ISO date (YYYY-MM-DD) the expected lot expires on"`
	ExpectedQty BodyQty `json:"expected_qty" doc:"> 0, at most the item's qty_precision decimals"`
}

// ReceiptBody is a receipt against a purchase order.
type ReceiptBody struct {
	Reason string            `json:"reason,omitempty" maxLength:"1000" doc:"Required when a line is over-received (within the order's tolerance)"`
	Note   string            `json:"note,omitempty" maxLength:"1000"`
	Lines  []ReceiptLineBody `json:"lines" minItems:"1" maxItems:"500"`
}

// ReceiptLineBody is one line received.
type ReceiptLineBody struct {
	Line       int64   `json:"line" minimum:"1" doc:"The order's line_no received"`
	Qty        BodyQty `json:"qty" doc:"> 0"`
	LocationID int64   `json:"location_id" minimum:"1" doc:"Where the goods are put"`
	Lot        string  `json:"lot,omitempty" maxLength:"64" doc:"Default: the order line's lot"`
	ExpiresOn  string  `json:"expires_on,omitempty" maxLength:"10" doc:"ISO date the lot expires on (default: the order line's, for its lot)"`
}

// CancelBody closes an order short.
type CancelBody struct {
	Reason string `json:"reason" minLength:"1" maxLength:"1000" doc:"Why the order is closed short"`
}

// ReceivedBody is the answer to a receipt.
type ReceivedBody struct {
	Movement      *warehouse.Movement      `json:"movement" doc:"The receipt movement posted (on a replay, the one the first request posted)"`
	PurchaseOrder *warehouse.PurchaseOrder `json:"purchase_order" doc:"The order now, with each line's open quantity"`
}

type PurchaseNumberParam struct {
	Number string `path:"number" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$"`
}

type purchaseOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     *warehouse.PurchaseOrder
}

func purchaseOut(po *warehouse.PurchaseOrder) *purchaseOutput {
	return &purchaseOutput{ETag: etag(po.Version), Body: po}
}

// receiver is who the receiving service sees.
func receiver(ctx context.Context) receiving.Actor {
	a := mover(ctx)
	return receiving.Actor{Name: a.Name, Roles: a.Roles}
}

// ifMatch runs a state change under If-Match, as every change of a
// versioned resource: missing 428, stale 412.
func ifMatch(h string, change func(version int64) error) error {
	pc, err := parseIfMatch(h)
	if err != nil {
		return err
	}
	return pc.apply(change)
}

func (s *Server) opListPurchaseOrders() huma.Operation {
	op := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"purchase-orders"},
		Summary: "List purchase orders", Description: "By number, with lines (expected, received, open) and receipts. Cursor pagination."})
	s.jsonListDoc(&op, PageBody[*warehouse.PurchaseOrder]{})
	return op
}

type listPurchaseOrdersInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	Cursor   string `query:"cursor" maxLength:"1000"`
	Status   string `query:"status" enum:"draft,confirmed,partially_received,received,cancelled"`
	Supplier string `query:"supplier" maxLength:"200"`
}

func (s *Server) listPurchaseOrders(ctx context.Context, in *listPurchaseOrdersInput) (*streamOutput, error) {
	rows, next, err := s.receiving.Orders(ctx, warehouse.PurchaseFilter{Status: in.Status, Supplier: in.Supplier}, warehouse.Page{Limit: in.Limit, After: in.Cursor})
	if err != nil {
		return nil, err
	}
	return jsonPage(rows, next), nil
}

func (s *Server) opCreatePurchaseOrder() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"purchase-orders"},
		Summary:       "Create a purchase order",
		Description:   "A draft with its expected lines; confirm it to receive against it. A duplicate number is 409.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}})
}

func (s *Server) createPurchaseOrder(ctx context.Context, in *struct{ Body PurchaseOrderBody }) (*purchaseOutput, error) {
	b := in.Body
	n := warehouse.NewPurchaseOrder{Number: b.Number, Supplier: b.Supplier, Note: b.Note, TolerancePct: b.TolerancePct}
	for _, l := range b.Lines {
		n.Lines = append(n.Lines, warehouse.NewPurchaseLine{ItemID: l.ItemID, SKU: l.SKU, Lot: l.Lot, ExpiresOn: l.ExpiresOn, Expected: *qtyPtr(&l.ExpectedQty)})
	}
	po, err := s.receiving.Create(ctx, receiver(ctx), n)
	if err != nil {
		return nil, err
	}
	out := purchaseOut(po)
	out.Location = v1 + "/purchase-orders/" + po.Number
	return out, nil
}

func (s *Server) opGetPurchaseOrder() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"purchase-orders"},
		Summary: "One purchase order", Description: "With each line's expected, received and open quantity, and the receipts posted.",
		Errors: []int{http.StatusNotFound}})
}

func (s *Server) getPurchaseOrder(ctx context.Context, in *PurchaseNumberParam) (*purchaseOutput, error) {
	po, err := s.receiving.Order(ctx, in.Number)
	if err != nil {
		return nil, err
	}
	return purchaseOut(po), nil
}

func (s *Server) opConfirmPurchaseOrder() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"purchase-orders"},
		Summary: "Confirm a purchase order", Description: "draft -> confirmed: open for receiving. Send If-Match with the ETag of your last GET (or *); only a draft is confirmed (409).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired}})
}

type purchaseActionInput struct {
	PurchaseNumberParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v1\", or * for any"`
}

func (s *Server) confirmPurchaseOrder(ctx context.Context, in *purchaseActionInput) (*purchaseOutput, error) {
	var po *warehouse.PurchaseOrder
	err := ifMatch(in.IfMatch, func(version int64) (err error) {
		po, err = s.receiving.Confirm(ctx, receiver(ctx), in.Number, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return purchaseOut(po), nil
}

func (s *Server) opCancelPurchaseOrder() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"purchase-orders"},
		Summary: "Cancel (close short) a purchase order",
		Description: "Any state but received or cancelled -> cancelled, with a reason; what was received stays received (the ledger is never edited). " +
			"Send If-Match with the ETag of your last GET (or *).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired, http.StatusUnprocessableEntity}})
}

type cancelPurchaseInput struct {
	PurchaseNumberParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v1\", or * for any"`
	Body    CancelBody
}

func (s *Server) cancelPurchaseOrder(ctx context.Context, in *cancelPurchaseInput) (*purchaseOutput, error) {
	var po *warehouse.PurchaseOrder
	err := ifMatch(in.IfMatch, func(version int64) (err error) {
		po, err = s.receiving.Cancel(ctx, receiver(ctx), in.Number, version, in.Body.Reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	return purchaseOut(po), nil
}

func (s *Server) opReceivePurchaseOrder() huma.Operation {
	return s.v1op(warehouse.RoleClerk, huma.Operation{Tags: []string{"purchase-orders"},
		Summary: "Receive against a purchase order",
		Description: "Posts one receipt movement (reference = the order's number), records the lots' expiry dates and each line's received " +
			"quantity, all in one transaction. Partial receipts leave the order partially_received; when every line is received in full it is received. " +
			"A line may be over-received by at most the order's over_receipt_tolerance_pct, and only with a reason (422 without); beyond it the " +
			"receipt is refused whole with 409 over_receipt naming the line. Idempotency-Key is required: a retry with the same key and body " +
			"returns the first receipt's movement (and the order as it is now) with Idempotent-Replayed: true, and receives nothing again.",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}})
}

type receivePurchaseInput struct {
	PurchaseNumberParam
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required: 1-255 characters, unique per request (e.g. a UUID)"`
	Body           ReceiptBody
}

type receivedOutput struct {
	Status   int
	Location string `header:"Location"`
	Replayed string `header:"Idempotent-Replayed"`
	Body     ReceivedBody
}

func (s *Server) receivePurchaseOrder(ctx context.Context, in *receivePurchaseInput) (*receivedOutput, error) {
	hash, err := requestHash(http.MethodPost, v1+"/purchase-orders/"+in.Number+"/receipts", in.Body)
	if err != nil {
		return nil, apiError(err)
	}
	r := warehouse.NewReceipt{Reason: in.Body.Reason, Note: in.Body.Note}
	for _, l := range in.Body.Lines {
		r.Lines = append(r.Lines, warehouse.ReceiptLine{LineNo: l.Line, Qty: *qtyPtr(&l.Qty), LocationID: l.LocationID, Lot: l.Lot, ExpiresOn: l.ExpiresOn})
	}
	got, err := s.receiving.Receive(ctx, receiver(ctx), in.Number, r, receiving.Key{Key: in.IdempotencyKey, Hash: hash})
	switch {
	case errors.Is(err, receiving.ErrKeyRequired):
		return nil, &warehouse.Error{Code: codeIdempotencyKeyRequired,
			Message: "Idempotency-Key header required (1-255 characters, e.g. a UUID): retries with the same key are never received twice"}
	case errors.Is(err, receiving.ErrKeyTooLong):
		return nil, &warehouse.Error{Code: codeBadRequest, Message: "Idempotency-Key must be 1-255 characters"}
	case err != nil:
		return nil, err
	}
	out := &receivedOutput{Status: http.StatusCreated, Body: ReceivedBody{Movement: got.Movement, PurchaseOrder: got.Order}}
	if got.Replayed {
		out.Replayed = "true"
		var m warehouse.Movement
		if err := json.Unmarshal(got.MovementBody, &m); err != nil {
			return nil, apiError(err)
		}
		out.Body.Movement = &m
	}
	if got.MovementID != 0 {
		out.Location = v1 + "/movements/" + strconv.FormatInt(got.MovementID, 10)
	}
	return out, nil
}
