package authstate_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openDB(t testing.TB, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", dir, store.Options{Logger: logcheck.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func quiet(t testing.TB) *slog.Logger { return logcheck.New(t) }

func TestLoadAndPoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	mine, theirs := openDB(t, dir), openDB(t, dir) // two instances on one database
	if err := theirs.CreateUser(ctx, &warehouse.User{Username: "alice", PasswordHash: "h", Roles: []string{"clerk"}, Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := theirs.RevokeToken(ctx, "old", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s := authstate.New(mine, quiet(t))
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.IsRevoked("old") || s.IsRevoked("new") {
		t.Fatal("load: revocations wrong")
	}
	if u, ok := s.User("alice"); !ok || !u.Active || u.Roles[0] != "clerk" {
		t.Fatalf("load: alice %+v %v", u, ok)
	}

	// Changes made on the other instance arrive with Poll.
	if err := theirs.RevokeToken(ctx, "new", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := theirs.UpdateUser(ctx, "alice", warehouse.UserUpdate{Active: &off, Roles: []string{"manager"}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := theirs.CreateUser(ctx, &warehouse.User{Username: "bob", PasswordHash: "h", Roles: []string{"viewer"}, Active: true}); err != nil {
		t.Fatal(err)
	}
	if s.IsRevoked("new") {
		t.Fatal("revoked before poll?")
	}
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.IsRevoked("new") {
		t.Error("poll: revocation not applied")
	}
	if u, _ := s.User("alice"); u.Active || u.Roles[0] != "manager" {
		t.Errorf("poll: alice %+v", u)
	}
	if _, ok := s.User("bob"); !ok {
		t.Error("poll: new user unknown")
	}
}

// TestPollManyEvents: more events than one page are all applied.
func TestPollManyEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t, t.TempDir())
	s := authstate.New(db, quiet(t))
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2500 {
		if err := db.RevokeToken(ctx, fmt.Sprint("jti-", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.Stats(); n != 2500 {
		t.Fatalf("%d revocations applied, want 2500", n)
	}
}

// TestRunFollowsOtherInstances: the background loop applies another
// instance's revocation without being asked.
func TestRunFollowsOtherInstances(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	mine, theirs := openDB(t, dir), openDB(t, dir)
	s := authstate.New(mine, quiet(t))
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	go s.Run(ctx, 10*time.Millisecond)
	if err := theirs.RevokeToken(ctx, "x", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.IsRevoked("x") {
		if time.Now().After(deadline) {
			t.Fatal("revocation never applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIsRevokedDoesNotAllocate(t *testing.T) {
	db := openDB(t, t.TempDir())
	s := authstate.New(db, quiet(t))
	s.Revoke("some-jti", time.Now().Add(time.Hour))
	jti := "5b4d7c3e-0d7a-4a53-9a43-6a2b1c9d8e7f"
	if n := testing.AllocsPerRun(1000, func() { s.IsRevoked(jti) }); n != 0 {
		t.Fatalf("IsRevoked allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { s.User("alice") }); n != 0 {
		t.Fatalf("User allocates %v times", n)
	}
}

func BenchmarkIsRevoked(b *testing.B) {
	db := openDB(b, b.TempDir())
	s := authstate.New(db, quiet(b))
	for i := range 10000 {
		s.Revoke(fmt.Sprint("jti-", i), time.Now().Add(time.Hour))
	}
	jti := "5b4d7c3e-0d7a-4a53-9a43-6a2b1c9d8e7f"
	b.ReportAllocs()
	b.ResetTimer() // the database and the 10,000 revocations are set-up, not the check
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.IsRevoked(jti)
		}
	})
}

// userReads counts the user reads Poll makes through the real store.
type userReads struct {
	*store.DB
	n atomic.Int64
}

func (u *userReads) UserByName(ctx context.Context, name string) (*warehouse.User, error) {
	u.n.Add(1)
	return u.DB.UserByName(ctx, name)
}

// TestPollPastAnOpenTransaction: on PostgreSQL an event settles when every
// older transaction of the server has ended. One left open (here a plain
// one, writing no auth event) must not delay what other instances
// committed: their revocations and user changes apply at the next poll,
// once each, and the position catches up when the old transaction ends.
// More than a page of them is applied too.
func TestPollPastAnOpenTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t, pgtest.Postgres)
	open := func() *store.DB {
		db, err := store.Open(ctx, url, "", store.Options{Logger: logcheck.New(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	mine, theirs := &userReads{DB: open()}, open()
	if err := theirs.CreateUser(ctx, &warehouse.User{Username: "alice", PasswordHash: "h", Roles: []string{"clerk"}, Active: true}); err != nil {
		t.Fatal(err)
	}
	s := authstate.New(mine, quiet(t))
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}

	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	old, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Rollback()
	var xid int64
	if err := old.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&xid); err != nil {
		t.Fatal(err)
	}

	off := false
	if _, err := theirs.UpdateUser(ctx, "alice", warehouse.UserUpdate{Active: &off}, "admin"); err != nil {
		t.Fatal(err)
	}
	const n = 1500 // more than Poll's page
	for i := range n {
		if err := theirs.RevokeToken(ctx, fmt.Sprint("jti-", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	start := mine.n.Load()
	for range 2 {
		if err := s.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, _, _ := s.Stats(); got != n {
		t.Errorf("%d revocations applied past the open transaction, want %d", got, n)
	}
	if u, _ := s.User("alice"); u.Active {
		t.Error("user change not applied past the open transaction")
	}
	if reads := mine.n.Load() - start; reads != 1 {
		t.Errorf("user read %d times in two polls, want once", reads)
	}
	if behind, _, err := s.Lag(ctx); err != nil || behind != n+1 {
		t.Errorf("lag %d (%v), want %d: the position must wait for the open transaction", behind, err, n+1)
	}

	if err := old.Rollback(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		behind, _, err := s.Lag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if behind == 0 {
			break
		}
		// Other tests' transactions share the server.
		if time.Now().After(deadline) {
			t.Fatalf("still %d events behind after the open transaction ended", behind)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if reads := mine.n.Load() - start; reads != 1 {
		t.Errorf("user read %d times in all, want once", reads)
	}
}
