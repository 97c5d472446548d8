package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// 100 on every Linux the bench runs on.
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU a process has used so far (user + system, all its
// threads), or 0 if it cannot be read (not Linux, or it ended).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	// After the name: state is field 3, utime 14 and stime 15.
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * clockTick
}

// children lists pid's child processes.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// cpuMeter adds up the CPU used by a set of processes over a window:
// processes that start inside the window count from their start, those
// that end inside it are lost (the pools' connections live longer).
type cpuMeter struct {
	pids  func() []int
	start map[int]time.Duration
}

func newCPUMeter(pids func() []int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: map[int]time.Duration{}}
	for _, p := range pids() {
		m.start[p] = cpuTime(p)
	}
	return m
}

// used is the CPU used since newCPUMeter.
func (m *cpuMeter) used() time.Duration {
	var d time.Duration
	for _, p := range m.pids() {
		d += cpuTime(p) - m.start[p]
	}
	return d
}

// postgresPIDs is the postmaster and its children (backends, WAL writer,
// checkpointer...), from the cluster's postmaster.pid.
func (c *pgCluster) postgresPIDs() []int {
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return nil
	}
	return append([]int{pm}, children(pm)...)
}
