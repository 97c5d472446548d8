package warehouse

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEvent is one recorded change to master data (items, locations,
// users) or one security event (Kind set). Entity and EntityID are what
// the event is about: for a security event its subject (a user, a session
// or a signing key).
type AuditEvent struct {
	ID       int64           `json:"id"`
	Kind     string          `json:"kind,omitempty" doc:"The security event's kind (login_succeeded, login_failed, ...); absent for master-data changes"`
	Entity   string          `json:"entity" doc:"item, location, user, session or key: what the event is about (a security event's subject)"`
	EntityID string          `json:"entity_id" doc:"The item's or location's id, the username, the session id or the key id"`
	Action   string          `json:"action" doc:"create, update, unlock (users); for a security event its kind"`
	Before   json.RawMessage `json:"before" doc:"The record before the change (null on create and for most security events)"`
	After    json.RawMessage `json:"after" doc:"The record after the change (null for most security events)"`
	Actor    string          `json:"actor" doc:"Who did it: a username, cli or system; for a login the username tried"`
	IP       string          `json:"ip,omitempty" doc:"The client's address, as the server believes it (X-Forwarded-For counts only from --trusted-proxies)"`
	// UserAgent is cut to MaxAuditUserAgent bytes.
	UserAgent string          `json:"user_agent,omitempty" doc:"The client's User-Agent, truncated"`
	RequestID string          `json:"request_id,omitempty" doc:"The request's X-Request-ID, as the server answered it"`
	Detail    json.RawMessage `json:"detail,omitempty" doc:"A small JSON object about a security event (scope, old and new roles, session ids); never a token, password or key"`
	At        time.Time       `json:"at"`
}

// AuditFilter narrows an audit event listing; zero fields match all.
type AuditFilter struct {
	Entity   string
	EntityID string
	// Kinds matches security events of any of these kinds.
	Kinds []string
	Actor string
	// Since and Until bound the time: Since <= at < Until.
	Since, Until time.Time
	// ChangesOnly leaves the security events out (a manager's listing).
	ChangesOnly bool
}

// The kinds of security events in the audit trail.
const (
	KindLoginSucceeded  = "login_succeeded"
	KindLoginFailed     = "login_failed" // bad credentials, also for an unknown username
	KindLoginThrottled  = "login_throttled"
	KindAccountLocked   = "account_locked" // the failure that trips the lockout
	KindAccountUnlocked = "account_unlocked"
	KindRefreshReuse    = "refresh_token_reuse"
	KindTokenRevoked    = "token_revoked"
	KindLogout          = "logout"
	KindSessionEnded    = "session_ended"
	KindRoleChanged     = "role_changed"
	KindPasswordChanged = "password_changed"
	KindUserDeactivated = "user_deactivated"
	KindUserReactivated = "user_reactivated"
	KindUserCreated     = "user_created"
	KindKeyRotated      = "key_rotated"
	KindKeyRetired      = "key_retired"
)

// MaxAuditUserAgent is how many bytes of a User-Agent the trail keeps.
const MaxAuditUserAgent = 256

// SecurityKinds are the security event kinds, in the order above.
var SecurityKinds = []string{KindLoginSucceeded, KindLoginFailed, KindLoginThrottled, KindAccountLocked,
	KindAccountUnlocked, KindRefreshReuse, KindTokenRevoked, KindLogout, KindSessionEnded, KindRoleChanged,
	KindPasswordChanged, KindUserDeactivated, KindUserReactivated, KindUserCreated, KindKeyRotated, KindKeyRetired}

// MaxAuditKinds is how many kinds one listing may ask for.
const MaxAuditKinds = 16

// SecurityEvent is a security event to record: who did what to whom. The
// client's address, User-Agent and request id come from the context's
// Origin where it is recorded.
type SecurityEvent struct {
	Kind  string
	Actor string
	// Entity and EntityID are the subject: "user" and a username,
	// "session" and a session id, "key" and a key id.
	Entity, EntityID string
	// Detail is a small JSON object; never a token, password or key (a
	// token id neither: it would let a reader tell tokens apart).
	Detail map[string]any
}

// Origin is where a request came from, as the audit trail records it: the
// client's address (as the server believes it), its User-Agent and the
// request id. HTTP puts it in the context; the CLI leaves it empty.
type Origin struct {
	IP        string
	UserAgent string
	RequestID string
}

type originKey struct{}

// WithOrigin returns ctx carrying o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the Origin in ctx (zero if none).
func OriginFrom(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}
