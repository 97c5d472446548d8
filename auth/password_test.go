package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/argon2"
)

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := NewHasher(TestParams(), 2)
	tests := []struct {
		name     string
		password string
	}{
		{"ascii", "glinteco"},
		{"empty", ""},
		{"unicode", "pässwörd 🔑"},
		{"max length", strings.Repeat("x", MaxPasswordLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			phc, err := h.Hash(ctx, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if !phcPattern.MatchString(phc) {
				t.Errorf("Hash() = %q, not a PHC string with the test params", phc)
			}
			ok, rehash, err := h.Verify(ctx, tt.password, phc)
			if err != nil || !ok || rehash {
				t.Errorf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			ok, _, err = h.Verify(ctx, "!"+tt.password[min(1, len(tt.password)):], phc)
			if err != nil || ok {
				t.Errorf("Verify(wrong) = %v, %v; want false, nil", ok, err)
			}
			again, _ := h.Hash(ctx, tt.password)
			if again == phc {
				t.Error("two hashes of one password are equal: salt not random")
			}
		})
	}
}

// TestPHCMatchesReference recomputes a hash with argon2.IDKey directly, so
// the encoding is the reference one (RawStdEncoding salt and key).
func TestPHCMatchesReference(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams(), 1)
	phc, err := h.Hash(context.Background(), "glinteco")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(phc, "$")
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		t.Fatal(err)
	}
	want := base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("glinteco"), salt, 1, 64, 1, 32))
	if parts[5] != want {
		t.Errorf("hash = %s, want %s", parts[5], want)
	}
}

func TestPasswordTooLong(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := NewHasher(TestParams(), 1)
	long := strings.Repeat("x", MaxPasswordLen+1)
	if _, err := h.Hash(ctx, long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash() error = %v, want ErrPasswordTooLong", err)
	}
	phc, _ := h.Hash(ctx, "short")
	if ok, _, err := h.Verify(ctx, long, phc); ok || !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Verify() = %v, %v; want false, ErrPasswordTooLong", ok, err)
	}
	if err := h.VerifyDummy(ctx, long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("VerifyDummy() = %v, want ErrPasswordTooLong", err)
	}
}

func TestRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := NewHasher(TestParams(), 1)
	phc, err := old.Hash(ctx, "glinteco")
	if err != nil {
		t.Fatal(err)
	}
	change := func(f func(*Params)) Params { p := TestParams(); f(&p); return p }
	tests := []struct {
		name   string
		params Params
		rehash bool
	}{
		{"same params", TestParams(), false},
		{"more memory", change(func(p *Params) { p.Memory = 128 }), true},
		{"more iterations", change(func(p *Params) { p.Iterations = 2 }), true},
		{"more lanes", change(func(p *Params) { p.Parallelism = 2 }), true},
		{"longer salt", change(func(p *Params) { p.SaltLen = 32 }), true},
		{"longer key", change(func(p *Params) { p.KeyLen = 64 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := NewHasher(tt.params, 1).Verify(ctx, "glinteco", phc)
			if err != nil || !ok || rehash != tt.rehash {
				t.Errorf("Verify() = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.rehash)
			}
		})
	}
}

func TestMalformedPHC(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams(), 1)
	salt := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct{ name, phc string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"params out of order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"negative param", "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key},
		{"p zero", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"p too large", "$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key},
		{"t zero", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"m below 8p", "$argon2id$v=19$m=7,t=1,p=1$" + salt + "$" + key},
		{"m huge", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{"t huge", "$argon2id$v=19$m=64,t=100000,p=1$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!$" + key},
		{"empty salt", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"key not base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$%%"},
		{"key too short", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAA"},
		{"extra field", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$x"},
		{"no leading $", "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, _, err := h.Verify(context.Background(), "glinteco", tt.phc)
			if ok || !errors.Is(err, ErrInvalidHash) {
				t.Errorf("Verify() = %v, %v; want false, ErrInvalidHash", ok, err)
			}
			if err != nil && tt.phc != "" && strings.Contains(err.Error(), tt.phc) {
				t.Errorf("error %q echoes the hash", err)
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams(), 1)
	if err := h.VerifyDummy(context.Background(), "glinteco"); err != nil {
		t.Errorf("VerifyDummy() = %v", err)
	}
	p, _, _, err := parsePHC(h.dummy)
	if err != nil || p != h.Params() {
		t.Errorf("dummy hash params = %+v, %v; want %+v", p, err, h.Params())
	}
	first := h.dummy
	_ = h.VerifyDummy(context.Background(), "other")
	if h.dummy != first {
		t.Error("dummy hash recomputed")
	}
}

func TestNewHasherDefaults(t *testing.T) {
	t.Parallel()
	if got, want := NewHasher(Params{}, 0).Params(), DefaultParams(); got != want {
		t.Errorf("zero Params -> %+v, want %+v", got, want)
	}
	if want := (Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}); DefaultParams() != want {
		t.Errorf("DefaultParams() = %+v, want OWASP %+v", DefaultParams(), want)
	}
	if got, want := cap(NewHasher(TestParams(), 0).slots), max(runtime.GOMAXPROCS(0)-1, 1); got != want {
		t.Errorf("default concurrency = %d, want GOMAXPROCS-1 = %d", got, want)
	}
	if got := NewHasher(Params{Memory: 1, Parallelism: 4}, 1).Params().Memory; got != 32 {
		t.Errorf("memory raised to %d, want 8 KiB per lane = 32", got)
	}
}

// TestConcurrencyCap holds every hash inside its slot until released and
// records how many are inside at once. No timing is involved: the count can
// never exceed the cap, and it reaches the cap because two holders are
// waited for before anyone is released.
func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	const limit, workers = 2, 16
	h := NewHasher(TestParams(), limit)
	var cur, peak atomic.Int32
	entered := make(chan struct{}, workers)
	release := make(chan struct{})
	h.testHook = func() {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		cur.Add(-1)
	}
	phc, err := NewHasher(TestParams(), 1).Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = h.Hash(context.Background(), "pw")
			} else {
				_, _, err = h.Verify(context.Background(), "pw", phc)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	<-entered
	<-entered
	close(release)
	wg.Wait()
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrent hashes = %d, want %d", p, limit)
	}
}

func TestContextWhileWaiting(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams(), 1)
	h.slots <- struct{}{} // the only slot is busy

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := h.Hash(ctx, "pw")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Hash() error = %v, want context.Canceled", err)
	}
	if _, _, err := h.Verify(ctx, "pw", "$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify() error = %v, want context.Canceled", err)
	}
	if err := h.VerifyDummy(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyDummy() = %v, want context.Canceled", err)
	}

	<-h.slots // free the slot: a cancelled context still wins
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash() with a free slot and a cancelled context: %v", err)
	}
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Errorf("Hash() after cancellations: %v (slot leaked?)", err)
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams(), 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "glinteco"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWithKeyFunc checks that Hash and Verify compute keys with the given
// KeyFunc, inside a slot, and that its failures are errors wrapping
// ErrHashUnavailable, never a match or a mismatch.
func TestWithKeyFunc(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	ref := NewHasher(TestParams(), 1)
	phc, err := ref.Hash(context.Background(), "glinteco")
	if err != nil {
		t.Fatal(err)
	}
	errWorker := errors.New("worker died")
	tests := []struct {
		name    string
		key     func(password, salt []byte, p Params) ([]byte, error)
		wantErr error // nil: Hash and Verify work as without the option
	}{
		{"argon2", func(password, salt []byte, p Params) ([]byte, error) {
			return argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen), nil
		}, nil},
		{"error", func([]byte, []byte, Params) ([]byte, error) { return nil, errWorker }, errWorker},
		{"error with the right key", func(password, salt []byte, p Params) ([]byte, error) {
			return argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen), errWorker
		}, errWorker},
		{"short key", func([]byte, []byte, Params) ([]byte, error) { return make([]byte, 4), nil }, ErrHashUnavailable},
		{"cancelled", func([]byte, []byte, Params) ([]byte, error) { return nil, context.Canceled }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			var h *Hasher
			h = NewHasher(TestParams(), 1, WithKeyFunc(func(ctx context.Context, password, salt []byte, p Params) ([]byte, error) {
				calls.Add(1)
				if ctx.Value(ctxKey{}) != "v" {
					t.Error("KeyFunc did not get the caller's context")
				}
				if n := len(h.slots); n != 1 {
					t.Errorf("KeyFunc called with %d slots held, want 1", n)
				}
				return tt.key(password, salt, p)
			}))
			ctx := context.WithValue(context.Background(), ctxKey{}, "v")

			got, err := h.Hash(ctx, "glinteco")
			if tt.wantErr == nil {
				if err != nil || !phcPattern.MatchString(got) {
					t.Fatalf("Hash() = %q, %v", got, err)
				}
				if ok, _, err := ref.Verify(ctx, "glinteco", got); !ok || err != nil {
					t.Errorf("hash made with the KeyFunc does not verify in-process: %v, %v", ok, err)
				}
			} else if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrHashUnavailable) || got != "" {
				t.Errorf("Hash() = %q, %v; want an error wrapping %v and ErrHashUnavailable", got, err, tt.wantErr)
			}

			for _, pw := range []string{"glinteco", "wrong"} {
				ok, _, err := h.Verify(ctx, pw, phc)
				switch {
				case tt.wantErr == nil && (err != nil || ok != (pw == "glinteco")):
					t.Errorf("Verify(%q) = %v, %v", pw, ok, err)
				case tt.wantErr != nil && (ok || !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrHashUnavailable)):
					t.Errorf("Verify(%q) = %v, %v; want false and an error wrapping %v and ErrHashUnavailable", pw, ok, err, tt.wantErr)
				}
			}
			err = h.VerifyDummy(ctx, "glinteco")
			if (tt.wantErr == nil && err != nil) || (tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !errors.Is(err, ErrHashUnavailable))) {
				t.Errorf("VerifyDummy() = %v, want %v", err, tt.wantErr)
			}
			if n := calls.Load(); n != 4 {
				t.Errorf("KeyFunc called %d times, want 4 (Hash, 2 Verify, VerifyDummy)", n)
			}
			if n := len(h.slots); n != 0 {
				t.Errorf("%d slots still held", n)
			}
		})
	}
}

func TestWithKeyFuncNil(t *testing.T) {
	t.Parallel()
	h := NewHasher(TestParams(), 1, WithKeyFunc(nil))
	phc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(context.Background(), "pw", phc); !ok || err != nil {
		t.Errorf("Verify() = %v, %v; want true, nil", ok, err)
	}
}
