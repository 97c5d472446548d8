package httpapi

import (
	"context"

	"github.com/warehouse-api/warehouse"
)

// Store is what the handlers read and write, declared here where it is
// used (the SQL behind it is internal/store's DB). Use cases with rules of
// their own go through their service instead.
type Store interface {
	Ping(ctx context.Context) error

	ArchiveItem(ctx context.Context, id, version int64, actor string) error
	ArchiveLocation(ctx context.Context, id, version int64, actor string) error
	CountItems(ctx context.Context, f warehouse.ItemFilter) (int, error)
	CountLedger(ctx context.Context, f warehouse.LedgerFilter) (int, error)
	CountLocations(ctx context.Context, f warehouse.LocationFilter) (int, error)
	CountMovements(ctx context.Context, f warehouse.MovementFilter) (int, error)
	CountStock(ctx context.Context, f warehouse.StockFilter) (int, error)
	CreateItem(ctx context.Context, it *warehouse.Item, actor string) error
	CreateLocation(ctx context.Context, l *warehouse.Location, actor string) error
	EachItem(ctx context.Context, f warehouse.ItemFilter, fn func(*warehouse.Item) error) error
	EachLedger(ctx context.Context, f warehouse.LedgerFilter, fn func(*warehouse.LedgerEntry) error) error
	EachLocation(ctx context.Context, f warehouse.LocationFilter, fn func(*warehouse.Location) error) error
	EachMovement(ctx context.Context, f warehouse.MovementFilter, fn func(*warehouse.Movement) error) error
	EachStock(ctx context.Context, f warehouse.StockFilter, fn func(*warehouse.Balance) error) error
	Item(ctx context.Context, id int64) (*warehouse.Item, error)
	ItemByBarcode(ctx context.Context, code string) (*warehouse.Item, error)
	ListAuditEvents(ctx context.Context, f warehouse.AuditFilter, p warehouse.Page) ([]*warehouse.AuditEvent, string, error)
	ListItems(ctx context.Context, f warehouse.ItemFilter, p warehouse.Page) ([]*warehouse.Item, string, error)
	ListLedger(ctx context.Context, f warehouse.LedgerFilter, p warehouse.Page) ([]*warehouse.LedgerEntry, string, error)
	ListLocations(ctx context.Context, f warehouse.LocationFilter, p warehouse.Page) ([]*warehouse.Location, string, error)
	ListLowStock(ctx context.Context, locationID int64, p warehouse.Page) ([]*warehouse.LowStock, string, error)
	ListMovements(ctx context.Context, f warehouse.MovementFilter, p warehouse.Page) ([]*warehouse.Movement, string, error)
	ListStock(ctx context.Context, f warehouse.StockFilter, p warehouse.Page) ([]*warehouse.Balance, string, error)
	ListUsers(ctx context.Context) ([]*warehouse.User, error)
	Location(ctx context.Context, id int64) (*warehouse.Location, error)
	LocationByCode(ctx context.Context, code string) (*warehouse.Location, error)
	Movement(ctx context.Context, id int64) (*warehouse.Movement, error)
	Sessions(ctx context.Context, username string) ([]warehouse.Session, error)
	UpdateItem(ctx context.Context, id, version int64, p warehouse.ItemPatch, actor string) (*warehouse.Item, error)
	UpdateLocation(ctx context.Context, id, version int64, p warehouse.LocationPatch, actor string) (*warehouse.Location, error)
	UserByName(ctx context.Context, username string) (*warehouse.User, error)
}
