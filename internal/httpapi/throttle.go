package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// codeBadCredentials is the problem code of a failed password login.
const codeBadCredentials = "bad_credentials"

// LoginThrottle limits password guessing per account. The failures are
// counted in the database, so every instance behind a load balancer
// enforces the same count: spreading guesses over instances gains nothing.
// After MaxFailures failed logins for one username within Lockout, logins
// for that username answer 429 with Retry-After until Lockout has passed;
// a successful login resets the count. Tokens already issued keep working,
// so a lockout provoked by someone else does not log the owner out.
type LoginThrottle struct {
	// MaxFailures is how many failures lock the username (0: 10; negative:
	// no throttling).
	MaxFailures int
	// Lockout is both the window failures are counted in and how long the
	// lockout lasts (0: 5 minutes).
	Lockout time.Duration
}

func (lt LoginThrottle) limits() (int, time.Duration) {
	n, d := lt.MaxFailures, lt.Lockout
	if n == 0 {
		n = 10
	}
	if d <= 0 {
		d = 5 * time.Minute
	}
	return n, d
}

// loginThrottled returns the 429 problem while username is locked out,
// else how many failures are counted against it.
func (s *Server) loginThrottled(ctx context.Context, username string) (int, *Problem) {
	if s.cfg.LoginThrottle.MaxFailures < 0 {
		return 0, nil
	}
	until, failures, err := s.db.LoginLockedUntil(ctx, username)
	if err != nil {
		return 0, s.problem(err)
	}
	if until.IsZero() {
		return failures, nil
	}
	return 0, tooManyLogins(until.Sub(s.now()))
}

// loginFailed counts a failure; it never turns the 401 into something
// else, except a 503 when the count cannot be stored (guesses must not go
// uncounted).
func (s *Server) loginFailed(ctx context.Context, username string) *Problem {
	if s.cfg.LoginThrottle.MaxFailures < 0 {
		return nil
	}
	n, d := s.cfg.LoginThrottle.limits()
	until, err := s.db.RecordLoginFailure(ctx, username, n, d, d)
	if err != nil {
		return s.problem(err)
	}
	if !until.IsZero() {
		s.log.Warn("login locked out after repeated failures", "user", username, "failures", n, "until", until)
	}
	return nil
}

// loginSucceeded resets the count; a failure to do so only leaves old
// failures counting until they age out of the window.
func (s *Server) loginSucceeded(ctx context.Context, username string) {
	if err := s.db.ResetLoginFailures(ctx, username); err != nil {
		s.log.Warn("login failures not reset", "user", username, "err", err)
	}
}

// seconds is n seconds, in English: "1 second", "5 seconds".
func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

func tooManyLogins(wait time.Duration) *Problem {
	secs := max(1, int((wait+time.Second-1)/time.Second))
	return newProblem(http.StatusTooManyRequests, "too_many_login_attempts",
		"Too many failed logins for this account; try again in "+seconds(secs)).
		withHeader("Retry-After", strconv.Itoa(secs))
}
