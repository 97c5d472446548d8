// Package metrics is the server's Prometheus instrumentation: one
// registry per server (never the global default one) holding every
// collector, and the small interfaces the services, the store and the HTTP
// edge declare for what they report (session.Metrics, inventory.Metrics,
// store.BatchMetrics, httpapi.Metrics), implemented here. Nothing outside
// this package and internal/app imports Prometheus: a service only sees
// its own interface, with a no-op default when metrics are off.
//
// Names follow Prometheus' conventions: base units (seconds), _total for
// counters, labels of bounded cardinality only (HTTP routes are the route
// table's templates, never raw paths).
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The label values of warehouse_logins_total, warehouse_tokens_*_total
// and warehouse_movements_posted_total known in advance: their children
// are made at start, so every series exists (at 0) from the first scrape,
// and counting one is a single atomic add.
var (
	loginOutcomes = []string{"ok", "bad_credentials", "throttled", "locked"}
	tokenTypes    = []string{"access", "refresh"}
	movementTypes = []string{"receipt", "issue", "transfer", "adjustment", "count", "reversal"}
)

// Metrics is one server's registry and collectors. Its methods are safe
// for concurrent use; a nil *Metrics must not be used (callers hold the
// interface of their package, with its own no-op default).
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	logins     *prometheus.CounterVec
	loginByOut map[string]prometheus.Counter
	issued     *prometheus.CounterVec
	access     prometheus.Counter
	refresh    prometheus.Counter
	refreshed  prometheus.Counter
	revoked    *prometheus.CounterVec
	revokedBy  map[string]prometheus.Counter
	reuse      prometheus.Counter
	movements  *prometheus.CounterVec
	movedBy    map[string]prometheus.Counter

	batchSize  prometheus.Histogram
	commitTime prometheus.Histogram
}

// HTTPBuckets are the request latency buckets, in seconds: the API answers
// in about a millisecond, so they start well below Prometheus' default.
var HTTPBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New returns the metrics of one server, with the Go runtime and process
// collectors registered.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "HTTP requests answered, by route template (route=\"unmatched\" for requests no route took), method and status.",
	}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Time from the request's arrival at the server's handler to its answer, by route template and method.",
		Buckets: HTTPBuckets,
	}, []string{"route", "method"})
	f(m.httpRequests)
	f(m.httpDuration)

	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warehouse_logins_total",
		Help: "Password logins by outcome: ok, bad_credentials, locked (the failure that locked the account), throttled (refused unchecked: account locked out, or too many from the client's address).",
	}, []string{"outcome"})
	m.loginByOut = children(m.logins, loginOutcomes)
	m.issued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warehouse_tokens_issued_total",
		Help: "Tokens signed and handed out, by type (a login or a refresh issues one of each).",
	}, []string{"type"})
	m.access, m.refresh = m.issued.WithLabelValues("access"), m.issued.WithLabelValues("refresh")
	m.refreshed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "warehouse_tokens_refreshed_total",
		Help: "Successful refreshes (rotations, and replays of a rotation within the reuse interval).",
	})
	m.revoked = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warehouse_tokens_revoked_total",
		Help: "Tokens revoked by /access-revoke, /refresh-revoke or /revoke, by type.",
	}, []string{"type"})
	m.revokedBy = children(m.revoked, tokenTypes)
	m.reuse = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "warehouse_refresh_reuse_detected_total",
		Help: "Retired refresh tokens presented after the reuse interval: each ended its session.",
	})
	m.movements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warehouse_movements_posted_total",
		Help: "Stock movements posted through the API or the console (replays of an Idempotency-Key not counted), by type; reversals as type=\"reversal\".",
	}, []string{"type"})
	m.movedBy = children(m.movements, movementTypes)
	f(m.logins)
	f(m.issued)
	f(m.refreshed)
	f(m.revoked)
	f(m.reuse)
	f(m.movements)

	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "warehouse_sqlite_commit_batch_size",
		Help:    "Write transactions committed together by one SQLite COMMIT (group commit; SQLite only).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})
	m.commitTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "warehouse_sqlite_commit_duration_seconds",
		Help:    "Time of one group commit's COMMIT statement (SQLite only).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8), // 0.1 ms .. 1.6 s
	})
	f(m.batchSize)
	f(m.commitTime)
	return m
}

func children(v *prometheus.CounterVec, values []string) map[string]prometheus.Counter {
	out := make(map[string]prometheus.Counter, len(values))
	for _, val := range values {
		out[val] = v.WithLabelValues(val)
	}
	return out
}

// inc adds one to known[value], or to the child of value if it is not one
// of the known values (a new outcome or type: counted, not lost).
func inc(v *prometheus.CounterVec, known map[string]prometheus.Counter, value string) {
	if c, ok := known[value]; ok {
		c.Inc()
		return
	}
	v.WithLabelValues(value).Inc()
}

// Registry is the registry every collector is in (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, when a scraper asks for it), with promhttp's own counters
// of scrapes.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Registry:          m.reg,
		EnableOpenMetrics: true,
		Timeout:           10 * time.Second,
	})
	return promhttp.InstrumentMetricHandler(m.reg, h)
}

// Session service (session.Metrics).

// LoginOutcome counts one password login by its outcome.
func (m *Metrics) LoginOutcome(outcome string) { inc(m.logins, m.loginByOut, outcome) }

// TokensIssued counts tokens handed out.
func (m *Metrics) TokensIssued(access, refresh int) {
	m.access.Add(float64(access))
	m.refresh.Add(float64(refresh))
}

// Refreshed counts a successful refresh.
func (m *Metrics) Refreshed() { m.refreshed.Inc() }

// Revoked counts a revoked token of typ ("access" or "refresh").
func (m *Metrics) Revoked(typ string) { inc(m.revoked, m.revokedBy, typ) }

// ReuseDetected counts a refresh token reuse that ended its session.
func (m *Metrics) ReuseDetected() { m.reuse.Inc() }

// Inventory service (inventory.Metrics).

// MovementPosted counts a movement posted of typ.
func (m *Metrics) MovementPosted(typ string) { inc(m.movements, m.movedBy, typ) }

// Store (store.BatchMetrics).

// CommitBatch records one SQLite group commit: how many write
// transactions it committed and how long its COMMIT took.
func (m *Metrics) CommitBatch(size int, commit time.Duration) {
	m.batchSize.Observe(float64(size))
	m.commitTime.Observe(commit.Seconds())
}

// Pulled at scrape time: database pools, hashing, auth state lag.

// Pool is a database/sql pool to report (go_sql_* with db_name="warehouse"
// and pool=Name).
type Pool struct {
	Name string
	DB   *sql.DB
}

// AddDBPools registers the standard database/sql pool statistics of each
// pool, told apart by a pool label (read and write on SQLite, one shared
// pool on PostgreSQL).
func (m *Metrics) AddDBPools(pools ...Pool) {
	for _, p := range pools {
		reg := prometheus.WrapRegistererWith(prometheus.Labels{"pool": p.Name}, m.reg)
		reg.MustRegister(collectors.NewDBStatsCollector(p.DB, "warehouse"))
	}
}

// HashLoad is what the password hasher says of its load (auth.Hasher).
type HashLoad interface {
	Load() (busy, queued int)
}

// AddHashLoad registers the hash gauges: hashes running and waiting for
// a slot (the slots are --hash-concurrency; with --hash-workers process,
// one per worker process).
func (m *Metrics) AddHashLoad(h HashLoad) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "warehouse_hash_workers_busy",
		Help: "Password hashes running now (at most --hash-concurrency).",
	}, func() float64 { busy, _ := h.Load(); return float64(busy) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "warehouse_hash_queue_length",
		Help: "Password hashes waiting for a free hash slot.",
	}, func() float64 { _, queued := h.Load(); return float64(queued) }))
}

// AuthLag is how far the in-memory auth state is behind the database
// (authstate.State).
type AuthLag interface {
	Lag(ctx context.Context) (events int64, behind time.Duration, err error)
}

// AddAuthLag registers the auth state lag gauges, read once per scrape
// (one cheap query for the database's last event id).
func (m *Metrics) AddAuthLag(l AuthLag, log *slog.Logger) {
	m.reg.MustRegister(&lagCollector{lag: l, log: log,
		events: prometheus.NewDesc("warehouse_auth_state_lag_events",
			"Auth events (revocations, ended sessions, user and key changes) in the database not yet applied to this instance's memory.", nil, nil),
		seconds: prometheus.NewDesc("warehouse_auth_state_lag_seconds",
			"How long this instance's auth state has been behind the database: 0 when caught up, else the time since it last was.", nil, nil),
	})
}

// lagCollector reads the lag once per scrape and reports both gauges.
type lagCollector struct {
	lag             AuthLag
	log             *slog.Logger
	events, seconds *prometheus.Desc
	// failing is set while the database cannot be read, so that an outage
	// is logged once, not at every scrape.
	failing atomic.Bool
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.seconds
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	events, behind, err := c.lag.Lag(ctx)
	if err != nil {
		// The event count needs the database; the time behind does not.
		if !c.failing.Swap(true) {
			c.log.Warn("metrics: auth state lag not read; warehouse_auth_state_lag_events is left out until it is", "err", err)
		}
	} else {
		c.failing.Store(false)
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(events))
	}
	ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, behind.Seconds())
}

// HTTP edge (httpapi.Metrics).

// Request returns the observer of one route template and method, which
// counts an answer of status that took d: the edge resolves it once per
// route at start (and once for a method first seen later), so a request
// costs no label lookup. (A func, not an interface, so that the edge's
// declaration of it is the same type as this one.)
func (m *Metrics) Request(route, method string) func(status int, d time.Duration) {
	o := &requestObserver{duration: m.httpDuration.WithLabelValues(route, method), requests: m.httpRequests, route: route, method: method}
	return o.Observe
}

// requestObserver holds the route's histogram child, and its counters by
// status, each made on the status' first request and kept.
type requestObserver struct {
	duration      prometheus.Observer
	requests      *prometheus.CounterVec
	route, method string
	byStatus      [len(commonStatuses)]atomic.Pointer[prometheus.Counter]
}

// commonStatuses are the statuses that get a slot; others (rare) take the
// CounterVec's lookup.
var commonStatuses = [...]int{200, 201, 204, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 409, 410, 412, 413, 415, 422, 428, 429, 500, 501, 502, 503, 504}

func statusSlot(code int) int {
	lo, hi := 0, len(commonStatuses)
	for lo < hi {
		mid := (lo + hi) / 2
		switch c := commonStatuses[mid]; {
		case c == code:
			return mid
		case c < code:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return -1
}

// Observe counts one answer of status that took d.
func (o *requestObserver) Observe(status int, d time.Duration) {
	o.duration.Observe(d.Seconds())
	i := statusSlot(status)
	if i < 0 {
		o.requests.WithLabelValues(o.route, o.method, strconv.Itoa(status)).Inc()
		return
	}
	if c := o.byStatus[i].Load(); c != nil {
		(*c).Inc()
		return
	}
	c := o.requests.WithLabelValues(o.route, o.method, strconv.Itoa(status))
	o.byStatus[i].CompareAndSwap(nil, &c) // a racing request stored the same child
	c.Inc()
}
