// Package receiving is the application service of inbound goods: purchase
// orders (create, confirm, cancel), receiving against them, and the lots
// (expiry dates) that receipts bring in. Who may do what and the
// idempotency of receipts are here; the order's rules are the domain's
// (warehouse.PurchaseOrder), applied by the store inside the transaction.
package receiving

import (
	"context"
	"errors"
	"fmt"

	"github.com/warehouse-api/warehouse"
)

// Store is what the service needs of storage, declared here where it is
// used. Each method runs in one transaction; a replayed receipt key
// returns *warehouse.IdempotentReplay.
type Store interface {
	CreatePurchaseOrder(ctx context.Context, n warehouse.NewPurchaseOrder, actor string) (*warehouse.PurchaseOrder, error)
	PurchaseOrder(ctx context.Context, number string) (*warehouse.PurchaseOrder, error)
	ConfirmPurchaseOrder(ctx context.Context, number string, version int64, actor string) (*warehouse.PurchaseOrder, error)
	CancelPurchaseOrder(ctx context.Context, number string, version int64, reason, actor string) (*warehouse.PurchaseOrder, error)
	ReceivePurchaseOrder(ctx context.Context, number string, r warehouse.NewReceipt, actor string, idem *warehouse.Idempotency) (*warehouse.PurchaseOrder, *warehouse.Movement, error)
	SetLotExpiry(ctx context.Context, itemID int64, lot, expiresOn, actor string) (*warehouse.Lot, error)

	// Reads: no rules of their own, but the inbound screens need them.
	ListPurchaseOrders(ctx context.Context, f warehouse.PurchaseFilter, p warehouse.Page) ([]*warehouse.PurchaseOrder, string, error)
	ItemLots(ctx context.Context, itemID int64) ([]*warehouse.Lot, error)
	ListExpiring(ctx context.Context, withinDays int, locationID int64, p warehouse.Page) ([]*warehouse.ExpiringStock, string, error)
}

// MaxKeyLen bounds an idempotency key, as for movements.
const MaxKeyLen = 255

// Errors about the idempotency key, for the caller to render.
var (
	ErrKeyRequired = errors.New("idempotency key required")
	ErrKeyTooLong  = fmt.Errorf("idempotency key longer than %d characters", MaxKeyLen)
)

// Actor is who acts: the name recorded and the roles checked.
type Actor struct {
	Name  string
	Roles []string
}

// Key identifies a receipt request for idempotency: the client's key and
// a hash of the request.
type Key struct {
	Key  string
	Hash []byte
}

// Received is the answer to a receipt: the order after it and the receipt
// movement, or on a replay the movement's stored answer and the order as
// it is now.
type Received struct {
	Order    *warehouse.PurchaseOrder
	Movement *warehouse.Movement
	// Replayed: MovementBody is the movement as answered to the first
	// request under the key, byte for byte.
	Replayed     bool
	MovementID   int64
	MovementBody []byte
}

// Option configures a Service.
type Option func(*Service)

// WithDefaultTolerance sets the over-receipt tolerance (percent) an order
// created without one gets. The default is 0: no over-receipt.
func WithDefaultTolerance(pct int) Option {
	return func(s *Service) { s.tolerance = pct }
}

// Service runs the inbound use cases.
type Service struct {
	store     Store
	tolerance int
}

// New returns a service on st.
func New(st Store, opts ...Option) *Service {
	s := &Service{store: st}
	for _, o := range opts {
		o(s)
	}
	return s
}

func need(by Actor, role warehouse.Role, what string) error {
	if !warehouse.HasRole(by.Roles, role) {
		return warehouse.Errorf(warehouse.EFORBIDDEN, "%s needs the %s role", what, role)
	}
	return nil
}

// Create drafts a purchase order (manager).
func (s *Service) Create(ctx context.Context, by Actor, n warehouse.NewPurchaseOrder) (*warehouse.PurchaseOrder, error) {
	if err := need(by, warehouse.RoleManager, "creating a purchase order"); err != nil {
		return nil, err
	}
	if n.TolerancePct == nil {
		pct := s.tolerance
		n.TolerancePct = &pct
	}
	return s.store.CreatePurchaseOrder(ctx, n, by.Name)
}

// Confirm opens a draft for receiving (manager); version 0 is any.
func (s *Service) Confirm(ctx context.Context, by Actor, number string, version int64) (*warehouse.PurchaseOrder, error) {
	if err := need(by, warehouse.RoleManager, "confirming a purchase order"); err != nil {
		return nil, err
	}
	return s.store.ConfirmPurchaseOrder(ctx, number, version, by.Name)
}

// Cancel closes an order short with a reason (manager).
func (s *Service) Cancel(ctx context.Context, by Actor, number string, version int64, reason string) (*warehouse.PurchaseOrder, error) {
	if err := need(by, warehouse.RoleManager, "cancelling a purchase order"); err != nil {
		return nil, err
	}
	return s.store.CancelPurchaseOrder(ctx, number, version, reason, by.Name)
}

// Receive posts a receipt against an order (clerk), once per key.
func (s *Service) Receive(ctx context.Context, by Actor, number string, r warehouse.NewReceipt, key Key) (Received, error) {
	if err := need(by, warehouse.RoleClerk, "receiving"); err != nil {
		return Received{}, err
	}
	if key.Key == "" {
		return Received{}, ErrKeyRequired
	}
	if len(key.Key) > MaxKeyLen {
		return Received{}, ErrKeyTooLong
	}
	idem := &warehouse.Idempotency{User: by.Name, Key: key.Key, Hash: key.Hash}
	po, m, err := s.store.ReceivePurchaseOrder(ctx, number, r, by.Name, idem)
	var replay *warehouse.IdempotentReplay
	if errors.As(err, &replay) {
		po, err := s.store.PurchaseOrder(ctx, number)
		if err != nil {
			return Received{}, err
		}
		return Received{Order: po, Replayed: true, MovementID: replay.MovementID, MovementBody: replay.Body}, nil
	}
	if err != nil {
		return Received{}, err
	}
	return Received{Order: po, Movement: m, MovementID: m.ID}, nil
}

// SetLotExpiry records a lot's expiry date, or clears it with "" (manager).
func (s *Service) SetLotExpiry(ctx context.Context, by Actor, itemID int64, lot, expiresOn string) (*warehouse.Lot, error) {
	if err := need(by, warehouse.RoleManager, "setting a lot's expiry"); err != nil {
		return nil, err
	}
	return s.store.SetLotExpiry(ctx, itemID, lot, expiresOn, by.Name)
}

// Order reads one purchase order by number.
func (s *Service) Order(ctx context.Context, number string) (*warehouse.PurchaseOrder, error) {
	return s.store.PurchaseOrder(ctx, number)
}

// Orders lists purchase orders by number.
func (s *Service) Orders(ctx context.Context, f warehouse.PurchaseFilter, p warehouse.Page) ([]*warehouse.PurchaseOrder, string, error) {
	return s.store.ListPurchaseOrders(ctx, f, p)
}

// Lots lists an item's lots that carry an expiry record.
func (s *Service) Lots(ctx context.Context, itemID int64) ([]*warehouse.Lot, error) {
	return s.store.ItemLots(ctx, itemID)
}

// Expiring is the report of stock expiring within withinDays days
// (expired stock included).
func (s *Service) Expiring(ctx context.Context, withinDays int, locationID int64, p warehouse.Page) ([]*warehouse.ExpiringStock, string, error) {
	return s.store.ListExpiring(ctx, withinDays, locationID, p)
}
