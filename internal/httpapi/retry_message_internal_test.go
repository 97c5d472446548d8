package httpapi

import (
	"strings"
	"testing"
	"time"
)

// TestRetryMessages: the wait a 429 tells a person is in good English
// ("1 second", not "1 seconds"), and matches Retry-After.
func TestRetryMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		wait      time.Duration
		want, hdr string
	}{
		{300 * time.Millisecond, "try again in 1 second", "1"},
		{time.Second, "try again in 1 second", "1"},
		{1500 * time.Millisecond, "try again in 2 seconds", "2"},
		{5 * time.Minute, "try again in 300 seconds", "300"},
	}
	for _, tt := range tests {
		for name, p := range map[string]*Problem{"account": tooManyLogins(tt.wait), "address": tooManyFromIP(tt.wait)} {
			if !strings.HasSuffix(p.Detail, tt.want) || strings.Contains(p.Detail, " 1 seconds") {
				t.Errorf("%s, wait %v: %q, want it to end %q", name, tt.wait, p.Detail, tt.want)
			}
			if got := p.headers.Get("Retry-After"); got != tt.hdr {
				t.Errorf("%s, wait %v: Retry-After %q, want %q", name, tt.wait, got, tt.hdr)
			}
		}
	}
}
