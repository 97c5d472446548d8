package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/inventory"
)

// MovementBody is a movement to post.
type MovementBody struct {
	Type      string             `json:"type" enum:"receipt,issue,transfer,adjustment,count"`
	Reference string             `json:"reference,omitempty" maxLength:"100" doc:"External document number"`
	Note      string             `json:"note,omitempty" maxLength:"1000"`
	Reason    string             `json:"reason,omitempty" enum:"damaged,lost,found,correction,other" doc:"Required for adjustments"`
	Lines     []MovementLineBody `json:"lines" minItems:"1" maxItems:"500"`
}

// MovementLineBody is one line. Which fields apply depends on the type:
// receipt to_location_id+qty; issue from_location_id+qty; transfer both;
// adjustment location_id+qty_delta; count location_id+counted_qty
// (+expected_qty).
type MovementLineBody struct {
	ItemID         int64    `json:"item_id,omitempty" minimum:"1" doc:"The item, or give sku"`
	SKU            string   `json:"sku,omitempty" maxLength:"64"`
	Lot            string   `json:"lot,omitempty" maxLength:"64" doc:"Required if and only if the item is lot-tracked"`
	FromLocationID *int64   `json:"from_location_id,omitempty"`
	ToLocationID   *int64   `json:"to_location_id,omitempty"`
	LocationID     *int64   `json:"location_id,omitempty"`
	Qty            *BodyQty `json:"qty,omitempty" doc:"> 0, at most the item's qty_precision decimals"`
	QtyDelta       *BodyQty `json:"qty_delta,omitempty" doc:"Adjustment: signed, not 0"`
	CountedQty     *BodyQty `json:"counted_qty,omitempty" doc:"Count: what was counted (>= 0)"`
	ExpectedQty    *BodyQty `json:"expected_qty,omitempty" doc:"Count: what the counter saw on hand; if stock moved since, 409 count_outdated"`
}

// ReverseBody is the optional note of a reversal.
type ReverseBody struct {
	Note string `json:"note,omitempty" maxLength:"1000"`
}

// movementOutput carries the body as bytes: a replay must return exactly
// the bytes stored with the original.
type movementOutput struct {
	Status      int
	Location    string `header:"Location"`
	Replayed    string `header:"Idempotent-Replayed"`
	ContentType string `header:"Content-Type"`
	Body        []byte
}

// requestHash is what an Idempotency-Key's record compares: method, path
// and the decoded body re-encoded, so key order and spacing do not make two
// equal requests differ.
func requestHash(method, path string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	h.Write(b)
	return h.Sum(nil), nil
}

func movementResponse(p inventory.Posted, err error) (*movementOutput, error) {
	switch {
	case errors.Is(err, inventory.ErrKeyRequired):
		return nil, &warehouse.Error{Code: codeIdempotencyKeyRequired,
			Message: "Idempotency-Key header required (1-255 characters, e.g. a UUID): retries with the same key are never posted twice"}
	case errors.Is(err, inventory.ErrKeyTooLong):
		return nil, &warehouse.Error{Code: codeBadRequest, Message: "Idempotency-Key must be 1-255 characters"}
	case errors.Is(err, inventory.ErrKeyInUse):
		return nil, &warehouse.Error{Code: codeIdempotencyKeyInUse, Message: "A request with this Idempotency-Key is still being processed; retry shortly"}
	case err != nil:
		return nil, apiError(err)
	}
	// Only a posted movement is ever stored, so a replay is its 201 too.
	out := &movementOutput{Status: http.StatusCreated, ContentType: "application/json", Body: p.Body}
	if p.Replayed {
		out.Replayed = "true"
	} else {
		b, err := json.Marshal(p.Movement)
		if err != nil {
			return nil, apiError(err)
		}
		out.Body = b
	}
	if p.ID != 0 {
		out.Location = v1 + "/movements/" + strconv.FormatInt(p.ID, 10)
	}
	return out, nil
}

// mover is who the movement services see: the token's subject and the
// user's current roles.
func mover(ctx context.Context) inventory.Actor {
	a := inventory.Actor{Name: actor(ctx)}
	if p := principal(ctx); p != nil {
		a.Roles = p.Roles
	}
	return a
}

func (s *Server) movementDoc(op *huma.Operation) {
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[warehouse.Movement](), true, "")
	op.DefaultStatus = http.StatusCreated
	op.Responses = map[string]*huma.Response{"201": {
		Description: "Posted (or, with Idempotent-Replayed: true, the stored answer to the first request with this key)",
		Content:     map[string]*huma.MediaType{"application/json": {Schema: schema}},
	}}
}

type MovementIDParam struct {
	ID int64 `path:"id" minimum:"1"`
}

func timeParam(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) opPostMovement() huma.Operation {
	post := s.v1op(warehouse.RoleClerk, huma.Operation{Tags: []string{"movements"},
		Summary: "Post a movement",
		Description: "Receipts, issues, transfers and counts need clerk; adjustments need manager. All lines or none: a line that would take " +
			"available stock below zero fails the movement with 409 insufficient_stock listing every shortage. Idempotency-Key is required: " +
			"a retry with the same key and body returns the first answer with Idempotent-Replayed: true.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}})
	s.movementDoc(&post)
	return post
}

type postMovementInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required: 1-255 characters, unique per request (e.g. a UUID)"`
	Body           MovementBody
}

func (s *Server) postMovement(ctx context.Context, in *postMovementInput) (*movementOutput, error) {
	hash, err := requestHash(http.MethodPost, v1+"/movements", in.Body)
	if err != nil {
		return nil, apiError(err)
	}
	b := in.Body
	nm := warehouse.NewMovement{Type: b.Type, Reference: b.Reference, Note: b.Note, Reason: b.Reason}
	for _, l := range b.Lines {
		nm.Lines = append(nm.Lines, warehouse.MovementLine{ItemID: l.ItemID, SKU: l.SKU, Lot: l.Lot, FromLocationID: l.FromLocationID,
			ToLocationID: l.ToLocationID, LocationID: l.LocationID, Qty: qtyPtr(l.Qty), QtyDelta: qtyPtr(l.QtyDelta), CountedQty: qtyPtr(l.CountedQty), ExpectedQty: qtyPtr(l.ExpectedQty)})
	}
	return movementResponse(s.inventory.PostMovement(ctx, mover(ctx), nm, inventory.Key{Key: in.IdempotencyKey, Hash: hash}))
}

func (s *Server) opReverseMovement() huma.Operation {
	rev := s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"movements"},
		Summary: "Reverse a movement",
		Description: "Posts the compensating movement (every ledger entry negated); history is never edited. A movement is reversed at most once (409); " +
			"a reversal that would take stock below zero is 409 insufficient_stock. Idempotency-Key is required.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}})
	s.movementDoc(&rev)
	return rev
}

type reverseMovementInput struct {
	MovementIDParam
	IdempotencyKey string       `header:"Idempotency-Key" doc:"Required: 1-255 characters"`
	Body           *ReverseBody `required:"false"`
}

func (s *Server) reverseMovement(ctx context.Context, in *reverseMovementInput) (*movementOutput, error) {
	var body ReverseBody
	if in.Body != nil {
		body = *in.Body
	}
	path := v1 + "/movements/" + strconv.FormatInt(in.ID, 10) + "/reverse"
	hash, err := requestHash(http.MethodPost, path, body)
	if err != nil {
		return nil, apiError(err)
	}
	return movementResponse(s.inventory.Reverse(ctx, mover(ctx), in.ID, body.Note, inventory.Key{Key: in.IdempotencyKey, Hash: hash}))
}

func (s *Server) opListMovements() huma.Operation {
	list := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"movements"},
		Summary: "List movements", Description: "Newest first, with lines and entries. CSV with Accept: text/csv or ?format=csv: one row per movement, without its lines " +
			"(export /api/v1/ledger for line detail)."})
	s.listDoc(&list, PageBody[*warehouse.Movement]{})
	return list
}

type listMovementsInput struct {
	ListParams
	Type       string    `query:"type" enum:"receipt,issue,transfer,adjustment,count"`
	ItemID     int64     `query:"item_id" minimum:"1"`
	LocationID int64     `query:"location_id" minimum:"1"`
	Reference  string    `query:"reference" maxLength:"100"`
	CreatedBy  string    `query:"created_by" maxLength:"150"`
	Since      time.Time `query:"since" doc:"RFC 3339; inclusive"`
	Until      time.Time `query:"until" doc:"RFC 3339; exclusive"`
}

func (s *Server) listMovements(ctx context.Context, in *listMovementsInput) (*streamOutput, error) {
	f := warehouse.MovementFilter{Type: in.Type, ItemID: in.ItemID, LocationID: in.LocationID, Reference: in.Reference, CreatedBy: in.CreatedBy,
		Since: timeParam(in.Since), Until: timeParam(in.Until)}
	if in.csv() {
		return csvExport(ctx, s.log, "movements", func() (int, error) { return s.db.CountMovements(ctx, f) },
			[]string{"id", "type", "reference", "note", "reason", "reversal_of", "reversed_by", "created_by", "created_at"},
			func(ctx context.Context, emit func([]string) error) error {
				return s.db.EachMovement(ctx, f, func(m *warehouse.Movement) error {
					reason := ""
					if m.Reason != nil {
						reason = *m.Reason
					}
					return emit([]string{strconv.FormatInt(m.ID, 10), m.Type, m.Reference, m.Note, reason, fmtIDPtr(m.ReversalOf), fmtIDPtr(m.ReversedBy),
						m.CreatedBy, fmtTime(m.CreatedAt)})
				})
			})
	}
	ms, next, err := s.db.ListMovements(ctx, f, in.page())
	if err != nil {
		return nil, apiError(err)
	}
	return jsonPage(ms, next), nil
}

func (s *Server) opGetMovement() huma.Operation {
	return s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"movements"},
		Summary: "One movement with its lines and ledger entries", Errors: []int{http.StatusNotFound}})
}

func (s *Server) getMovement(ctx context.Context, in *MovementIDParam) (*struct{ Body *warehouse.Movement }, error) {
	m, err := s.db.Movement(ctx, in.ID)
	if err != nil {
		return nil, apiError(err)
	}
	return &struct{ Body *warehouse.Movement }{m}, nil
}

func (s *Server) opListLedger() huma.Operation {
	ledger := s.v1op(warehouse.RoleViewer, huma.Operation{Tags: []string{"ledger"},
		Summary: "Ledger entries", Description: "The append-only stock ledger, newest first. CSV with Accept: text/csv or ?format=csv."})
	s.listDoc(&ledger, PageBody[*warehouse.LedgerEntry]{})
	return ledger
}

type listLedgerInput struct {
	ListParams
	ItemID     int64     `query:"item_id" minimum:"1"`
	LocationID int64     `query:"location_id" minimum:"1"`
	Lot        string    `query:"lot" maxLength:"64"`
	MovementID int64     `query:"movement_id" minimum:"1"`
	Type       string    `query:"type" enum:"receipt,issue,transfer,adjustment,count"`
	CreatedBy  string    `query:"created_by" maxLength:"150"`
	Since      time.Time `query:"since" doc:"RFC 3339; inclusive"`
	Until      time.Time `query:"until" doc:"RFC 3339; exclusive"`
}

func (s *Server) listLedger(ctx context.Context, in *listLedgerInput) (*streamOutput, error) {
	f := warehouse.LedgerFilter{ItemID: in.ItemID, LocationID: in.LocationID, MovementID: in.MovementID, Type: in.Type, CreatedBy: in.CreatedBy,
		Since: timeParam(in.Since), Until: timeParam(in.Until)}
	if in.Lot != "" {
		f.Lot = &in.Lot
	}
	if in.csv() {
		return csvExport(ctx, s.log, "ledger", func() (int, error) { return s.db.CountLedger(ctx, f) },
			[]string{"id", "movement_id", "line_no", "type", "item_id", "sku", "location_id", "location_code", "lot", "qty_delta", "qty_after", "created_by", "created_at"},
			func(ctx context.Context, emit func([]string) error) error {
				return s.db.EachLedger(ctx, f, func(e *warehouse.LedgerEntry) error {
					return emit([]string{strconv.FormatInt(e.ID, 10), strconv.FormatInt(e.MovementID, 10), strconv.FormatInt(e.LineNo, 10), e.Type,
						strconv.FormatInt(e.ItemID, 10), e.SKU, strconv.FormatInt(e.LocationID, 10), e.LocationCode, e.Lot,
						e.QtyDelta.String(), e.QtyAfter.String(), e.CreatedBy, fmtTime(e.CreatedAt)})
				})
			})
	}
	es, next, err := s.db.ListLedger(ctx, f, in.page())
	if err != nil {
		return nil, apiError(err)
	}
	return jsonPage(es, next), nil
}
