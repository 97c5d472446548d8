package httpapi

import (
	"fmt"
	"testing"
	"time"
)

func TestIPLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := newIPLimiter(1, 3)
	for i := range 3 {
		if ok, _ := l.allow("198.51.100.7", now); !ok {
			t.Fatalf("attempt %d refused inside the burst", i+1)
		}
	}
	ok, wait := l.allow("198.51.100.7", now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th attempt: ok %v wait %v", ok, wait)
	}
	if ok, _ := l.allow("198.51.100.8", now); !ok {
		t.Fatal("another address is limited too")
	}
	if ok, _ := l.allow("198.51.100.7", now.Add(time.Second)); !ok {
		t.Fatal("no token after a second at 1/s")
	}
	if newIPLimiter(0, 10) != nil {
		t.Fatal("rate 0 must mean no limiter")
	}
	var none *ipLimiter
	if ok, _ := none.allow("x", now); !ok {
		t.Fatal("nil limiter refuses")
	}
}

// TestIPLimiterBounded: a flood of distinct addresses does not grow the
// map without end.
func TestIPLimiterBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := newIPLimiter(1, 5)
	for i := range 3 * maxIPBuckets {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(l.buckets); n > maxIPBuckets {
		t.Fatalf("%d buckets kept", n)
	}
}
