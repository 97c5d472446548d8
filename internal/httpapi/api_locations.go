package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// LocationCreateBody creates a location.
type LocationCreateBody struct {
	Code       string `json:"code" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$" example:"A-01" doc:"Unique; also the location's barcode"`
	Name       string `json:"name" minLength:"1" maxLength:"200" example:"Aisle A, bin 1"`
	ParentID   *int64 `json:"parent_id,omitempty" doc:"Absent or null: a top-level location (a warehouse)"`
	Structural bool   `json:"structural,omitempty" doc:"Groups locations; cannot hold stock"`
}

// LocationPatchBody changes a location; absent fields stay as they are
// (parent_id: null makes it top-level).
type LocationPatchBody struct {
	Code       *string `json:"code,omitempty" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._-]+$"`
	Name       *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
	ParentID   *int64  `json:"parent_id,omitempty" nullable:"true"`
	Structural *bool   `json:"structural,omitempty"`
	Active     *bool   `json:"active,omitempty"`
}

type locationOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     *warehouse.Location
}

type LocationIDParam struct {
	ID int64 `path:"id" minimum:"1"`
}

type StockParams struct {
	ListParams
	ItemID              int64  `query:"item_id" minimum:"1"`
	SKU                 string `query:"sku" maxLength:"64"`
	LocationID          int64  `query:"location_id" minimum:"1"`
	IncludeSublocations bool   `query:"include_sublocations" doc:"With location_id: also every location below it"`
	Lot                 string `query:"lot" maxLength:"64"`
	Nonzero             string `query:"nonzero" enum:"true,false" default:"true" doc:"Hide zero balances (default true)"`
}

func (p *StockParams) filter() warehouse.StockFilter {
	f := warehouse.StockFilter{ItemID: p.ItemID, SKU: p.SKU, LocationID: p.LocationID, IncludeSublocations: p.IncludeSublocations, Nonzero: p.Nonzero != "false"}
	if p.Lot != "" {
		f.Lot = &p.Lot
	}
	return f
}

func (s *Server) stockList(ctx context.Context, lp ListParams, f warehouse.StockFilter) (*streamOutput, error) {
	if lp.csv() {
		return csvExport(ctx, s.log, "stock", func() (int, error) { return s.db.CountStock(ctx, f) },
			[]string{"item_id", "sku", "location_id", "location_code", "location_path", "lot", "on_hand", "reserved", "available", "last_movement_at", "last_counted_at"},
			func(ctx context.Context, emit func([]string) error) error {
				return s.db.EachStock(ctx, f, func(b *warehouse.Balance) error {
					return emit([]string{strconv.FormatInt(b.ItemID, 10), b.SKU, strconv.FormatInt(b.LocationID, 10), b.LocationCode, b.LocationPath, b.Lot,
						b.OnHand.String(), b.Reserved.String(), b.Available.String(), fmtTimePtr(b.LastMovementAt), fmtTimePtr(b.LastCountedAt)})
				})
			})
	}
	bs, next, err := s.db.ListStock(ctx, f, lp.page())
	if err != nil {
		return nil, err
	}
	return jsonPage(bs, next), nil
}

func (s *Server) opListLocations() huma.Operation {
	listOp := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"locations"},
		Summary: "List locations", Description: "Ordered by path. Cursor pagination; CSV with Accept: text/csv or ?format=csv."})
	s.listDoc(&listOp, PageBody[*warehouse.Location]{})
	return listOp
}

type listLocationsInput struct {
	ListParams
	ParentID   int64  `query:"parent_id" minimum:"1" doc:"Only children of this location"`
	Root       bool   `query:"root" doc:"Only top-level locations (warehouses)"`
	Q          string `query:"q" maxLength:"200" doc:"Substring of code or name"`
	Active     string `query:"active" enum:"true,false"`
	Structural string `query:"structural" enum:"true,false"`
}

func (s *Server) listLocations(ctx context.Context, in *listLocationsInput) (*streamOutput, error) {
	f := warehouse.LocationFilter{Root: in.Root, Q: in.Q, Active: boolParam(in.Active), Structural: boolParam(in.Structural)}
	if in.ParentID != 0 {
		f.ParentID = &in.ParentID
	}
	if in.csv() {
		return csvExport(ctx, s.log, "locations", func() (int, error) { return s.db.CountLocations(ctx, f) },
			[]string{"id", "code", "name", "parent_id", "parent_code", "path", "depth", "structural", "active", "version", "updated_at", "updated_by"},
			func(ctx context.Context, emit func([]string) error) error {
				return s.db.EachLocation(ctx, f, func(l *warehouse.Location) error {
					return emit([]string{strconv.FormatInt(l.ID, 10), l.Code, l.Name, fmtIDPtr(l.ParentID), parentCode(l.Path), l.Path, strconv.Itoa(l.Depth),
						strconv.FormatBool(l.Structural), strconv.FormatBool(l.Active), strconv.FormatInt(l.Version, 10), fmtTime(l.UpdatedAt), l.UpdatedBy})
				})
			})
	}
	ls, next, err := s.db.ListLocations(ctx, f, in.page())
	if err != nil {
		return nil, err
	}
	return jsonPage(ls, next), nil
}

func (s *Server) opCreateLocation() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"locations"},
		Summary: "Create a location", Description: "At most 8 levels deep.", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}})
}

func (s *Server) createLocation(ctx context.Context, in *struct{ Body LocationCreateBody }) (*locationOutput, error) {
	l := &warehouse.Location{Code: in.Body.Code, Name: in.Body.Name, ParentID: in.Body.ParentID, Structural: in.Body.Structural}
	if err := s.db.CreateLocation(ctx, l, actor(ctx)); err != nil {
		return nil, err
	}
	return &locationOutput{ETag: etag(l.Version), Location: v1 + "/locations/" + strconv.FormatInt(l.ID, 10), Body: l}, nil
}

func (s *Server) opGetLocation() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"locations"},
		Summary: "One location", Errors: []int{http.StatusNotFound}})
}

func (s *Server) getLocation(ctx context.Context, in *LocationIDParam) (*locationOutput, error) {
	l, err := s.db.Location(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &locationOutput{ETag: etag(l.Version), Body: l}, nil
}

func (s *Server) opUpdateLocation() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"locations"},
		Summary:     "Rename, re-parent or flag a location",
		Description: "Send If-Match with the ETag of your last GET. Re-parenting moves the whole subtree; moving a location under itself or a descendant is refused (422). active: false archives (needs no stock and no active children).",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired, http.StatusUnprocessableEntity}})
}

type updateLocationInput struct {
	LocationIDParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v3\", or * for any"`
	Body    LocationPatchBody
	RawBody []byte
}

func (s *Server) updateLocation(ctx context.Context, in *updateLocationInput) (*locationOutput, error) {
	pc, err := parseIfMatch(in.IfMatch)
	if err != nil {
		return nil, err
	}
	b := in.Body
	p := warehouse.LocationPatch{Code: b.Code, Name: b.Name, Structural: b.Structural, Active: b.Active}
	if b.ParentID != nil || isNull(in.RawBody, "parent_id") {
		p.ParentID = &b.ParentID
	}
	var l *warehouse.Location
	err = pc.apply(func(version int64) (err error) {
		l, err = s.db.UpdateLocation(ctx, in.ID, version, p, actor(ctx))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &locationOutput{ETag: etag(l.Version), Body: l}, nil
}

func (s *Server) opArchiveLocation() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"locations"},
		Summary: "Archive a location", Description: "Sets active=false. Refused with 409 while it holds stock or has active sub-locations.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired}})
}

type archiveLocationInput struct {
	LocationIDParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v3\", or * for any"`
}

func (s *Server) archiveLocation(ctx context.Context, in *archiveLocationInput) (*struct{}, error) {
	pc, err := parseIfMatch(in.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := pc.apply(func(version int64) error { return s.db.ArchiveLocation(ctx, in.ID, version, actor(ctx)) }); err != nil {
		return nil, err
	}
	return nil, nil
}

func (s *Server) opListStock() huma.Operation {
	op := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"stock"},
		Summary: "Stock balances", Description: "One row per (item, location, lot), ordered by sku, location path, lot. CSV with Accept: text/csv or ?format=csv.",
		Errors: []int{http.StatusNotFound}})
	s.listDoc(&op, PageBody[*warehouse.Balance]{})
	return op
}

func (s *Server) listStock(ctx context.Context, in *StockParams) (*streamOutput, error) {
	return s.stockList(ctx, in.ListParams, in.filter())
}

func (s *Server) opLocationStock() huma.Operation {
	op := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"locations", "stock"},
		Summary: "Balances at a location", Errors: []int{http.StatusNotFound}})
	s.listDoc(&op, PageBody[*warehouse.Balance]{})
	return op
}

type locationStockInput struct {
	LocationIDParam
	ListParams
	IncludeSublocations bool `query:"include_sublocations"`
}

func (s *Server) locationStock(ctx context.Context, in *locationStockInput) (*streamOutput, error) {
	if _, err := s.db.Location(ctx, in.ID); err != nil {
		return nil, err
	}
	return s.stockList(ctx, in.ListParams, warehouse.StockFilter{LocationID: in.ID, IncludeSublocations: in.IncludeSublocations, Nonzero: true})
}

func (s *Server) opLowStock() huma.Operation {
	op := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"reports"},
		Summary: "Items below their reorder point", Description: "Active items whose available total (under location_id if given) is below reorder_point, by sku.",
		Errors: []int{http.StatusNotFound}})
	s.jsonListDoc(&op, PageBody[*warehouse.LowStock]{})
	return op
}

type lowStockInput struct {
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	Cursor     string `query:"cursor" maxLength:"1000"`
	LocationID int64  `query:"location_id" minimum:"1"`
}

func (s *Server) lowStock(ctx context.Context, in *lowStockInput) (*streamOutput, error) {
	rows, next, err := s.db.ListLowStock(ctx, in.LocationID, warehouse.Page{Limit: in.Limit, After: in.Cursor})
	if err != nil {
		return nil, err
	}
	return jsonPage(rows, next), nil
}

// parentCode is the code of a location's parent, from its path ("" at the
// top): what an import names the parent by.
func parentCode(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return ""
	}
	parent := path[:i]
	return parent[strings.LastIndexByte(parent, '/')+1:]
}
