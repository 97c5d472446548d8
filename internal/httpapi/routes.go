package httpapi

import (
	"context"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// routeTable is every route the server serves, one line each: the
// net/http pattern, the operation's id in the OpenAPI document ("" for a
// mux route the document does not list), its documentation (next to its
// handler, in the file of its concern) and the named handler. It is the
// only place that registers, so `grep 'POST /api/v1/movements'` finds the
// line and the handler.
//
// The order is the registration order: schemas are named as they are first
// met, so it is kept as the document was generated. Tags are ordered by
// tagDocs, paths by name.
func (s *Server) routeTable(mux *http.ServeMux) []route {
	return []route{
		// The FastAPI tutorial's endpoints (tutorial.go); /welcome and /user
		// have a fast path in front of Huma's handler (fast.go).
		{"GET /welcome", "welcome", opWelcome, typed(s.welcome).withFast(s.fastWelcome)},
		{"POST /login", "login", s.opLogin, typed(s.login)},
		{"GET /user", "user", opUser, typed(s.user).withFast(s.fastUser)},
		{"POST /refresh", "refresh", opRefresh, typed(s.refresh)},
		{"DELETE /access-revoke", "access-revoke", opAccessRevoke, typed(s.accessRevoke)},
		{"DELETE /refresh-revoke", "refresh-revoke", opRefreshRevoke, typed(s.refreshRevoke)},

		// Probes (health.go).
		{"GET /healthz", "healthz", opHealthz, typed(s.healthz)},
		{"GET /readyz", "readyz", opReadyz, typed(s.readyz)},

		// Sessions (sessions.go).
		{"POST /logout", "logout", opLogout, typed(s.logout)},
		{"GET /sessions", "list-sessions", opListSessions, typed(s.listSessions)},
		{"DELETE /sessions/{id}", "end-session", opEndSession, typed(s.endSession)},
		{"POST /user/password", "change-password", opChangePassword, typed(s.changePassword)},

		// Keys and discovery (wellknown.go).
		{"GET /.well-known/jwks.json", "jwks", opJWKS, typed(s.jwks)},
		{"GET /.well-known/openid-configuration", "openid-configuration", opOpenIDConfiguration, typed(s.openIDConfiguration)},
		{"GET /.well-known/oauth-authorization-server", "oauth-authorization-server", opAuthServerMetadata, typed(s.authServerMetadata)},

		// OAuth2 revocation (oauth_revoke.go); Huma's form body is
		// described by hand once registered.
		{"POST /revoke", "revoke", opRevoke, typed(s.revoke).then(documentRevokeForm)},

		// The warehouse API (api_*.go): v1op adds the role, security and errors.
		{"GET /api/v1/items", "list-items", s.opListItems, typed(s.listItems)},
		{"POST /api/v1/items", "create-item", s.opCreateItem, typed(s.createItem)},
		{"GET /api/v1/items/{id}", "get-item", s.opGetItem, typed(s.getItem)},
		{"PATCH /api/v1/items/{id}", "update-item", s.opUpdateItem, typed(s.updateItem)},
		{"DELETE /api/v1/items/{id}", "archive-item", s.opArchiveItem, typed(s.archiveItem)},
		{"GET /api/v1/items/{id}/stock", "item-stock", s.opItemStock, typed(s.itemStock)},
		{"GET /api/v1/lookup", "lookup", s.opLookup, typed(s.lookup)},

		{"GET /api/v1/locations", "list-locations", s.opListLocations, typed(s.listLocations)},
		{"POST /api/v1/locations", "create-location", s.opCreateLocation, typed(s.createLocation)},
		{"GET /api/v1/locations/{id}", "get-location", s.opGetLocation, typed(s.getLocation)},
		{"PATCH /api/v1/locations/{id}", "update-location", s.opUpdateLocation, typed(s.updateLocation)},
		{"DELETE /api/v1/locations/{id}", "archive-location", s.opArchiveLocation, typed(s.archiveLocation)},

		{"GET /api/v1/stock", "list-stock", s.opListStock, typed(s.listStock)},
		{"GET /api/v1/locations/{id}/stock", "location-stock", s.opLocationStock, typed(s.locationStock)},
		{"GET /api/v1/reports/low-stock", "low-stock", s.opLowStock, typed(s.lowStock)},

		{"POST /api/v1/movements", "post-movement", s.opPostMovement, typed(s.postMovement)},
		{"POST /api/v1/movements/{id}/reverse", "reverse-movement", s.opReverseMovement, typed(s.reverseMovement)},
		{"GET /api/v1/movements", "list-movements", s.opListMovements, typed(s.listMovements)},
		{"GET /api/v1/movements/{id}", "get-movement", s.opGetMovement, typed(s.getMovement)},
		{"GET /api/v1/ledger", "list-ledger", s.opListLedger, typed(s.listLedger)},

		{"POST /api/v1/orders", "create-order", s.opCreateOrder, typed(s.createOrder)},
		{"GET /api/v1/orders", "list-orders", s.opListOrders, typed(s.listOrders)},
		{"GET /api/v1/orders/{number}", "get-order", s.opGetOrder, typed(s.getOrder)},
		{"PATCH /api/v1/orders/{number}", "update-order", s.opUpdateOrder, typed(s.updateOrder)},
		{"POST /api/v1/orders/{number}/confirm", "confirm-order", s.opConfirmOrder, typed(s.confirmOrder)},
		{"POST /api/v1/orders/{number}/allocate", "allocate-order", s.opAllocateOrder, typed(s.allocateOrder)},
		{"POST /api/v1/orders/{number}/release", "release-order", s.opReleaseOrder, typed(s.releaseOrder)},
		{"POST /api/v1/orders/{number}/cancel", "cancel-order", s.opCancelOrder, typed(s.cancelOrder)},
		{"POST /api/v1/orders/{number}/ship", "ship-order", s.opShipOrder, typed(s.shipOrder)},
		{"GET /api/v1/orders/{number}/pick-list", "pick-list", s.opPickList, typed(s.pickList)},
		{"POST /api/v1/orders/{number}/picks", "confirm-pick", s.opConfirmPick, typed(s.confirmPick)},
		{"GET /api/v1/reservations", "list-reservations", s.opListReservations, typed(s.listReservations)},

		{"GET /api/v1/users", "list-users", s.opListUsers, typed(s.listUsers)},
		{"POST /api/v1/users", "create-user", s.opCreateUser, typed(s.createUser)},
		{"GET /api/v1/users/{username}", "get-user", s.opGetUser, typed(s.getUser)},
		{"PATCH /api/v1/users/{username}", "update-user", s.opUpdateUser, typed(s.updateUser)},
		{"DELETE /api/v1/users/{username}", "deactivate-user", s.opDeactivateUser, typed(s.deactivateUser)},
		{"POST /api/v1/users/{username}/unlock", "unlock-user", s.opUnlockUser, typed(s.unlockUser)},

		{"POST /api/v1/imports/{kind}", "import", s.opImport, streamed(s.importFile)},

		{"GET /api/v1/audit-events", "list-audit-events", s.opListAuditEvents, typed(s.listAuditEvents)},

		// Inbound: purchase orders, receiving, lots (api_purchase_orders.go, api_lots.go).
		{"GET /api/v1/purchase-orders", "list-purchase-orders", s.opListPurchaseOrders, typed(s.listPurchaseOrders)},
		{"POST /api/v1/purchase-orders", "create-purchase-order", s.opCreatePurchaseOrder, typed(s.createPurchaseOrder)},
		{"GET /api/v1/purchase-orders/{number}", "get-purchase-order", s.opGetPurchaseOrder, typed(s.getPurchaseOrder)},
		{"POST /api/v1/purchase-orders/{number}/confirm", "confirm-purchase-order", s.opConfirmPurchaseOrder, typed(s.confirmPurchaseOrder)},
		{"POST /api/v1/purchase-orders/{number}/cancel", "cancel-purchase-order", s.opCancelPurchaseOrder, typed(s.cancelPurchaseOrder)},
		{"POST /api/v1/purchase-orders/{number}/receipts", "receive-purchase-order", s.opReceivePurchaseOrder, typed(s.receivePurchaseOrder)},
		{"GET /api/v1/items/{id}/lots", "item-lots", s.opItemLots, typed(s.itemLots)},
		{"PUT /api/v1/items/{id}/lots/{lot}", "set-lot", s.opSetLot, typed(s.setLot)},
		{"GET /api/v1/reports/expiring", "expiring", s.opExpiring, typed(s.expiring)},
		// The event log for integrations (api_events.go, api_webhooks.go).
		{"GET /api/v1/events", "stream-events", s.opStreamEvents, typed(s.streamEvents)},
		{"GET /api/v1/webhooks", "list-webhooks", s.opListWebhooks, typed(s.listWebhooks)},
		{"POST /api/v1/webhooks", "create-webhook", s.opCreateWebhook, typed(s.createWebhook)},
		{"GET /api/v1/webhooks/{id}", "get-webhook", s.opGetWebhook, typed(s.getWebhook)},
		{"PATCH /api/v1/webhooks/{id}", "update-webhook", s.opUpdateWebhook, typed(s.updateWebhook)},
		{"DELETE /api/v1/webhooks/{id}", "delete-webhook", s.opDeleteWebhook, typed(s.deleteWebhook)},
		{"GET /api/v1/webhooks/{id}/deliveries", "list-webhook-deliveries", s.opListWebhookDeliveries, typed(s.listWebhookDeliveries)},

		// Served by the mux, outside Huma, with their operations described
		// by hand. /token is form-encoded, which Huma does not decode
		// (oauth_token.go); / answers HTML or JSON (home.go).
		{"POST /token", "token", s.opToken, plain(http.HandlerFunc(s.tokenEndpoint))},
		{"GET /{$}", "home", s.opHome, plain(s.home())},

		// The docs (docs.go), from embedded assets.
		{"GET /docs", "docs", opDocs, plain(http.HandlerFunc(docsPage))},
		{"GET /docs/{$}", "", nil, plain(http.HandlerFunc(docsPage))},
		{"GET /docs/warehouse-init.js", "", nil, plain(http.HandlerFunc(docsInitScript))},
		{"GET /docs/warehouse.css", "", nil, plain(http.HandlerFunc(docsStyleSheet))},
		{"GET /docs/", "", nil, plain(docsAssets())},

		// Documented here, served elsewhere: the document itself by Huma
		// (Config.OpenAPIPath), the docs' assets by GET /docs/ above.
		{"GET /openapi.json", "openapi-json", openAPIDoc("application/openapi+json", "This document: OpenAPI 3.1, JSON"), elsewhere()},
		{"GET /openapi.yaml", "openapi-yaml", openAPIDoc("application/openapi+yaml", "This document: OpenAPI 3.1, YAML"), elsewhere()},
		{"GET /openapi-3.0.json", "openapi-30-json", openAPIDoc("application/openapi+json", "This document downgraded to OpenAPI 3.0, JSON, for older tools"), elsewhere()},
		{"GET /openapi-3.0.yaml", "openapi-30-yaml", openAPIDoc("application/openapi+yaml", "This document downgraded to OpenAPI 3.0, YAML, for older tools"), elsewhere()},
		{"GET /docs/{file}", "docs-asset", opDocsAsset, elsewhere()},

		// The web console (internal/console), server-rendered, on paths
		// the API does not use; GET / above serves its start page.
		{"GET /signin", "", nil, s.consoleRoute(Console.SignIn, mux)},
		{"POST /signin", "", nil, s.consoleRoute(Console.SignIn, mux)},
		{"POST /signout", "", nil, s.consoleRoute(Console.SignOut, mux)},
		{"GET /stock", "", nil, s.consoleRoute(Console.Stock, mux)},
		{"GET /scan", "", nil, s.consoleRoute(Console.Scan, mux)},
		{"GET /ledger", "", nil, s.consoleRoute(Console.Ledger, mux)},
		{"GET /post/{type}", "", nil, s.consoleRoute(Console.MovementForm, mux)},
		{"POST /post/{type}", "", nil, s.consoleRoute(Console.MovementForm, mux)},
		{"GET /movement/{id}", "", nil, s.consoleRoute(Console.Movement, mux)},
		{"POST /movement/{id}/reverse", "", nil, s.consoleRoute(Console.Reverse, mux)},
		{"GET /my/sessions", "", nil, s.consoleRoute(Console.MySessions, mux)},
		{"POST /my/sessions/{id}/end", "", nil, s.consoleRoute(Console.EndSession, mux)},
		{"GET /admin/users", "", nil, s.consoleRoute(Console.Users, mux)},
		{"POST /admin/users", "", nil, s.consoleRoute(Console.Users, mux)},
		{"POST /admin/users/{username}", "", nil, s.consoleRoute(Console.UpdateUser, mux)},
		{"GET /imports", "", nil, s.consoleRoute(Console.Imports, mux)},
		{"POST /imports", "", nil, s.consoleRoute(Console.Imports, mux)},
		{"GET /orders", "", nil, s.consoleRoute(Console.Orders, mux)},
		{"GET /orders/{number}", "", nil, s.consoleRoute(Console.Order, mux)},
		{"POST /orders/{number}/{action}", "", nil, s.consoleRoute(Console.OrderAction, mux)},
		{"GET /orders/{number}/pick", "", nil, s.consoleRoute(Console.PickList, mux)},
		{"POST /orders/{number}/pick", "", nil, s.consoleRoute(Console.PickList, mux)},
		{"GET /receive", "", nil, s.consoleRoute(Console.Receiving, mux)},
		{"GET /receive/{number}", "", nil, s.consoleRoute(Console.ReceiveForm, mux)},
		{"POST /receive/{number}", "", nil, s.consoleRoute(Console.ReceiveForm, mux)},
		{"GET /static/{file}", "", nil, s.consoleRoute(Console.Static, mux)},

		// What no route matched: JSON 404, or 405 with Allow (server.go).
		{"/", "", nil, plain(s.fallback(mux))},
	}
}

// PprofHandler serves the runtime profiles (CPU, heap, goroutines...) under
// /debug/pprof/, for `warehouse serve --pprof-addr`. It is its own mux, on
// its own loopback listener (see LoopbackAddr), so nothing is registered on
// http.DefaultServeMux and the API never serves it.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// route is one line of the route table.
type route struct {
	// pattern is the net/http pattern, "METHOD /path"; the document's path
	// is the same without a trailing {$} (the mux's exact match).
	pattern string
	// id is the OperationID; "" for a mux route the document does not list.
	id string
	// doc is the operation as documented, without its id, method and path,
	// which the table gives; nil with an empty id.
	doc   func() huma.Operation
	serve serving
}

// serving is how a route is served: a typed Huma handler, a plain handler
// on the mux, or neither (elsewhere(): documented only).
type serving struct {
	huma func(huma.API, huma.Operation)
	http http.Handler
	// fast, for a Huma route, is a plain handler in front of Huma's
	// (fastAdapter): registered by the same line, so renaming the
	// operation cannot switch it off.
	fast func(slow http.Handler) http.Handler
	// then amends the registered operation's documentation where Huma's
	// own generation is not what is served.
	amend func(*huma.Operation)
}

// elsewhere marks an operation that is only documented by its line.
func elsewhere() serving { return serving{} }

// typed serves a route with a Huma handler, whose input and output types
// Huma decodes, validates, encodes and documents.
func typed[I, O any](h func(context.Context, *I) (*O, error)) serving {
	return serving{huma: func(api huma.API, op huma.Operation) { huma.Register(api, op, bodyRead(h)) }}
}

// streamed is typed for a handler that reads the request body itself
// (an upload): the connection's read deadline stays on while it does
// (see bodyRead).
func streamed[I, O any](h func(context.Context, *I) (*O, error)) serving {
	return serving{huma: func(api huma.API, op huma.Operation) { huma.Register(api, op, h) }}
}

// plain serves a route with a net/http handler on the mux.
func plain(h http.Handler) serving { return serving{http: h} }

func (sv serving) withFast(f func(slow http.Handler) http.Handler) serving {
	sv.fast = f
	return sv
}

func (sv serving) then(f func(*huma.Operation)) serving {
	sv.amend = f
	return sv
}

// registerRoutes registers every line of routeTable, in order.
func (s *Server) registerRoutes(mux *http.ServeMux) {
	oapi := s.api.OpenAPI()
	for _, rt := range s.routeTable(mux) {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			method, path = "", rt.pattern
		}
		var op huma.Operation
		if rt.doc != nil {
			op = rt.doc()
			op.OperationID, op.Method, op.Path = rt.id, method, strings.TrimSuffix(path, "{$}")
		}
		switch {
		case rt.serve.huma != nil:
			if rt.serve.fast != nil {
				s.adapter.fast[rt.id] = rt.serve.fast
			}
			rt.serve.huma(s.api, op)
			if rt.serve.amend != nil {
				rt.serve.amend(operation(oapi.Paths[op.Path], method))
			}
		case rt.serve.http != nil:
			mux.Handle(rt.pattern, rt.serve.http)
			s.patterns = append(s.patterns, rt.pattern)
			if rt.doc != nil {
				oapi.AddOperation(&op)
			}
		default:
			oapi.AddOperation(&op)
		}
	}
}

// operation is item's operation for method.
func operation(item *huma.PathItem, method string) *huma.Operation {
	switch method {
	case http.MethodGet:
		return item.Get
	case http.MethodPost:
		return item.Post
	case http.MethodPut:
		return item.Put
	case http.MethodPatch:
		return item.Patch
	case http.MethodDelete:
		return item.Delete
	}
	return nil
}
