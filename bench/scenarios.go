package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// allScenarios in the order they run. Logins come last: argon2id leaves
// memory behind, and each server is restarted per scenario anyway.
var allScenarios = []string{"welcome", "user", "stock", "movements", "refresh", "login", "user+login-flood"}

// Demo credentials (warehouse serve --demo).
const (
	demoUser     = "joevu"
	demoPassword = "glinteco"
	// The movements scenario receives into and issues from this bin.
	demoSKU, demoBin = "WID-RED", "WH1-A-01"
)

type runner struct {
	o    options
	log  *slog.Logger
	work string
	bins binaries

	data   string // warehouse's data directory, kept across restarts
	bodies string // captured answers for the baseline

	// Sessions made at setup: access tokens for GET routes, and separate
	// sessions whose refresh tokens the refresh scenario rotates.
	access  []string
	refresh []string
	binID   int64
	locIDs  map[string]int64 // location ids by code

	pg       *pgCluster // -engine postgres
	anchors  []anchor   // its pgbench runs
	hashTime time.Duration
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// startWarehouse runs `warehouse serve --demo` on the bench database.
func (r *runner) startWarehouse(ctx context.Context, pprofAddr string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The load comes from one address: the per-IP login limit would turn
	// the login scenarios into a test of the limiter. Every start gets a
	// new port, so the issuer is fixed (--public-url): the sessions logged
	// in by setup stay valid on the later starts, as behind a load balancer.
	args := []string{"serve", "--demo", "--addr", addr, "--data", r.data, "--log-level", "warn",
		"--admin-password", "bench-admin-password-0123456789", "--login-rate-per-ip", "0",
		"--public-url", "http://warehouse.bench"}
	if pprofAddr != "" {
		args = append(args, "--pprof-addr", pprofAddr)
	}
	args = append(args, r.o.warehouseArgs...)
	return start(ctx, "warehouse", r.o.serverCPU, r.bins.warehouse, filepath.Join(r.work, "warehouse.log"), addr, r.warehouseEnv(), args...)
}

// warehouseEnv is -warehouse-env, and the database URL on PostgreSQL.
func (r *runner) warehouseEnv() []string {
	if r.pg == nil {
		return r.o.warehouseEnv
	}
	return append(slices.Clip(r.o.warehouseEnv), "WAREHOUSE_DATABASE_URL="+r.pg.url("warehouse"))
}

func (r *runner) startBaseline(ctx context.Context) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return start(ctx, "baseline", r.o.serverCPU, r.bins.baseline, filepath.Join(r.work, "baseline.log"), addr, nil,
		"-addr", addr, "-bodies", r.bodies)
}

// setup starts warehouse once to log in the sessions the scenarios use and
// to capture the answers the baseline repeats.
func (r *runner) setup(ctx context.Context) error {
	r.data = filepath.Join(r.work, "data")
	r.bodies = filepath.Join(r.work, "bodies")
	if err := os.MkdirAll(r.bodies, 0o755); err != nil {
		return fmt.Errorf("bodies dir: %w", err)
	}
	p, err := r.startWarehouse(ctx, "")
	if err != nil {
		return err
	}
	defer p.stop()
	base := "http://" + p.addr
	c := &http.Client{Timeout: 30 * time.Second}

	first, raw, err := login(c, base)
	if err != nil {
		return err
	}
	// One login alone is one argon2id hash plus a session write; the first
	// one also grows the heap, so the median of the next three is reported.
	var took []time.Duration
	for range 3 {
		t0 := time.Now()
		if _, _, err := login(c, base); err != nil {
			return err
		}
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	r.hashTime = took[1]
	if err := os.WriteFile(filepath.Join(r.bodies, "pair.json"), raw, 0o644); err != nil {
		return fmt.Errorf("save pair: %w", err)
	}
	need := 0
	for _, s := range r.o.scenarios {
		switch s {
		case "user", "stock", "user+login-flood":
			need = max(need, r.o.conns)
		case "movements", scaleoutScenario:
			need = max(need, r.o.movementConns)
		}
	}
	r.access = []string{first.AccessToken}
	if r.access, err = loginMany(c, base, need, r.access); err != nil {
		return err
	}
	if contains(r.o.scenarios, "refresh") {
		r.refresh, err = loginTokens(c, base, r.o.conns, nil, func(p tokenPair) string { return p.RefreshToken })
		if err != nil {
			return err
		}
	}

	stock, err := call(c, http.MethodGet, base+"/api/v1/stock", first.AccessToken, nil, nil, http.StatusOK)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.bodies, "stock.json"), stock, 0o644); err != nil {
		return fmt.Errorf("save stock: %w", err)
	}
	locs, err := call(c, http.MethodGet, base+"/api/v1/locations?limit=100", first.AccessToken, nil, nil, http.StatusOK)
	if err != nil {
		return err
	}
	var page struct {
		Items []struct {
			ID   int64  `json:"id"`
			Code string `json:"code"`
		} `json:"items"`
	}
	if err := json.Unmarshal(locs, &page); err != nil {
		return fmt.Errorf("decode locations: %w", err)
	}
	r.locIDs = map[string]int64{}
	for _, l := range page.Items {
		r.locIDs[l.Code] = l.ID
	}
	r.binID = r.locIDs[demoBin]
	for _, b := range demoBins {
		if r.locIDs[b] == 0 {
			return fmt.Errorf("demo location %s not found in %.200s", b, locs)
		}
	}
	if r.binID == 0 {
		return fmt.Errorf("demo location %s not found in %.200s", demoBin, locs)
	}
	mv, err := call(c, http.MethodPost, base+"/api/v1/movements", first.AccessToken,
		map[string]string{"Idempotency-Key": "bench-setup"}, r.movementBody(true), http.StatusCreated)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.bodies, "movement.json"), mv, 0o644); err != nil {
		return fmt.Errorf("save movement: %w", err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func login(c *http.Client, base string) (tokenPair, []byte, error) {
	body := []byte(`{"username":"` + demoUser + `","password":"` + demoPassword + `"}`)
	raw, err := call(c, http.MethodPost, base+"/login", "", nil, body, http.StatusOK)
	if err != nil {
		return tokenPair{}, nil, err
	}
	var p tokenPair
	if err := json.Unmarshal(raw, &p); err != nil {
		return tokenPair{}, nil, fmt.Errorf("decode login answer: %w", err)
	}
	return p, raw, nil
}

// loginMany logs in until have holds n access tokens, one session each.
func loginMany(c *http.Client, base string, n int, have []string) ([]string, error) {
	return loginTokens(c, base, n, have, func(p tokenPair) string { return p.AccessToken })
}

// loginTokens logs in until have holds n tokens picked from the pairs.
func loginTokens(c *http.Client, base string, n int, have []string, pick func(tokenPair) string) ([]string, error) {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	todo := make(chan struct{}, n)
	for range n - len(have) {
		todo <- struct{}{}
	}
	close(todo)
	for range 4 {
		wg.Go(func() {
			for range todo {
				p, _, err := login(c, base)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					have = append(have, pick(p))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return have, nil
}

// call makes one setup request and returns the body of a want answer.
func call(c *http.Client, method, url, token string, headers map[string]string, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d: %.300s", method, url, resp.StatusCode, b)
	}
	return b, nil
}

func (r *runner) movementBody(receipt bool) []byte {
	return movementBody(receipt, demoSKU, r.binID)
}

func movementBody(receipt bool, sku string, binID int64) []byte {
	bin := strconv.FormatInt(binID, 10)
	if receipt {
		return []byte(`{"type":"receipt","reference":"BENCH","lines":[{"sku":"` + sku + `","to_location_id":` + bin + `,"qty":1}]}`)
	}
	return []byte(`{"type":"issue","reference":"BENCH","lines":[{"sku":"` + sku + `","from_location_id":` + bin + `,"qty":1}]}`)
}

// demoSKUs and demoBins are the demo's items without lots and its bins. On
// PostgreSQL each movement connection posts to a pair of its own (up to 25
// connections), as pgbench -N updates random accounts: with one hot
// balance every movement would wait for the previous one's commit (a
// row lock held across the WAL flush), which measures the disk, not the
// server. SQLite has one writer either way and keeps the one pair.
var (
	demoSKUs = []string{"WID-RED", "WID-BLU", "BOLT-M8", "CABLE-CU", "GREASE"}
	demoBins = []string{"WH1-A-01", "WH1-A-02", "WH1-DOCK", "WH1-PICK", "WH2-01"}
)

// movementGroup is the movements load on host: each connection alternates a
// receipt of 1 and an issue of 1 (after its receipt: stock never goes below
// the opening balance), each with a new Idempotency-Key. tag keeps keys
// apart between instances driven at once, and first is the first
// connection's index in the (item, bin) pairs.
func (r *runner) movementGroup(host, tag string, first int) group {
	run := strconv.FormatInt(time.Now().UnixNano(), 36) + tag
	return group{name: "POST /api/v1/movements", conns: r.o.movementConns, ok: func(s int) bool { return s == http.StatusCreated },
		newConn: func(i int) nextFunc {
			rec, iss := r.movementBody(true), r.movementBody(false)
			if r.o.engine == enginePostgres {
				k := first + i
				sku, bin := demoSKUs[k%len(demoSKUs)], r.locIDs[demoBins[(k/len(demoSKUs))%len(demoBins)]]
				rec, iss = movementBody(true, sku, bin), movementBody(false, sku, bin)
			}
			n := 0
			tok := r.access[i%len(r.access)]
			return func([]byte) ([]byte, error) {
				n++
				body := rec
				if n%2 == 0 {
					body = iss
				}
				key := "bench-" + run + "-" + strconv.Itoa(i) + "-" + strconv.Itoa(n)
				return httpRequest(http.MethodPost, host, "/api/v1/movements",
					[][2]string{{"Authorization", "Bearer " + tok}, {"Idempotency-Key", key}}, body), nil
			}
		}}
}

// row is one line of the table.
type row struct {
	name           string
	conns          string
	warehouse      result
	baseline       result
	whRSS, baseRSS int64      // KiB, the server process's own peak
	workersRSS     int64      // KiB, warehouse's hash workers' peaks, summed
	extra          []result   // further groups, e.g. the logins of the flood
	scaleout       []scaleRun // movements-3x's shapes
	extraBase      []result
}

// groups builds the load of one scenario against a server. Refresh chains
// continue across runs through r.refresh (warehouse only).
func (r *runner) groups(name, host string, warehouse bool) []group {
	ok200 := func(s int) bool { return s == http.StatusOK }
	get := func(path string, tokens []string) group {
		return group{name: path, conns: r.o.conns, ok: ok200, newConn: func(i int) nextFunc {
			var hdr [][2]string
			if len(tokens) > 0 {
				hdr = [][2]string{{"Authorization", "Bearer " + tokens[i%len(tokens)]}}
			}
			req := httpRequest(http.MethodGet, host, path, hdr, nil)
			return func([]byte) ([]byte, error) { return req, nil }
		}}
	}
	loginGroup := func(conns int) group {
		body := []byte(`{"username":"` + demoUser + `","password":"` + demoPassword + `"}`)
		req := httpRequest(http.MethodPost, host, "/login", nil, body)
		return group{name: "POST /login", conns: conns, ok: ok200, newConn: func(int) nextFunc {
			return func([]byte) ([]byte, error) { return req, nil }
		}}
	}
	switch name {
	case "welcome":
		return []group{get("/welcome", nil)}
	case "user":
		return []group{get("/user", r.access)}
	case "stock":
		return []group{get("/api/v1/stock", r.access)}
	case "movements":
		return []group{r.movementGroup(host, "", 0)}
	case "refresh":
		return []group{{name: "POST /refresh", conns: r.o.conns, ok: ok200, newConn: func(i int) nextFunc {
			return func(prev []byte) ([]byte, error) {
				tok := "baseline-token"
				if warehouse {
					if prev != nil {
						var p tokenPair
						if err := json.Unmarshal(prev, &p); err != nil || p.RefreshToken == "" {
							return nil, fmt.Errorf("refresh answer without refresh_token: %.200s", prev)
						}
						r.refresh[i] = p.RefreshToken // the chain goes on in the next run
					}
					tok = r.refresh[i]
				}
				return httpRequest(http.MethodPost, host, "/refresh", [][2]string{{"Authorization", "Bearer " + tok}}, nil), nil
			}
		}}}
	case "login":
		return []group{loginGroup(r.o.conns)}
	case "user+login-flood":
		return []group{get("/user", r.access), loginGroup(r.o.floodConns)}
	}
	panic("unknown scenario " + name)
}

// scenario runs one scenario against a fresh baseline and a fresh warehouse
// process, so each peak RSS belongs to that scenario alone.
func (r *runner) scenario(ctx context.Context, name string) (row, error) {
	if name == scaleoutScenario {
		return r.scaleout(ctx)
	}
	if err := r.pg.resetStats(ctx); err != nil {
		return row{}, err
	}
	defer r.saveStats(ctx, name)
	rw := row{name: name, conns: strconv.Itoa(r.o.conns)}
	switch name {
	case "movements":
		rw.conns = strconv.Itoa(r.o.movementConns)
	case "user+login-flood":
		rw.conns = fmt.Sprintf("%d + %d login", r.o.conns, r.o.floodConns)
	}

	// Both servers run for the whole scenario (pinned to the same core; the
	// idle one costs nothing) and are measured in alternating rounds, so a
	// noisy neighbour slows both alike instead of skewing the ratio.
	bp, err := r.startBaseline(ctx)
	if err != nil {
		return rw, err
	}
	defer bp.stop()
	pprofAddr := ""
	if r.o.profileDir != "" {
		if pprofAddr, err = freeAddr(); err != nil {
			return rw, err
		}
	}
	wp, err := r.startWarehouse(ctx, pprofAddr)
	if err != nil {
		return rw, err
	}
	defer wp.stop()
	if len(r.o.warehouseEnv) > 0 {
		rw.conns += " (" + strings.Join(r.o.warehouseEnv, " ") + ")"
	}
	if len(r.o.warehouseArgs) > 0 {
		rw.conns += " (" + strings.Join(r.o.warehouseArgs, " ") + ")"
	}
	if r.o.warmup > 0 {
		run(ctx, bp.addr, r.groups(name, bp.addr, false), 0, r.o.warmup)
		run(ctx, wp.addr, r.groups(name, wp.addr, true), 0, r.o.warmup)
	}
	var profWG sync.WaitGroup
	if pprofAddr != "" {
		profWG.Go(func() { r.profile(ctx, pprofAddr, name) })
	}
	rounds := max(r.o.rounds, 1)
	if name == "login" || name == "user+login-flood" {
		// Logins queue for seconds behind the hash limit: short rounds would
		// cut every slow one off and hide it from p99. They are CPU-bound
		// anyway, so one round loses little to noise.
		rounds = 1
	}
	slice := r.o.duration / time.Duration(rounds)
	var bres, wres []result
	for range rounds {
		b := run(ctx, bp.addr, r.groups(name, bp.addr, false), 0, slice)
		w := run(ctx, wp.addr, r.groups(name, wp.addr, true), 0, slice)
		if bres == nil {
			bres, wres = b, w
			continue
		}
		for i := range b {
			bres[i], wres[i] = merge(bres[i], b[i]), merge(wres[i], w[i])
		}
	}
	profWG.Wait()
	for i := range bres {
		bres[i].finish()
		wres[i].finish()
	}
	if rw.baseRSS, _, err = bp.peakRSS(); err != nil {
		return rw, err
	}
	if rw.whRSS, rw.workersRSS, err = wp.peakRSS(); err != nil {
		return rw, err
	}
	rw.warehouse, rw.baseline = wres[0], bres[0]
	for i := 1; i < len(wres); i++ {
		rw.extra = append(rw.extra, wres[i])
		rw.extraBase = append(rw.extraBase, bres[i])
	}
	for _, res := range append(wres, bres...) {
		if res.errors > 0 {
			r.log.Error("requests failed", "scenario", name, "errors", res.errors, "first", res.firstErr)
		}
	}
	return rw, nil
}

// profile saves a CPU profile of the measured window and a heap profile
// at its end.
func (r *runner) profile(ctx context.Context, addr, name string) {
	// The warehouse is busy half of the alternating window.
	secs := max(int(2*r.o.duration.Seconds())-1, 1)
	file := strings.NewReplacer("+", "-", "/", "-").Replace(name)
	c := &http.Client{Timeout: time.Duration(secs+10) * time.Second}
	for _, p := range []struct{ url, out string }{
		{"/debug/pprof/profile?seconds=" + strconv.Itoa(secs), file + ".cpu.pprof"},
		{"/debug/pprof/heap", file + ".heap.pprof"},
	} {
		resp, err := c.Get("http://" + addr + p.url)
		if err != nil {
			r.log.Warn("profile failed", "scenario", name, "err", err)
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			r.log.Warn("profile failed", "scenario", name, "status", resp.StatusCode, "err", err)
			return
		}
		if err := os.WriteFile(filepath.Join(r.o.profileDir, p.out), b, 0o644); err != nil {
			r.log.Warn("profile not saved", "err", err)
		}
	}
}

// report renders the table and the run's conditions as markdown.
func (r *runner) report(rows []row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s, %s, Go %s, %d CPUs (%s); servers on CPU %s, load on CPU %s; %s measured per server and scenario in %d alternating rounds, after %s warm-up.\n\n",
		time.Now().UTC().Format("2006-01-02"), cpuModel(), strings.TrimPrefix(runtime.Version(), "go"), machineCPUs(), pinning(),
		r.o.serverCPU, r.o.loadCPU, r.o.duration, max(r.o.rounds, 1), r.o.warmup)
	b.WriteString("| scenario | conns | warehouse req/s | baseline req/s | ratio | p50 | p99 | baseline p99 | peak RSS | + hash workers | baseline peak RSS | errors |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	line := func(name, conns string, w, base result, whRSS, workersRSS, baseRSS string) {
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %d |\n",
			name, conns, w.rate(), base.rate(), ratio(w.rate(), base.rate()), ms(w.p50), ms(w.p99), ms(base.p99), whRSS, workersRSS, baseRSS, w.errors+base.errors)
	}
	for _, rw := range rows {
		if rw.name == scaleoutScenario {
			continue // its own table
		}
		label := scenarioLabel(rw.name)
		workers := ""
		if rw.workersRSS > 0 {
			workers = mib(rw.workersRSS)
		}
		line(label, rw.conns, rw.warehouse, rw.baseline, mib(rw.whRSS), workers, mib(rw.baseRSS))
		for i, e := range rw.extra {
			line("… its POST /login flood", "", e, rw.extraBase[i], "", "", "")
		}
	}
	fmt.Fprintf(&b, "\nratio = warehouse req/s ÷ baseline req/s. p50/p99: warehouse latency. Peak RSS: the server process's peak (VmHWM); + hash workers: the peaks of warehouse's password-hashing worker processes, summed (they also map the same binary, so the sum counts those pages twice). The login scenarios run in one round. One login alone (one argon2id hash, m=19456 KiB t=2 p=1, plus the session write): %s; "+
		"hash concurrency: the default, GOMAXPROCS−1 and at least 1 (1 when pinned to one core), in worker processes at nice 10 unless -warehouse-env says otherwise.\n", ms(r.hashTime))
	return b.String()
}

func scenarioLabel(name string) string {
	return map[string]string{
		"welcome": "GET /welcome", "user": "GET /user (valid token)", "stock": "GET /api/v1/stock",
		"movements": "POST /api/v1/movements (receipt/issue, Idempotency-Key)", "refresh": "POST /refresh (rotation chains)",
		"login": "POST /login (argon2id)", "user+login-flood": "GET /user during a login flood",
		scaleoutScenario: "POST /api/v1/movements, 3 instances",
	}[name]
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func mib(kib int64) string {
	if kib == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

// machineCPUs counts the machine's CPUs (runtime.NumCPU only sees the
// pinned one).
func machineCPUs() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "processor") {
			n++
		}
	}
	return max(n, 1)
}

func pinning() string {
	if os.Getenv(pinnedEnv) != "" {
		return "pinned with taskset"
	}
	return "unpinned"
}
