package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// running is an App serving on a real listener until the test ends.
type running struct {
	t    *testing.T
	app  *App
	base string
}

// startApp opens an App of cfg logging to log and runs it until the test
// ends (then stops and closes it, failing the test on an error).
func startApp(t *testing.T, cfg Config, log *slog.Logger) *running {
	t.Helper()
	a, err := Open(context.Background(), cfg, Deps{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &running{t: t, app: a, base: "http://" + a.Addr().String()}
}

// do sends one request (body as JSON, token as a bearer token, hdr as
// name, value pairs) and returns the status, the body and the headers.
func (r *running) do(method, path, body, token string, hdr ...string) (int, []byte, http.Header) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// must is do, failing the test unless the status is want.
func (r *running) must(want int, method, path, body, token string, hdr ...string) []byte {
	r.t.Helper()
	code, b, _ := r.do(method, path, body, token, hdr...)
	if code != want {
		r.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	return b
}

type pair struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

func (r *running) login(user, password string) pair {
	r.t.Helper()
	var p pair
	if err := json.Unmarshal(r.must(http.StatusOK, "POST", "/login", `{"username":"`+user+`","password":"`+password+`"}`, ""), &p); err != nil || p.Access == "" || p.Refresh == "" {
		r.t.Fatalf("login %s: %v %+v", user, err, p)
	}
	return p
}

// scrape is one parse of /metrics, by an independent parser
// (prometheus/common's expfmt).
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, addr net.Addr) (scrape, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr.String()+"/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v: %s", resp.StatusCode, err, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return scrape(fams), string(body)
}

// series returns the samples of family name whose labels include want
// (name=value pairs).
func (s scrape) series(name string, want ...string) []*dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.Metric {
		if hasLabels(m, want...) {
			out = append(out, m)
		}
	}
	return out
}

func hasLabels(m *dto.Metric, want ...string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// value is the counter, gauge or histogram count of the one series of
// name with those labels (0 if there is none).
func (s scrape) value(name string, labels ...string) float64 {
	var v float64
	for _, m := range s.series(name, labels...) {
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v
}

// TestMetrics runs a short scenario on a real server with --metrics-addr
// (the tutorial's login, /user, a refresh, the reuse of the old refresh
// token, a wrong password, a login locked out, a movement and its replay,
// both revocations, a 404) and checks, in /metrics scraped before and
// after, that every counter moved by exactly what the scenario did, that
// the histograms counted, that the route labels are the route table's
// templates, and that the pool, hasher, auth state, Go and process
// collectors are there. On both engines.
func TestMetrics(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		cfg := testConfig(t, engine)
		cfg.MetricsAddr = "127.0.0.1:0"
		cfg.Demo = true
		cfg.RefreshReuse = 0 // a refresh token presented again is reuse at once
		cfg.LoginMaxFail, cfg.LoginLockout = 2, time.Minute
		cfg.SyncInterval = 20 * time.Millisecond
		r := startApp(t, cfg, logcheck.New(t))
		before, _ := scrapeMetrics(t, r.app.MetricsAddr())

		// Every known series is there at 0 before anything happened.
		for _, s := range []struct{ name, label, value string }{
			{"warehouse_logins_total", "outcome", "ok"}, {"warehouse_logins_total", "outcome", "bad_credentials"},
			{"warehouse_logins_total", "outcome", "locked"}, {"warehouse_logins_total", "outcome", "throttled"},
			{"warehouse_tokens_issued_total", "type", "access"}, {"warehouse_tokens_revoked_total", "type", "refresh"},
			{"warehouse_movements_posted_total", "type", "receipt"}, {"http_request_duration_seconds", "route", "/user"},
		} {
			if len(before.series(s.name, s.label, s.value)) != 1 {
				t.Errorf("before the scenario: no %s{%s=%q}", s.name, s.label, s.value)
			}
		}

		first := r.login("joevu", "glinteco")
		r.must(http.StatusOK, "GET", "/user", "", first.Access)
		var second pair
		if err := json.Unmarshal(r.must(http.StatusOK, "POST", "/refresh", "", first.Refresh), &second); err != nil || second.Refresh == "" {
			t.Fatalf("refresh: %v", err)
		}
		r.must(http.StatusUnauthorized, "POST", "/refresh", "", first.Refresh) // reuse: the session ends
		r.must(http.StatusUnauthorized, "POST", "/login", `{"username":"joevu","password":"wrong-password"}`, "")
		for _, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
			// bad_credentials, locked (the second failure), throttled.
			r.must(want, "POST", "/login", `{"username":"ghost","password":"guess-password"}`, "")
		}

		third := r.login("joevu", "glinteco")
		var loc, item struct{ ID int64 }
		_ = json.Unmarshal(r.must(http.StatusCreated, "POST", "/api/v1/locations", `{"code":"M-1","name":"Metrics bay"}`, third.Access), &loc)
		_ = json.Unmarshal(r.must(http.StatusCreated, "POST", "/api/v1/items", `{"sku":"M-SKU","name":"Metered","uom":"ea"}`, third.Access), &item)
		receipt := fmt.Sprintf(`{"type":"receipt","lines":[{"item_id":%d,"to_location_id":%d,"qty":5}]}`, item.ID, loc.ID)
		for range 2 { // the second is a replay: not posted again
			r.must(http.StatusCreated, "POST", "/api/v1/movements", receipt, third.Access, "Idempotency-Key", "metrics-receipt-1")
		}
		r.must(http.StatusOK, "GET", "/api/v1/items/"+strconv.FormatInt(item.ID, 10), "", third.Access)
		r.must(http.StatusNotFound, "GET", "/no/such/path/12345", "", "")
		r.must(http.StatusOK, "DELETE", "/access-revoke", "", third.Access)
		r.must(http.StatusOK, "DELETE", "/refresh-revoke", "", third.Refresh)

		after, text := scrapeMetrics(t, r.app.MetricsAddr())
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"warehouse_logins_total", []string{"outcome", "ok"}, 2},
			{"warehouse_logins_total", []string{"outcome", "bad_credentials"}, 2},
			{"warehouse_logins_total", []string{"outcome", "locked"}, 1},
			{"warehouse_logins_total", []string{"outcome", "throttled"}, 1},
			{"warehouse_tokens_issued_total", []string{"type", "access"}, 3},
			{"warehouse_tokens_issued_total", []string{"type", "refresh"}, 3},
			{"warehouse_tokens_refreshed_total", nil, 1},
			{"warehouse_refresh_reuse_detected_total", nil, 1},
			{"warehouse_tokens_revoked_total", []string{"type", "access"}, 1},
			{"warehouse_tokens_revoked_total", []string{"type", "refresh"}, 1},
			{"warehouse_movements_posted_total", []string{"type", "receipt"}, 1},
			{"warehouse_movements_posted_total", []string{"type", "issue"}, 0},
			{"http_requests_total", []string{"route", "/login", "method", "POST", "status", "200"}, 2},
			{"http_requests_total", []string{"route", "/login", "method", "POST", "status", "401"}, 3},
			{"http_requests_total", []string{"route", "/login", "method", "POST", "status", "429"}, 1},
			{"http_requests_total", []string{"route", "/refresh", "method", "POST", "status", "200"}, 1},
			{"http_requests_total", []string{"route", "/refresh", "method", "POST", "status", "401"}, 1},
			{"http_requests_total", []string{"route", "/user", "method", "GET", "status", "200"}, 1},
			{"http_requests_total", []string{"route", "/api/v1/movements", "method", "POST", "status", "201"}, 2},
			{"http_requests_total", []string{"route", "/api/v1/items/{id}", "method", "GET", "status", "200"}, 1},
			{"http_requests_total", []string{"route", "unmatched", "method", "GET", "status", "404"}, 1},
			{"http_requests_total", []string{"route", "/access-revoke", "method", "DELETE", "status", "200"}, 1},
			{"http_request_duration_seconds", []string{"route", "/login", "method", "POST"}, 6},
			{"http_request_duration_seconds", []string{"route", "/user", "method", "GET"}, 1},
			{"http_request_duration_seconds", []string{"route", "unmatched", "method", "GET"}, 1},
		} {
			if got := after.value(c.name, c.labels...) - before.value(c.name, c.labels...); got != c.want {
				t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
			}
		}

		// Route labels are the route table's templates: never a raw path.
		templates := r.app.Server().RouteTemplates()
		for _, name := range []string{"http_requests_total", "http_request_duration_seconds"} {
			for _, m := range after.series(name) {
				for _, l := range m.Label {
					if l.GetName() == "route" && !slices.Contains(templates, l.GetValue()) {
						t.Errorf("%s: route label %q is not a template", name, l.GetValue())
					}
				}
			}
		}
		if strings.Contains(text, "/api/v1/items/"+strconv.FormatInt(item.ID, 10)+`"`) || strings.Contains(text, "no/such") {
			t.Errorf("a raw path in /metrics")
		}
		// The histogram's buckets are cumulative up to its count.
		for _, m := range after.series("http_request_duration_seconds", "route", "/login", "method", "POST") {
			h := m.Histogram
			if n := len(h.Bucket); n == 0 || h.Bucket[n-1].GetCumulativeCount() > h.GetSampleCount() || h.GetSampleSum() <= 0 {
				t.Errorf("login histogram: %v", h)
			}
		}

		// The group commit's histograms (SQLite only: PostgreSQL commits
		// each transaction itself).
		batches := after.value("warehouse_sqlite_commit_batch_size")
		commits := after.value("warehouse_sqlite_commit_duration_seconds")
		if engine == pgtest.SQLite && (batches-before.value("warehouse_sqlite_commit_batch_size") < 5 || batches != commits) {
			t.Errorf("SQLite commit histograms: %v batches, %v commit times", batches, commits)
		}
		if engine == pgtest.Postgres && batches != 0 {
			t.Errorf("PostgreSQL counted %v group commits", batches)
		}

		// The pools: read and write on SQLite, one shared on PostgreSQL.
		wantPools := map[string][]string{pgtest.SQLite: {"read", "write"}, pgtest.Postgres: {"shared"}}[engine]
		var pools []string
		for _, m := range after.series("go_sql_max_open_connections", "db_name", "warehouse") {
			for _, l := range m.Label {
				if l.GetName() == "pool" {
					pools = append(pools, l.GetValue())
				}
			}
		}
		slices.Sort(pools)
		if !slices.Equal(pools, wantPools) {
			t.Errorf("go_sql_max_open_connections pools %v, want %v", pools, wantPools)
		}
		for _, name := range []string{"go_sql_open_connections", "go_sql_wait_count_total", "go_goroutines", "go_memstats_heap_alloc_bytes",
			"process_resident_memory_bytes", "process_cpu_seconds_total", "warehouse_hash_workers_busy", "warehouse_hash_queue_length",
			"warehouse_auth_state_lag_seconds", "promhttp_metric_handler_requests_total"} {
			if after[name] == nil {
				t.Errorf("no %s", name)
			}
		}
		if busy, queued := after.value("warehouse_hash_workers_busy"), after.value("warehouse_hash_queue_length"); busy != 0 || queued != 0 {
			t.Errorf("idle hasher: %v busy, %v queued", busy, queued)
		}
		// The auth state catches up with the events the scenario wrote
		// within a few sync intervals.
		deadline := time.Now().Add(10 * time.Second)
		for {
			s, _ := scrapeMetrics(t, r.app.MetricsAddr())
			if len(s.series("warehouse_auth_state_lag_events")) == 1 && s.value("warehouse_auth_state_lag_events") == 0 && s.value("warehouse_auth_state_lag_seconds") == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("auth state lag never 0: %v events, %v s", s.value("warehouse_auth_state_lag_events"), s.value("warehouse_auth_state_lag_seconds"))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, secret := range []string{first.Access, first.Refresh, third.Access, "glinteco", "guess-password"} {
			if strings.Contains(text, secret) {
				t.Errorf("/metrics shows a token or password")
			}
		}
		// The API's own listener does not serve them.
		r.must(http.StatusNotFound, "GET", "/metrics", "", "")
	})
}

// TestMetricsOff: without --metrics-addr nothing listens for metrics and
// the API does not serve /metrics; a busy --metrics-addr fails the start
// with one line naming the flag, its variable and the way out, before
// the database is created.
func TestMetricsOff(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, pgtest.SQLite)
	r := startApp(t, cfg, logcheck.New(t))
	if r.app.MetricsAddr() != nil || r.app.metrics != nil {
		t.Errorf("metrics without --metrics-addr: %v", r.app.MetricsAddr())
	}
	r.must(http.StatusNotFound, "GET", "/metrics", "", "")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg = Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir() + "/data"
	cfg.MetricsAddr = busy.Addr().String()
	a, err := Open(context.Background(), cfg, Deps{})
	if err == nil {
		a.Close()
		t.Fatal("opened on a busy --metrics-addr")
	}
	want := "cannot listen on --metrics-addr " + busy.Addr().String() + " (WAREHOUSE_METRICS_ADDR): address already in use"
	if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q, want one line starting %q", err, want)
	}
	if _, err := net.Dial("tcp", busy.Addr().String()); err != nil {
		t.Errorf("the busy port: %v", err)
	}
}
