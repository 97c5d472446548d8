package hashworker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/warehouse-api/warehouse/auth"
)

// ErrClosed is returned by Key after Close.
var ErrClosed = errors.New("hashworker: pool closed")

// Restart backoff: a worker that failed once is restarted on its next use;
// one that keeps failing waits from minBackoff, doubling, to maxBackoff,
// and jobs given to it meanwhile fail at once instead of waiting.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// stopTimeout is how long Close lets a child finish its job and exit after
// its stdin closes, before killing it.
const stopTimeout = 5 * time.Second

// jobTimeout is how long a worker may take over one job before it is taken
// for hung (stopped, or stuck) and killed, which fails the job and frees
// the slot: without it one stuck child would hold its slot, and so every
// login behind it, until the server restarts. A hash at OWASP's
// parameters takes tens of milliseconds, even on a core lent to it at a
// tenth of its time well under a second.
const jobTimeout = time.Minute

// Pool runs argon2id hashes in n child processes, one job per child at a
// time. Children are started by NewPool, and restarted when one dies, on
// its next use.
type Pool struct {
	newCmd  func() *exec.Cmd
	log     *slog.Logger
	workers []*worker
	free    chan *worker  // workers not running a job
	done    chan struct{} // closed by Close
	once    sync.Once
	grace   time.Duration // Close's wait for a job in flight and for a child to exit
	timeout time.Duration // a job's longest run before its worker counts as hung

	testSent func(pid int) // if set, called once a job has been sent (tests)
}

// NewPool starts n workers from newCmd, which must return a fresh command
// running PrepareChild and Serve on its stdin and stdout (its Stdin and
// Stdout are set here; its Stderr is left as newCmd sets it). Each worker
// computes a tiny hash before NewPool returns, so that a command that
// cannot work is an error here rather than at the first login; ctx bounds
// that wait. Workers' failures and restarts are logged to log (nil: not
// logged), never with a password.
func NewPool(ctx context.Context, newCmd func() *exec.Cmd, n int, log *slog.Logger) (*Pool, error) {
	if n < 1 {
		return nil, fmt.Errorf("hashworker: pool size %d, want at least 1", n)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{newCmd: newCmd, log: log, free: make(chan *worker, n), done: make(chan struct{}), grace: stopTimeout, timeout: jobTimeout}
	errs := make(chan error, n)
	for i := range n {
		w := &worker{pool: p, index: i}
		p.workers = append(p.workers, w)
		go func() {
			errs <- w.probe()
			p.free <- w
		}()
	}
	var err error
	for range n {
		select {
		case e := <-errs:
			err = errors.Join(err, e)
		case <-ctx.Done():
			p.shutdown(0)
			return nil, fmt.Errorf("hashworker: start workers: %w", ctx.Err())
		}
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("hashworker: start workers: %w", err)
	}
	return p, nil
}

// probe starts the worker's child and checks that it computes argon2id
// keys, with the cheapest job argon2 accepts.
func (w *worker) probe() error {
	j := &job{iterations: 1, memory: minMemory, parallelism: 1, keyLen: 16, salt: []byte("probe salt"), password: []byte("probe")}
	want := argon2.IDKey(j.password, j.salt, j.iterations, j.memory, j.parallelism, j.keyLen)
	got, err := w.exchange(w.frame(j))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("hashworker: worker %d computed a wrong key", w.index)
	}
	return nil
}

// Key computes the argon2id key of password and salt with params' memory,
// iterations, parallelism and key length in a worker process. It has the
// shape of auth.KeyFunc.
//
// If ctx ends while Key waits for a free worker, Key returns ctx's error.
// If it ends while a worker is hashing, Key returns at once too, and the
// worker stays busy until its answer has been read, so it never gets out
// of step with the protocol and the pool never runs more than n hashes. A
// worker that dies or breaks the protocol fails its job, and is restarted.
func (p *Pool) Key(ctx context.Context, password, salt []byte, params auth.Params) ([]byte, error) {
	j := &job{
		iterations: params.Iterations, memory: params.Memory, parallelism: params.Parallelism,
		keyLen: params.KeyLen, salt: salt, password: password,
	}
	if err := j.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hashworker: %w", err) // select below picks at random
	}
	var w *worker
	select {
	case w = <-p.free:
	case <-p.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("hashworker: wait for a worker: %w", ctx.Err())
	}
	select {
	case <-p.done:
		p.free <- w // Close is collecting the workers
		return nil, ErrClosed
	default:
	}
	// Framed now so the caller's slices are not read after Key returns.
	req := w.frame(j)
	if ctx.Done() == nil {
		defer func() { p.free <- w }()
		return w.exchange(req)
	}
	type answer struct {
		key []byte
		err error
	}
	ans := make(chan answer, 1)
	go func() {
		key, err := w.exchange(req)
		p.free <- w
		ans <- answer{key, err}
	}()
	select {
	case a := <-ans:
		return a.key, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("hashworker: abandoned job: %w", ctx.Err())
	}
}

// Close stops every worker: it closes their stdin, lets a job in flight
// finish for up to 5 s, then kills those still running. Jobs waiting for
// a worker, and later calls to Key, get ErrClosed. Close waits until every
// child has exited.
func (p *Pool) Close() error {
	p.shutdown(p.grace)
	return nil
}

// shutdown is Close, with grace for jobs in flight.
func (p *Pool) shutdown(grace time.Duration) {
	p.once.Do(func() {
		close(p.done)
		deadline := time.NewTimer(grace)
		defer deadline.Stop()
		var kill <-chan time.Time
		var wg sync.WaitGroup
		for range p.workers {
			var w *worker
			for w == nil {
				select {
				case w = <-p.free:
				case <-deadline.C:
					// Jobs have run past the grace: kill their children,
					// which fails the jobs and frees the workers. Again
					// every 100 ms, for a child started meanwhile.
					t := time.NewTicker(100 * time.Millisecond)
					defer t.Stop()
					kill = t.C
					p.killAll()
				case <-kill:
					p.killAll()
				}
			}
			wg.Go(w.stop)
		}
		wg.Wait()
	})
}

func (p *Pool) killAll() {
	for _, w := range p.workers {
		w.kill()
	}
}

// worker is one slot of the pool and the child process behind it, if
// running. Its fields are used only by whoever took it from the pool's free
// channel, except proc, which kill reads under mu.
type worker struct {
	pool  *Pool
	index int

	mu   sync.Mutex
	proc *process

	nextID   uint64
	failures int       // in a row, reset by a job done
	retryAt  time.Time // no restart before
	buf      []byte
}

// process is a running child.
type process struct {
	cmd     *exec.Cmd
	stdin   *os.File // write end of the child's stdin
	stdout  *os.File // read end of the child's stdout
	r       *bufio.Reader
	exited  chan struct{} // closed once Wait has returned
	waitErr error         // set before exited closes
}

// frame encodes j as the worker's next request.
func (w *worker) frame(j *job) []byte {
	w.nextID++
	j.id = w.nextID
	return appendRequest(nil, j)
}

// exchange sends one request to the child (started if need be) and reads
// its answer. A failure of the child or of the protocol stops the child.
func (w *worker) exchange(req []byte) ([]byte, error) {
	defer clear(req) // the password
	pr, err := w.running()
	if err != nil {
		return nil, err
	}
	id := w.nextID
	if _, err := pr.stdin.Write(req); err != nil {
		// The child died before it got the job: it exited while idle, and
		// running could not tell yet (its Wait had not returned). The job
		// never ran, so it is safe to give it to a new child, once.
		_ = w.failed(pr, fmt.Errorf("send job: %w", err))
		if pr, err = w.running(); err != nil {
			return nil, err
		}
		if _, err := pr.stdin.Write(req); err != nil {
			return nil, w.failed(pr, fmt.Errorf("send job: %w", err))
		}
	}
	if w.pool.testSent != nil {
		w.pool.testSent(pr.cmd.Process.Pid)
	}
	// A pipe is pollable, so a deadline bounds the wait for the answer.
	if err := pr.stdout.SetReadDeadline(time.Now().Add(w.pool.timeout)); err != nil {
		return nil, w.failed(pr, fmt.Errorf("set the answer's deadline: %w", err))
	}
	body, err := readFrame(pr.r, w.buf, answerHeaderLen, maxAnswerLen)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("no answer within %v: hung", w.pool.timeout)
	}
	if err != nil {
		return nil, w.failed(pr, fmt.Errorf("read answer: %w", noEOF(err)))
	}
	w.buf = body
	gotID, status, payload, err := parseAnswer(body)
	if err == nil && gotID != id {
		err = fmt.Errorf("%w: answer to job %d, want %d", errFrame, gotID, id)
	}
	if err != nil {
		return nil, w.failed(pr, fmt.Errorf("read answer: %w", err))
	}
	w.failures = 0
	if status == statusRefused {
		return nil, fmt.Errorf("hashworker: job refused: %s", payload)
	}
	return append([]byte(nil), payload...), nil
}

// running returns the worker's child, starting one if there is none or it
// has exited, unless it failed too recently.
func (w *worker) running() (*process, error) {
	w.mu.Lock()
	pr := w.proc
	w.mu.Unlock()
	if pr != nil {
		select {
		case <-pr.exited: // died while idle
			w.failed(pr, errors.New("exited while idle"))
		default:
			return pr, nil
		}
	}
	select {
	case <-w.pool.done:
		return nil, ErrClosed
	default:
	}
	if wait := time.Until(w.retryAt); wait > 0 {
		return nil, fmt.Errorf("hashworker: worker %d failed %d times in a row; next restart in %v", w.index, w.failures, wait.Round(time.Millisecond))
	}
	pr, err := w.start()
	if err != nil {
		w.backoff()
		w.pool.log.Warn("hash worker did not start", "worker", w.index, "err", err)
		return nil, err
	}
	w.mu.Lock()
	w.proc = pr
	w.mu.Unlock()
	return pr, nil
}

// start starts a child with pipes of its own: unlike StdinPipe and
// StdoutPipe they are not closed by Wait, so an answer written just before
// the child exits can still be read.
func (w *worker) start() (*process, error) {
	cmd := w.pool.newCmd()
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("hashworker: start worker: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("hashworker: start worker: %w", err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	// The child's ends, closed here so that the child sees EOF when we
	// close inW and we see EOF when the child exits.
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("hashworker: start worker: %w", err)
	}
	pr := &process{cmd: cmd, stdin: inW, stdout: outR, r: bufio.NewReader(outR), exited: make(chan struct{})}
	go func() {
		pr.waitErr = cmd.Wait()
		close(pr.exited)
	}()
	w.pool.log.Debug("hash worker started", "worker", w.index, "pid", cmd.Process.Pid)
	return pr, nil
}

// failed stops a child that broke, schedules its restart, and returns
// cause as the job's error, with the child's exit status when known.
func (w *worker) failed(pr *process, cause error) error {
	w.mu.Lock()
	w.proc = nil
	w.mu.Unlock()
	_ = pr.cmd.Process.Kill()
	// It has just been killed, so this wait is short; a child that
	// crashed on its own is usually gone already.
	<-pr.exited
	pr.stdin.Close()
	pr.stdout.Close()
	w.backoff()
	err := fmt.Errorf("hashworker: worker %d (pid %d): %w", w.index, pr.cmd.Process.Pid, cause)
	if pr.waitErr != nil {
		err = fmt.Errorf("%w (%v)", err, pr.waitErr)
	}
	select {
	case <-w.pool.done: // being closed: not worth a warning
	default:
		w.pool.log.Warn("hash worker failed; restarting it on next use", "err", err)
	}
	return err
}

// backoff counts a failure and sets when the next start may happen: at
// once after the first, then from minBackoff up to maxBackoff.
func (w *worker) backoff() {
	w.failures++
	if w.failures < 2 {
		w.retryAt = time.Time{}
		return
	}
	d := min(minBackoff<<min(w.failures-2, 16), maxBackoff)
	w.retryAt = time.Now().Add(d)
}

// kill kills the child, if any, without waiting: the job in flight, if
// any, then fails. Safe while another goroutine holds the worker.
func (w *worker) kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc != nil {
		_ = w.proc.cmd.Process.Kill()
	}
}

// stop ends an idle worker's child: closing its stdin makes Serve return;
// it is killed if it has not exited within stopTimeout.
func (w *worker) stop() {
	w.mu.Lock()
	pr := w.proc
	w.proc = nil
	w.mu.Unlock()
	if pr == nil {
		return
	}
	pr.stdin.Close()
	t := time.NewTimer(w.pool.grace)
	defer t.Stop()
	select {
	case <-pr.exited:
	case <-t.C:
		_ = pr.cmd.Process.Kill()
		<-pr.exited
	}
	pr.stdout.Close()
}
