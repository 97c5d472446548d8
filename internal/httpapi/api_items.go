package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// ItemCreateBody creates an item.
type ItemCreateBody struct {
	SKU          string   `json:"sku" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$" example:"WID-RED"`
	Name         string   `json:"name" minLength:"1" maxLength:"200" example:"Red widget"`
	Description  string   `json:"description,omitempty" maxLength:"4000"`
	UOM          string   `json:"uom" minLength:"1" maxLength:"16" example:"ea"`
	QtyPrecision int      `json:"qty_precision,omitempty" minimum:"0" maximum:"3" doc:"Decimals allowed in quantities (0-3)"`
	Barcode      string   `json:"barcode,omitempty" maxLength:"64" doc:"Unique across items and location codes"`
	LotTracked   bool     `json:"lot_tracked,omitempty"`
	ReorderPoint *BodyQty `json:"reorder_point,omitempty" minimum:"0"`
}

// ItemPatchBody changes an item; absent fields stay as they are
// (reorder_point: null clears it, barcode: "" clears it).
type ItemPatchBody struct {
	SKU          *string  `json:"sku,omitempty" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$"`
	Name         *string  `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Description  *string  `json:"description,omitempty" maxLength:"4000"`
	UOM          *string  `json:"uom,omitempty" minLength:"1" maxLength:"16"`
	QtyPrecision *int     `json:"qty_precision,omitempty" minimum:"0" maximum:"3"`
	Barcode      *string  `json:"barcode,omitempty" maxLength:"64"`
	LotTracked   *bool    `json:"lot_tracked,omitempty"`
	ReorderPoint *BodyQty `json:"reorder_point,omitempty" minimum:"0" nullable:"true"`
	Active       *bool    `json:"active,omitempty"`
}

type itemOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     *warehouse.Item
}

type ItemIDParam struct {
	ID int64 `path:"id" minimum:"1"`
}

// isNull reports whether the JSON object raw has field set to null: the
// only way to tell "clear it" from "leave it" after decoding into pointers.
func isNull(raw []byte, field string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	v, ok := m[field]
	return ok && bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// ItemStockBody is an item's stock by location.
type ItemStockBody struct {
	ItemID    int64                `json:"item_id"`
	SKU       string               `json:"sku"`
	UOM       string               `json:"uom"`
	OnHand    warehouse.Qty        `json:"on_hand"`
	Available warehouse.Qty        `json:"available"`
	Balances  []*warehouse.Balance `json:"balances"`
}

// LookupBody is what a scanned code is.
type LookupBody struct {
	Kind     string              `json:"kind" enum:"item,location"`
	Item     *warehouse.Item     `json:"item,omitempty"`
	Location *warehouse.Location `json:"location,omitempty"`
}

// boolParam reads an optional "true"/"false" query value (validated by enum).
func boolParam(s string) *bool {
	switch s {
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	}
	return nil
}

func (s *Server) opListItems() huma.Operation {
	listOp := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"items"},
		Summary: "List items", Description: "Ordered by sku. Cursor pagination; CSV with Accept: text/csv or ?format=csv."})
	s.listDoc(&listOp, PageBody[*warehouse.Item]{})
	return listOp
}

type listItemsInput struct {
	ListParams
	Q            string `query:"q" maxLength:"200" doc:"Substring of sku or name"`
	SKU          string `query:"sku" maxLength:"64"`
	Barcode      string `query:"barcode" maxLength:"64"`
	Active       string `query:"active" enum:"true,false"`
	BelowReorder bool   `query:"below_reorder" doc:"Only items whose available total is below their reorder point"`
}

func (s *Server) listItems(ctx context.Context, in *listItemsInput) (*streamOutput, error) {
	f := warehouse.ItemFilter{Q: in.Q, SKU: in.SKU, Barcode: in.Barcode, Active: boolParam(in.Active), BelowReorder: in.BelowReorder}
	if in.csv() {
		return csvExport(ctx, s.log, "items", func() (int, error) { return s.db.CountItems(ctx, f) },
			[]string{"id", "sku", "name", "description", "uom", "qty_precision", "barcode", "lot_tracked", "reorder_point", "active", "on_hand", "available", "version", "updated_at", "updated_by"},
			func(ctx context.Context, emit func([]string) error) error {
				return s.db.EachItem(ctx, f, func(it *warehouse.Item) error {
					return emit([]string{strconv.FormatInt(it.ID, 10), it.SKU, it.Name, it.Description, it.UOM, strconv.Itoa(it.QtyPrecision), it.Barcode,
						strconv.FormatBool(it.LotTracked), fmtQtyPtr(it.ReorderPoint), strconv.FormatBool(it.Active), it.OnHand.String(), it.Available.String(),
						strconv.FormatInt(it.Version, 10), fmtTime(it.UpdatedAt), it.UpdatedBy})
				})
			})
	}
	items, next, err := s.db.ListItems(ctx, f, in.page())
	if err != nil {
		return nil, err
	}
	return jsonPage(items, next), nil
}

func (s *Server) opCreateItem() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"items"},
		Summary: "Create an item", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}})
}

func (s *Server) createItem(ctx context.Context, in *struct{ Body ItemCreateBody }) (*itemOutput, error) {
	b := in.Body
	it := &warehouse.Item{SKU: b.SKU, Name: b.Name, Description: b.Description, UOM: b.UOM, QtyPrecision: b.QtyPrecision,
		Barcode: b.Barcode, LotTracked: b.LotTracked, ReorderPoint: qtyPtr(b.ReorderPoint), Active: true}
	if err := s.db.CreateItem(ctx, it, actor(ctx)); err != nil {
		return nil, err
	}
	return &itemOutput{ETag: etag(it.Version), Location: v1 + "/items/" + strconv.FormatInt(it.ID, 10), Body: it}, nil
}

func (s *Server) opGetItem() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"items"},
		Summary: "One item with its stock totals", Errors: []int{http.StatusNotFound}})
}

func (s *Server) getItem(ctx context.Context, in *ItemIDParam) (*itemOutput, error) {
	it, err := s.db.Item(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &itemOutput{ETag: etag(it.Version), Body: it}, nil
}

func (s *Server) opUpdateItem() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"items"},
		Summary:     "Change an item",
		Description: "Send If-Match with the ETag of your last GET. sku and lot_tracked are frozen, and qty_precision can only be raised, once the item has ledger entries (422 naming the field). reorder_point: null clears it; active: false archives (needs no stock).",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired, http.StatusUnprocessableEntity}})
}

type updateItemInput struct {
	ItemIDParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v3\", or * for any"`
	Body    ItemPatchBody
	RawBody []byte
}

func (s *Server) updateItem(ctx context.Context, in *updateItemInput) (*itemOutput, error) {
	pc, err := parseIfMatch(in.IfMatch)
	if err != nil {
		return nil, err
	}
	b := in.Body
	p := warehouse.ItemPatch{SKU: b.SKU, Name: b.Name, Description: b.Description, UOM: b.UOM, QtyPrecision: b.QtyPrecision,
		Barcode: b.Barcode, LotTracked: b.LotTracked, Active: b.Active}
	if b.ReorderPoint != nil || isNull(in.RawBody, "reorder_point") {
		rp := qtyPtr(b.ReorderPoint)
		p.ReorderPoint = &rp
	}
	var it *warehouse.Item
	err = pc.apply(func(version int64) (err error) {
		it, err = s.db.UpdateItem(ctx, in.ID, version, p, actor(ctx))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &itemOutput{ETag: etag(it.Version), Body: it}, nil
}

func (s *Server) opArchiveItem() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"items"},
		Summary: "Archive an item", Description: "Sets active=false (history stays). Refused with 409 while the item has stock anywhere.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired}})
}

type archiveItemInput struct {
	ItemIDParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v3\", or * for any"`
}

func (s *Server) archiveItem(ctx context.Context, in *archiveItemInput) (*struct{}, error) {
	pc, err := parseIfMatch(in.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := pc.apply(func(version int64) error { return s.db.ArchiveItem(ctx, in.ID, version, actor(ctx)) }); err != nil {
		return nil, err
	}
	return nil, nil
}

func (s *Server) opItemStock() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"items"},
		Summary: "An item's balances by location, with totals", Errors: []int{http.StatusNotFound}})
}

func (s *Server) itemStock(ctx context.Context, in *ItemIDParam) (*struct{ Body ItemStockBody }, error) {
	it, err := s.db.Item(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	out := ItemStockBody{ItemID: it.ID, SKU: it.SKU, UOM: it.UOM, OnHand: it.OnHand, Available: it.Available, Balances: []*warehouse.Balance{}}
	err = s.db.EachStock(ctx, warehouse.StockFilter{ItemID: it.ID, Nonzero: true}, func(b *warehouse.Balance) error {
		out.Balances = append(out.Balances, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{ Body ItemStockBody }{out}, nil
}

func (s *Server) opLookup() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"lookup"},
		Summary: "Resolve a scanned code", Description: "An item barcode (or sku) or a location code.", Errors: []int{http.StatusNotFound}})
}

type lookupInput struct {
	Barcode string `query:"barcode" required:"true" minLength:"1" maxLength:"64"`
}

func (s *Server) lookup(ctx context.Context, in *lookupInput) (*struct{ Body LookupBody }, error) {
	if it, err := s.db.ItemByBarcode(ctx, in.Barcode); err == nil {
		return &struct{ Body LookupBody }{LookupBody{Kind: "item", Item: it}}, nil
	} else if warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
		return nil, err
	}
	l, err := s.db.LocationByCode(ctx, in.Barcode)
	if err != nil {
		if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
			return nil, warehouse.Errorf(warehouse.ENOTFOUND, "No item or location has the code %s", strconv.Quote(in.Barcode))
		}
		return nil, err
	}
	return &struct{ Body LookupBody }{LookupBody{Kind: "location", Location: l}}, nil
}
