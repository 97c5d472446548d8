package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// LotBody sets a lot's expiry date.
type LotBody struct {
	ExpiresOn *string `json:"expires_on" maxLength:"10" nullable:"true" doc:"ISO date (YYYY-MM-DD) the lot expires on; null for a lot that does not expire"`
}

// LotsBody is an item's lots.
type LotsBody struct {
	ItemID int64            `json:"item_id"`
	Lots   []*warehouse.Lot `json:"lots"`
}

func (s *Server) opItemLots() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"items"},
		Summary: "An item's lots and their expiry dates", Description: "The lots that carry an expiry record (set by PUT or by a receipt), by lot.",
		Errors: []int{http.StatusNotFound}})
}

func (s *Server) itemLots(ctx context.Context, in *ItemIDParam) (*struct{ Body LotsBody }, error) {
	lots, err := s.receiving.Lots(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &struct{ Body LotsBody }{LotsBody{ItemID: in.ID, Lots: lots}}, nil
}

func (s *Server) opSetLot() huma.Operation {
	return s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"items"},
		Summary: "Set a lot's expiry date", Description: "Creates the lot's record or changes its expiry (null clears it). Only lot-tracked items have lots (422).",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}})
}

type setLotInput struct {
	ItemIDParam
	Lot  string `path:"lot" minLength:"1" maxLength:"64"`
	Body LotBody
}

func (s *Server) setLot(ctx context.Context, in *setLotInput) (*struct{ Body *warehouse.Lot }, error) {
	exp := ""
	if in.Body.ExpiresOn != nil {
		exp = *in.Body.ExpiresOn
	}
	l, err := s.receiving.SetLotExpiry(ctx, receiver(ctx), in.ID, in.Lot, exp)
	if err != nil {
		return nil, err
	}
	return &struct{ Body *warehouse.Lot }{l}, nil
}

func (s *Server) opExpiring() huma.Operation {
	op := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"reports"},
		Summary: "Stock expiring soon",
		Description: "Balances of lots that expire within within_days days from today (UTC), already expired ones included (expired: true), " +
			"soonest first, with on_hand, reserved and available; under location_id's subtree if given. Cursor pagination.",
		Errors: []int{http.StatusNotFound}})
	s.jsonListDoc(&op, PageBody[*warehouse.ExpiringStock]{})
	return op
}

type expiringInput struct {
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	Cursor     string `query:"cursor" maxLength:"1000"`
	WithinDays int    `query:"within_days" minimum:"0" maximum:"3660" default:"30" doc:"Horizon in days from today (0: expiring today or expired)"`
	LocationID int64  `query:"location_id" minimum:"1"`
}

func (s *Server) expiring(ctx context.Context, in *expiringInput) (*streamOutput, error) {
	rows, next, err := s.receiving.Expiring(ctx, in.WithinDays, in.LocationID, warehouse.Page{Limit: in.Limit, After: in.Cursor})
	if err != nil {
		return nil, err
	}
	return jsonPage(rows, next), nil
}
