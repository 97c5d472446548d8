package hashworker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/warehouse-api/warehouse/auth"
)

// childEnv makes the test binary act as a worker child instead of running
// the tests (the os/exec pattern): "serve" is the real worker; the other
// modes are broken workers for the pool's failure handling.
const (
	childEnv     = "HASHWORKER_TEST_CHILD"
	childNiceEnv = "HASHWORKER_TEST_NICE"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "serve":
		nice, _ := strconv.Atoi(os.Getenv(childNiceEnv))
		if err := PrepareChild(nice); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	case "hang": // reads jobs, never answers
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "echo": // answers garbage: the request itself
		_, _ = io.Copy(os.Stdout, os.Stdin)
	case "exit":
		os.Exit(3)
	}
	os.Exit(0)
}

// childMode selects what the next child started by a test pool does.
type childMode struct {
	mode   atomic.Value // string
	nice   int
	starts atomic.Int32
}

func (c *childMode) set(m string) { c.mode.Store(m) }

func (c *childMode) command() *exec.Cmd {
	c.starts.Add(1)
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+c.mode.Load().(string), childNiceEnv+"="+strconv.Itoa(c.nice))
	cmd.Stderr = os.Stderr
	return cmd
}

func quietLog() *slog.Logger { return nil }

// newTestPool starts a pool of n real workers, closed when the test ends.
func newTestPool(t testing.TB, n int) (*Pool, *childMode) {
	t.Helper()
	c := &childMode{}
	c.set("serve")
	p, err := NewPool(context.Background(), c.command, n, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, c
}

func testParams() auth.Params {
	return auth.Params{Memory: 64, Iterations: 1, Parallelism: 1, KeyLen: 32}
}

// slowParams make a hash that takes a good fraction of a second, long
// enough to act on a job in flight.
func slowParams() auth.Params {
	return auth.Params{Memory: 8 << 10, Iterations: 60, Parallelism: 1, KeyLen: 32}
}

func reference(password, salt []byte, p auth.Params) []byte {
	return argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
}

func TestKeyMatchesArgon2(t *testing.T) {
	t.Parallel()
	p, _ := newTestPool(t, 2)
	tests := []struct {
		name     string
		password string
		salt     string
		params   auth.Params
	}{
		{"test params", "glinteco", "0123456789abcdef", testParams()},
		{"OWASP params", "glinteco", "0123456789abcdef", auth.DefaultParams()},
		{"empty password", "", "0123456789abcdef", testParams()},
		{"empty salt", "pw", "", testParams()},
		{"max password", strings.Repeat("p", auth.MaxPasswordLen), "salt", testParams()},
		{"max salt and key", "pw", strings.Repeat("s", maxSaltLen), auth.Params{Memory: 64, Iterations: 1, Parallelism: 1, KeyLen: maxKeyLen}},
		{"4 lanes", "pw", "0123456789abcdef", auth.Params{Memory: 256, Iterations: 3, Parallelism: 4, KeyLen: 16}},
		{"binary password", "\x00\xff\n\r", "\x00", testParams()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := p.Key(context.Background(), []byte(tt.password), []byte(tt.salt), tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if want := reference([]byte(tt.password), []byte(tt.salt), tt.params); !bytes.Equal(got, want) {
				t.Errorf("key = %x, want %x", got, want)
			}
		})
	}
}

// TestKeyRefused checks parameters out of range are refused before any
// worker is used, and that the worker checks them too.
func TestKeyRefused(t *testing.T) {
	t.Parallel()
	p, _ := newTestPool(t, 1)
	tests := []struct {
		name     string
		password []byte
		salt     []byte
		params   auth.Params
	}{
		{"password too long", make([]byte, auth.MaxPasswordLen+1), nil, testParams()},
		{"salt too long", nil, make([]byte, maxSaltLen+1), testParams()},
		{"key too long", nil, nil, auth.Params{Memory: 64, Iterations: 1, Parallelism: 1, KeyLen: maxKeyLen + 1}},
		{"no key", nil, nil, auth.Params{Memory: 64, Iterations: 1, Parallelism: 1}},
		{"no lanes", nil, nil, auth.Params{Memory: 64, Iterations: 1, KeyLen: 32}},
		{"memory below 8 per lane", nil, nil, auth.Params{Memory: 31, Iterations: 1, Parallelism: 4, KeyLen: 32}},
		{"memory huge", nil, nil, auth.Params{Memory: maxMemory + 1, Iterations: 1, Parallelism: 1, KeyLen: 32}},
		{"no iterations", nil, nil, auth.Params{Memory: 64, Parallelism: 1, KeyLen: 32}},
		{"iterations huge", nil, nil, auth.Params{Memory: 64, Iterations: maxIterations + 1, Parallelism: 1, KeyLen: 32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if key, err := p.Key(context.Background(), tt.password, tt.salt, tt.params); err == nil {
				t.Errorf("Key() = %x, want an error", key)
			}
		})
	}
	// The same refusal from the child, which lives on.
	w := <-p.free
	j := &job{memory: maxMemory + 1, iterations: 1, parallelism: 1, keyLen: 32}
	_, err := w.exchange(w.frame(j))
	p.free <- w
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("child's answer to a job out of range: %v, want a refusal", err)
	}
	if _, err := p.Key(context.Background(), []byte("pw"), nil, testParams()); err != nil {
		t.Errorf("Key() after a refusal: %v", err)
	}
}

func TestConcurrentJobs(t *testing.T) {
	t.Parallel()
	p, c := newTestPool(t, 2)
	const goroutines, each = 16, 8
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				pw := []byte(fmt.Sprintf("password %d/%d", g, i))
				salt := []byte(fmt.Sprintf("salt %d", g))
				got, err := p.Key(context.Background(), pw, salt, testParams())
				if err != nil {
					t.Error(err)
					return
				}
				if want := reference(pw, salt, testParams()); !bytes.Equal(got, want) {
					t.Errorf("%s: key = %x, want %x", pw, got, want)
				}
			}
		})
	}
	wg.Wait()
	if n := c.starts.Load(); n != 2 {
		t.Errorf("%d children started, want 2", n)
	}
}

// killAndWait kills every child of p and waits until they have exited.
func killAndWait(p *Pool) {
	var idle []*worker
	for range p.workers {
		w := <-p.free
		if w.proc != nil {
			_ = w.proc.cmd.Process.Kill()
			<-w.proc.exited
		}
		idle = append(idle, w)
	}
	for _, w := range idle {
		p.free <- w
	}
}

// inFlight makes p report, on the returned channel, the pid of each child
// that has just been sent a job.
func inFlight(p *Pool) <-chan int {
	sent := make(chan int, 16)
	p.testSent = func(pid int) { sent <- pid }
	return sent
}

// TestWorkerLostMidJob: a worker killed mid-job, or one that stops
// answering (stopped with SIGSTOP: it is killed after the job timeout),
// fails its job, and the next job gets a new worker instead of waiting
// behind it forever.
func TestWorkerLostMidJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sig     syscall.Signal
		timeout time.Duration
		wantErr string // in the failed job's error
	}{
		{"killed", syscall.SIGKILL, jobTimeout, "killed"},
		{"hung", syscall.SIGSTOP, 300 * time.Millisecond, "hung"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, c := newTestPool(t, 1)
			p.timeout = tt.timeout
			sent := inFlight(p)
			errc := make(chan error, 1)
			go func() {
				_, err := p.Key(context.Background(), []byte("pw"), []byte("salt"), slowParams())
				errc <- err
			}()
			pid := <-sent
			if err := syscall.Kill(pid, tt.sig); err != nil {
				t.Fatal(err)
			}
			err := <-errc
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Key() on a %s worker: %v, want an error saying so", tt.name, err)
			}
			p.timeout = jobTimeout // the new child's start counts against it: no hurry on a busy machine
			got, err := p.Key(context.Background(), []byte("pw"), []byte("salt"), testParams())
			if err != nil {
				t.Fatalf("Key() after a worker was %s: %v", tt.name, err)
			}
			if want := reference([]byte("pw"), []byte("salt"), testParams()); !bytes.Equal(got, want) {
				t.Errorf("key = %x, want %x", got, want)
			}
			if newPid := <-sent; newPid == pid {
				t.Errorf("the %s worker was not replaced", tt.name)
			}
			if n := c.starts.Load(); n != 2 {
				t.Errorf("%d children started, want 2", n)
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("the %s worker %d still exists (kill 0: %v)", tt.name, pid, err)
			}
		})
	}
}

func TestWorkerKilledWhileIdle(t *testing.T) {
	t.Parallel()
	p, _ := newTestPool(t, 1)
	w := <-p.free
	pr := w.proc
	p.free <- w
	if err := pr.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-pr.exited
	// The death is seen before the job is sent: the job runs on a new child.
	if _, err := p.Key(context.Background(), []byte("pw"), nil, testParams()); err != nil {
		t.Errorf("Key() after an idle worker was killed: %v", err)
	}
}

// TestBrokenWorkers checks that workers that break the protocol or cannot
// start fail their jobs with an error, and are restarted with a backoff
// rather than in a loop.
func TestBrokenWorkers(t *testing.T) {
	t.Parallel()
	p, c := newTestPool(t, 1)
	for _, mode := range []string{"echo", "exit"} {
		t.Run(mode, func(t *testing.T) {
			c.set(mode)
			killAndWait(p) // the next job starts a child in this mode
			for i := range 5 {
				if _, err := p.Key(context.Background(), []byte("pw"), nil, testParams()); err == nil {
					t.Fatalf("job %d: no error from a broken worker", i)
				}
			}
			w := <-p.free
			failures, retryAt := w.failures, w.retryAt
			p.free <- w
			if failures < 2 || retryAt.IsZero() {
				t.Errorf("after failures: %d in a row, next restart at %v; want a backoff", failures, retryAt)
			}
			c.set("serve")
			for {
				_, err := p.Key(context.Background(), []byte("pw"), nil, testParams())
				if err == nil {
					break
				}
				if !strings.Contains(err.Error(), "next restart in") {
					t.Fatalf("Key() with a healthy command: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	if n := c.starts.Load(); n > 12 {
		t.Errorf("%d children started for 10 failing jobs and 2 recoveries: restarts are not backed off", n)
	}
}

func TestNewPoolFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		newCmd func() *exec.Cmd
	}{
		{"no such binary", func() *exec.Cmd { return exec.Command("/nonexistent/warehouse", "hash-worker") }},
		{"exits", (&childMode{}).withMode("exit")},
		{"garbage", (&childMode{}).withMode("echo")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewPool(context.Background(), tt.newCmd, 2, quietLog())
			if err == nil {
				p.Close()
				t.Fatal("NewPool() with a broken command: no error")
			}
		})
	}
	t.Run("hangs", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		p, err := NewPool(ctx, (&childMode{}).withMode("hang"), 2, quietLog())
		if !errors.Is(err, context.DeadlineExceeded) {
			p.Close()
			t.Fatalf("NewPool() with a child that never answers: %v, want DeadlineExceeded", err)
		}
	})
}

func (c *childMode) withMode(m string) func() *exec.Cmd {
	c.set(m)
	return c.command
}

func TestContextWhileWaiting(t *testing.T) {
	t.Parallel()
	p, _ := newTestPool(t, 1)
	w := <-p.free // the only worker is busy

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline", expired, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := p.Key(tt.ctx, []byte("pw"), nil, testParams()); !errors.Is(err, tt.want) {
				t.Errorf("Key() = %v, want %v", err, tt.want)
			}
		})
	}
	p.free <- w
	if _, err := p.Key(cancelled, []byte("pw"), nil, testParams()); !errors.Is(err, context.Canceled) {
		t.Errorf("Key() with a free worker and a cancelled context: %v", err)
	}
	if _, err := p.Key(context.Background(), []byte("pw"), nil, testParams()); err != nil {
		t.Errorf("Key() after cancellations: %v (worker lost?)", err)
	}
}

// TestContextWhileHashing checks that a caller who gives up gets its
// context's error at once, and that the worker finishes the job and stays
// in step for the next one.
func TestContextWhileHashing(t *testing.T) {
	t.Parallel()
	p, c := newTestPool(t, 1)
	sent := inFlight(p)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Key(ctx, []byte("pw"), []byte("salt"), slowParams())
		errc <- err
	}()
	<-sent
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Key() cancelled while hashing: %v, want context.Canceled", err)
	}
	got, err := p.Key(context.Background(), []byte("pw"), []byte("salt"), testParams())
	if err != nil {
		t.Fatal(err)
	}
	if want := reference([]byte("pw"), []byte("salt"), testParams()); !bytes.Equal(got, want) {
		t.Errorf("key after an abandoned job = %x, want %x (answers out of step?)", got, want)
	}
	if n := c.starts.Load(); n != 1 {
		t.Errorf("%d children started, want 1: an abandoned job must not cost the worker", n)
	}
}

// TestCloseWithJobsInFlight closes a pool whose children never answer,
// while jobs run and others wait: Close kills them after its grace, every
// job returns, and every child is gone.
func TestCloseWithJobsInFlight(t *testing.T) {
	t.Parallel()
	p, c := newTestPool(t, 2)
	p.grace = 200 * time.Millisecond
	sent := inFlight(p)
	c.set("hang")
	killAndWait(p) // the next jobs start children that never answer

	const jobs = 6
	errc := make(chan error, jobs)
	for range jobs {
		go func() {
			_, err := p.Key(context.Background(), []byte("pw"), nil, testParams())
			errc <- err
		}()
	}
	var pids []int
	for len(pids) < 2 {
		pid := <-sent
		if !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close() hangs")
	}
	for range jobs {
		select {
		case err := <-errc:
			if err == nil {
				t.Error("a job on a closed pool without an answer succeeded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a job hangs after Close()")
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("child %d still there after Close(): %v", pid, err)
		}
	}
	if _, err := p.Key(context.Background(), []byte("pw"), nil, testParams()); !errors.Is(err, ErrClosed) {
		t.Errorf("Key() after Close() = %v, want ErrClosed", err)
	}
}

// TestCloseFinishesJob checks that Close lets a job in flight finish.
func TestCloseFinishesJob(t *testing.T) {
	t.Parallel()
	p, _ := newTestPool(t, 1)
	// The test is about the job finishing, not about the grace: on a busy
	// machine the slow job under -race can run past the default 5 s.
	p.grace = time.Minute
	sent := inFlight(p)
	type answer struct {
		key []byte
		err error
	}
	ansc := make(chan answer, 1)
	go func() {
		key, err := p.Key(context.Background(), []byte("pw"), []byte("salt"), slowParams())
		ansc <- answer{key, err}
	}()
	<-sent
	p.Close()
	a := <-ansc
	if a.err != nil {
		t.Fatalf("job in flight during Close(): %v", a.err)
	}
	if want := reference([]byte("pw"), []byte("salt"), slowParams()); !bytes.Equal(a.key, want) {
		t.Errorf("key = %x, want %x", a.key, want)
	}
}

// TestHasherWithPool runs auth.Hasher on the pool end to end.
func TestHasherWithPool(t *testing.T) {
	t.Parallel()
	p, _ := newTestPool(t, 2)
	h := auth.NewHasher(auth.TestParams(), 2, auth.WithKeyFunc(p.Key))
	inline := auth.NewHasher(auth.TestParams(), 2)
	phc, err := h.Hash(context.Background(), "glinteco")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"glinteco", "wrong"} {
		ok, _, err := inline.Verify(context.Background(), pw, phc)
		if err != nil || ok != (pw == "glinteco") {
			t.Errorf("in-process Verify(%q) of a worker's hash = %v, %v", pw, ok, err)
		}
		ok, _, err = h.Verify(context.Background(), pw, phc)
		if err != nil || ok != (pw == "glinteco") {
			t.Errorf("worker Verify(%q) = %v, %v", pw, ok, err)
		}
	}
	p.Close()
	ok, _, err := h.Verify(context.Background(), "glinteco", phc)
	if ok || !errors.Is(err, auth.ErrHashUnavailable) || !errors.Is(err, ErrClosed) {
		t.Errorf("Verify() on a closed pool = %v, %v; want false and an error", ok, err)
	}
}

// BenchmarkKey: one hash in this process and in a worker. With tiny
// parameters the difference is the worker's cost per job (the pipe round
// trip and its collection after each answer); with OWASP's it is what a
// login pays for the isolation.
func BenchmarkKey(b *testing.B) {
	salt := []byte("0123456789abcdef")
	password := []byte("glinteco")
	for _, pc := range []struct {
		name string
		p    auth.Params
	}{{"tiny", testParams()}, {"owasp", auth.DefaultParams()}} {
		p := pc.p
		b.Run(pc.name+"/inline", func(b *testing.B) {
			for b.Loop() {
				argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
			}
		})
		b.Run(pc.name+"/worker", func(b *testing.B) {
			pool, _ := newTestPool(b, 1)
			ctx := context.Background()
			for b.Loop() {
				if _, err := pool.Key(ctx, password, salt, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
