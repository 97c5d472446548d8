// Package deploy holds the deployment examples; its test checks them
// without Docker: the compose file as Compose itself reads it, the
// Prometheus scrape configuration, and the Grafana dashboard's queries
// against the metric names the server exports.
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// metricNames are the metrics internal/metrics exports (the names agreed
// in this round's plan), the only ones the dashboard may query: keep this
// list in step with internal/metrics. A histogram's _bucket, _sum and
// _count series count as its name.
var metricNames = []string{
	"http_requests_total", "http_request_duration_seconds",
	"warehouse_logins_total",
	"warehouse_tokens_issued_total", "warehouse_tokens_refreshed_total", "warehouse_tokens_revoked_total",
	"warehouse_refresh_reuse_detected_total",
	"warehouse_movements_posted_total",
	"warehouse_sqlite_commit_batch_size", "warehouse_sqlite_commit_duration_seconds",
	"warehouse_hash_workers_busy", "warehouse_hash_queue_length",
	"warehouse_auth_state_lag_events", "warehouse_auth_state_lag_seconds",
}

// metricPrefixes are the families of the standard collectors: the
// database pool's (collectors.NewDBStatsCollector), Go's and the process's.
var metricPrefixes = []string{"go_sql_", "go_", "process_"}

// metricsPort is the port of WAREHOUSE_METRICS_ADDR in the compose file,
// which prometheus.yml scrapes.
const metricsPort = 9100

func knownMetric(name string) bool {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(metricNames, base) {
			return true
		}
	}
	if slices.Contains(metricNames, name) {
		return true
	}
	for _, p := range metricPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// loadCompose reads docker-compose.yml with compose-go, as `docker compose
// config` does: schema validation, interpolation, and consistency (every
// depends_on, network and volume refers to something defined).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"docker-compose.yml"},
		cli.WithWorkingDirectory("."),
		cli.WithEnv(nil), // not the test's environment: the file must stand alone
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

// TestComposeFile: the compose file loads; every service has an image or
// a build whose context and Dockerfile exist; every bind mount's source is
// a file or directory of the checkout; published ports do not collide;
// and the services the metrics need are there, wired to each other.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	for _, want := range []string{"postgres", "warehouse", "nginx", "prometheus", "grafana"} {
		if _, ok := p.Services[want]; !ok {
			t.Errorf("no service %q", want)
		}
	}
	published := map[string]string{}
	for name, s := range p.Services {
		switch {
		case s.Build != nil:
			if fi, err := os.Stat(s.Build.Context); err != nil || !fi.IsDir() {
				t.Errorf("%s: build context %s: %v", name, s.Build.Context, err)
			}
			df := s.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(s.Build.Context, df)
			}
			if _, err := os.Stat(df); err != nil {
				t.Errorf("%s: Dockerfile: %v", name, err)
			}
		case s.Image == "":
			t.Errorf("%s: neither image nor build", name)
		case !strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest"):
			t.Errorf("%s: image %q: pin a version", name, s.Image)
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s: bind mount %s -> %s: %v", name, v.Source, v.Target, err)
				}
				if !v.ReadOnly {
					t.Errorf("%s: bind mount %s is writable: mount configuration read-only", name, v.Source)
				}
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s: volume %q is not declared", name, v.Source)
				}
			}
		}
		for _, port := range s.Ports {
			key := port.HostIP + ":" + port.Published
			if other, dup := published[key]; dup {
				t.Errorf("port %s published by %s and %s", key, other, name)
			}
			published[key] = name
		}
	}
	wh := p.Services["warehouse"]
	addr := wh.Environment["WAREHOUSE_METRICS_ADDR"]
	if addr == nil {
		t.Fatal("warehouse: no WAREHOUSE_METRICS_ADDR: Prometheus has nothing to scrape")
	}
	if _, port, err := net.SplitHostPort(*addr); err != nil || port != "9100" {
		t.Errorf("warehouse: WAREHOUSE_METRICS_ADDR %q, want port %d (prometheus.yml)", *addr, metricsPort)
	}
	for _, port := range wh.Ports {
		if port.Target == metricsPort {
			t.Error("warehouse: the metrics port is published; keep it on the compose network")
		}
	}
	if _, ok := p.Services["prometheus"].DependsOn["warehouse"]; !ok {
		t.Error("prometheus does not depend on warehouse")
	}
	if _, ok := p.Services["grafana"].DependsOn["prometheus"]; !ok {
		t.Error("grafana does not depend on prometheus")
	}
}

// promConfig is the part of Prometheus' configuration file the example
// uses; unknown keys fail the test (a typo Prometheus would refuse).
type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
		DNSSDConfigs []struct {
			Names           []string `yaml:"names"`
			Type            string   `yaml:"type"`
			Port            int      `yaml:"port"`
			RefreshInterval string   `yaml:"refresh_interval"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

var promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// TestPrometheusConfig: prometheus.yml has only keys Prometheus knows,
// valid durations, unique job names, and a warehouse job that scrapes
// /metrics of the compose service on the metrics port.
func TestPrometheusConfig(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c promConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	for _, d := range []string{c.Global.ScrapeInterval, c.Global.EvaluationInterval} {
		if !promDuration.MatchString(d) {
			t.Errorf("duration %q", d)
		}
	}
	services := loadCompose(t).Services
	jobs := map[string]bool{}
	var scraped bool
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName == "" || jobs[sc.JobName] {
			t.Errorf("job name %q empty or repeated", sc.JobName)
		}
		jobs[sc.JobName] = true
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				if _, _, err := net.SplitHostPort(tg); err != nil {
					t.Errorf("%s: target %q: %v", sc.JobName, tg, err)
				}
			}
		}
		for _, dns := range sc.DNSSDConfigs {
			if !promDuration.MatchString(dns.RefreshInterval) || dns.Type != "A" || dns.Port == 0 {
				t.Errorf("%s: dns_sd_config %+v", sc.JobName, dns)
			}
			for _, n := range dns.Names {
				if _, ok := services[n]; !ok {
					t.Errorf("%s: %q is no compose service", sc.JobName, n)
				}
				if n == "warehouse" && dns.Port == metricsPort && (sc.MetricsPath == "" || sc.MetricsPath == "/metrics") {
					scraped = true
				}
			}
		}
	}
	if !scraped {
		t.Errorf("no job scrapes warehouse:%d/metrics", metricsPort)
	}
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string     `json:"name"`
			Datasource datasource `json:"datasource"`
			Definition string     `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource datasource               `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Datasource datasource `json:"datasource"`
	} `json:"targets"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// provisionedUID is the uid of the data source Grafana is provisioned with.
func provisionedUID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("grafana/provisioning/datasources/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool `yaml:"isDefault"`
			Editable                     bool `yaml:"editable"`
		} `yaml:"datasources"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&ds); err != nil {
		t.Fatalf("datasources: %v", err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Fatalf("datasources %+v: want the compose file's Prometheus", ds.Datasources)
	}
	return ds.Datasources[0].UID
}

// TestGrafanaProvisioning: the dashboard provider loads the directory the
// compose file mounts the dashboard into.
func TestGrafanaProvisioning(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("grafana/provisioning/dashboards/warehouse.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type, Folder string
			DisableDeletion    bool `yaml:"disableDeletion"`
			AllowUIUpdates     bool `yaml:"allowUiUpdates"`
			Options            struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&prov); err != nil {
		t.Fatalf("dashboard provider: %v", err)
	}
	if len(prov.Providers) != 1 || prov.Providers[0].Type != "file" {
		t.Fatalf("providers %+v", prov.Providers)
	}
	dir := prov.Providers[0].Options.Path
	var mounted bool
	for _, v := range loadCompose(t).Services["grafana"].Volumes {
		if v.Target == dir+"/warehouse.json" || v.Target == dir {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("grafana: nothing mounted at %s, where the provider looks", dir)
	}
}

// promqlWords are PromQL's keywords, functions and aggregations that may
// stand in an expression like a metric name would.
var promqlWords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
	"sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "stddev", "stdvar", "count_values", "group",
	"rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "abs", "clamp_min", "clamp_max",
	"max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "label_replace", "vector", "scalar", "time", "le", "inf", "nan"}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promNumber   = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?\b`)
	labelValues  = regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)
)

// metricsOf are the metric names an expression selects: what is left of
// it without strings, label matchers, ranges, grouping labels, numbers,
// functions (words before a parenthesis) and keywords.
func metricsOf(expr string) []string {
	e := promString.ReplaceAllString(expr, " ")
	e = promMatchers.ReplaceAllString(e, " ")
	e = promRange.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	e = promNumber.ReplaceAllString(e, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(e, -1) {
		w := e[loc[0]:loc[1]]
		rest := strings.TrimLeft(e[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || slices.Contains(promqlWords, strings.ToLower(w)) {
			continue
		}
		out = append(out, w)
	}
	return out
}

func TestMetricsOf(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string][]string{
		`sum by (route) (rate(http_requests_total{status=~"5..", instance=~"$instance"}[$__rate_interval]))`: {"http_requests_total"},
		`histogram_quantile(0.99, sum by (le) (rate(warehouse_sqlite_commit_batch_size_bucket[5m])))`:        {"warehouse_sqlite_commit_batch_size_bucket"},
		`a_total / on (instance) group_left b_total`:                                                         {"a_total", "b_total"},
	} {
		if got := metricsOf(expr); !slices.Equal(got, want) {
			t.Errorf("metricsOf(%s) = %q, want %q", expr, got, want)
		}
	}
}

// TestGrafanaDashboard: the dashboard is valid JSON with a uid; every
// panel has a unique id, a place on the grid and the provisioned data
// source; every query selects only metrics the server exports, and every
// metric the server exports is on some panel.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("grafana/warehouse.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("warehouse.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard without uid or title")
	}
	uid := provisionedUID(t)
	ids := map[int]bool{}
	shown := map[string]bool{}
	for _, p := range d.Panels {
		if p.ID == 0 || ids[p.ID] {
			t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != uid || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %+v (want uid %q), %d queries", p.Title, p.Datasource, uid, len(p.Targets))
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] || tg.Datasource.UID != uid {
				t.Errorf("panel %q: query %q: refId %q repeated or data source %+v", p.Title, tg.Expr, tg.RefID, tg.Datasource)
			}
			refs[tg.RefID] = true
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced query %q", p.Title, tg.Expr)
			}
			names := metricsOf(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q selects no metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !knownMetric(n) {
					t.Errorf("panel %q: query %q uses %q, which the server does not export", p.Title, tg.Expr, n)
				}
				shown[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] = true
			}
		}
	}
	for _, n := range metricNames {
		if !shown[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
	var hasSQL bool
	for n := range shown {
		hasSQL = hasSQL || strings.HasPrefix(n, "go_sql_")
	}
	if !hasSQL {
		t.Error("no panel shows the database pool (go_sql_*)")
	}
	for _, v := range d.Templating.List {
		if v.Datasource.UID != uid {
			t.Errorf("variable %s: data source %+v", v.Name, v.Datasource)
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil || !knownMetric(m[1]) {
			t.Errorf("variable %s: %q: want label_values(<a metric the server exports>, <label>)", v.Name, v.Definition)
		}
	}
}
