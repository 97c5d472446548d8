package keystore_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// clock is a settable time, for the store's created_at and the policy.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func states(t *testing.T, p keystore.Policy, db *store.DB) map[string]string {
	t.Helper()
	list, err := p.List(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range list {
		out[k.ID] = k.State
	}
	return out
}

func jwksKids(t *testing.T, kr *auth.Keyring) string {
	t.Helper()
	raw, err := kr.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return strings.Join(kids, ",")
}

// TestPublishDelay: a rotated key is in the JWKS at once but signs only
// once the publish delay has passed, when a follower (every instance has
// one) switches to it; the key it replaces keeps verifying, and retiring
// it needs force while its refresh tokens may be live. The clock is
// injected: no sleeps.
func TestPublishDelay(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		clk := &clock{t: t0}
		db, err := store.Open(ctx, pgtest.URL(t, engine), "", store.Options{Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		p := keystore.Policy{PublishDelay: 10 * time.Minute, Now: clk.now}

		if err := keystore.Ensure(ctx, db, auth.AlgEdDSA); err != nil {
			t.Fatal(err)
		}
		kr, err := p.Keyring(ctx, db, auth.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		k1 := kr.Current().ID
		f := keystore.NewFollower(db, auth.AlgEdDSA, p, kr)
		if err := f.Reload(ctx); err != nil || !f.Next().IsZero() {
			t.Fatalf("reload: %v, next %v", err, f.Next())
		}
		old, err := kr.Sign(auth.NewClaims("joevu", auth.TypeRefresh, t0, time.Hour))
		if err != nil {
			t.Fatal(err)
		}

		clk.set(t0.Add(time.Minute))
		k2key, err := keystore.Rotate(ctx, db, auth.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		k2 := k2key.ID
		steps := []struct {
			name    string
			at      time.Duration // after t0
			signer  string
			states  map[string]string
			nextDue time.Duration // after t0; 0: none
		}{
			{"just rotated: published, not signing", time.Minute, k1, map[string]string{k1: "signs", k2: "published"}, 11 * time.Minute},
			{"a second before the delay ends", 11*time.Minute - time.Second, k1, map[string]string{k1: "signs", k2: "published"}, 11 * time.Minute},
			{"the delay has passed", 11 * time.Minute, k2, map[string]string{k1: "verifies", k2: "signs"}, 0},
		}
		for _, st := range steps {
			clk.set(t0.Add(st.at))
			if err := f.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if got := kr.Current().ID; got != st.signer {
				t.Errorf("%s: signs with %s, want %s", st.name, got, st.signer)
			}
			if got := states(t, p, db); got[k1] != st.states[k1] || got[k2] != st.states[k2] {
				t.Errorf("%s: states %v, want %v", st.name, got, st.states)
			}
			if kids := jwksKids(t, kr); !strings.Contains(kids, k1) || !strings.Contains(kids, k2) {
				t.Errorf("%s: JWKS has %s, want both keys", st.name, kids)
			}
			want := time.Time{}
			if st.nextDue != 0 {
				want = t0.Add(st.nextDue)
			}
			if !f.Next().Equal(want) {
				t.Errorf("%s: next switch %v, want %v", st.name, f.Next(), want)
			}
		}
		if _, err := kr.Verify(old, t0.Add(12*time.Minute), auth.VerifyOptions{}); err != nil {
			t.Errorf("a token of the previous key: %v", err)
		}

		// Retiring: the signing key never; the previous one only with
		// force while its refresh tokens may be live.
		const ttl = 30 * 24 * time.Hour
		clk.set(t0.Add(12 * time.Minute))
		if err := p.Retire(ctx, db, k2, ttl, true); err == nil || !strings.Contains(err.Error(), "rotate before retiring") {
			t.Errorf("retire the signing key: %v", err)
		}
		if err := p.Retire(ctx, db, k1, ttl, false); err == nil || !strings.Contains(err.Error(), "refresh tokens") || !strings.Contains(err.Error(), "--force") {
			t.Errorf("retire a key that signed 1 minute ago: %v", err)
		}
		clk.set(t0.Add(11*time.Minute + ttl))
		if err := p.Retire(ctx, db, k1, ttl, false); err != nil {
			t.Errorf("retire a key that signed --refresh-ttl ago: %v", err)
		}
		if got := states(t, p, db); got[k1] != "retired" || got[k2] != "signs" {
			t.Errorf("after retire: %v", got)
		}
	})
}

// TestStatesByAlgorithm: each algorithm has its own signing key, states do
// not depend on the algorithm asked about, two quick rotations switch to
// the newest once its delay is over, and the first key of an algorithm
// signs at once.
func TestStatesByAlgorithm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	db, err := store.Open(ctx, pgtest.URL(t, pgtest.SQLite), "", store.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := keystore.Policy{PublishDelay: 10 * time.Minute, Now: clk.now}
	rotate := func(alg string) string {
		k, err := keystore.Rotate(ctx, db, alg)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID
	}
	hs := rotate(auth.AlgHS256) // first of its algorithm: signs at once
	clk.set(t0.Add(time.Minute))
	es1 := rotate(auth.AlgES256)
	clk.set(t0.Add(2 * time.Minute))
	es2 := rotate(auth.AlgES256)
	clk.set(t0.Add(3 * time.Minute))
	es3 := rotate(auth.AlgES256)
	for _, st := range []struct {
		at   time.Duration
		want map[string]string
	}{
		{3 * time.Minute, map[string]string{hs: "signs", es1: "signs", es2: "published", es3: "published"}},
		{12 * time.Minute, map[string]string{hs: "signs", es1: "verifies", es2: "signs", es3: "published"}},
		{13 * time.Minute, map[string]string{hs: "signs", es1: "verifies", es2: "verifies", es3: "signs"}},
	} {
		clk.set(t0.Add(st.at))
		got := states(t, p, db)
		for kid, want := range st.want {
			if got[kid] != want {
				t.Errorf("at +%s: %s is %s, want %s", st.at, kid, got[kid], want)
			}
		}
		for _, alg := range []string{auth.AlgHS256, auth.AlgES256} {
			kr, err := p.Keyring(ctx, db, alg)
			if err != nil {
				t.Fatal(err)
			}
			if st.want[kr.Current().ID] != "signs" || kr.Current().Algorithm != alg {
				t.Errorf("at +%s: %s keyring signs with %s", st.at, alg, kr.Current().ID)
			}
		}
	}
}

// TestFollowerRun: Run reloads by itself when a published key is due. The
// policy's clock is already past the delay, so Run's timer is due at once;
// the test waits for the switch, it does not time it.
func TestFollowerRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	db, err := store.Open(ctx, pgtest.URL(t, pgtest.SQLite), "", store.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := keystore.Policy{PublishDelay: 10 * time.Minute, Now: clk.now}
	if err := keystore.Ensure(ctx, db, auth.AlgHS256); err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(time.Minute))
	k2, err := keystore.Rotate(ctx, db, auth.AlgHS256)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := p.Keyring(ctx, db, auth.AlgHS256)
	if err != nil {
		t.Fatal(err)
	}
	f := keystore.NewFollower(db, auth.AlgHS256, p, kr)
	if err := f.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if kr.Current().ID == k2.ID {
		t.Fatal("the published key signs before its delay")
	}
	clk.set(t0.Add(11 * time.Minute))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go f.Run(rctx, logcheck.New(t))
	deadline := time.Now().Add(30 * time.Second)
	for kr.Current().ID != k2.ID {
		if time.Now().After(deadline) {
			t.Fatal("Run never switched to the published key")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
