package httpapi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// countingMetrics records what the edge reports.
type countingMetrics struct {
	mu       sync.Mutex
	resolved map[string]int // route + " " + method -> Request calls
	answers  map[string]int // route + " " + method + " " + status -> answers
}

func (m *countingMetrics) Request(route, method string) func(int, time.Duration) {
	m.mu.Lock()
	m.resolved[route+" "+method]++
	m.mu.Unlock()
	return func(status int, _ time.Duration) {
		m.mu.Lock()
		m.answers[route+" "+method+" "+strconv.Itoa(status)]++
		m.mu.Unlock()
	}
}

func (m *countingMetrics) LoginOutcome(string) {}

// TestObserverLabels: the route label is the matched pattern's template
// ("unmatched" for the mux's catch-all and for no match), a method not
// in the short list counts as "other", and each route and method is
// resolved once, at start for the pattern's own method, however many
// requests follow.
func TestObserverLabels(t *testing.T) {
	m := &countingMetrics{resolved: map[string]int{}, answers: map[string]int{}}
	o := newObserver(slog.New(slog.DiscardHandler), AccessLogOff, m, []string{"GET /api/v1/items/{id}", "POST /login", "/"})
	if diff := cmp.Diff(map[string]int{"/api/v1/items/{id} GET": 1, "/login POST": 1}, m.resolved); diff != "" {
		t.Errorf("resolved at start (-want +got):\n%s", diff)
	}
	for _, rq := range []struct {
		method, pattern string
		status          int
	}{
		{"GET", "GET /api/v1/items/{id}", 200},
		{"GET", "GET /api/v1/items/{id}", 200},
		{"HEAD", "GET /api/v1/items/{id}", 404},
		{"POST", "POST /login", 401},
		{"BREW", "/", 405},
		{"GET", "", 404},
		{"GET", "GET /not/registered", 200},
	} {
		r := httptest.NewRequest(rq.method, "/whatever/12345", nil)
		r.Pattern = rq.pattern
		st := &reqState{statusWriter: statusWriter{ResponseWriter: httptest.NewRecorder(), status: rq.status}, req: r, id: [1]string{"id"}}
		o.done(context.Background(), r, st, time.Now())
	}
	if diff := cmp.Diff(map[string]int{
		"/api/v1/items/{id} GET 200": 2, "/api/v1/items/{id} HEAD 404": 1, "/login POST 401": 1,
		"unmatched other 405": 1, "unmatched GET 404": 1, "/not/registered GET 200": 1,
	}, m.answers); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"/api/v1/items/{id} GET": 1, "/api/v1/items/{id} HEAD": 1, "/login POST": 1,
		"unmatched other": 1, "unmatched GET": 1, "/not/registered GET": 1}, m.resolved); diff != "" {
		t.Errorf("resolved (-want +got):\n%s", diff)
	}
}
