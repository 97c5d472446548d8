// Package session is the token lifecycle: password login (with the
// per-account throttle), refresh rotation with reuse detection, revocation,
// logout, password change and the user changes that affect tokens. Each
// method does the database write and the in-memory auth state update
// (authstate) in one place, so that every surface (the JSON API, the OAuth2
// routes, the CLI, a console) calls the same use case and none can forget
// half of it. It knows no HTTP: the caller says who is asking (Client) and
// renders the domain errors it returns.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/authstate"
)

// Store is the database side of the token lifecycle, declared here where
// it is used (internal/store's DB implements it).
type Store interface {
	UserByName(ctx context.Context, username string) (*warehouse.User, error)
	CreateUser(ctx context.Context, u *warehouse.User) error
	UpdateUser(ctx context.Context, username string, upd warehouse.UserUpdate, actor string) (*warehouse.User, error)
	UpdateUserIf(ctx context.Context, username string, version int64, upd warehouse.UserUpdate, actor string) (*warehouse.User, error)
	RehashPassword(ctx context.Context, username, oldHash, newHash string) error

	LoginLockedUntil(ctx context.Context, username string) (time.Time, int, error)
	RecordLoginFailure(ctx context.Context, username string, maxFailures int, window, lockout time.Duration, ev warehouse.SecurityEvent) (time.Time, error)
	ResetLoginFailures(ctx context.Context, username string) error
	UnlockLogin(ctx context.Context, username, actor string) (bool, error)

	CreateSession(ctx context.Context, s warehouse.Session, rt warehouse.RefreshToken, refreshToken string, events ...warehouse.SecurityEvent) error
	RotateRefresh(ctx context.Context, req warehouse.RefreshRequest) (warehouse.RefreshResult, error)
	EndSessions(ctx context.Context, username, currentSID, scope string, events ...warehouse.SecurityEvent) ([]warehouse.EndedSession, error)
	EndSession(ctx context.Context, username, id string, events ...warehouse.SecurityEvent) (warehouse.EndedSession, error)
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time, events ...warehouse.SecurityEvent) error
	AnyRevoked(ctx context.Context, jtis ...string) (bool, error)

	// RecordSecurityEvent records an event that changes nothing else (a
	// throttled login). Every other security event is recorded by the
	// change it belongs to, in its transaction (the events arguments
	// above; user changes, unlocks and refresh reuse by the store itself),
	// and logged once by the store when it has committed.
	RecordSecurityEvent(ctx context.Context, ev warehouse.SecurityEvent) error
}

// Throttle limits password guessing per account. The failures are counted
// in the database, so every instance behind a load balancer enforces the
// same count: spreading guesses over instances gains nothing. After
// MaxFailures failed logins for one username within Lockout, logins for
// that username are refused (ELOGINTHROTTLED, with RetryAfter) until
// Lockout has passed; a successful login resets the count. Tokens already
// issued keep working, so a lockout provoked by someone else does not log
// the owner out.
type Throttle struct {
	// MaxFailures is how many failures lock the username (0: 10; negative:
	// no throttling).
	MaxFailures int
	// Lockout is both the window failures are counted in and how long the
	// lockout lasts (0: 5 minutes).
	Lockout time.Duration
}

func (t Throttle) limits() (int, time.Duration) {
	n, d := t.MaxFailures, t.Lockout
	if n == 0 {
		n = 10
	}
	if d <= 0 {
		d = 5 * time.Minute
	}
	return n, d
}

// Config is the token lifecycle's settings.
type Config struct {
	AccessTTL  time.Duration // 0: 15 minutes
	RefreshTTL time.Duration // 0: 30 days
	// RefreshReuseInterval is the grace in which a just-rotated refresh
	// token still gets the same new pair (0: none).
	RefreshReuseInterval time.Duration
	// SessionLifetime ends sessions that old (0: RefreshTTL);
	// SessionInactivity ends sessions not refreshed for that long (0: no
	// inactivity timeout).
	SessionLifetime   time.Duration
	SessionInactivity time.Duration
	// Audience and ExtraClaims go into every access token; the issuer is
	// the caller's (Client.Issuer), as it may depend on the request.
	Audience    string
	ExtraClaims map[string]any
	// Verify are the keyring's options for our own tokens, for the check
	// of a successor pair before a replay.
	Verify   auth.VerifyOptions
	Throttle Throttle
}

// Deps are the parts the service is wired from.
type Deps struct {
	Store  Store
	Keys   *auth.Keyring
	Hasher *auth.Hasher
	// State is this instance's in-memory auth state; nil where there is
	// none (the CLI: servers follow the database's event log).
	State *authstate.State
	Log   *slog.Logger
	Now   func() time.Time // nil: time.Now
	// Metrics is told of logins and tokens (nil: nothing is).
	Metrics Metrics
}

// Service is the token lifecycle. Safe for concurrent use.
type Service struct {
	cfg    Config
	db     Store
	keys   *auth.Keyring
	hasher *auth.Hasher
	state  *authstate.State
	log    *slog.Logger
	now    func() time.Time
	// metrics is told of logins and tokens (nopMetrics without).
	metrics Metrics
}

// The token lifetimes when none is configured (the tutorial's library's
// access lifetime, and a month for refresh tokens): the one place they are
// written; the App's defaults and the HTTP layer's take them from here.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 30 * 24 * time.Hour
)

// New returns the service, with cfg's defaults filled in.
func New(cfg Config, d Deps) *Service {
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = cfg.RefreshTTL
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = nopMetrics{}
	}
	return &Service{cfg: cfg, db: d.Store, keys: d.Keys, hasher: d.Hasher, state: d.State, log: d.Log, now: d.Now, metrics: d.Metrics}
}

// Config returns the settings in effect (defaults filled in).
func (s *Service) Config() Config { return s.cfg }

// hashFailure is ErrHashUnavailable for a password hash that could not be
// computed: the request ended while it waited for a hashing slot, or
// hashing itself failed (a worker process died). Neither says anything
// about the password, so neither may count as a wrong one. It is nil for
// other errors.
func (s *Service) hashFailure(ctx context.Context, err error) error {
	if err == nil || (ctx.Err() == nil && !errors.Is(err, auth.ErrHashUnavailable)) {
		return nil
	}
	s.log.WarnContext(ctx, "password hash not computed", "err", err)
	return fmt.Errorf("%w: %w", warehouse.ErrHashUnavailable, err)
}

// HashPassword hashes a new password after checking it is acceptable.
func (s *Service) HashPassword(ctx context.Context, password string) (string, error) {
	if err := warehouse.ValidatePassword(password); err != nil {
		return "", err
	}
	h, err := s.hasher.Hash(ctx, password)
	if herr := s.hashFailure(ctx, err); herr != nil {
		return "", herr
	}
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// The in-memory state updates, for a service without state (the CLI).

func (s *Service) setUser(u *warehouse.User) {
	if s.state != nil {
		s.state.SetUser(u)
	}
}

func (s *Service) endSession(e warehouse.EndedSession) {
	if s.state != nil {
		s.state.EndSession(e.ID, e.ExpiresAt)
	}
}

// sync applies the auth events just written to the in-memory state now,
// so this instance enforces them at once; other instances follow within
// their sync interval.
func (s *Service) sync(ctx context.Context) {
	if s.state == nil {
		return
	}
	if err := s.state.Poll(ctx); err != nil {
		s.log.WarnContext(ctx, "auth state sync failed; the background loop will retry", "err", err)
	}
}
