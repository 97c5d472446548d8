package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one server process under test.
type proc struct {
	name string
	addr string
	cmd  *exec.Cmd
	done chan error
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs bin pinned to cpu (when taskset is there) with env added to
// the environment and its output in logPath, and waits until GET /healthz
// answers 200.
func start(ctx context.Context, name, cpu, bin, logPath, addr string, env []string, args ...string) (*proc, error) {
	argv := append([]string{bin}, args...)
	if ts, err := exec.LookPath("taskset"); err == nil && cpu != "" {
		// taskset execs bin, so the pid is the server's own (for /proc).
		argv = append([]string{ts, "-c", cpu}, argv...)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, addr: addr, cmd: cmd, done: make(chan error, 1)}
	go func() {
		p.done <- cmd.Wait()
		logf.Close()
	}()
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("%s exited at start (%v); see %s", name, err, logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not answer /healthz within 30s; see %s", name, logPath)
		}
	}
}

// peakRSS is the peak resident set (VmHWM) in KiB of the process, and
// the sum of the peaks of every process below it (warehouse's
// password-hashing workers).
func (p *proc) peakRSS() (self, children int64, err error) {
	pid := p.cmd.Process.Pid
	if self, err = vmHWM(pid); err != nil {
		return 0, 0, err
	}
	return self, descendantsPeakRSS(pid), nil
}

// descendantsPeakRSS sums VmHWM over the processes below pid; one that
// exits meanwhile is skipped.
func descendantsPeakRSS(pid int) int64 {
	var total int64
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended
		}
		for _, f := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if kb, err := vmHWM(child); err == nil {
				total += kb + descendantsPeakRSS(child)
			}
		}
	}
	return total
}

func vmHWM(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", v, err)
			}
			return kb, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// stop asks the server to shut down and waits for it.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
