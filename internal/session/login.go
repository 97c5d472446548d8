package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
)

// Client is who asks for tokens: what a new session records, what the
// audit trail records of the request (Origin), and the issuer (iss) the
// access tokens carry, which may depend on the request (see httpapi's
// issuer).
type Client struct {
	Issuer    string
	UserAgent string
	IP        string
	// RequestID is the request's id (X-Request-ID), for the audit trail.
	RequestID string
	// Cookies: the tokens go into cookies, each bound to a CSRF value.
	Cookies bool
	// IssuerOK reports whether a token's iss is ours for this client; nil
	// accepts any (see Refresh, which checks a successor before a replay).
	IssuerOK func(iss string) bool
}

// Origin is what the audit trail records of c's request.
func (c Client) Origin() warehouse.Origin {
	return warehouse.Origin{IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID}
}

// NewContext returns ctx carrying c's Origin, for the methods that take no
// Client (Revoke, Logout, user changes, ...): the audit trail records the
// security events they cause with the client's address, User-Agent and
// request id. A context without one records none (the CLI).
func NewContext(ctx context.Context, c Client) context.Context {
	return warehouse.WithOrigin(ctx, c.Origin())
}

// userEvent is a security event about user username.
func userEvent(kind, actor, username string, detail map[string]any) warehouse.SecurityEvent {
	return warehouse.SecurityEvent{Kind: kind, Actor: actor, Entity: "user", EntityID: username, Detail: detail}
}

// UnknownUser stands in the audit trail and the log for a username tried
// at login that names no user. People type their password into the
// username field; a name that is no user's is the likeliest to be one, and
// must not be kept (OWASP logging cheat sheet). Known names are recorded.
const UnknownUser = "(unknown user)"

// attemptEvent is a login attempt's event for the name tried: that name
// when it is a user's, else UnknownUser (with username_known false).
func attemptEvent(kind, username string, known bool, detail map[string]any) warehouse.SecurityEvent {
	if known {
		return userEvent(kind, username, username, detail)
	}
	d := map[string]any{"username_known": false}
	for k, v := range detail {
		d[k] = v
	}
	return userEvent(kind, UnknownUser, UnknownUser, d)
}

// knownUser reports whether username is a user's, from the in-memory auth
// state (no database call: it is asked on refused logins, which a flood
// makes many of). Without a state every name counts as unknown.
func (s *Service) knownUser(username string) bool {
	if s.state == nil {
		return false
	}
	_, ok := s.state.User(username)
	return ok
}

// Login checks username and password and starts a session with its first,
// fresh, token pair. Failures are ErrBadCredentials (alike for unknown,
// inactive and wrong password), ELOGINTHROTTLED while the username is
// locked out, or ErrHashUnavailable.
//
// Each attempt is a security event in the audit trail: login_succeeded,
// login_failed (for a username that is no user's as UnknownUser: it may
// be a password typed into the wrong field), account_locked (the failure that locks) or
// login_throttled.
func (s *Service) Login(ctx context.Context, username, password string, c Client) (Pair, error) {
	ctx = NewContext(ctx, c)
	u, err := s.CheckPassword(ctx, username, password)
	if err != nil {
		return Pair{}, err
	}
	s.metrics.LoginOutcome(OutcomeOK) // the password was right (a session that cannot be stored is a 503, not a login outcome)
	return s.start(ctx, u, c, warehouse.KindLoginSucceeded)
}

// CheckPassword returns the active user with that password, counting the
// failure against the username (see Throttle).
func (s *Service) CheckPassword(ctx context.Context, username, password string) (*warehouse.User, error) {
	failures, err := s.throttled(ctx, username)
	if err != nil {
		var e *warehouse.Error
		if errors.As(err, &e) && e.Code == warehouse.ELOGINTHROTTLED {
			s.recordThrottled(ctx, username, "account", e.RetryAfter)
		}
		return nil, err
	}
	u, known, err := s.verifyPassword(ctx, username, password)
	switch {
	case errors.Is(err, warehouse.ErrBadCredentials):
		if ferr := s.loginFailed(ctx, username, known); ferr != nil {
			return nil, ferr
		}
	case err == nil && failures > 0:
		s.loginSucceeded(ctx, username)
	}
	return u, err
}

// verifyPassword returns the active user with that password. Unknown and
// inactive users cost the same hash as a wrong password so that timing
// tells nothing about which usernames exist.
func (s *Service) verifyPassword(ctx context.Context, username, password string) (*warehouse.User, bool, error) {
	u, err := s.db.UserByName(ctx, username)
	if err != nil {
		if warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
			return nil, false, fmt.Errorf("login: %w", err)
		}
		// Answered as a known user's wrong password is, failures included.
		if herr := s.hashFailure(ctx, s.hasher.VerifyDummy(ctx, password)); herr != nil {
			return nil, false, herr
		}
		return nil, false, warehouse.ErrBadCredentials
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if herr := s.hashFailure(ctx, err); herr != nil {
		return nil, true, herr
	}
	if err != nil {
		if !errors.Is(err, auth.ErrPasswordTooLong) {
			s.log.ErrorContext(ctx, "password verification failed", "user", u.Username, "err", err)
		}
		return nil, true, warehouse.ErrBadCredentials
	}
	if !ok || !u.Active {
		return nil, true, warehouse.ErrBadCredentials
	}
	if rehash {
		// Parameters changed since this hash was made: upgrade it now that
		// we know the password. A failure only delays the upgrade.
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			if err := s.db.RehashPassword(ctx, u.Username, u.PasswordHash, h); err != nil {
				s.log.WarnContext(ctx, "password re-hash not stored", "user", u.Username, "err", err)
			}
		}
	}
	// The tokens about to be issued are checked against the in-memory
	// state, which may not have synced yet a change made elsewhere (the
	// CLI, another instance): record what this read found, so that a token
	// is never issued that this server would then refuse. SetUser keeps a
	// newer version if one is already known.
	s.setUser(u)
	return u, true, nil
}

// throttled returns ELOGINTHROTTLED while username is locked out, else how
// many failures are counted against it.
func (s *Service) throttled(ctx context.Context, username string) (int, error) {
	if s.cfg.Throttle.MaxFailures < 0 {
		return 0, nil
	}
	until, failures, err := s.db.LoginLockedUntil(ctx, username)
	if err != nil {
		return 0, fmt.Errorf("login throttle: %w", err)
	}
	if until.IsZero() {
		return failures, nil
	}
	s.metrics.LoginOutcome(OutcomeThrottled)
	return 0, LoginThrottled(until.Sub(s.now()))
}

// AddressThrottled records a login for username refused before any check
// because the client's address tried too many (the HTTP edge's per-address
// limit, which is no use case of ours but is the same event).
func (s *Service) AddressThrottled(ctx context.Context, username string, wait time.Duration, c Client) {
	s.recordThrottled(NewContext(ctx, c), username, "address", wait)
}

// recordThrottled records a login refused by a limit ("account": the
// lockout; "address"); a failure to do so is logged and changes nothing
// in the answer (the refusal stands).
func (s *Service) recordThrottled(ctx context.Context, username, limit string, wait time.Duration) {
	detail := map[string]any{"limit": limit, "retry_after_seconds": WaitSeconds(wait)}
	if err := s.db.RecordSecurityEvent(ctx, attemptEvent(warehouse.KindLoginThrottled, username, s.knownUser(username), detail)); err != nil {
		s.log.Warn("throttled login not recorded in the audit trail", "err", err)
	}
}

// loginFailed counts a failure and records it in the audit trail (with
// the lockout it may start, in the same transaction); it never turns the
// failed login into something else, except an error when the count cannot
// be stored (guesses must not go uncounted).
func (s *Service) loginFailed(ctx context.Context, username string, known bool) error {
	ev := attemptEvent(warehouse.KindLoginFailed, username, known, nil)
	if s.cfg.Throttle.MaxFailures < 0 {
		if err := s.db.RecordSecurityEvent(ctx, ev); err != nil {
			return fmt.Errorf("record failed login: %w", err)
		}
		s.metrics.LoginOutcome(OutcomeBadCredentials)
		return nil
	}
	n, d := s.cfg.Throttle.limits()
	until, err := s.db.RecordLoginFailure(ctx, username, n, d, d, ev)
	if err != nil {
		return fmt.Errorf("count failed login: %w", err)
	}
	if !until.IsZero() {
		s.log.WarnContext(ctx, "login locked out after repeated failures", "user", ev.Actor, "failures", n, "until", until)
		s.metrics.LoginOutcome(OutcomeLocked)
		return nil
	}
	s.metrics.LoginOutcome(OutcomeBadCredentials)
	return nil
}

// loginSucceeded resets the count; a failure to do so only leaves old
// failures counting until they age out of the window.
func (s *Service) loginSucceeded(ctx context.Context, username string) {
	if err := s.db.ResetLoginFailures(ctx, username); err != nil {
		s.log.WarnContext(ctx, "login failures not reset", "user", username, "err", err)
	}
}

// LoginThrottled is the ELOGINTHROTTLED error for a lockout that ends in
// wait: whole seconds, at least one, the same in the message and in
// RetryAfter.
func LoginThrottled(wait time.Duration) *warehouse.Error {
	secs := WaitSeconds(wait)
	return &warehouse.Error{Code: warehouse.ELOGINTHROTTLED,
		Message:    "Too many failed logins for this account; try again in " + Seconds(secs),
		RetryAfter: time.Duration(secs) * time.Second}
}

// WaitSeconds is wait in whole seconds, rounded up, at least 1.
func WaitSeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

// Seconds is n seconds, in English: "1 second", "5 seconds".
func Seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

// start begins a session for u and returns its first, fresh, token pair,
// recording the security event kind (none if empty) with it.
func (s *Service) start(ctx context.Context, u *warehouse.User, c Client, kind string) (Pair, error) {
	sid := uuid.NewString()
	pair, rc, err := s.sign(u.Username, u.Roles, sid, true, c)
	if err != nil {
		return Pair{}, err
	}
	sess := warehouse.Session{ID: sid, Username: u.Username, UserAgent: c.UserAgent, IP: c.IP,
		ViaCookies: c.Cookies, ExpiresAt: s.now().Add(s.cfg.SessionLifetime)}
	rt := warehouse.RefreshToken{JTI: rc.ID, Username: u.Username, ExpiresAt: rc.Expiry}
	var events []warehouse.SecurityEvent
	if kind != "" {
		events = append(events, userEvent(kind, u.Username, u.Username, map[string]any{"session_id": sid, "cookies": c.Cookies}))
	}
	if err := s.db.CreateSession(ctx, sess, rt, pair.Refresh, events...); err != nil {
		return Pair{}, fmt.Errorf("start session: %w", err)
	}
	s.metrics.TokensIssued(1, 1)
	return pair, nil
}
