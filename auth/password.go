package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// MaxPasswordLen bounds password length. argon2 itself is cheap on long
// inputs, but nobody needs more and a bound keeps request handling
// predictable.
const MaxPasswordLen = 1024

var (
	// ErrPasswordTooLong is returned for passwords over MaxPasswordLen bytes.
	ErrPasswordTooLong = fmt.Errorf("auth: password longer than %d bytes", MaxPasswordLen)
	// ErrInvalidHash is wrapped by every refusal of a stored PHC string.
	ErrInvalidHash = errors.New("auth: invalid password hash")
	// ErrHashUnavailable is wrapped by every failure of a Hasher's KeyFunc
	// (e.g. a hashing worker process that died). Such a failure says
	// nothing about the password: it is neither a match nor a mismatch.
	ErrHashUnavailable = errors.New("auth: password hashing unavailable")
)

// Limits on parameters read from a stored hash, so a corrupt or planted
// row cannot make one login allocate gigabytes or spin for minutes.
const (
	maxMemory     = 1 << 20 // KiB, 1 GiB
	maxIterations = 64
	maxSaltLen    = 1024
	minKeyLen     = 4 // the argon2 specification's minimum tag length
	maxKeyLen     = 1024
)

// Params are argon2id parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// DefaultParams returns OWASP's recommended argon2id parameters:
// m=19456 KiB, t=2, p=1, a 16-byte salt and a 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// TestParams returns tiny parameters that make hashing take microseconds.
// For tests only: the hashes are valid PHC strings but offer no protection.
func TestParams() Params {
	return Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// withDefaults fills zero fields from DefaultParams and raises Memory to
// argon2's minimum of 8 KiB per lane.
func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = d.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = d.Parallelism
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	p.Memory = max(p.Memory, 8*uint32(p.Parallelism))
	return p
}

// KeyFunc computes the argon2id key of password and salt with p's
// Memory, Iterations, Parallelism and KeyLen, as argon2.IDKey does. A
// Hasher calls it while holding a slot; it may run the hash elsewhere (in
// a worker process, see WithKeyFunc) and should return when ctx ends.
type KeyFunc func(ctx context.Context, password, salt []byte, p Params) ([]byte, error)

// inProcessKey is the default KeyFunc: argon2.IDKey in this process.
func inProcessKey(_ context.Context, password, salt []byte, p Params) ([]byte, error) {
	return argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen), nil
}

// HasherOption configures a Hasher made by NewHasher.
type HasherOption func(*Hasher)

// WithKeyFunc makes the Hasher compute keys with f instead of argon2.IDKey
// in this process. An error from f is returned by Hash and Verify wrapped
// together with ErrHashUnavailable; it never counts as a wrong password.
func WithKeyFunc(f KeyFunc) HasherOption {
	return func(h *Hasher) {
		if f != nil {
			h.key = f
		}
	}
}

// Hasher hashes and verifies passwords with argon2id. At most
// maxConcurrent hashes run at once, so memory stays bounded by
// maxConcurrent × Params.Memory under a login flood; callers beyond that
// wait for a slot (or for their context to end).
type Hasher struct {
	params Params
	slots  chan struct{}
	key    KeyFunc
	// queued counts the callers waiting for a slot.
	queued atomic.Int64

	dummyOnce sync.Once
	dummy     string

	// testHook, when set, runs while a slot is held (tests count holders).
	testHook func()
}

// NewHasher returns a Hasher using p (zero fields take DefaultParams'
// values) that runs at most maxConcurrent hashes at once;
// maxConcurrent <= 0 means DefaultHashConcurrency().
func NewHasher(p Params, maxConcurrent int, opts ...HasherOption) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultHashConcurrency()
	}
	h := &Hasher{params: p.withDefaults(), slots: make(chan struct{}, maxConcurrent), key: inProcessKey}
	for _, opt := range opts {
		opt(h)
	}
	return h
}

// DefaultHashConcurrency is GOMAXPROCS − 1, at least 1, so that hashes
// never occupy every core the server may use. A hash runs for tens of
// milliseconds without yielding: computed in the server's own process,
// Go's scheduler gives it a whole 10 ms slice at a time, and with every P
// hashing a login flood starves every other request (measured: GET /user
// fell to a tenth of its rate, p50 27 ms). With a single core nothing can
// be left free; there the hashes belong in worker processes at a lower
// priority (see WithKeyFunc), which the kernel preempts for requests.
func DefaultHashConcurrency() int {
	return max(runtime.GOMAXPROCS(0)-1, 1)
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// acquire waits for a hashing slot, honouring ctx.
func (h *Hasher) acquire(ctx context.Context) error {
	// Checked first because select picks at random when both are ready.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.slots <- struct{}{}:
	default:
		// Every slot is taken: wait, counted as queued (see Load).
		h.queued.Add(1)
		select {
		case h.slots <- struct{}{}:
			h.queued.Add(-1)
		case <-ctx.Done():
			h.queued.Add(-1)
			return ctx.Err()
		}
	}
	if h.testHook != nil {
		h.testHook()
	}
	return nil
}

func (h *Hasher) release() { <-h.slots }

// Load reports the hashes running now (at most the Hasher's concurrency)
// and the callers waiting for a slot, for metrics.
func (h *Hasher) Load() (busy, queued int) {
	return len(h.slots), int(h.queued.Load())
}

// Hash returns a PHC string, $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>,
// with salt and hash in unpadded standard base64 like the reference
// implementation.
func (h *Hasher) Hash(ctx context.Context, password string) (_ string, err error) {
	if len(password) > MaxPasswordLen {
		return "", ErrPasswordTooLong
	}
	ctx, span := startHashSpan(ctx, "password.hash")
	if span != nil {
		defer func() { endHashSpan(span, err) }()
	}
	p := h.params
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails since Go 1.24
	key, err := h.derive(ctx, []byte(password), salt, p)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return encodePHC(p, salt, key), nil
}

// derive computes a key in a slot. Errors from the KeyFunc, including a
// key of the wrong length, wrap ErrHashUnavailable.
func (h *Hasher) derive(ctx context.Context, password, salt []byte, p Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	key, err := h.key(ctx, password, salt, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHashUnavailable, err)
	}
	if len(key) != int(p.KeyLen) {
		return nil, fmt.Errorf("%w: key of %d bytes, want %d", ErrHashUnavailable, len(key), p.KeyLen)
	}
	return key, nil
}

// Verify reports whether password matches the PHC string phc, and whether
// phc was made with parameters other than h's, in which case the caller
// should store a new Hash after a successful login. A malformed phc is an
// error wrapping ErrInvalidHash. Verify waits for a slot honouring ctx. A
// failure to compute the hash (see WithKeyFunc) is an error wrapping
// ErrHashUnavailable, never a false ok: callers must not count it as a
// wrong password.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok bool, rehash bool, err error) {
	if len(password) > MaxPasswordLen {
		return false, false, ErrPasswordTooLong
	}
	ctx, span := startHashSpan(ctx, "password.verify")
	if span != nil {
		defer func() { endHashSpan(span, err) }()
	}
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, []byte(password), salt, p)
	if err != nil {
		return false, false, fmt.Errorf("auth: verify password: %w", err)
	}
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, p != h.params, nil
}

// VerifyDummy spends the same time as a real Verify against a hash made
// with h's parameters, so a login for an unknown user costs as much as a
// wrong password and does not reveal which users exist. It never matches;
// it returns the error Verify returned (ctx's, ErrPasswordTooLong,
// ErrHashUnavailable), so that the caller can answer an unknown user
// exactly as it answers a known one, also when hashing fails.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	h.dummyOnce.Do(func() {
		// Only the cost matters, so random bytes stand in for a real hash:
		// no password could be found that matches it.
		salt := make([]byte, h.params.SaltLen)
		key := make([]byte, h.params.KeyLen)
		rand.Read(salt)
		rand.Read(key)
		h.dummy = encodePHC(h.params, salt, key)
	})
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// parsePHC reads an argon2id PHC string. Its errors never include the
// string itself.
func parsePHC(phc string) (p Params, salt, key []byte, err error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrInvalidHash, why)
	}
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported argon2 version")
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return bad("parameters must be m, t and p")
	}
	var vals [3]uint64
	for i, name := range [...]string{"m=", "t=", "p="} {
		v, found := strings.CutPrefix(fields[i], name)
		if !found {
			return bad("parameters must be m, t and p")
		}
		bits := 32
		if i == 2 {
			bits = 8
		}
		if vals[i], err = strconv.ParseUint(v, 10, bits); err != nil {
			return bad("parameter " + name[:1] + " is not a number in range")
		}
	}
	p.Memory, p.Iterations, p.Parallelism = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	switch {
	case p.Parallelism < 1:
		return bad("p must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemory:
		return bad("m out of range")
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return bad("t out of range")
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(salt) < 1 || len(salt) > maxSaltLen {
		return bad("invalid salt")
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return bad("invalid hash")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
