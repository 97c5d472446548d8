// Package authstate holds, in memory, what token verification must know
// beyond the signature: which token ids are revoked and which users exist,
// are active and hold which roles. It is loaded from the database at start
// and kept in step by following the database's auth event log, so that
// checking a token never needs a database call.
package authstate

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/warehouse-api/warehouse"
)

// Source is the database side of the state.
type Source interface {
	Revocations(ctx context.Context) ([]warehouse.Revocation, error)
	ListUsers(ctx context.Context) ([]*warehouse.User, error)
	UserByName(ctx context.Context, username string) (*warehouse.User, error)
	EndedSessions(ctx context.Context) ([]warehouse.EndedSession, error)
	LastAuthEvent(ctx context.Context) (int64, error)
	AuthEventsAfter(ctx context.Context, after int64, limit int) ([]warehouse.AuthEvent, error)
}

// UserState is what verification needs of a user.
type UserState struct {
	Active  bool
	Roles   []string
	Version int64
}

// State is the in-memory auth state. Safe for concurrent use.
type State struct {
	src Source
	log *slog.Logger

	// onKeys is called when another instance changed the signing keys.
	onKeys func(context.Context) error

	mu        sync.RWMutex
	revoked   map[string]int64 // jti -> expiry, unix seconds
	ended     map[string]int64 // ended session id -> session expiry, unix seconds
	users     map[string]UserState
	lastEvent int64
	synced    time.Time
}

// New returns an empty state; call Load before use.
func New(src Source, log *slog.Logger) *State {
	return &State{src: src, log: log, revoked: map[string]int64{}, ended: map[string]int64{}, users: map[string]UserState{}}
}

// OnKeyChange registers fn to run when the signing keys change in the
// database (a rotation on any instance). Call before Run.
func (s *State) OnKeyChange(fn func(context.Context) error) { s.onKeys = fn }

// Load replaces the state with a full read of the database.
func (s *State) Load(ctx context.Context) error {
	// Read the event cursor first: events that land during the load are
	// applied again by the next Poll, which is harmless.
	last, err := s.src.LastAuthEvent(ctx)
	if err != nil {
		return fmt.Errorf("load auth state: %w", err)
	}
	revs, err := s.src.Revocations(ctx)
	if err != nil {
		return fmt.Errorf("load auth state: %w", err)
	}
	users, err := s.src.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("load auth state: %w", err)
	}
	endedList, err := s.src.EndedSessions(ctx)
	if err != nil {
		return fmt.Errorf("load auth state: %w", err)
	}
	ended := make(map[string]int64, len(endedList))
	for _, e := range endedList {
		ended[e.ID] = e.ExpiresAt.Unix()
	}
	revoked := make(map[string]int64, len(revs))
	for _, r := range revs {
		revoked[r.JTI] = r.ExpiresAt.Unix()
	}
	um := make(map[string]UserState, len(users))
	for _, u := range users {
		um[u.Username] = UserState{Active: u.Active, Roles: u.Roles, Version: u.Version}
	}
	s.mu.Lock()
	s.revoked, s.ended, s.users, s.lastEvent, s.synced = revoked, ended, um, last, time.Now()
	s.mu.Unlock()
	return nil
}

// Poll applies the events written since the last Load or Poll, by this
// instance or any other on the same database.
func (s *State) Poll(ctx context.Context) error {
	for {
		s.mu.RLock()
		after := s.lastEvent
		s.mu.RUnlock()
		events, err := s.src.AuthEventsAfter(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("poll auth events: %w", err)
		}
		keysChanged := false
		for _, e := range events {
			switch {
			case e.IsSessionEnd():
				if !e.ExpiresAt.IsZero() {
					s.EndSession(e.Subject, e.ExpiresAt)
				}
			case e.IsKeyChange():
				keysChanged = true
			case e.IsRevocation():
				if !e.ExpiresAt.IsZero() {
					s.Revoke(e.Subject, e.ExpiresAt)
				}
			case e.IsUserChange():
				u, err := s.src.UserByName(ctx, e.Subject)
				if err != nil {
					if warehouse.ErrorCode(err) == warehouse.ENOTFOUND {
						s.DropUser(e.Subject)
						continue
					}
					return fmt.Errorf("poll auth events: %w", err)
				}
				s.SetUser(u)
			}
		}
		if keysChanged && s.onKeys != nil {
			if err := s.onKeys(ctx); err != nil {
				return fmt.Errorf("reload signing keys: %w", err)
			}
		}
		s.mu.Lock()
		if len(events) > 0 && events[len(events)-1].ID > s.lastEvent {
			s.lastEvent = events[len(events)-1].ID
		}
		s.synced = time.Now()
		s.mu.Unlock()
		if len(events) < 1000 {
			return nil
		}
	}
}

// Run polls every interval and drops expired revocations, until ctx ends.
// Errors are logged and retried: a database outage must not stop the server.
func (s *State) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Poll(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("auth state poll failed; will retry", "err", err)
			}
			s.dropExpired(time.Now())
		}
	}
}

// IsRevoked reports whether the token id jti is revoked. It takes a read
// lock and a map lookup: no allocation, no database.
func (s *State) IsRevoked(jti string) bool {
	s.mu.RLock()
	_, ok := s.revoked[jti]
	s.mu.RUnlock()
	return ok
}

// Revoke adds jti to the in-memory denylist (the caller stores it first).
func (s *State) Revoke(jti string, expiresAt time.Time) {
	s.mu.Lock()
	s.revoked[jti] = expiresAt.Unix()
	s.mu.Unlock()
}

// IsSessionEnded reports whether the session sid was ended (logout,
// refresh token reuse, user change). No allocation, no database.
func (s *State) IsSessionEnded(sid string) bool {
	s.mu.RLock()
	_, ok := s.ended[sid]
	s.mu.RUnlock()
	return ok
}

// EndSession marks a session ended here (the caller stores it first).
func (s *State) EndSession(sid string, expiresAt time.Time) {
	s.mu.Lock()
	s.ended[sid] = expiresAt.Unix()
	s.mu.Unlock()
}

// User returns the user's state and whether the user exists.
func (s *State) User(username string) (UserState, bool) {
	s.mu.RLock()
	u, ok := s.users[username]
	s.mu.RUnlock()
	return u, ok
}

// SetUser records a user's current state, unless a newer version is known.
func (s *State) SetUser(u *warehouse.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.users[u.Username]; ok && cur.Version > u.Version {
		return
	}
	s.users[u.Username] = UserState{Active: u.Active, Roles: u.Roles, Version: u.Version}
}

// DropUser forgets a user.
func (s *State) DropUser(username string) {
	s.mu.Lock()
	delete(s.users, username)
	s.mu.Unlock()
}

// Stats reports sizes, for metrics and tests.
func (s *State) Stats() (revoked, users int, lastEvent int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.revoked), len(s.users), s.lastEvent
}

// Lag reports how far the state is behind the database: how many auth
// events the database holds that this state has not applied, and for how
// long it has been behind (the time since a Load or Poll last caught up;
// 0 when caught up). It makes one query; if that fails, behind is still
// that time, and events is 0. Events this instance wrote and applied at
// once still count until the next Poll moves the cursor past them.
func (s *State) Lag(ctx context.Context) (events int64, behind time.Duration, err error) {
	last, err := s.src.LastAuthEvent(ctx)
	s.mu.RLock()
	applied, synced := s.lastEvent, s.synced
	s.mu.RUnlock()
	if err != nil {
		return 0, time.Since(synced), fmt.Errorf("auth state lag: %w", err)
	}
	if last <= applied {
		return 0, 0, nil
	}
	return last - applied, time.Since(synced), nil
}

// dropExpired forgets revocations of tokens that expired more than
// warehouse.ExpiryMargin ago: by then no verifier's leeway accepts them.
func (s *State) dropExpired(now time.Time) {
	cut := now.Add(-warehouse.ExpiryMargin).Unix()
	s.mu.Lock()
	for jti, exp := range s.revoked {
		if exp < cut {
			delete(s.revoked, jti)
		}
	}
	for sid, exp := range s.ended {
		if exp < cut {
			delete(s.ended, sid)
		}
	}
	s.mu.Unlock()
}
