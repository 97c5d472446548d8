package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
)

// Presented is a verified token as the caller received it.
type Presented struct {
	Token  string
	Claims auth.Claims
	// Roles are the user's current roles (from the auth state, not the
	// token): a rotation issues tokens with them.
	Roles []string
}

// Refresh trades a verified refresh token for a new pair of the same
// session: the old token is retired and its successor recorded in one
// transaction (see store.RotateRefresh). A retired token presented again
// within the grace interval gets the same successor, unsealed, if it still
// passes verification; outside it, the session ends (EREFRESHREUSE), here
// and, through the event log, everywhere. A token issued into cookies gets
// a pair for cookies.
//
// A reuse is recorded in the audit trail (refresh_token_reuse) by the
// store, in the rotation's transaction.
func (s *Service) Refresh(ctx context.Context, p Presented, c Client) (Pair, error) {
	ctx = NewContext(ctx, c)
	c.Cookies = p.Claims.CSRF != ""
	pair, rc, err := s.sign(p.Claims.Subject, p.Roles, p.Claims.SessionID, false, c)
	if err != nil {
		return Pair{}, err
	}
	sealed, err := seal(p.Token, pair)
	if err != nil {
		return Pair{}, err
	}
	res, err := s.db.RotateRefresh(ctx, warehouse.RefreshRequest{
		OldJTI: p.Claims.ID, OldToken: p.Token,
		Next:      warehouse.RefreshToken{JTI: rc.ID, Username: p.Claims.Subject, ExpiresAt: rc.Expiry},
		NextToken: pair.Refresh, Sealed: sealed,
		Grace: s.cfg.RefreshReuseInterval, Inactivity: s.cfg.SessionInactivity,
	})
	switch {
	case errors.Is(err, warehouse.ErrRefreshReuseDetected):
		s.endSession(warehouse.EndedSession{ID: res.Session.ID, ExpiresAt: res.Session.ExpiresAt})
		s.log.WarnContext(ctx, "refresh token reuse: session revoked", "user", p.Claims.Subject, "session", res.Session.ID)
		s.metrics.ReuseDetected()
		return Pair{}, err
	case errors.Is(err, warehouse.ErrSessionExpired):
		s.endSession(warehouse.EndedSession{ID: res.Session.ID, ExpiresAt: res.Session.ExpiresAt})
		return Pair{}, err
	case errors.Is(err, warehouse.ErrRefreshReused), errors.Is(err, warehouse.ErrSessionEnded):
		return Pair{}, err
	case err != nil:
		return Pair{}, fmt.Errorf("refresh: %w", err)
	}
	if !res.Replayed {
		s.metrics.TokensIssued(1, 1)
		s.metrics.Refreshed()
		return pair, nil
	}
	prev, err := open(p.Token, res.Sealed)
	if err != nil {
		return Pair{}, warehouse.ErrTokenRevoked
	}
	if err := s.stillValid(ctx, prev, c); err != nil {
		return Pair{}, err
	}
	s.metrics.Refreshed() // the same pair again: nothing new issued
	return prev, nil
}

// stillValid checks a successor pair before a replay hands it out again:
// both tokens must still pass verification here (revocations, session,
// user) and neither may be revoked in the database, where a revocation
// made on another instance is already visible. The store has checked the
// refresh token in the rotation's transaction; the access token's id is
// only known from the sealed pair.
func (s *Service) stillValid(ctx context.Context, pair Pair, c Client) error {
	ac, ok := s.valid(pair.Access, auth.TypeAccess, c)
	if !ok {
		return warehouse.ErrTokenRevoked
	}
	rc, ok := s.valid(pair.Refresh, auth.TypeRefresh, c)
	if !ok {
		return warehouse.ErrTokenRevoked
	}
	revoked, err := s.db.AnyRevoked(ctx, ac.ID, rc.ID)
	if err != nil {
		return fmt.Errorf("refresh: check successor: %w", err)
	}
	if revoked {
		return warehouse.ErrTokenRevoked
	}
	return nil
}

// valid is the verification a request presenting token would get:
// signature and claims, issuer, revocation, session, type and user.
func (s *Service) valid(token, want string, c Client) (auth.Claims, bool) {
	claims, err := s.keys.Verify(token, s.now(), s.cfg.Verify)
	if err != nil || claims.Type != want {
		return auth.Claims{}, false
	}
	if claims.Issuer != "" && c.IssuerOK != nil && !c.IssuerOK(claims.Issuer) {
		return auth.Claims{}, false
	}
	if s.state == nil {
		return claims, true
	}
	if s.state.IsRevoked(claims.ID) || (claims.SessionID != "" && s.state.IsSessionEnded(claims.SessionID)) {
		return auth.Claims{}, false
	}
	u, ok := s.state.User(claims.Subject)
	return claims, ok && u.Active
}

// Revoke stores the revocation of one token id, then applies it here at
// once (other instances pick it up from the database's event log). Revoking
// twice is not an error. It is DELETE /access-revoke, /refresh-revoke and
// RFC 7009 /revoke. t is the token's verified claims; the audit trail
// records token_revoked by its holder (its subject), with its type and
// session, never its id.
func (s *Service) Revoke(ctx context.Context, t auth.Claims) error {
	ev := userEvent(warehouse.KindTokenRevoked, t.Subject, t.Subject, map[string]any{"token_type": t.Type, "session_id": t.SessionID})
	if err := s.db.RevokeToken(ctx, t.ID, t.Expiry, ev); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if s.state != nil {
		s.state.Revoke(t.ID, t.Expiry)
	}
	s.metrics.Revoked(t.Type)
	return nil
}

// Logout ends the caller's current session (warehouse.ScopeLocal), all
// their other sessions (ScopeOthers) or all of them (ScopeGlobal); an
// empty scope is local. Ending an ended session is not an error.
func (s *Service) Logout(ctx context.Context, username, currentSID, scope string) error {
	if scope == "" {
		scope = warehouse.ScopeLocal
	}
	// The store adds the scope and the sessions ended to the event.
	ended, err := s.db.EndSessions(ctx, username, currentSID, scope, userEvent(warehouse.KindLogout, username, username, nil))
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	for _, e := range ended {
		s.endSession(e)
	}
	return nil
}

// EndSession ends one of username's sessions (ENOTFOUND for another
// user's, so ids cannot be probed).
func (s *Service) EndSession(ctx context.Context, username, id string) error {
	ended, err := s.db.EndSession(ctx, username, id, warehouse.SecurityEvent{Kind: warehouse.KindSessionEnded,
		Actor: username, Entity: "session", EntityID: id, Detail: map[string]any{"username": username}})
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	s.endSession(ended)
	return nil
}
