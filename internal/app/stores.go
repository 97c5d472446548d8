package app

import (
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/console"
	"github.com/warehouse-api/warehouse/internal/events"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/importer"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/orders"
	"github.com/warehouse-api/warehouse/internal/receiving"
	"github.com/warehouse-api/warehouse/internal/session"
	"github.com/warehouse-api/warehouse/internal/store"
)

// Each consumer declares the small interface it needs where it uses it;
// the one implementation is *store.DB, and this is where the two meet. A
// method whose signature drifts on either side fails the build here, with
// the interface named, rather than somewhere inside Open.
var (
	_ authstate.Source    = (*store.DB)(nil)
	_ console.Reader      = (*store.DB)(nil)
	_ events.SenderStore  = (*store.DB)(nil)
	_ events.Store        = (*store.DB)(nil)
	_ events.WebhookStore = (*store.DB)(nil)
	_ httpapi.Store       = (*store.DB)(nil)
	_ importer.Store      = (*store.DB)(nil)
	_ inventory.Store     = (*store.DB)(nil)
	_ keystore.Store      = (*store.DB)(nil)
	_ orders.Store        = (*store.DB)(nil)
	_ receiving.Store     = (*store.DB)(nil)
	_ session.Store       = (*store.DB)(nil)
)
