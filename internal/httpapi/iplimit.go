package httpapi

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/warehouse-api/warehouse"
)

// ipLimiter bounds password logins per client IP with a token bucket each
// (golang.org/x/time/rate). It is per instance, on purpose: per-account
// failures are shared through the database (LoginThrottle); this only has
// to stop one address from hammering one instance with hashes. The client
// IP is Server.origin's: behind a load balancer listed in --trusted-proxies
// it is the address the balancer forwards in X-Forwarded-For, otherwise the
// TCP peer's (a client cannot pick its bucket with a header).
type ipLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*ipBucket
}

type ipBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxIPBuckets bounds memory: past it, idle buckets are swept.
const maxIPBuckets = 10000

func newIPLimiter(perSecond float64, burst int) *ipLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &ipLimiter{limit: rate.Limit(perSecond), burst: max(1, burst), buckets: map[string]*ipBucket{}}
}

// allow takes one login attempt for ip, or says how long to wait.
func (l *ipLimiter) allow(ip string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= maxIPBuckets {
			l.sweep(now)
		}
		b = &ipBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[ip] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep drops buckets that have refilled (idle long enough to be full),
// and, if that is not enough, the oldest half.
func (l *ipLimiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	for ip, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, ip)
		}
	}
	if len(l.buckets) < maxIPBuckets/2 {
		return
	}
	var cut time.Time
	for _, b := range l.buckets {
		if cut.IsZero() || b.seen.Before(cut) {
			cut = b.seen
		}
	}
	cut = cut.Add(now.Sub(cut) / 2)
	for ip, b := range l.buckets {
		if b.seen.Before(cut) {
			delete(l.buckets, ip)
		}
	}
}

func tooManyFromIP(wait time.Duration) *Problem {
	secs := int(math.Ceil(wait.Seconds()))
	secs = max(1, secs)
	return problemFor(retryAfter(warehouse.Errorf(codeTooManyRequests,
		"Too many login attempts from this address; try again in %s", seconds(secs)), time.Duration(secs)*time.Second))
}
