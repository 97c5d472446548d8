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
	// LastAuthEvent is the position to follow from after a full read.
	LastAuthEvent(ctx context.Context) (warehouse.AuthEventPos, error)
	// AuthEventsAfter returns the events after a position and the
	// position through which they are settled (no event can still appear
	// before it).
	AuthEventsAfter(ctx context.Context, after warehouse.AuthEventPos, limit int) ([]warehouse.AuthEvent, warehouse.AuthEventPos, error)
	AuthEventsBehind(ctx context.Context, pos warehouse.AuthEventPos) (int64, error)
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

	mu      sync.RWMutex
	revoked map[string]int64 // jti -> expiry, unix seconds
	ended   map[string]int64 // ended session id -> session expiry, unix seconds
	users   map[string]UserState
	// pos is the position in the event log through which every event is
	// applied; early holds the events past it already applied, which are
	// read again until they settle (see Poll).
	pos    warehouse.AuthEventPos
	early  map[warehouse.AuthEventPos]struct{}
	synced time.Time
}

// New returns an empty state; call Load before use.
func New(src Source, log *slog.Logger) *State {
	return &State{src: src, log: log, revoked: map[string]int64{}, ended: map[string]int64{}, users: map[string]UserState{},
		early: map[warehouse.AuthEventPos]struct{}{}}
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
	s.revoked, s.ended, s.users, s.pos, s.synced = revoked, ended, um, last, time.Now()
	clear(s.early)
	s.mu.Unlock()
	return nil
}

// Poll applies the events written since the last Load or Poll, by this
// instance or any other on the same database.
//
// The position moves only through settled events (see Source). Events
// past it that are already committed are applied at once too, and
// remembered, so that reading them again until they settle does not apply
// them twice (applying twice would be harmless, but a user change costs a
// read). An older transaction that stays open anywhere on the database
// server keeps them unsettled, and read at every poll, until it ends.
func (s *State) Poll(ctx context.Context) error {
	const page = 1000
	s.mu.RLock()
	read := s.pos
	s.mu.RUnlock()
	settled := true // every event up to read is settled
	for {
		events, upto, err := s.src.AuthEventsAfter(ctx, read, page)
		if err != nil {
			return fmt.Errorf("poll auth events: %w", err)
		}
		keysChanged := false
		for _, e := range events {
			s.mu.RLock()
			_, done := s.early[e.Pos()]
			s.mu.RUnlock()
			if done {
				continue
			}
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
		if settled && s.pos.Before(upto) {
			s.pos = upto
		}
		for p := range s.early {
			if !s.pos.Before(p) {
				delete(s.early, p)
			}
		}
		for _, e := range events {
			if s.pos.Before(e.Pos()) {
				s.early[e.Pos()] = struct{}{}
			}
		}
		s.synced = time.Now()
		s.mu.Unlock()
		if len(events) < page {
			return nil
		}
		// A full page: read on from its last event. Past the first
		// unsettled one, nothing settles (settled events come first).
		last := events[len(events)-1].Pos()
		if upto != last {
			settled = false
		}
		read = last
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
func (s *State) Stats() (revoked, users int, pos warehouse.AuthEventPos) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.revoked), len(s.users), s.pos
}

// Lag reports how far the state is behind the database: how many auth
// events the database holds past this state's position, and for how long
// it has been behind (the time since a Load or Poll last caught up; 0 when
// caught up). It makes one query; if that fails, behind is still that
// time, and events is 0. Events this instance wrote and applied at once
// still count until the next Poll moves the position past them, and so do
// events applied early until they settle (see Poll).
func (s *State) Lag(ctx context.Context) (events int64, behind time.Duration, err error) {
	s.mu.RLock()
	pos, synced := s.pos, s.synced
	s.mu.RUnlock()
	n, err := s.src.AuthEventsBehind(ctx, pos)
	if err != nil {
		return 0, time.Since(synced), fmt.Errorf("auth state lag: %w", err)
	}
	if n == 0 {
		return 0, 0, nil
	}
	return n, time.Since(synced), nil
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
