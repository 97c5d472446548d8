package session_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/authstate"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/session"
	"github.com/warehouse-api/warehouse/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// clock is a settable time source shared by the store and the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one instance: a real database, keys, auth state and the service.
type env struct {
	t     *testing.T
	db    *store.DB
	keys  *auth.Keyring
	state *authstate.State
	svc   *session.Service
	clock *clock
	opt   auth.VerifyOptions
}

func newEnv(t *testing.T, engine string, cfg session.Config) *env {
	t.Helper()
	return newEnvLog(t, engine, cfg, nil)
}

// newEnvLog is newEnv with the store logging to log (nil: a logcheck
// logger, which fails the test on a secret).
func newEnvLog(t *testing.T, engine string, cfg session.Config, log *slog.Logger) *env {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Now().Truncate(time.Millisecond)}
	if log == nil {
		log = logcheck.New(t)
	}
	db, err := store.Open(ctx, pgtest.URL(t, engine), "", store.Options{Now: c.now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	keys, err := auth.NewKeyring(auth.Key{ID: "test", Algorithm: "HS256", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	hasher := auth.NewHasher(auth.TestParams(), 0)
	h, err := hasher.Hash(ctx, "right-password")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*warehouse.User{
		{Username: "alice", PasswordHash: h, Roles: []string{"admin"}, Active: true},
		{Username: "gone", PasswordHash: h, Roles: []string{"viewer"}, Active: false},
	} {
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	state := authstate.New(db, nil)
	if err := state.Load(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Verify = auth.VerifyOptions{Leeway: 10 * time.Second, IssuerByCaller: true}
	svc := session.New(cfg, session.Deps{Store: db, Keys: keys, Hasher: hasher, State: state, Now: c.now, Log: logcheck.New(t)})
	return &env{t: t, db: db, keys: keys, state: state, svc: svc, clock: c, opt: cfg.Verify}
}

// presented verifies token as a request would, for Refresh.
func (e *env) presented(token string) session.Presented {
	e.t.Helper()
	c, err := e.keys.Verify(token, e.clock.now(), e.opt)
	if err != nil {
		e.t.Fatal(err)
	}
	u, _ := e.state.User(c.Subject)
	return session.Presented{Token: token, Claims: c, Roles: u.Roles}
}

func (e *env) claims(token string) auth.Claims {
	e.t.Helper()
	c, err := e.keys.Verify(token, e.clock.now(), e.opt)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) login(user, pw string) session.Pair {
	e.t.Helper()
	p, err := e.svc.Login(context.Background(), user, pw, session.Client{IP: "192.0.2.1", UserAgent: "test"})
	if err != nil {
		e.t.Fatalf("login %s: %v", user, err)
	}
	return p
}

func TestLogin(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, session.Config{Throttle: session.Throttle{MaxFailures: 3, Lockout: time.Minute}})
		ctx := context.Background()
		tests := []struct {
			name, user, pw string
			wantCode       string
			wantDetail     string
		}{
			{"right password", "alice", "right-password", "", ""},
			{"wrong password", "alice", "wrong", warehouse.EBADCREDENTIALS, "Bad username or password"},
			{"unknown user", "nobody", "right-password", warehouse.EBADCREDENTIALS, "Bad username or password"},
			{"inactive user", "gone", "right-password", warehouse.EBADCREDENTIALS, "Bad username or password"},
		}
		for _, tt := range tests {
			pair, err := e.svc.Login(ctx, tt.user, tt.pw, session.Client{Issuer: "http://a.example"})
			if got := warehouse.ErrorCode(err); got != tt.wantCode {
				t.Errorf("%s: code %q (%v), want %q", tt.name, got, err, tt.wantCode)
				continue
			}
			if tt.wantCode != "" {
				if got := warehouse.ErrorMessage(err); got != tt.wantDetail {
					t.Errorf("%s: message %q, want %q", tt.name, got, tt.wantDetail)
				}
				continue
			}
			ac := e.claims(pair.Access)
			if ac.Subject != tt.user || !ac.Fresh || ac.Issuer != "http://a.example" || ac.SessionID == "" || pair.AccessCSRF != "" {
				t.Errorf("%s: access claims %+v", tt.name, ac)
			}
			if rc := e.claims(pair.Refresh); rc.Type != auth.TypeRefresh || rc.SessionID != ac.SessionID || rc.Issuer != "" {
				t.Errorf("%s: refresh claims %+v", tt.name, rc)
			}
		}
	})
}

// TestLoginLockout: failures are counted in the database, so a second
// instance on it refuses the locked username too, with a retry time; an
// unlock ends the lockout everywhere.
func TestLoginLockout(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, session.Config{Throttle: session.Throttle{MaxFailures: 2, Lockout: time.Minute}})
		ctx := context.Background()
		other := session.New(session.Config{Throttle: session.Throttle{MaxFailures: 2, Lockout: time.Minute}},
			session.Deps{Store: e.db, Keys: e.keys, Hasher: auth.NewHasher(auth.TestParams(), 0), Now: e.clock.now, Log: logcheck.New(t)})
		steps := []struct {
			name     string
			svc      *session.Service
			pw       string
			wantCode string
		}{
			{"first failure", e.svc, "wrong", warehouse.EBADCREDENTIALS},
			{"second failure locks", other, "wrong", warehouse.EBADCREDENTIALS},
			{"right password while locked", e.svc, "right-password", warehouse.ELOGINTHROTTLED},
			{"on the other instance too", other, "right-password", warehouse.ELOGINTHROTTLED},
		}
		for _, s := range steps {
			_, err := s.svc.Login(ctx, "alice", s.pw, session.Client{})
			if got := warehouse.ErrorCode(err); got != s.wantCode {
				t.Fatalf("%s: %q (%v), want %q", s.name, got, err, s.wantCode)
			}
			var de *warehouse.Error
			if s.wantCode == warehouse.ELOGINTHROTTLED {
				if !asError(err, &de) || de.RetryAfter <= 0 || de.RetryAfter > time.Minute {
					t.Errorf("%s: RetryAfter of %v", s.name, err)
				}
			}
		}
		if unlocked, err := other.Unlock(ctx, "alice", "admin"); err != nil || !unlocked {
			t.Fatalf("unlock: %v %v", unlocked, err)
		}
		e.login("alice", "right-password")
		// The lockout also ends by itself.
		for range 2 {
			_, _ = e.svc.Login(ctx, "alice", "wrong", session.Client{})
		}
		e.clock.advance(time.Minute + time.Second)
		e.login("alice", "right-password")
	})
}

func asError(err error, de **warehouse.Error) bool {
	e, ok := err.(*warehouse.Error)
	if ok {
		*de = e
	}
	return ok
}

// TestRefresh: rotation, the grace replay, and reuse detection ending the
// session both in the database and in this instance's state.
func TestRefresh(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, session.Config{RefreshReuseInterval: 10 * time.Second, SessionInactivity: time.Hour})
		ctx := context.Background()
		first := e.login("alice", "right-password")
		sid := e.claims(first.Access).SessionID

		second, err := e.svc.Refresh(ctx, e.presented(first.Refresh), session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		if ac := e.claims(second.Access); ac.Fresh || ac.SessionID != sid {
			t.Errorf("rotated access token: %+v", ac)
		}
		replay, err := e.svc.Refresh(ctx, e.presented(first.Refresh), session.Client{})
		if err != nil || replay != second {
			t.Fatalf("replay within the grace: %v, same pair %v", err, replay == second)
		}
		// A replay whose successor was revoked since is refused.
		if err := e.svc.Revoke(ctx, e.claims(second.Access)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Refresh(ctx, e.presented(first.Refresh), session.Client{}); warehouse.ErrorCode(err) != warehouse.ETOKENREVOKED {
			t.Fatalf("replay of a revoked successor: %v", err)
		}
		third, err := e.svc.Refresh(ctx, e.presented(second.Refresh), session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.advance(11 * time.Second)
		_, err = e.svc.Refresh(ctx, e.presented(first.Refresh), session.Client{})
		if warehouse.ErrorCode(err) != warehouse.EREFRESHREUSE || warehouse.ErrorMessage(err) != "Refresh token reuse detected; the session has been revoked" {
			t.Fatalf("reuse after the grace: %v", err)
		}
		if !e.state.IsSessionEnded(sid) {
			t.Error("reuse did not end the session in the auth state")
		}
		if _, err := e.svc.Refresh(ctx, e.presented(third.Refresh), session.Client{}); warehouse.ErrorCode(err) != warehouse.ETOKENREVOKED {
			t.Errorf("the session's latest refresh token after reuse: %v", err)
		}
		if list, err := e.db.Sessions(ctx, "alice"); err != nil || len(list) != 0 {
			t.Errorf("sessions in the database after reuse: %+v %v", list, err)
		}
	})
}

func TestRefreshInactive(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, session.Config{SessionInactivity: time.Hour})
		pair := e.login("alice", "right-password")
		sid := e.claims(pair.Access).SessionID
		e.clock.advance(time.Hour + time.Minute)
		_, err := e.svc.Refresh(context.Background(), e.presented(pair.Refresh), session.Client{})
		if warehouse.ErrorCode(err) != warehouse.ESESSIONEXPIRED || warehouse.ErrorMessage(err) != "Session has expired" {
			t.Fatalf("idle session: %v", err)
		}
		if !e.state.IsSessionEnded(sid) {
			t.Error("expired session not ended in the auth state")
		}
	})
}

// TestEndSessions: logout scopes and ending one session update the state
// at once, with the sessions' real expiry.
func TestEndSessions(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		tests := []struct {
			scope     string
			wantEnded []bool // of sessions a, b, c; the caller is a
		}{
			{"", []bool{true, false, false}},
			{warehouse.ScopeLocal, []bool{true, false, false}},
			{warehouse.ScopeOthers, []bool{false, true, true}},
			{warehouse.ScopeGlobal, []bool{true, true, true}},
		}
		for _, tt := range tests {
			e := newEnv(t, engine, session.Config{})
			var sids []string
			for range 3 {
				sids = append(sids, e.claims(e.login("alice", "right-password").Access).SessionID)
			}
			if err := e.svc.Logout(ctx, "alice", sids[0], tt.scope); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.wantEnded {
				if got := e.state.IsSessionEnded(sids[i]); got != want {
					t.Errorf("scope %q: session %d ended %v, want %v", tt.scope, i, got, want)
				}
			}
		}
		e := newEnv(t, engine, session.Config{})
		sid := e.claims(e.login("alice", "right-password").Access).SessionID
		if err := e.svc.EndSession(ctx, "bob", sid); warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
			t.Errorf("ending another user's session: %v", err)
		}
		if err := e.svc.EndSession(ctx, "alice", sid); err != nil || !e.state.IsSessionEnded(sid) {
			t.Errorf("end session: %v, ended %v", err, e.state.IsSessionEnded(sid))
		}
		if err := e.svc.Logout(ctx, "alice", sid, "everything"); warehouse.ErrorCode(err) != warehouse.EINVALID {
			t.Errorf("bad scope: %v", err)
		}
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, session.Config{})
		ctx := context.Background()
		c := e.claims(e.login("alice", "right-password").Access)
		for range 2 { // twice is not an error
			if err := e.svc.Revoke(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if !e.state.IsRevoked(c.ID) {
			t.Error("not revoked in the auth state")
		}
		if revoked, err := e.db.AnyRevoked(ctx, c.ID); err != nil || !revoked {
			t.Errorf("not revoked in the database: %v", err)
		}
	})
}

// TestPasswordAndUserChanges: the changes that end sessions end them in
// this instance's state at once.
func TestPasswordAndUserChanges(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, session.Config{})
		ctx := context.Background()
		old := e.claims(e.login("alice", "right-password").Access).SessionID
		if _, err := e.svc.ChangePassword(ctx, "alice", "wrong", "a-new-password", session.Client{}); warehouse.ErrorCode(err) != warehouse.EWRONGPASSWORD ||
			warehouse.ErrorMessage(err) != "Current password is incorrect" {
			t.Fatalf("wrong current password: %v", err)
		}
		pair, err := e.svc.ChangePassword(ctx, "alice", "right-password", "a-new-password", session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		if !e.state.IsSessionEnded(old) || e.state.IsSessionEnded(e.claims(pair.Access).SessionID) {
			t.Error("password change: the old session must end, the new one not")
		}
		e.login("alice", "a-new-password")

		u, err := e.svc.CreateUser(ctx, session.NewUser{Username: "sam", Password: "sam-password", Roles: []string{"clerk"}, Active: true}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := e.state.User("sam"); !ok || !st.Active {
			t.Errorf("created user not in the auth state: %+v", st)
		}
		if _, err := e.svc.CreateUser(ctx, session.NewUser{Username: "sam", Password: "sam-password", Roles: []string{"clerk"}}, "alice"); warehouse.ErrorCode(err) != warehouse.ECONFLICT {
			t.Errorf("duplicate user: %v", err)
		}
		f := false
		upd, err := e.svc.PrepareUpdate(ctx, session.UserChange{Active: &f})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateUser(ctx, "sam", u.Version, upd, "alice"); err != nil {
			t.Fatal(err)
		}
		if st, _ := e.state.User("sam"); st.Active {
			t.Error("deactivation not in the auth state")
		}
		if err := session.SelfLockout("alice", "alice", upd); warehouse.ErrorCode(err) != warehouse.ECONFLICT {
			t.Errorf("self-deactivation: %v", err)
		}
		short := "short"
		if _, err := e.svc.PrepareUpdate(ctx, session.UserChange{Password: &short}); warehouse.ErrorCode(err) != warehouse.EINVALID {
			t.Errorf("short password: %v", err)
		}
	})
}
