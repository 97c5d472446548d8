package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// TestServeHashWorkers runs serve with its password hashes in worker
// processes (this test binary as `hash-worker`, see TestMain) and in the
// server process, and logs in through HTTP with each.
func TestServeHashWorkers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		workers int // worker processes expected
	}{
		{"process", []string{"--hash-workers", "process", "--hash-concurrency", "2"}, nil, 2},
		{"process by default", nil, map[string]string{"WAREHOUSE_HASH_CONCURRENCY": "1", "WAREHOUSE_HASH_NICE": "5"}, 1},
		{"inline", nil, map[string]string{"WAREHOUSE_HASH_WORKERS": "inline"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--data", t.TempDir(), "--demo", "--log-level", "debug"}, tt.args...)
			base, logs, stop := startServe(t, args, func(k string) string { return tt.env[k] })
			pids := workerPids(logs.String())
			if len(pids) != tt.workers {
				t.Fatalf("%d hash workers started, want %d:\n%s", len(pids), tt.workers, logs)
			}
			if strings.Contains(logs.String(), "did not start") {
				t.Errorf("hash workers fell back to in-process:\n%s", logs)
			}
			login := func(pw string) int {
				code, _ := call(t, "POST", base+"/login", loginBody("joevu", pw), "")
				return code
			}
			if code := login("glinteco"); code != 200 {
				t.Fatalf("login: %d\n%s", code, logs)
			}
			if code := login("wrong"); code != 401 {
				t.Errorf("login with a wrong password: %d, want 401", code)
			}
			if runtime.GOOS == "linux" && len(pids) > 0 {
				wantNice := 10
				if tt.env["WAREHOUSE_HASH_NICE"] != "" {
					wantNice, _ = strconv.Atoi(tt.env["WAREHOUSE_HASH_NICE"])
				}
				for _, pid := range pids {
					checkWorker(t, pid, wantNice)
				}
				// A worker killed while idle is replaced on the next login.
				if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				waitGone(t, pids[0])
				if code := login("glinteco"); code != 200 {
					t.Errorf("login after a hash worker was killed: %d\n%s", code, logs)
				}
			}
			stop()
			for _, pid := range workerPids(logs.String()) {
				waitGone(t, pid)
			}
		})
	}
}

var workerStarted = regexp.MustCompile(`msg="hash worker started" worker=\d+ pid=(\d+)`)

// workerPids reads the pids of the hash workers started from serve's logs.
func workerPids(logs string) []int {
	var pids []int
	for _, m := range workerStarted.FindAllStringSubmatch(logs, -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// checkWorker checks that pid is a hash worker of this process whose
// threads all run at nice (or nicer, if this test already is).
func checkWorker(t *testing.T, pid, nice int) {
	t.Helper()
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatalf("hash worker %d: %v", pid, err)
	}
	if args := strings.Split(string(cmdline), "\x00"); len(args) < 4 || args[1] != "hash-worker" || args[2] != "--nice" || args[3] != strconv.Itoa(nice) {
		t.Errorf("hash worker %d runs %q", pid, args)
	}
	own, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	nice = max(nice, 20-own) // getpriority(2) returns 20 - nice
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/stat")
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// After the command name in parentheses, state is field 3, nice 19.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if got, _ := strconv.Atoi(fields[19-3]); got != nice {
			t.Errorf("%s: nice %d, want %d", path, got, nice)
		}
	}
	if len(tasks) == 0 {
		t.Errorf("hash worker %d has no threads", pid)
	}
}

// waitGone waits until pid has exited and been reaped.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still there", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHashWorkerFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown mode", []string{"--hash-workers", "threads"}, nil, "--hash-workers must be process or inline"},
		{"nice too high", []string{"--hash-nice", "20"}, nil, "--hash-nice must be in 0..19"},
		{"nice negative", nil, map[string]string{"WAREHOUSE_HASH_NICE": "-1"}, "--hash-nice must be in 0..19"},
		{"nice not a number", nil, map[string]string{"WAREHOUSE_HASH_NICE": "low"}, "WAREHOUSE_HASH_NICE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"serve", "--data", t.TempDir()}, tt.args...)
			err := run(context.Background(), args, strings.NewReader(""), io.Discard, logcheck.Writer(t), func(k string) string { return tt.env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("serve %v: %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestHashWorkerCommand checks the worker command's arguments. (Run
// in-process it would set this test process's GOMAXPROCS and nice value:
// TestServeHashWorkers runs it as a child.)
func TestHashWorkerCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--nice", "25"}, {"--nice", "-1"}, {"extra"}, {"--bogus"}} {
		err := run(context.Background(), append([]string{"hash-worker"}, args...), strings.NewReader(""), io.Discard, logcheck.Writer(t), noEnv)
		if err == nil {
			t.Errorf("hash-worker %v: no error", args)
		}
	}
}
