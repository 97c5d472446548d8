package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, dir string, c *clock) *store.DB {
	t.Helper()
	opt := store.Options{}
	if c != nil {
		opt.Now = c.now
	}
	db, err := store.Open(context.Background(), "", dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenURLs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		url     string
		wantErr string
	}{
		{"", ""},
		{"sqlite:" + dir + "/a.db", ""},
		{"sqlite://" + dir + "/b.db", ""},
		{"postgres://u:pw@localhost/db", "PostgreSQL is not supported"},
		{"mysql://u:topsecret@localhost/db", "unsupported database URL"},
	}
	for _, tc := range cases {
		db, err := store.Open(context.Background(), tc.url, dir, store.Options{})
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.url, err)
				continue
			}
			if v, err := db.Version(context.Background()); err != nil || v < 1 {
				t.Errorf("%q: schema version %d %v", tc.url, v, err)
			}
			db.Close()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: err %v, want %q", tc.url, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%q: error shows the password", tc.url)
		}
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, t.TempDir(), nil)
	u := &warehouse.User{Username: "alice", PasswordHash: "h1", Roles: []string{"clerk"}, Active: true, CreatedBy: "test"}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Version != 1 {
		t.Errorf("created %+v", u)
	}
	if err := db.CreateUser(ctx, &warehouse.User{Username: "alice", PasswordHash: "h"}); warehouse.ErrorCode(err) != warehouse.ECONFLICT {
		t.Errorf("duplicate: %v", err)
	}
	off := false
	got, err := db.UpdateUser(ctx, "alice", warehouse.UserUpdate{Roles: []string{"viewer", "manager"}, Active: &off}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Active || strings.Join(got.Roles, ",") != "viewer,manager" || got.UpdatedBy != "admin" || got.PasswordHash != "h1" {
		t.Errorf("updated %+v", got)
	}
	if _, err := db.UpdateUser(ctx, "nobody", warehouse.UserUpdate{}, "admin"); warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
		t.Errorf("update unknown: %v", err)
	}
	if _, err := db.UserByName(ctx, "nobody"); warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
		t.Errorf("read unknown: %v", err)
	}
	if n, err := db.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("count %d %v", n, err)
	}
}

func TestRevocationsAndPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	db := open(t, t.TempDir(), c)
	last, _ := db.LastAuthEvent(ctx)
	if err := db.RevokeToken(ctx, "a", c.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeToken(ctx, "a", c.now().Add(time.Minute)); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if err := db.RevokeToken(ctx, "b", c.now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	events, err := db.AuthEventsAfter(ctx, last, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Subject != "a" || !events[0].IsRevocation() || !events[0].ExpiresAt.Equal(c.now().Add(time.Minute)) {
		t.Fatalf("events %+v (a repeated revocation must not add an event)", events)
	}
	c.add(2*time.Minute + store.ExpiryMargin)
	revs, err := db.Revocations(ctx)
	if err != nil || len(revs) != 1 || revs[0].JTI != "b" {
		t.Fatalf("revocations after a expired: %+v %v", revs, err)
	}
	n, err := db.Purge(ctx, 7*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("purge removed %d: %v", n, err)
	}
}

func TestRotateRefreshToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, t.TempDir(), nil)
	exp := time.Now().Add(time.Hour)
	if err := db.AddRefreshToken(ctx, store.RefreshToken{JTI: "r1", Username: "alice", ExpiresAt: exp}, "token-1"); err != nil {
		t.Fatal(err)
	}
	next := func(jti string) store.RefreshToken { return store.RefreshToken{JTI: jti, Username: "alice", ExpiresAt: exp} }
	cases := []struct {
		name          string
		old, oldToken string
		next          string
		wantErr       error
	}{
		{"wrong token for the id", "r1", "forged", "r2", store.ErrRefreshReused},
		{"unknown id", "r9", "token-9", "r2", store.ErrRefreshReused},
		{"rotate", "r1", "token-1", "r2", nil},
		{"rotate the old one again", "r1", "token-1", "r3", store.ErrRefreshReused},
		{"rotate the new one", "r2", "token-r2", "r4", nil},
	}
	for _, tc := range cases {
		err := db.RotateRefreshToken(ctx, tc.old, tc.oldToken, exp, next(tc.next), "token-"+tc.next)
		if !errors.Is(err, tc.wantErr) && err != tc.wantErr {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.wantErr)
		}
	}
	revs, err := db.Revocations(ctx)
	if err != nil || len(revs) != 2 {
		t.Errorf("rotated tokens are revoked: %+v %v", revs, err)
	}
}

// TestEnsureSigningKeyShared: instances starting at once on one database
// agree on one key, and it survives reopening.
func TestEnsureSigningKeyShared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbs := []*store.DB{open(t, dir, nil), open(t, dir, nil), open(t, dir, nil)}
	kids := make([]string, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := db.EnsureSigningKey(context.Background(), "HS256")
			if err != nil {
				t.Error(err)
				return
			}
			if len(k.Secret) != 32 {
				t.Errorf("secret of %d bytes", len(k.Secret))
			}
			kids[i] = k.ID
		}()
	}
	wg.Wait()
	if kids[0] == "" || kids[0] != kids[1] || kids[1] != kids[2] {
		t.Fatalf("instances disagree on the key: %v", kids)
	}
	again, err := open(t, dir, nil).EnsureSigningKey(context.Background(), "HS256")
	if err != nil || again.ID != kids[0] {
		t.Fatalf("after reopen: %v %v", again.ID, err)
	}
	other, err := dbs[0].EnsureSigningKey(context.Background(), "HS512")
	if err != nil || other.ID == kids[0] {
		t.Fatalf("HS512 key: %v %v", other.ID, err)
	}
}

func TestClosedDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	db := open(t, t.TempDir(), nil)
	db.Close()
	_, err := db.UserByName(context.Background(), "x")
	if warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
		t.Fatalf("err %v, code %q", err, warehouse.ErrorCode(err))
	}
	if err := db.Ping(context.Background()); warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
		t.Fatalf("ping: %v", err)
	}
}
