package session

// Metrics is what the token lifecycle reports, declared here where it is
// used (internal/metrics implements it with Prometheus counters). Deps
// without one report nowhere.
type Metrics interface {
	// LoginOutcome counts one password login: OutcomeOK,
	// OutcomeBadCredentials, OutcomeLocked or OutcomeThrottled.
	LoginOutcome(outcome string)
	// TokensIssued counts tokens handed out (a login or a rotation: one
	// of each).
	TokensIssued(access, refresh int)
	// Refreshed counts a successful refresh (a rotation, or its replay
	// within the reuse interval).
	Refreshed()
	// Revoked counts a revoked token of type auth.TypeAccess or
	// auth.TypeRefresh.
	Revoked(typ string)
	// ReuseDetected counts a retired refresh token presented again after
	// the grace: its session ended.
	ReuseDetected()
}

// The outcomes of a password login, each attempt exactly one.
const (
	OutcomeOK             = "ok"
	OutcomeBadCredentials = "bad_credentials"
	// OutcomeLocked is the failed login that locked the account.
	OutcomeLocked = "locked"
	// OutcomeThrottled is a login refused before its password was
	// checked: the account is locked out, or (at the HTTP edge) its
	// client address made too many.
	OutcomeThrottled = "throttled"
)

// nopMetrics is Metrics when there are none.
type nopMetrics struct{}

func (nopMetrics) LoginOutcome(string)   {}
func (nopMetrics) TokensIssued(int, int) {}
func (nopMetrics) Refreshed()            {}
func (nopMetrics) Revoked(string)        {}
func (nopMetrics) ReuseDetected()        {}
