// Package orders is the application service of outbound orders: one method
// per use case (create, edit a draft, confirm, allocate, release, cancel,
// expire, pick list, confirm a pick, ship), with who may do what. Each
// store method runs in one transaction, which enforces the domain's order
// rules there; reservations and picks change stock_balances and the ledger
// in the same transaction.
//
// Roles: viewer reads; clerk (the warehouse operator) picks and ships;
// manager creates, edits, confirms, allocates, releases and cancels.
package orders

import (
	"context"
	"errors"
	"sync"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/inventory"
)

// Store is what the service needs of storage, declared here where it is
// used.
type Store interface {
	CreateOrder(ctx context.Context, no warehouse.NewOrder, actor string) (*warehouse.Order, error)
	UpdateOrderLines(ctx context.Context, number string, version int64, lines []warehouse.NewOrderLine, actor string) (*warehouse.Order, error)
	ConfirmOrder(ctx context.Context, number, actor string) (*warehouse.Order, error)
	AllocateOrder(ctx context.Context, number string, lineID int64, actor string) (*warehouse.Order, error)
	ReleaseOrder(ctx context.Context, number string, lineID int64, actor string) (*warehouse.Order, error)
	CancelOrder(ctx context.Context, number, actor string) (*warehouse.Order, error)
	ShipOrder(ctx context.Context, number, actor string) (*warehouse.Order, error)
	ExpireOrders(ctx context.Context, actor string) (int, error)
	Order(ctx context.Context, number string) (*warehouse.Order, error)
	ListOrders(ctx context.Context, f warehouse.OrderFilter, p warehouse.Page) ([]*warehouse.Order, string, error)
	ListReservations(ctx context.Context, f warehouse.ReservationFilter, p warehouse.Page) ([]warehouse.Reservation, string, error)
	OpenReservations(ctx context.Context, number string) (*warehouse.Order, error)
	ConfirmPick(ctx context.Context, number string, req warehouse.PickRequest, actor string, idem *warehouse.Idempotency) (*warehouse.Pick, error)
	Pick(ctx context.Context, id int64) (*warehouse.Pick, error)
}

// Actor is who acts: the name recorded and the roles checked (as for
// movements).
type Actor = inventory.Actor

// Key identifies a pick request for idempotency.
type Key = inventory.Key

// ExpiryActor is the name the expiry loop records.
const ExpiryActor = "system:expiry"

// Service runs the order use cases.
type Service struct {
	store Store
	mu    sync.Mutex
	busy  map[string]struct{}
}

// New returns a service on st.
func New(st Store) *Service { return &Service{store: st, busy: map[string]struct{}{}} }

func need(by Actor, r warehouse.Role) error {
	if !warehouse.HasRole(by.Roles, r) {
		return warehouse.Errorf(warehouse.EFORBIDDEN, "This action requires role %s (or higher)", r)
	}
	return nil
}

// Create creates a draft order (manager).
func (s *Service) Create(ctx context.Context, by Actor, no warehouse.NewOrder) (*warehouse.Order, error) {
	if err := need(by, warehouse.RoleManager); err != nil {
		return nil, err
	}
	return s.store.CreateOrder(ctx, no, by.Name)
}

// UpdateLines replaces the lines of a draft order at version (manager).
func (s *Service) UpdateLines(ctx context.Context, by Actor, number string, version int64, lines []warehouse.NewOrderLine) (*warehouse.Order, error) {
	if err := need(by, warehouse.RoleManager); err != nil {
		return nil, err
	}
	return s.store.UpdateOrderLines(ctx, number, version, lines, by.Name)
}

// Confirm confirms a draft (manager).
func (s *Service) Confirm(ctx context.Context, by Actor, number string) (*warehouse.Order, error) {
	if err := need(by, warehouse.RoleManager); err != nil {
		return nil, err
	}
	return s.store.ConfirmOrder(ctx, number, by.Name)
}

// Allocate reserves stock for the order (lineID 0) or one line, as far as
// stock allows (manager).
func (s *Service) Allocate(ctx context.Context, by Actor, number string, lineID int64) (*warehouse.Order, error) {
	if err := need(by, warehouse.RoleManager); err != nil {
		return nil, err
	}
	return s.store.AllocateOrder(ctx, number, lineID, by.Name)
}

// Release gives back the open reservations of the order (lineID 0) or one
// line (manager).
func (s *Service) Release(ctx context.Context, by Actor, number string, lineID int64) (*warehouse.Order, error) {
	if err := need(by, warehouse.RoleManager); err != nil {
		return nil, err
	}
	return s.store.ReleaseOrder(ctx, number, lineID, by.Name)
}

// Cancel cancels the order and releases all it holds at once (manager).
func (s *Service) Cancel(ctx context.Context, by Actor, number string) (*warehouse.Order, error) {
	if err := need(by, warehouse.RoleManager); err != nil {
		return nil, err
	}
	return s.store.CancelOrder(ctx, number, by.Name)
}

// Ship ships what was picked (clerk).
func (s *Service) Ship(ctx context.Context, by Actor, number string) (*warehouse.Order, error) {
	if err := need(by, warehouse.RoleClerk); err != nil {
		return nil, err
	}
	return s.store.ShipOrder(ctx, number, by.Name)
}

// Expire cancels the orders whose hold expired, releasing their
// reservations; the App's loop calls it.
func (s *Service) Expire(ctx context.Context) (int, error) {
	return s.store.ExpireOrders(ctx, ExpiryActor)
}

// Order reads one order with its lines, reservations and picks (viewer).
func (s *Service) Order(ctx context.Context, by Actor, number string) (*warehouse.Order, error) {
	if err := need(by, warehouse.RoleViewer); err != nil {
		return nil, err
	}
	return s.store.Order(ctx, number)
}

// List reads a page of orders (viewer).
func (s *Service) List(ctx context.Context, by Actor, f warehouse.OrderFilter, p warehouse.Page) ([]*warehouse.Order, string, error) {
	if err := need(by, warehouse.RoleViewer); err != nil {
		return nil, "", err
	}
	return s.store.ListOrders(ctx, f, p)
}

// Reservations reads a page of reservations (viewer).
func (s *Service) Reservations(ctx context.Context, by Actor, f warehouse.ReservationFilter, p warehouse.Page) ([]warehouse.Reservation, string, error) {
	if err := need(by, warehouse.RoleViewer); err != nil {
		return nil, "", err
	}
	return s.store.ListReservations(ctx, f, p)
}

// PickList is an order's open reservations in walking order: every stop,
// or those of picker when one is named (zones dealt to pickers).
type PickList struct {
	Order string                   `json:"order"`
	State string                   `json:"state"`
	Lines []warehouse.PickListLine `json:"lines"`
}

// PickList returns the order's pick list (viewer). With pickers named,
// each zone goes to one of them; picker keeps that picker's stops.
func (s *Service) PickList(ctx context.Context, by Actor, number string, pickers []string, picker string) (*PickList, error) {
	if err := need(by, warehouse.RoleViewer); err != nil {
		return nil, err
	}
	o, err := s.store.OpenReservations(ctx, number)
	if err != nil {
		return nil, err
	}
	if picker != "" && len(pickers) == 0 {
		pickers = []string{picker}
	}
	lines := warehouse.PlanPickList(o.Reservations, pickers)
	if picker != "" {
		lines = warehouse.PickListFor(lines, picker)
	}
	if lines == nil {
		lines = []warehouse.PickListLine{}
	}
	return &PickList{Order: o.Number, State: o.State, Lines: lines}, nil
}

// Picked is the answer to a pick: the pick, or the replay of the first
// request under the same key.
type Picked struct {
	Pick     *warehouse.Pick
	Replayed bool
	Body     []byte
}

// ConfirmPick confirms one pick line (clerk), once per key: the pick's
// movement is posted once, and a retry replays the first answer.
func (s *Service) ConfirmPick(ctx context.Context, by Actor, number string, req warehouse.PickRequest, key Key) (Picked, error) {
	if err := need(by, warehouse.RoleClerk); err != nil {
		return Picked{}, err
	}
	if key.Key == "" {
		return Picked{}, inventory.ErrKeyRequired
	}
	if len(key.Key) > inventory.MaxKeyLen {
		return Picked{}, inventory.ErrKeyTooLong
	}
	k := by.Name + "\x00" + key.Key
	s.mu.Lock()
	if _, ok := s.busy[k]; ok {
		s.mu.Unlock()
		return Picked{}, inventory.ErrKeyInUse
	}
	s.busy[k] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.busy, k)
		s.mu.Unlock()
	}()
	p, err := s.store.ConfirmPick(ctx, number, req, by.Name, &warehouse.Idempotency{User: by.Name, Key: key.Key, Hash: key.Hash})
	var replay *warehouse.IdempotentReplay
	if errors.As(err, &replay) {
		return Picked{Replayed: true, Body: replay.Body}, nil
	}
	if err != nil {
		return Picked{}, err
	}
	return Picked{Pick: p}, nil
}
