package session

import (
	"context"
	"fmt"

	"github.com/warehouse-api/warehouse"
)

// ChangePassword changes username's own password, given the current one:
// every session of the user ends (in the database, and here at once), and
// a new session starts for the caller, whose pair is returned. A wrong
// current password is ErrWrongPassword.
//
// The store records password_changed, by the user, in the change's
// transaction; the new session is part of it, not a login.
func (s *Service) ChangePassword(ctx context.Context, username, current, next string, c Client) (Pair, error) {
	ctx = NewContext(ctx, c)
	if err := warehouse.ValidatePassword(next); err != nil {
		return Pair{}, err
	}
	u, err := s.db.UserByName(ctx, username)
	if err != nil {
		return Pair{}, fmt.Errorf("change password: %w", err)
	}
	ok, _, err := s.hasher.Verify(ctx, current, u.PasswordHash)
	if herr := s.hashFailure(ctx, err); herr != nil {
		return Pair{}, herr
	}
	if err != nil || !ok {
		return Pair{}, warehouse.ErrWrongPassword
	}
	h, err := s.HashPassword(ctx, next)
	if err != nil {
		return Pair{}, err
	}
	u, err = s.db.UpdateUser(ctx, u.Username, warehouse.UserUpdate{PasswordHash: &h}, u.Username)
	if err != nil {
		return Pair{}, fmt.Errorf("change password: %w", err)
	}
	s.sync(ctx) // the sessions just ended, refused here before the new one starts
	return s.start(ctx, u, c, "")
}

// NewUser is a user to create.
type NewUser struct {
	Username string
	Password string
	Roles    []string
	Active   bool
}

// CreateUser validates, hashes the password and creates the user, known
// at once to this instance's auth state.
func (s *Service) CreateUser(ctx context.Context, nu NewUser, actor string) (*warehouse.User, error) {
	if err := warehouse.ValidateUsername(nu.Username); err != nil {
		return nil, err
	}
	if err := warehouse.ValidatePassword(nu.Password); err != nil {
		return nil, err
	}
	roles, err := warehouse.ValidateRoles(nu.Roles)
	if err != nil {
		return nil, err
	}
	h, err := s.HashPassword(ctx, nu.Password)
	if err != nil {
		return nil, err
	}
	u := &warehouse.User{Username: nu.Username, PasswordHash: h, Roles: roles, Active: nu.Active, CreatedBy: actor}
	if err := s.db.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	s.setUser(u)
	return u, nil
}

// UserChange is an admin's change to a user; nil fields stay as they are.
type UserChange struct {
	Roles    []string
	Active   *bool
	Password *string
}

// PrepareUpdate validates a change and hashes its new password: the update
// to apply (with UpdateUser, perhaps more than once under If-Match).
func (s *Service) PrepareUpdate(ctx context.Context, ch UserChange) (warehouse.UserUpdate, error) {
	var upd warehouse.UserUpdate
	if ch.Roles != nil {
		roles, err := warehouse.ValidateRoles(ch.Roles)
		if err != nil {
			return warehouse.UserUpdate{}, err
		}
		upd.Roles = roles
	}
	upd.Active = ch.Active
	if ch.Password != nil {
		h, err := s.HashPassword(ctx, *ch.Password)
		if err != nil {
			return warehouse.UserUpdate{}, err
		}
		upd.PasswordHash = &h
	}
	return upd, nil
}

// UpdateUser applies upd to username if it is at version (AnyVersion:
// whatever it is), then to this instance's auth state at once (other
// instances follow the event log within a second). Deactivation, new roles
// and a new password end the user's sessions; a new password also ends a
// login lockout (see store.UpdateUser). Callers acting for a user check
// SelfLockout first.
func (s *Service) UpdateUser(ctx context.Context, username string, version int64, upd warehouse.UserUpdate, actor string) (*warehouse.User, error) {
	u, err := s.db.UpdateUserIf(ctx, username, version, upd, actor)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	s.setUser(u)
	s.sync(ctx) // the sessions the change ended are refused here at once
	return u, nil
}

// SelfLockout refuses (ECONFLICT) a change by which the user actor would
// deactivate themselves or drop their own admin role: almost always a
// mistake, and with one admin unrecoverable without the CLI (which acts as
// no user, and so is not asked).
func SelfLockout(actor, username string, upd warehouse.UserUpdate) error {
	if username != actor {
		return nil
	}
	if (upd.Active != nil && !*upd.Active) || (upd.Roles != nil && !warehouse.HasRole(upd.Roles, warehouse.RoleAdmin)) {
		return warehouse.Errorf(warehouse.ECONFLICT, "You cannot deactivate yourself or remove your own admin role; ask another admin")
	}
	return nil
}

// Unlock ends username's login lockout, and reports whether there was one.
func (s *Service) Unlock(ctx context.Context, username, actor string) (bool, error) {
	unlocked, err := s.db.UnlockLogin(ctx, username, actor)
	if err != nil {
		return false, fmt.Errorf("unlock: %w", err)
	}
	return unlocked, nil
}
