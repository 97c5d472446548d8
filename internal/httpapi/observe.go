package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics is what the edge reports of requests, declared here where it is
// used (internal/metrics implements it; nil in Deps: no metrics).
type Metrics interface {
	// Request returns the function that counts an answer of one route
	// template and method (its status, its duration). The edge calls it
	// once per route at start, and once for a method first seen later,
	// never per request.
	Request(route, method string) func(status int, d time.Duration)
	// LoginOutcome counts a password login the edge refused itself: the
	// per-address limit (session.OutcomeThrottled).
	LoginOutcome(outcome string)
}

type nopMetrics struct{}

func (nopMetrics) Request(string, string) func(int, time.Duration) {
	return func(int, time.Duration) {}
}
func (nopMetrics) LoginOutcome(string) {}

// The --access-log modes.
const (
	AccessLogOn     = "on"     // a line per request
	AccessLogOff    = "off"    // none
	AccessLogErrors = "errors" // a line per answer with status >= 400
)

// CheckAccessLog reports whether v is an --access-log mode.
func CheckAccessLog(v string) error {
	switch v {
	case AccessLogOn, AccessLogOff, AccessLogErrors:
		return nil
	}
	return fmt.Errorf("--access-log must be on, off or errors, not %q", v)
}

// routeUnmatched is the route label of a request no route took: the
// fallback's 404/405, and what the edge answers before routing (a CORS
// preflight, a body declared too large, an ambiguous framing).
const routeUnmatched = "unmatched"

// The methods the metrics tell apart; any other is "other", so a client
// inventing methods cannot add series.
var metricMethods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "other"}

func methodSlot(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	}
	return len(metricMethods) - 1
}

// routeObs is what the edge keeps of one mux pattern: its template, for
// the access log and the route label, and its metrics per method, each
// resolved once.
type routeObs struct {
	route string
	count [len(metricMethods)]atomic.Pointer[func(int, time.Duration)]
}

// observe counts one answer. The counting function of the route and
// method is resolved on first use (at start for the method of the route's
// pattern) and kept.
func (ro *routeObs) observe(m Metrics, method string, status int, d time.Duration) {
	i := methodSlot(method)
	f := ro.count[i].Load()
	if f == nil {
		ro.observeFn(m, i)
		f = ro.count[i].Load()
	}
	(*f)(status, d)
}

// observer is the edge's access log and request metrics.
type observer struct {
	log     *slog.Logger
	mode    string
	metrics Metrics // nil: none
	// routes are the registered patterns, made at start and only read
	// after; others holds patterns met that were not in it (none, unless
	// a route is registered some other way than the route table).
	routes    map[string]*routeObs
	others    sync.Map // pattern -> *routeObs
	unmatched *routeObs
}

// newObserver prepares the access log and metrics of the mux patterns.
func newObserver(log *slog.Logger, mode string, m Metrics, patterns []string) *observer {
	if mode == "" {
		mode = AccessLogOn
	}
	o := &observer{log: log, mode: mode, metrics: m, routes: make(map[string]*routeObs, len(patterns)), unmatched: &routeObs{route: routeUnmatched}}
	for _, p := range patterns {
		ro := newRouteObs(p)
		o.routes[p] = ro
		if method, _, ok := strings.Cut(p, " "); ok && m != nil && ro.route != routeUnmatched {
			// Every route's series exist from the first scrape.
			ro.observeFn(m, methodSlot(method))
		}
	}
	return o
}

func newRouteObs(pattern string) *routeObs {
	_, path, ok := strings.Cut(pattern, " ")
	if !ok {
		path = pattern
	}
	if path == "/" {
		// The mux's catch-all is the fallback (404/405): nothing matched.
		return &routeObs{route: routeUnmatched}
	}
	return &routeObs{route: path}
}

// observeFn resolves the counting function of method slot i.
func (ro *routeObs) observeFn(m Metrics, i int) {
	fn := m.Request(ro.route, metricMethods[i])
	ro.count[i].CompareAndSwap(nil, &fn)
}

// RouteTemplates are the route labels the metrics and the access log can
// show: every registered route's template, and "unmatched".
func (s *Server) RouteTemplates() []string {
	out := []string{routeUnmatched}
	for _, p := range s.patterns {
		if r := newRouteObs(p).route; !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// routeOf is the route of the pattern the mux matched ("" when none did).
func (o *observer) routeOf(pattern string) *routeObs {
	if pattern == "" {
		return o.unmatched
	}
	if ro, ok := o.routes[pattern]; ok {
		return ro
	}
	if ro, ok := o.others.Load(pattern); ok {
		return ro.(*routeObs)
	}
	ro, _ := o.others.LoadOrStore(pattern, newRouteObs(pattern))
	return ro.(*routeObs)
}

// done is the end of every request at the edge: its metrics and its
// access log line. It allocates nothing unless a line is written.
func (o *observer) done(ctx context.Context, r *http.Request, st *reqState, start time.Time) {
	status := st.status
	if status == 0 {
		status = http.StatusOK
	}
	logged := o.mode == AccessLogOn || (o.mode == AccessLogErrors && status >= 400)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	logged = logged && o.log.Enabled(ctx, level)
	if o.metrics == nil && !logged {
		return
	}
	d := time.Since(start)
	ro := o.routeOf(r.Pattern)
	if o.metrics != nil {
		ro.observe(o.metrics, r.Method, status, d)
	}
	if !logged {
		return
	}
	// The route template, never the path: a path (or a query string) can
	// carry what a client should not have put there, and the template is
	// what the metrics use. Never a header, so never a token.
	attrs := [...]slog.Attr{
		slog.String("method", r.Method), slog.String("route", ro.route),
		slog.Int("status", status), slog.Int("bytes", st.bytes),
		slog.Duration("duration", d), slog.String("request_id", st.id[0]),
		slog.String("user", ""),
	}
	n := len(attrs) - 1
	if st.auth != nil {
		attrs[n] = slog.String("user", st.auth.Claims.Subject)
		n++
	}
	o.log.LogAttrs(ctx, level, "request", attrs[:n]...)
}
