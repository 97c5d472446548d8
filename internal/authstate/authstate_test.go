package authstate_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/store"
)

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
