package hashworker

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestChildNice checks that every thread of a worker runs at the nice
// value asked for (or at the test's own, if that is nicer already).
func TestChildNice(t *testing.T) {
	t.Parallel()
	c := &childMode{nice: 7}
	c.set("serve")
	p, err := NewPool(context.Background(), c.command, 1, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sent := inFlight(p)
	if _, err := p.Key(context.Background(), []byte("pw"), nil, testParams()); err != nil {
		t.Fatal(err)
	}
	pid := <-sent
	own, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := max(7, 20-own)
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/stat")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of child %d: %v", pid, err)
	}
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Fields after the command name in parentheses: state is field 3,
		// nice field 19.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if nice, _ := strconv.Atoi(fields[19-3]); nice != want {
			t.Errorf("%s: nice %d, want %d", path, nice, want)
		}
	}
	t.Logf("%d threads of child %d at nice %d", len(tasks), pid, want)
}
