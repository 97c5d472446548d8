package warehouse

import "time"

// Session is one login: every token issued from it carries its id.
type Session struct {
	ID         string
	Username   string
	UserAgent  string
	IP         string
	ViaCookies bool
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	EndedAt    time.Time // zero while active
	EndReason  string
}

// Why sessions end.
const (
	EndLogout        = "logout"
	EndRevoked       = "revoked"
	EndRefreshReuse  = "refresh_token_reuse"
	EndExpired       = "expired"
	EndInactive      = "inactive"
	EndUserChanged   = "user_changed"
	EndPasswordReset = "password_changed"
)

// Logout scopes, as GoTrue has them: the caller's current session (local),
// all their other sessions (others) or all of them (global).
const (
	ScopeLocal  = "local"
	ScopeOthers = "others"
	ScopeGlobal = "global"
)

// EndedSession is an ended session whose tokens could still verify.
type EndedSession struct {
	ID        string
	ExpiresAt time.Time
}

// RefreshToken is a stored refresh token: its id and a hash, never the token.
type RefreshToken struct {
	JTI       string
	Username  string
	SessionID string
	ExpiresAt time.Time
}

// RefreshRequest asks to rotate a refresh token.
type RefreshRequest struct {
	OldJTI   string
	OldToken string
	// Next is the refresh token that replaces the old one, and NextToken
	// the token itself; Sealed is the whole new pair sealed with a key
	// derived from OldToken (kept for the grace interval).
	Next      RefreshToken
	NextToken string
	Sealed    []byte
	// Grace is how long the retired token may still get the same new pair;
	// 0 turns the grace off.
	Grace time.Duration
	// Inactivity ends a session not refreshed for that long (0: never).
	Inactivity time.Duration
}

// RefreshResult says what a rotation did.
type RefreshResult struct {
	// Replayed is set when the old token had already been rotated within
	// the grace interval: Sealed is the pair it was rotated into.
	Replayed bool
	Sealed   []byte
	Session  Session
}

// Codes of the auth outcomes, one per thing a client may need to tell
// apart (the HTTP renderers map each to a status, /token to an RFC 6749
// error). They are the codes the API has always sent.
const (
	// EBADCREDENTIALS: wrong password, unknown or inactive user (alike).
	EBADCREDENTIALS = "bad_credentials"
	// ELOGINTHROTTLED: too many failed logins for the username; the error's
	// RetryAfter says when to try again.
	ELOGINTHROTTLED = "too_many_login_attempts"
	// ETOKENREVOKED: the token, its session or its successor was revoked.
	ETOKENREVOKED = "token_revoked"
	// ESESSIONEXPIRED: the session passed its lifetime or was idle too long.
	ESESSIONEXPIRED = "session_expired"
	// EREFRESHREUSE: a retired refresh token came back; the session ended.
	EREFRESHREUSE = "refresh_token_reused"
	// EWRONGPASSWORD: the current password given to change it is wrong.
	EWRONGPASSWORD = "wrong_password"
)

// Refresh outcomes that are not plain successes.
var (
	// ErrSessionEnded: the token's session was ended (logout, reuse, ...).
	ErrSessionEnded = &Error{Code: ETOKENREVOKED, Message: "Token has been revoked"}
	// ErrSessionExpired: the session passed its lifetime or was idle too long.
	ErrSessionExpired = &Error{Code: ESESSIONEXPIRED, Message: "Session has expired"}
	// ErrRefreshReuseDetected: a retired refresh token came back outside the
	// grace interval; the whole session has been ended.
	ErrRefreshReuseDetected = &Error{Code: EREFRESHREUSE, Message: "Refresh token reuse detected; the session has been revoked"}
	// ErrRefreshReused: the presented refresh token is unknown (never
	// issued, purged, or forged with a real id).
	ErrRefreshReused = &Error{Code: ETOKENREVOKED, Message: "Token has been revoked"}
	// ErrTokenRevoked: the token was revoked, or a successor about to be
	// handed out again no longer passes verification.
	ErrTokenRevoked = &Error{Code: ETOKENREVOKED, Message: "Token has been revoked"}
	// ErrBadCredentials answers every failed password login alike.
	ErrBadCredentials = &Error{Code: EBADCREDENTIALS, Message: "Bad username or password"}
	// ErrWrongPassword: the current password does not match (password change).
	ErrWrongPassword = &Error{Code: EWRONGPASSWORD, Message: "Current password is incorrect"}
	// ErrHashUnavailable: a password hash could not be computed (the request
	// ended while waiting for a slot, or a hash worker failed); it says
	// nothing about the password.
	ErrHashUnavailable = &Error{Code: EUNAVAILABLE, Message: "Server busy; try again shortly"}
)

// Revocation is one revoked token id and when its token expires.
type Revocation struct {
	JTI       string
	ExpiresAt time.Time
}

// ExpiryMargin is how long a revocation is kept after its token expired:
// longer than any clock-skew leeway a verifier allows, so a revoked token
// never becomes usable again inside the leeway.
const ExpiryMargin = time.Hour

// Kinds of auth events.
const (
	EventRevoke  = "revoke"
	EventSession = "session"
	EventUser    = "user"
	EventKeys    = "keys"
)

// AuthEvent is a change that every instance applies to its auth state. For
// a revocation, ExpiresAt is the token's expiry.
type AuthEvent struct {
	ID int64
	// TX is the writing transaction's id on PostgreSQL (0 on SQLite): the
	// log is read in (TX, ID) order, see AuthEventPos.
	TX        int64
	Kind      string
	Subject   string
	ExpiresAt time.Time
}

// Pos returns the event's position in the log.
func (e AuthEvent) Pos() AuthEventPos { return AuthEventPos{TX: e.TX, ID: e.ID} }

// AuthEventPos is a follower's position in the auth event log: the last
// event applied, in (TX, ID) order. On PostgreSQL ids are handed out in
// the order transactions write, not the order they commit; ordered by
// writing transaction first, an event that commits late still comes after
// the position of a follower that read while it was in flight.
type AuthEventPos struct{ TX, ID int64 }

// Before reports whether p comes before q in the log.
func (p AuthEventPos) Before(q AuthEventPos) bool {
	return p.TX < q.TX || (p.TX == q.TX && p.ID < q.ID)
}

// IsRevocation reports whether e revokes a token id (Subject).
func (e AuthEvent) IsRevocation() bool { return e.Kind == EventRevoke }

// IsSessionEnd reports whether e ends a session (Subject).
func (e AuthEvent) IsSessionEnd() bool { return e.Kind == EventSession }

// SigningKey is a stored token signing key.
type SigningKey struct {
	ID        string
	Algorithm string
	Secret    []byte
	CreatedAt time.Time
	RetiredAt time.Time // zero while current
}

// IsKeyChange reports whether the signing keys changed.
func (e AuthEvent) IsKeyChange() bool { return e.Kind == EventKeys }

// IsUserChange reports whether e says a user (Subject) changed.
func (e AuthEvent) IsUserChange() bool { return e.Kind == EventUser }
