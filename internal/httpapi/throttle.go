package httpapi

import (
	"time"

	"github.com/warehouse-api/warehouse/internal/session"
)

// LoginThrottle limits password guessing per account (see session.Throttle,
// which enforces it).
type LoginThrottle = session.Throttle

// seconds is n seconds, in English: "1 second", "5 seconds".
func seconds(n int) string { return session.Seconds(n) }

// tooManyLogins is the 429 of a login lockout that ends in wait.
func tooManyLogins(wait time.Duration) *Problem { return domainProblem(session.LoginThrottled(wait)) }
