package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPgbenchP99 reads pgbench -l logs of two threads (client, transaction,
// latency in µs, script, epoch, µs) and removes them.
func TestPgbenchP99(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "pgbench-log")
	var a, b strings.Builder
	for i := 1; i <= 100; i++ {
		w := &a
		if i%2 == 0 {
			w = &b
		}
		fmt.Fprintf(w, "0 %d %d 0 1733100000 123456\n", i, i*1000)
	}
	for name, text := range map[string]string{prefix + ".4242": a.String(), prefix + ".4242.1": b.String()} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := pgbenchP99(prefix), 99*time.Millisecond; got != want {
		t.Errorf("p99 = %v, want %v", got, want)
	}
	if left, _ := filepath.Glob(prefix + ".*"); len(left) != 0 {
		t.Errorf("logs left behind: %v", left)
	}
	if got := pgbenchP99(filepath.Join(dir, "none")); got != 0 {
		t.Errorf("no logs: p99 = %v, want 0", got)
	}
}

// TestCPUMeter: the meter sees this process's own CPU work.
func TestCPUMeter(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	m := newCPUMeter(func() []int { return []int{os.Getpid()} })
	deadline := time.Now().Add(300 * time.Millisecond)
	n := 0
	for time.Now().Before(deadline) {
		n++
	}
	if used := m.used(); used <= 0 || used > 10*time.Second {
		t.Errorf("used %v of CPU spinning for 300ms (%d loops)", used, n)
	}
}
