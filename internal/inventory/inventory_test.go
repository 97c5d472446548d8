package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

type fixture struct {
	db   *store.DB
	svc  *inventory.Service
	item *warehouse.Item
	a, b *warehouse.Location
}

func setup(t *testing.T, engine string) fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, pgtest.URL(t, engine), "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := fixture{db: db, svc: inventory.New(db), item: &warehouse.Item{SKU: "WID", Name: "Widget", UOM: "ea", Active: true}}
	if err := db.CreateItem(ctx, f.item, "test"); err != nil {
		t.Fatal(err)
	}
	wh := &warehouse.Location{Code: "WH1", Name: "Main", Structural: true}
	if err := db.CreateLocation(ctx, wh, "test"); err != nil {
		t.Fatal(err)
	}
	f.a = &warehouse.Location{Code: "A", Name: "Bin A", ParentID: &wh.ID}
	f.b = &warehouse.Location{Code: "B", Name: "Bin B", ParentID: &wh.ID}
	for _, l := range []*warehouse.Location{f.a, f.b} {
		if err := db.CreateLocation(ctx, l, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func qty(n int64) *warehouse.Qty { q := warehouse.Qty(n * warehouse.QtyScale); return &q }

var (
	clerk   = inventory.Actor{Name: "carla", Roles: []string{"clerk"}}
	manager = inventory.Actor{Name: "max", Roles: []string{"manager"}}
)

func key(k, body string) inventory.Key { return inventory.Key{Key: k, Hash: []byte(body)} }

func TestPostMovement(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		f := setup(t, engine)
		receipt := func(n int64) warehouse.NewMovement {
			return warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{SKU: "WID", ToLocationID: &f.a.ID, Qty: qty(n)}}}
		}
		adjust := warehouse.NewMovement{Type: warehouse.MoveAdjustment, Reason: "found", Lines: []warehouse.MovementLine{{ItemID: f.item.ID, LocationID: &f.a.ID, QtyDelta: qty(1)}}}

		first, err := f.svc.PostMovement(ctx, clerk, receipt(5), key("k1", "five"))
		if err != nil {
			t.Fatal(err)
		}
		if first.Replayed || first.Movement == nil || first.ID != first.Movement.ID || first.Movement.CreatedBy != "carla" {
			t.Fatalf("first post = %+v", first)
		}

		for _, tc := range []struct {
			name     string
			by       inventory.Actor
			m        warehouse.NewMovement
			key      inventory.Key
			err      error  // errors.Is
			code     string // or a domain code
			replayed bool
		}{
			{"same key, same request: the first answer", clerk, receipt(5), key("k1", "five"), nil, "", true},
			{"same key, another request", clerk, receipt(6), key("k1", "six"), nil, warehouse.EINVALID, false},
			{"same key, another user: a new post", inventory.Actor{Name: "cleo", Roles: []string{"clerk"}}, receipt(5), key("k1", "five"), nil, "", false},
			{"no key", clerk, receipt(5), key("", "five"), inventory.ErrKeyRequired, "", false},
			{"key of 255", clerk, receipt(1), key(strings.Repeat("k", 255), "one"), nil, "", false},
			{"key of 256", clerk, receipt(1), key(strings.Repeat("k", 256), "one"), inventory.ErrKeyTooLong, "", false},
			{"adjustment by a clerk", clerk, adjust, key("k2", "adj"), nil, warehouse.EFORBIDDEN, false},
			{"adjustment by a clerk without key: forbidden first", clerk, adjust, key("", "adj"), nil, warehouse.EFORBIDDEN, false},
			{"adjustment by a manager", manager, adjust, key("k2", "adj"), nil, "", false},
			{"a rule of the domain", clerk, warehouse.NewMovement{Type: "gift"}, key("k3", "gift"), nil, warehouse.EINVALID, false},
			{"not enough stock", clerk, warehouse.NewMovement{Type: warehouse.MoveIssue, Lines: []warehouse.MovementLine{{SKU: "WID", FromLocationID: &f.b.ID, Qty: qty(1)}}},
				key("k4", "issue"), nil, warehouse.EINSUFFICIENT, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, err := f.svc.PostMovement(ctx, tc.by, tc.m, tc.key)
				switch {
				case tc.err != nil:
					if !errors.Is(err, tc.err) {
						t.Fatalf("err = %v, want %v", err, tc.err)
					}
					return
				case tc.code != "":
					if warehouse.ErrorCode(err) != tc.code {
						t.Fatalf("err = %v, want code %s", err, tc.code)
					}
					return
				case err != nil:
					t.Fatal(err)
				}
				if p.Replayed != tc.replayed {
					t.Fatalf("replayed = %v, want %v", p.Replayed, tc.replayed)
				}
				if !tc.replayed {
					if p.Movement == nil || p.ID != p.Movement.ID || p.Movement.CreatedBy != tc.by.Name {
						t.Fatalf("post = %+v", p)
					}
					return
				}
				// A replay is the first request's movement, its stored bytes.
				want, _ := json.Marshal(first.Movement)
				if p.Movement != nil || p.ID != first.ID || !bytes.Equal(p.Body, want) {
					t.Fatalf("replay = id %d body %s, want id %d body %s", p.ID, p.Body, first.ID, want)
				}
			})
		}

		// The replay posted nothing: 5 (carla) + 5 (cleo) + 1 (255 key) + 1 (adjustment).
		bs, _, err := f.db.ListStock(ctx, warehouse.StockFilter{LocationID: f.a.ID}, warehouse.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) != 1 || bs[0].OnHand != *qty(12) {
			t.Fatalf("stock = %+v, want 12 at A", bs)
		}
	})
}

func TestReverse(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		f := setup(t, engine)
		posted, err := f.svc.PostMovement(ctx, clerk, warehouse.NewMovement{Type: warehouse.MoveTransfer,
			Lines: []warehouse.MovementLine{{SKU: "WID", FromLocationID: &f.a.ID, ToLocationID: &f.b.ID, Qty: qty(2)}}}, key("t", "t"))
		if warehouse.ErrorCode(err) != warehouse.EINSUFFICIENT {
			t.Fatalf("transfer from an empty bin: %v, %+v", err, posted)
		}
		posted, err = f.svc.PostMovement(ctx, clerk, warehouse.NewMovement{Type: warehouse.MoveReceipt,
			Lines: []warehouse.MovementLine{{SKU: "WID", ToLocationID: &f.a.ID, Qty: qty(3)}}}, key("r", "r"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name     string
			id       int64
			note     string
			key      inventory.Key
			err      error
			code     string
			replayed bool
		}{
			{"no key", posted.ID, "", key("", "rev"), inventory.ErrKeyRequired, "", false},
			{"note too long", posted.ID, strings.Repeat("n", 1001), key("rev", "long"), nil, warehouse.EINVALID, false},
			{"no such movement", posted.ID + 100, "", key("rev", "missing"), nil, warehouse.ENOTFOUND, false},
			{"reversed", posted.ID, "", key("rev", "rev"), nil, "", false},
			{"retried", posted.ID, "", key("rev", "rev"), nil, "", true},
			{"twice", posted.ID, "", key("rev2", "rev"), nil, warehouse.ECONFLICT, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, err := f.svc.Reverse(ctx, manager, tc.id, tc.note, tc.key)
				switch {
				case tc.err != nil:
					if !errors.Is(err, tc.err) {
						t.Fatalf("err = %v, want %v", err, tc.err)
					}
					return
				case tc.code != "":
					if warehouse.ErrorCode(err) != tc.code {
						t.Fatalf("err = %v, want code %s", err, tc.code)
					}
					return
				case err != nil:
					t.Fatal(err)
				}
				if p.Replayed != tc.replayed || p.ID == 0 {
					t.Fatalf("reverse = %+v, want replayed %v", p, tc.replayed)
				}
				if !tc.replayed && (p.Movement.ReversalOf == nil || *p.Movement.ReversalOf != posted.ID || p.Movement.Note != "reversal of movement "+strconv.FormatInt(posted.ID, 10)) {
					t.Fatalf("reversal = %+v", p.Movement)
				}
			})
		}
	})
}

// held is the real store with PostMovement held until release is closed,
// so a second request under the same key arrives while the first runs.
type held struct {
	*store.DB
	started chan struct{}
	release chan struct{}
}

func (h *held) PostMovement(ctx context.Context, nm warehouse.NewMovement, actor string, idem *warehouse.Idempotency) (*warehouse.Movement, error) {
	close(h.started)
	<-h.release
	return h.DB.PostMovement(ctx, nm, actor, idem)
}

func TestKeyInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, pgtest.SQLite)
	h := &held{DB: f.db, started: make(chan struct{}), release: make(chan struct{})}
	svc := inventory.New(h)
	nm := warehouse.NewMovement{Type: warehouse.MoveReceipt, Lines: []warehouse.MovementLine{{SKU: "WID", ToLocationID: &f.a.ID, Qty: qty(1)}}}
	done := make(chan error)
	go func() {
		_, err := svc.PostMovement(ctx, clerk, nm, key("k", "one"))
		done <- err
	}()
	<-h.started
	if _, err := svc.PostMovement(ctx, clerk, nm, key("k", "one")); !errors.Is(err, inventory.ErrKeyInUse) {
		t.Fatalf("second request while the first runs: %v, want ErrKeyInUse", err)
	}
	if _, err := svc.Reverse(ctx, inventory.Actor{Name: clerk.Name, Roles: manager.Roles}, 1, "", key("k", "other")); !errors.Is(err, inventory.ErrKeyInUse) {
		t.Fatalf("a reversal under the same user and key: %v, want ErrKeyInUse", err)
	}
	close(h.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Released: the retry is the first answer.
	p, err := inventory.New(f.db).PostMovement(ctx, clerk, nm, key("k", "one"))
	if err != nil || !p.Replayed {
		t.Fatalf("retry after the first finished: %+v, %v; want a replay", p, err)
	}
}
