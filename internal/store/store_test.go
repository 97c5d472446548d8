package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
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

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens the database at url (from pgtest.URL).
func open(t *testing.T, url string, c *clock) *store.DB {
	t.Helper()
	opt := store.Options{Logger: logcheck.New(t)}
	if c != nil {
		opt.Now = c.now
	}
	db, err := store.Open(context.Background(), url, "", opt)
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
		{"postgres://u:topsecret@127.0.0.1:1/db?connect_timeout=2", "connect to postgres://u:xxxxx@127.0.0.1:1/db"},
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
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := open(t, pgtest.URL(t, engine), nil)
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
	})
}

func TestRevocationsAndPurge(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		c := &clock{t: time.Unix(1_800_000_000, 0)}
		db := open(t, pgtest.URL(t, engine), c)
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
		events, _, err := db.AuthEventsAfter(ctx, last, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 || events[0].Subject != "a" || !events[0].IsRevocation() || !events[0].ExpiresAt.Equal(c.now().Add(time.Minute)) {
			t.Fatalf("events %+v (a repeated revocation must not add an event)", events)
		}
		for _, q := range []struct {
			jtis []string
			want bool
		}{{[]string{"x", "b"}, true}, {[]string{"a"}, true}, {[]string{"x", "y"}, false}, {nil, false}} {
			if got, err := db.AnyRevoked(ctx, q.jtis...); err != nil || got != q.want {
				t.Errorf("AnyRevoked(%q) = %v, %v; want %v", q.jtis, got, err, q.want)
			}
		}
		c.add(2*time.Minute + warehouse.ExpiryMargin)
		revs, err := db.Revocations(ctx)
		if err != nil || len(revs) != 1 || revs[0].JTI != "b" {
			t.Fatalf("revocations after a expired: %+v %v", revs, err)
		}
		n, err := db.Purge(ctx, 7*24*time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("purge removed %d: %v", n, err)
		}
	})
}

func TestRotateRefresh(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		c := &clock{t: time.Now()}
		db := open(t, pgtest.URL(t, engine), c)
		exp := c.now().Add(time.Hour)
		rt := func(jti string) warehouse.RefreshToken {
			return warehouse.RefreshToken{JTI: jti, Username: "alice", ExpiresAt: exp}
		}
		sess := warehouse.Session{ID: "s1", Username: "alice", ExpiresAt: c.now().Add(24 * time.Hour)}
		if err := db.CreateSession(ctx, sess, rt("r1"), "token-r1"); err != nil {
			t.Fatal(err)
		}
		rotate := func(old, next string) (warehouse.RefreshResult, error) {
			return db.RotateRefresh(ctx, warehouse.RefreshRequest{OldJTI: old, OldToken: "token-" + old, Next: rt(next), NextToken: "token-" + next,
				Sealed: []byte("sealed-" + next), Grace: 10 * time.Second, Inactivity: time.Hour})
		}
		steps := []struct {
			name      string
			old, next string
			advance   time.Duration
			wantErr   error
			replayed  string
		}{
			{"unknown id", "r9", "x", 0, warehouse.ErrRefreshReused, ""},
			{"rotate r1", "r1", "r2", 0, nil, ""},
			{"r1 again within grace: same successor", "r1", "r3", time.Second, nil, "sealed-r2"},
			{"rotate r2", "r2", "r4", 0, nil, ""},
			{"r1 is two rotations back: reuse at once", "r1", "r5", 0, warehouse.ErrRefreshReuseDetected, ""},
			{"session is now ended", "r4", "r6", 0, warehouse.ErrSessionEnded, ""},
		}
		for _, st := range steps {
			c.add(st.advance)
			res, err := rotate(st.old, st.next)
			if !errors.Is(err, st.wantErr) && err != st.wantErr {
				t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
			}
			if st.replayed != "" && (!res.Replayed || string(res.Sealed) != st.replayed) {
				t.Fatalf("%s: replayed %v %q", st.name, res.Replayed, res.Sealed)
			}
		}
		if ended, err := db.EndedSessions(ctx); err != nil || len(ended) != 1 || ended[0].ID != "s1" {
			t.Fatalf("ended sessions %+v %v", ended, err)
		}

		// Outside the grace, the token the current one replaced is reuse too.
		if err := db.CreateSession(ctx, warehouse.Session{ID: "s2", Username: "alice", ExpiresAt: c.now().Add(24 * time.Hour)}, rt("q1"), "token-q1"); err != nil {
			t.Fatal(err)
		}
		if _, err := rotate("q1", "q2"); err != nil {
			t.Fatal(err)
		}
		c.add(11 * time.Second)
		if _, err := rotate("q1", "q3"); !errors.Is(err, warehouse.ErrRefreshReuseDetected) {
			t.Fatalf("reuse after the grace: %v", err)
		}

		// Inactivity and absolute lifetime end sessions.
		if err := db.CreateSession(ctx, warehouse.Session{ID: "s3", Username: "alice", ExpiresAt: c.now().Add(24 * time.Hour)}, rt("p1"), "token-p1"); err != nil {
			t.Fatal(err)
		}
		c.add(2 * time.Hour)
		if _, err := rotate("p1", "p2"); !errors.Is(err, warehouse.ErrSessionExpired) {
			t.Fatalf("idle session: %v", err)
		}
	})
}

// TestRotateRefreshBoundaries: a session idle exactly the inactivity
// limit, or a nanosecond short of its lifetime, still rotates; a
// nanosecond more does not. The clock is off the millisecond the database
// keeps, and PostgreSQL's one-statement rotation must draw the line where
// the transaction does (SQLite runs the transaction).
func TestRotateRefreshBoundaries(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		start := time.UnixMilli(1_800_000_000_000).Add(500 * time.Microsecond)
		c := &clock{t: start}
		db := open(t, pgtest.URL(t, engine), c)
		const idle, life = time.Hour, 24 * time.Hour
		used := time.UnixMilli(start.UnixMilli()) // what the database keeps of the session's last use
		exp := time.UnixMilli(start.Add(life).UnixMilli())
		for i, row := range []struct {
			name string
			at   time.Time
			want error
		}{
			{"idle exactly the limit", used.Add(idle), nil},
			{"idle a nanosecond more", used.Add(idle + 1), warehouse.ErrSessionExpired},
			{"a nanosecond before the end of its lifetime", exp.Add(-1), nil},
			{"at the end of its lifetime", exp, warehouse.ErrSessionExpired},
		} {
			c.add(start.Sub(c.now()))
			sid, jti := fmt.Sprint("s", i), fmt.Sprint("r", i)
			if err := db.CreateSession(ctx, warehouse.Session{ID: sid, Username: "alice", ExpiresAt: exp},
				warehouse.RefreshToken{JTI: jti, Username: "alice", ExpiresAt: exp}, "token-"+jti); err != nil {
				t.Fatal(err)
			}
			c.add(row.at.Sub(c.now()))
			inactivity := idle
			if i >= 2 {
				inactivity = 0 // the lifetime rows
			}
			_, err := db.RotateRefresh(ctx, warehouse.RefreshRequest{OldJTI: jti, OldToken: "token-" + jti,
				Next: warehouse.RefreshToken{JTI: jti + "n", Username: "alice", ExpiresAt: exp}, NextToken: "token-" + jti + "n",
				Sealed: []byte("sealed"), Grace: 10 * time.Second, Inactivity: inactivity})
			if !errors.Is(err, row.want) && err != row.want {
				t.Errorf("%s: %v, want %v", row.name, err, row.want)
			}
		}
	})
}

// TestRotateRefreshConcurrentDuplicates: clients that send the same
// current token at once (a browser's parallel tabs) get one rotation: one
// wins, every other gets the winner's successor back as a replay, and
// nothing else is recorded. On PostgreSQL the losers wait for the winner's
// row lock in the one-statement rotation, find the token replaced and go
// on to the transaction, which replays.
func TestRotateRefreshConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := open(t, pgtest.URL(t, engine), nil)
		exp := time.Now().Add(time.Hour)
		if err := db.CreateSession(ctx, warehouse.Session{ID: "s1", Username: "alice", ExpiresAt: exp},
			warehouse.RefreshToken{JTI: "r0", Username: "alice", ExpiresAt: exp}, "token-r0"); err != nil {
			t.Fatal(err)
		}
		const n = 8
		results := make([]warehouse.RefreshResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				next := fmt.Sprint("r0-", i)
				results[i], errs[i] = db.RotateRefresh(ctx, warehouse.RefreshRequest{OldJTI: "r0", OldToken: "token-r0",
					Next: warehouse.RefreshToken{JTI: next, Username: "alice", ExpiresAt: exp}, NextToken: "token-" + next,
					Sealed: []byte("sealed-" + next), Grace: time.Minute, Inactivity: time.Hour})
			})
		}
		wg.Wait()
		winner := -1
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("client %d: %v", i, errs[i])
			}
			if !results[i].Replayed {
				if winner >= 0 {
					t.Fatalf("clients %d and %d both rotated", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatal("nobody rotated")
		}
		for i := range n {
			if i != winner && string(results[i].Sealed) != fmt.Sprint("sealed-r0-", winner) {
				t.Errorf("client %d replayed %q, want the winner's", i, results[i].Sealed)
			}
		}
		// The winner's successor is the session's current token; the
		// losers' were never recorded.
		_, err := db.RotateRefresh(ctx, warehouse.RefreshRequest{OldJTI: fmt.Sprint("r0-", winner), OldToken: fmt.Sprint("token-r0-", winner),
			Next: warehouse.RefreshToken{JTI: "r2", Username: "alice", ExpiresAt: exp}, NextToken: "token-r2",
			Sealed: []byte("sealed-r2"), Grace: time.Minute, Inactivity: time.Hour})
		if err != nil {
			t.Fatalf("rotating the winner's successor: %v", err)
		}
		loser := (winner + 1) % n
		if _, err := db.RotateRefresh(ctx, warehouse.RefreshRequest{OldJTI: fmt.Sprint("r0-", loser), OldToken: fmt.Sprint("token-r0-", loser),
			Next: warehouse.RefreshToken{JTI: "r3", Username: "alice", ExpiresAt: exp}, NextToken: "token-r3"}); !errors.Is(err, warehouse.ErrRefreshReused) {
			t.Fatalf("a loser's token: %v, want ErrRefreshReused (never recorded)", err)
		}
	})
}

func TestEndSessions(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := open(t, pgtest.URL(t, engine), nil)
		for _, id := range []string{"a1", "a2", "a3"} {
			s := warehouse.Session{ID: id, Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}
			if err := db.CreateSession(ctx, s, warehouse.RefreshToken{JTI: "r" + id, Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}, "t"+id); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.CreateSession(ctx, warehouse.Session{ID: "b1", Username: "bob", ExpiresAt: time.Now().Add(time.Hour)},
			warehouse.RefreshToken{JTI: "rb1", Username: "bob", ExpiresAt: time.Now().Add(time.Hour)}, "tb1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.EndSession(ctx, "alice", "b1"); warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
			t.Errorf("ending another user's session: %v", err)
		}
		if ended, err := db.EndSessions(ctx, "alice", "a1", warehouse.ScopeOthers); err != nil || len(ended) != 2 {
			t.Errorf("others: %v %v", ended, err)
		}
		if list, _ := db.Sessions(ctx, "alice"); len(list) != 1 || list[0].ID != "a1" {
			t.Errorf("after others: %+v", list)
		}
		if _, err := db.EndSessions(ctx, "alice", "b1", warehouse.ScopeLocal); err != nil {
			t.Error(err)
		}
		if list, _ := db.Sessions(ctx, "bob"); len(list) != 1 {
			t.Errorf("alice ended bob's session via local scope: %+v", list)
		}
		if _, err := db.EndSessions(ctx, "alice", "a1", "everything"); warehouse.ErrorCode(err) != warehouse.EINVALID {
			t.Errorf("bad scope: %v", err)
		}
		// A role change ends all of bob's sessions.
		if err := db.CreateUser(ctx, &warehouse.User{Username: "bob", PasswordHash: "h", Roles: []string{"viewer"}, Active: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateUser(ctx, "bob", warehouse.UserUpdate{Roles: []string{"clerk"}}, "admin"); err != nil {
			t.Fatal(err)
		}
		if list, _ := db.Sessions(ctx, "bob"); len(list) != 0 {
			t.Errorf("role change left sessions: %+v", list)
		}
	})
}

// TestFirstSigningKeyShared: instances starting at once on one database
// agree on one key, and it survives reopening.
func TestFirstSigningKeyShared(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		url := pgtest.URL(t, engine)
		dbs := []*store.DB{open(t, url, nil), open(t, url, nil), open(t, url, nil)}
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := db.AddFirstSigningKey(context.Background(), fmt.Sprint("k", i), "HS256", []byte("material")); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		keys, err := open(t, url, nil).SigningKeys(context.Background())
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys after concurrent first starts: %+v %v", keys, err)
		}
		if err := dbs[0].RetireSigningKey(context.Background(), keys[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := dbs[0].RetireSigningKey(context.Background(), keys[0].ID); warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
			t.Fatalf("retiring twice: %v", err)
		}
		if added, err := dbs[1].AddFirstSigningKey(context.Background(), "k9", "HS256", []byte("m")); err != nil || !added {
			t.Fatalf("after retirement a new first key is added: %v %v", added, err)
		}
	})
}

func TestClosedDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		db := open(t, pgtest.URL(t, engine), nil)
		db.Close()
		_, err := db.UserByName(context.Background(), "x")
		if warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
			t.Fatalf("err %v, code %q", err, warehouse.ErrorCode(err))
		}
		if err := db.Ping(context.Background()); warehouse.ErrorCode(err) != warehouse.EUNAVAILABLE {
			t.Fatalf("ping: %v", err)
		}
	})
}
