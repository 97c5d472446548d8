package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/ogen-go/ogen/ogenerrors"

	"github.com/warehouse-api/warehouse/internal/apitest/client"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// bearerSource gives the generated client an access token. Operations
// accept OAuth2, a bearer header (both the same Authorization header) or
// the cookie mode: it answers bearer and skips the others, so the header
// is set once. With no token it skips all, as for the public routes.
type bearerSource struct{ token string }

func (s bearerSource) Bearer(context.Context, client.OperationName) (client.Bearer, error) {
	if s.token == "" {
		return client.Bearer{}, ogenerrors.ErrSkipClientSecurity
	}
	return client.Bearer{Token: s.token}, nil
}

func (bearerSource) OAuth2PasswordBearer(context.Context, client.OperationName) (client.OAuth2PasswordBearer, error) {
	return client.OAuth2PasswordBearer{}, ogenerrors.ErrSkipClientSecurity
}

func (bearerSource) CookieAccessToken(context.Context, client.OperationName) (client.CookieAccessToken, error) {
	return client.CookieAccessToken{}, ogenerrors.ErrSkipClientSecurity
}

func (bearerSource) CookieRefreshToken(context.Context, client.OperationName) (client.CookieRefreshToken, error) {
	return client.CookieRefreshToken{}, ogenerrors.ErrSkipClientSecurity
}

func (bearerSource) CsrfHeader(context.Context, client.OperationName) (client.CsrfHeader, error) {
	return client.CsrfHeader{}, ogenerrors.ErrSkipClientSecurity
}

// newGeneratedClient is the ogen client generated from the served
// document, talking over a real connection to the real router.
func newGeneratedClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.NewClient(url, bearerSource{token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGeneratedClient drives the API only through the client that ogen
// generates from GET /openapi.json: if the document lies about a body
// (a null sent where a number is required, a decimal where an integer is
// documented), the client fails to decode it and so does this test.
func TestGeneratedClient(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// What the generated client sends and gets is also held
			// against the document by the validator (see serve).
			rec := serve(t, e.srv, r)
			maps.Copy(w.Header(), rec.Header())
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		}))
		t.Cleanup(ts.Close)
		ctx := t.Context()
		anon := newGeneratedClient(t, ts.URL, "")

		// Bad credentials: the documented 401 problem, decoded.
		res, err := anon.Login(ctx, &client.LoginBody{Username: "joevu", Password: "wrong"}, client.LoginParams{})
		if err != nil {
			t.Fatalf("login with a wrong password: %v", err)
		}
		if p, ok := res.(*client.LoginUnauthorized); !ok || p.Detail != "Bad username or password" || p.Status != 401 {
			t.Fatalf("login with a wrong password: %#v", res)
		}

		res, err = anon.Login(ctx, &client.LoginBody{Username: "joevu", Password: "glinteco"}, client.LoginParams{})
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		pair, ok := res.(*client.TokenPairHeaders)
		if !ok {
			t.Fatalf("login: %#v", res)
		}
		access, _ := pair.Response.AccessToken.Get()
		if access == "" || !pair.Response.RefreshToken.Set || pair.Response.TokenType != "bearer" || pair.Response.ExpiresIn != 900 || pair.CacheControl.Or("") != "no-store" {
			t.Fatalf("login: %#v", pair)
		}
		c := newGeneratedClient(t, ts.URL, access)

		// An item without a reorder point: the server answers null.
		cres, err := c.CreateItem(ctx, &client.ItemCreateBody{Sku: "FLOUR", Name: "Flour", Uom: "kg", QtyPrecision: client.NewOptInt64(2)})
		if err != nil {
			t.Fatalf("create item: %v", err)
		}
		item, ok := cres.(*client.ItemHeaders)
		if !ok {
			t.Fatalf("create item: %#v", cres)
		}
		if it := item.Response; it.ID == 0 || it.Sku != "FLOUR" || it.Uom != "kg" || it.QtyPrecision != 2 || it.OnHand != 0 || !it.ReorderPoint.IsNull() || !it.Active || it.Version != 1 || it.CreatedBy != "joevu" {
			t.Fatalf("created item: %#v", it)
		}
		if item.ETag != `"v1"` || item.Location != fmt.Sprintf("/api/v1/items/%d", item.Response.ID) {
			t.Fatalf("created item headers: ETag %v, Location %v", item.ETag, item.Location)
		}
		itemID := item.Response.ID

		wh := createLocation(ctx, t, c, &client.LocationCreateBody{Code: "WH1", Name: "Main warehouse", Structural: client.NewOptBool(true)})
		bin := createLocation(ctx, t, c, &client.LocationCreateBody{Code: "A", Name: "Bin A", ParentID: client.NewOptInt64(wh.ID)})
		if p, ok := bin.ParentID.Get(); !ok || p != wh.ID || bin.Path != "WH1/A" || bin.Depth != 2 || bin.Structural {
			t.Fatalf("bin: %#v", bin)
		}

		mres, err := c.PostMovement(ctx, &client.MovementBody{Type: client.MovementBodyTypeReceipt, Reference: client.NewOptString("PO-1"),
			Lines: []client.MovementLineBody{{Sku: client.NewOptString("FLOUR"), ToLocationID: client.NewOptInt64(bin.ID), Qty: client.NewOptFloat64(10.5)}}},
			client.PostMovementParams{IdempotencyKey: uuid.NewString()})
		if err != nil {
			t.Fatalf("receipt: %v", err)
		}
		receipt, ok := mres.(*client.MovementHeaders)
		if !ok {
			t.Fatalf("receipt: %#v", mres)
		}
		if m := receipt.Response; m.Type != "receipt" || m.Reference != "PO-1" || len(m.Lines) != 1 || m.Lines[0].ItemID != itemID ||
			len(m.Lines[0].Entries) != 1 || m.Lines[0].Entries[0].QtyDelta != 10.5 || m.Lines[0].Entries[0].QtyAfter != 10.5 || !m.ReversalOf.IsNull() {
			t.Fatalf("receipt: %#v", m)
		}
		if receipt.Location != fmt.Sprintf("/api/v1/movements/%d", receipt.Response.ID) || receipt.IdempotentReplayed.Set {
			t.Fatalf("receipt headers: Location %q, Idempotent-Replayed %v", receipt.Location, receipt.IdempotentReplayed)
		}

		// Short by a decimal amount: 409 with the shortage in the problem.
		mres, err = c.PostMovement(ctx, &client.MovementBody{Type: client.MovementBodyTypeIssue,
			Lines: []client.MovementLineBody{{ItemID: client.NewOptInt64(itemID), FromLocationID: client.NewOptInt64(bin.ID), Qty: client.NewOptFloat64(12.75)}}},
			client.PostMovementParams{IdempotencyKey: uuid.NewString()})
		if err != nil {
			t.Fatalf("issue beyond stock: %v", err)
		}
		short, ok := mres.(*client.PostMovementConflict)
		if !ok {
			t.Fatalf("issue beyond stock: %#v", mres)
		}
		if short.Status != 409 || short.Code != "insufficient_stock" || short.Detail != "FLOUR at WH1/A: requested 12.75, available 10.5" {
			t.Fatalf("shortage problem: %#v", short)
		}
		shortages, _ := short.Shortages.Get()
		if len(shortages) != 1 || shortages[0].Sku != "FLOUR" || shortages[0].LocationCode != "WH1/A" || shortages[0].Requested != 12.75 || shortages[0].Available != 10.5 {
			t.Fatalf("shortages: %#v", shortages)
		}

		// A count made against a stale figure: 409 with the decimal on hand.
		mres, err = c.PostMovement(ctx, &client.MovementBody{Type: client.MovementBodyTypeCount,
			Lines: []client.MovementLineBody{{Sku: client.NewOptString("FLOUR"), LocationID: client.NewOptInt64(bin.ID), ExpectedQty: client.NewOptFloat64(10), CountedQty: client.NewOptFloat64(9.25)}}},
			client.PostMovementParams{IdempotencyKey: uuid.NewString()})
		if err != nil {
			t.Fatalf("outdated count: %v", err)
		}
		outdated, ok := mres.(*client.PostMovementConflict)
		if !ok {
			t.Fatalf("outdated count: %#v", mres)
		}
		if onHand, ok := outdated.OnHand.Get(); !ok || outdated.Code != "count_outdated" || onHand != 10.5 {
			t.Fatalf("outdated count problem: %#v", outdated)
		}

		lres, err := c.ListItems(ctx, client.ListItemsParams{})
		if err != nil {
			t.Fatalf("list items: %v", err)
		}
		page, ok := lres.(*client.PageBodyItemHeaders)
		if !ok {
			t.Fatalf("list items: %#v", lres)
		}
		if len(page.Response.Items) != 1 || !page.Response.NextCursor.IsNull() {
			t.Fatalf("list items: %#v", page.Response)
		}
		if it := page.Response.Items[0]; it.ID != itemID || it.OnHand != 10.5 || it.Available != 10.5 || !it.ReorderPoint.IsNull() || it.Version != 1 {
			t.Fatalf("listed item: %#v", it)
		}

		sres, err := c.ItemStock(ctx, client.ItemStockParams{ID: itemID})
		if err != nil {
			t.Fatalf("item stock: %v", err)
		}
		stock, ok := sres.(*client.ItemStockBody)
		if !ok {
			t.Fatalf("item stock: %#v", sres)
		}
		if stock.ItemID != itemID || stock.Sku != "FLOUR" || stock.Uom != "kg" || stock.OnHand != 10.5 || stock.Available != 10.5 || len(stock.Balances) != 1 {
			t.Fatalf("item stock: %#v", stock)
		}
		if b := stock.Balances[0]; b.LocationID != bin.ID || b.LocationPath != "WH1/A" || b.OnHand != 10.5 || b.Reserved != 0 || b.LastMovementAt.IsNull() {
			t.Fatalf("balance: %#v", b)
		}

		bres, err := c.ListStock(ctx, client.ListStockParams{LocationID: client.NewOptInt64(wh.ID), IncludeSublocations: client.NewOptBool(true)})
		if err != nil {
			t.Fatalf("list stock: %v", err)
		}
		balances, ok := bres.(*client.PageBodyBalanceHeaders)
		if !ok {
			t.Fatalf("list stock: %#v", bres)
		}
		if rows := balances.Response.Items; len(rows) != 1 || rows[0].ItemID != itemID || rows[0].Sku != "FLOUR" || rows[0].OnHand != 10.5 || rows[0].Available != 10.5 {
			t.Fatalf("stock under WH1: %#v", rows)
		}
	})
}

func createLocation(ctx context.Context, t *testing.T, c *client.Client, body *client.LocationCreateBody) client.Location {
	t.Helper()
	res, err := c.CreateLocation(ctx, body)
	if err != nil {
		t.Fatalf("create location %s: %v", body.Code, err)
	}
	l, ok := res.(*client.LocationHeaders)
	if !ok {
		t.Fatalf("create location %s: %#v", body.Code, res)
	}
	if l.Response.ID == 0 || l.Response.Code != body.Code || l.Response.Name != body.Name || !l.Response.Active {
		t.Fatalf("created location: %#v", l.Response)
	}
	return l.Response
}
