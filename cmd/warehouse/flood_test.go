package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The login flood: what a password-guessing botnet, and one greedy
// client, can do to a server running with the production argon2id
// parameters (m=19456 KiB, t=2, p=1), its hash workers and its default
// login limits (10 failures lock an account for 5 minutes; 1 login per
// second per address, bursts of 20).

const (
	floodRequests    = 2000
	floodClients     = 50
	floodConcurrency = 2     // --hash-concurrency: worker processes, hashes at once
	argon2MemoryKiB  = 19456 // the production default, passed explicitly
	floodMaxFailures = 10    // --login-max-failures' default
	floodBurstPerIP  = 20    // --login-burst-per-ip's default
	// proxyIP is the test's reverse proxy: the only peer whose
	// X-Forwarded-For the server believes (--trusted-proxies). Direct
	// clients come from 127.0.0.1.
	proxyIP = "127.0.0.2"
)

// buildWarehouse builds this command, as `go build` does (no race
// detector), and returns the binary's path. CI has built it already, so
// this is mostly a link from the build cache.
func buildWarehouse(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "warehouse")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBinary is startInstance with the binary at bin.
func startBinary(t *testing.T, bin, name, dbURL string, extra ...string) *instance {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"serve", "--addr", addr, "--database-url", dbURL, "--log-format", "text", "--log-level", "warn",
		"--public-url", "http://warehouse.test"}, extra...)
	in := &instance{name: name, base: "http://" + addr, logs: &syncBuffer{}, done: make(chan error, 1)}
	in.cmd = exec.Command(bin, args...)
	in.cmd.Dir = t.TempDir() // no stray .env
	in.cmd.Env = append(os.Environ(), "WAREHOUSE_ADMIN_PASSWORD="+adminPassword)
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.done <- in.cmd.Wait() }()
	t.Cleanup(func() { in.stop(t) })
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Get(in.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return in
		}
		if !in.alive() || time.Now().After(deadline) {
			t.Fatalf("%s did not start: %v\n%s", name, err, in.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// floodClient is an HTTP client whose connections come from local (an
// address on the loopback).
func floodClient(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// loginAnswer is what a flood request got.
type loginAnswer struct {
	status     int
	code       string
	retryAfter string
	err        error
}

func tryLogin(c *http.Client, base, user, password, xff string) loginAnswer {
	req, err := http.NewRequest("POST", base+"/login", strings.NewReader(loginBody(user, password)))
	if err != nil {
		return loginAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		return loginAnswer{err: err}
	}
	defer resp.Body.Close()
	var p struct {
		Code string `json:"code"`
	}
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = json.Unmarshal(b, &p)
	}
	return loginAnswer{status: resp.StatusCode, code: p.Code, retryAfter: resp.Header.Get("Retry-After"), err: err}
}

// floodTally counts a flood's answers by status and code.
type floodTally struct {
	mu     sync.Mutex
	counts map[string]int
	bad    []string // answers that must never happen
}

func (f *floodTally) add(a loginAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	key := strconv.Itoa(a.status) + " " + a.code
	f.counts[key]++
	switch {
	case a.err != nil:
		f.bad = append(f.bad, fmt.Sprintf("transport or body error: %v", a.err))
	case a.status >= 500:
		f.bad = append(f.bad, "a 5xx: "+key)
	case a.status == http.StatusTooManyRequests:
		if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
			f.bad = append(f.bad, fmt.Sprintf("429 %s with Retry-After %q", a.code, a.retryAfter))
		}
	case a.status != http.StatusUnauthorized || a.code != "bad_credentials":
		f.bad = append(f.bad, "unexpected answer: "+key)
	}
}

func (f *floodTally) get(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[key]
}

// flood sends floodRequests wrong-password logins for user from
// floodClients concurrent clients; xff(i) is the i-th request's
// X-Forwarded-For ("" for none).
func flood(t *testing.T, base string, clients []*http.Client, user string, xff func(i int) string) *floodTally {
	t.Helper()
	var (
		tally floodTally
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for w := range floodClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= floodRequests {
					return
				}
				tally.add(tryLogin(clients[w%len(clients)], base, user, "wrong-password-"+strconv.Itoa(i), xff(i)))
			}
		})
	}
	wg.Wait()
	return &tally
}

// legitLogins logs alice in every 100 ms until stop is closed, from
// addresses of her own behind the proxy, and reports any answer but 200.
func legitLogins(t *testing.T, base string, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	c := floodClient(proxyIP)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			// A fresh address each time keeps her within her own per-IP
			// bucket whatever the flood's length.
			if a := tryLogin(c, base, "alice", "alice-password", fmt.Sprintf("198.51.100.%d", 1+i%200)); a.status != http.StatusOK {
				t.Errorf("alice's login during the flood: %d %s (%v)", a.status, a.code, a.err)
			}
		}
	})
	return &wg
}

// procStatus reads a field of /proc/<pid>/status in KiB (VmHWM, VmRSS).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("read the memory of process %d: %v", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parse %s %q: %v", field, v, err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// childPIDs are the processes pid started (its hash workers).
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("list the children of %d: %v", pid, err)
	}
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // the thread ended
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// memory is the peak resident memory (VmHWM, KiB) of the server and of
// each of its hash workers.
type memory struct {
	server  int64
	workers []int64
}

func measure(t *testing.T, pid int) memory {
	t.Helper()
	m := memory{server: procStatus(t, pid, "VmHWM")}
	for _, c := range childPIDs(t, pid) {
		m.workers = append(m.workers, procStatus(t, c, "VmHWM"))
	}
	return m
}

func (m memory) total() int64 {
	n := m.server
	for _, w := range m.workers {
		n += w
	}
	return n
}

// TestLoginFlood floods one account with 2,000 wrong passwords from 50
// concurrent clients, first as a botnet (every request from its own
// address, through the trusted proxy), then as one client that forges
// X-Forwarded-For on every request. The account is locked and stays
// locked, another user logs in all along, nothing answers 5xx, the forged
// header neither dodges nor resets the per-address limit, and memory stays
// within what the hash limit allows.
//
// It runs alone (not parallel): the memory it measures and the hashes it
// causes are the server's, not the other tests'.
func TestLoginFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process and runs production-cost hashes")
	}
	start := time.Now()
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "warehouse.db")
	// The production argon2id parameters, the default process workers and
	// login limits; only the worker count is pinned, so the memory bound
	// does not depend on the machine's cores. The server is the warehouse
	// binary built as operators build it: a test binary built with -race
	// makes each hash several times slower and bigger (shadow memory), which
	// would make the memory bound the race detector's.
	in := startBinary(t, buildWarehouse(t), "flood", dbURL,
		"--argon2-memory", strconv.Itoa(argon2MemoryKiB), "--argon2-iterations", "2", "--argon2-parallelism", "1",
		"--hash-workers", "process", "--hash-concurrency", strconv.Itoa(floodConcurrency),
		"--login-rate-per-ip", "1", "--login-burst-per-ip", strconv.Itoa(floodBurstPerIP),
		"--login-max-failures", strconv.Itoa(floodMaxFailures), "--login-lockout", "5m",
		"--trusted-proxies", proxyIP+"/32")
	pid := in.cmd.Process.Pid
	idle := measure(t, pid)
	if len(idle.workers) != floodConcurrency {
		t.Fatalf("%d hash workers at start, want %d", len(idle.workers), floodConcurrency)
	}

	admin := login(t, in)
	for _, u := range []string{"victim", "victim2", "alice"} {
		if code, _, b, err := send("POST", in.base+"/api/v1/users", admin, map[string]any{"username": u, "password": u + "-password", "roles": []string{"viewer"}}); err != nil || code != http.StatusCreated {
			t.Fatalf("create %s: %d %s (%v)\n%s", u, code, b, err, in.logs)
		}
	}
	direct := []*http.Client{floodClient("127.0.0.1")}
	viaProxy := make([]*http.Client, 10)
	for i := range viaProxy {
		viaProxy[i] = floodClient(proxyIP)
	}

	t.Run("botnet through the proxy", func(t *testing.T) {
		stop := make(chan struct{})
		legit := legitLogins(t, in.base, stop)
		// 2,000 addresses, one request each: only the account lock can
		// stop them.
		tally := flood(t, in.base, viaProxy, "victim", func(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) })
		close(stop)
		legit.Wait()
		t.Logf("botnet flood: %v", tally.counts)
		for _, b := range tally.bad {
			t.Error(b)
		}
		// Only the guesses already past the lock check when the lock
		// landed (at most one per concurrent client) were checked
		// against the password.
		if n := tally.get("401 bad_credentials"); n < floodMaxFailures || n > floodMaxFailures+floodClients {
			t.Errorf("%d guesses were checked against the password, want %d to %d", n, floodMaxFailures, floodMaxFailures+floodClients)
		}
		if n := tally.get("429 too_many_login_attempts"); n < floodRequests-floodMaxFailures-floodClients {
			t.Errorf("only %d guesses refused by the account lock", n)
		}
		// The lock stays: the right password, from a new address, is
		// refused too; another account is not affected.
		if a := tryLogin(viaProxy[0], in.base, "victim", "victim-password", "203.0.113.50"); a.status != http.StatusTooManyRequests || a.code != "too_many_login_attempts" || a.retryAfter == "" {
			t.Errorf("the victim's right password after the flood: %d %s Retry-After %q, want 429 too_many_login_attempts", a.status, a.code, a.retryAfter)
		}
		if a := tryLogin(viaProxy[0], in.base, "alice", "alice-password", "198.51.100.250"); a.status != http.StatusOK {
			t.Errorf("alice after the flood: %d %s", a.status, a.code)
		}
	})

	t.Run("one address forging X-Forwarded-For", func(t *testing.T) {
		stop := make(chan struct{})
		legit := legitLogins(t, in.base, stop)
		// Every request names another address, half of them the
		// addresses alice logs in from: none is believed, all come from
		// 127.0.0.1's bucket.
		began := time.Now()
		tally := flood(t, in.base, direct, "victim2", func(i int) string {
			if i%2 == 0 {
				return fmt.Sprintf("198.51.100.%d", 1+i%200)
			}
			return fmt.Sprintf("10.9.%d.%d", i>>8&255, i&255)
		})
		elapsed := time.Since(began)
		close(stop)
		legit.Wait()
		t.Logf("forged-XFF flood in %v: %v", elapsed.Round(time.Millisecond), tally.counts)
		for _, b := range tally.bad {
			t.Error(b)
		}
		limited := tally.get("429 too_many_requests")
		// The bucket lets a burst through, then one a second.
		if passed, most := floodRequests-limited, floodBurstPerIP+int(elapsed.Seconds())+1; passed > most {
			t.Errorf("%d logins got past the per-address limit in %v, want at most %d: the forged header dodged it", passed, elapsed, most)
		}
		// Nor does it reset it: once the bucket is empty (the flood's
		// tail may have left it a few seconds' refill), five new forged
		// addresses in a row get at most the one token that may refill
		// meanwhile; the rest are refused, and told it is the address.
		for i := 0; i <= floodBurstPerIP; i++ {
			if a := tryLogin(direct[0], in.base, "victim2", "wrong-password", "192.0.2.1"); a.status == http.StatusTooManyRequests && a.code == "too_many_requests" {
				break
			}
		}
		refused := 0
		for i := range 5 {
			a := tryLogin(direct[0], in.base, "victim2", "wrong-password", fmt.Sprintf("192.0.2.%d", 70+i))
			if a.status == http.StatusTooManyRequests && a.code == "too_many_requests" && a.retryAfter != "" {
				refused++
			}
		}
		if refused < 4 {
			t.Errorf("only %d of 5 logins with new forged X-Forwarded-For after the flood were refused by the per-address limit", refused)
		}
		if a := tryLogin(viaProxy[0], in.base, "alice", "alice-password", "198.51.100.2"); a.status != http.StatusOK {
			t.Errorf("alice, from an address the flood forged, after it: %d %s", a.status, a.code)
		}
	})

	if t.Failed() {
		t.Logf("server logs:\n%s", in.logs)
	}
	peak := measure(t, pid)
	t.Logf("peak resident memory (VmHWM): server %d KiB at idle, %d KiB after the floods; hash workers %v KiB at idle, %v KiB after; total %d -> %d KiB; %v for both floods",
		idle.server, peak.server, idle.workers, peak.workers, idle.total(), peak.total(), time.Since(start).Round(time.Millisecond))
	if len(peak.workers) != floodConcurrency {
		t.Errorf("%d hash workers after the floods, want %d: the flood started processes", len(peak.workers), floodConcurrency)
	}
	// The bound. Hashes run in the workers, one job each at a time
	// (--hash-concurrency of them), and the queue in front of them holds
	// requests, not hash memory: so the floods may add at most one
	// argon2id hash's memory per worker (19 MiB), plus slack for the
	// server's 50 connections, their goroutines and the garbage
	// collector's headroom (48 MiB; measured: the server grows by about
	// 17 MiB, a worker by about 20 MiB per hash). Without the limit, 50
	// concurrent hashes would need about 950 MiB.
	const hashKiB, slackKiB = argon2MemoryKiB + argon2MemoryKiB/10, 48 << 10
	if limit := idle.total() + floodConcurrency*hashKiB + slackKiB; peak.total() > limit {
		t.Errorf("peak memory %d KiB, over the %d KiB the hash limit allows (idle %d + %d workers x %d KiB + %d slack)",
			peak.total(), limit, idle.total(), floodConcurrency, hashKiB, slackKiB)
	}
	// And the server process itself holds no hash memory at all.
	if limit := idle.server + slackKiB; peak.server > limit {
		t.Errorf("server peak %d KiB, over idle %d + %d KiB slack: hash memory is held in the server", peak.server, idle.server, slackKiB)
	}
}
