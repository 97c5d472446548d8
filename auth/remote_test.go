package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock for cache lifetimes.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwksServer serves a JWKS document that a test may change, and counts
// requests.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	header  http.Header
	status  int
	gate    chan struct{} // when set, requests wait for it to close
	fetches atomic.Int32
}

func newJWKSServer(t testing.TB, body []byte, header http.Header) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, header: header, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, header, status, gate := s.body, s.header, s.status, s.gate
		s.mu.Unlock()
		if gate != nil {
			<-gate
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, header http.Header) {
	s.mu.Lock()
	s.body, s.header = body, header
	s.mu.Unlock()
}

func (s *jwksServer) setStatus(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

func (s *jwksServer) setGate(gate chan struct{}) {
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
}

func (s *jwksServer) count() int { return int(s.fetches.Load()) }

func jwksOf(t testing.TB, keys ...Key) []byte {
	t.Helper()
	b, err := newTestKeyring(t, keys...).PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signWith(t testing.TB, k Key) string {
	t.Helper()
	tok, err := newTestKeyring(t, k).Sign(NewClaims("joevu", TypeAccess, testNow, 15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func maxAge(s string) http.Header { return http.Header{"Cache-Control": {s}} }

func newRemote(s *jwksServer, clock *fakeClock, opts RemoteOptions) *RemoteKeySet {
	opts.Now = clock.Now
	opts.HTTPClient = s.Client()
	return NewRemoteKeySet(s.URL, opts)
}

// wantCode checks that err is a *TokenError with code and detail.
func wantCode(t testing.TB, err error, code, detail string) {
	t.Helper()
	var te *TokenError
	if !errors.As(err, &te) || te.Code != code || (detail != "" && te.Detail != detail) {
		t.Fatalf("error = %#v, want %s %q", err, code, detail)
	}
}

func TestRemoteVerifiesEveryAlgorithm(t *testing.T) {
	t.Parallel()
	var asym []Key
	for _, alg := range allAlgs {
		if !strings.HasPrefix(alg, "HS") {
			asym = append(asym, testKey(t, alg, 0))
		}
	}
	srv := newJWKSServer(t, jwksOf(t, asym...), nil)
	r := newRemote(srv, newFakeClock(), RemoteOptions{})
	for _, k := range asym {
		t.Run(k.Algorithm, func(t *testing.T) {
			t.Parallel()
			tok := signWith(t, k)
			c, err := r.Verify(context.Background(), tok, testNow, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "joevu" || c.Type != TypeAccess {
				t.Fatalf("claims %+v", c)
			}
			// Same refusals, same words as Keyring.Verify.
			_, err = r.Verify(context.Background(), tok, testNow.Add(time.Hour), VerifyOptions{})
			wantCode(t, err, CodeExpired, "Signature has expired")
			bad := tok[:len(tok)-4] + "AAAA"
			if bad == tok {
				bad = tok[:len(tok)-4] + "BBBB"
			}
			_, err = r.Verify(context.Background(), bad, testNow, VerifyOptions{})
			var te *TokenError
			if !errors.As(err, &te) || (te.Code != CodeBadSignature && te.Code != CodeMalformed) {
				t.Fatalf("tampered token: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		if n := srv.count(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
	})
}

func TestRemoteRefusals(t *testing.T) {
	t.Parallel()
	ed := testKey(t, AlgEdDSA, 0)
	es := testKey(t, AlgES256, 0)
	rs := testKey(t, AlgRS256, 0)
	hs := Key{ID: "hmac-key", Secret: testSecret}
	// The server publishes an HMAC key by mistake next to good ones; the
	// remote set must never use it.
	body := `{"keys":[` +
		`{"kty":"oct","kid":"hmac-key","alg":"HS256","k":"` + b64url(testSecret) + `"},` +
		`{"kty":"oct","kid":"hmac-rs","alg":"RS256","k":"` + b64url(testSecret) + `"},` +
		strings.TrimSuffix(strings.TrimPrefix(string(jwksOf(t, ed, publicOnly(es), publicOnly(rs))), `{"keys":[`), `]}`) + `]}`
	srv := newJWKSServer(t, []byte(body), maxAge("max-age=3600"))
	r := newRemote(srv, newFakeClock(), RemoteOptions{})

	iat := testNow.Unix() - 60
	edTok := signWith(t, ed)
	parts := strings.Split(edTok, ".")
	hsSigned := func(kid, alg string) string {
		return craft(`{"alg":"`+alg+`","kid":"`+kid+`","typ":"JWT"}`, payloadAt(iat, ""), testSecret, sha256.New)
	}
	tests := []struct {
		name, token, code, detail string
	}{
		{"no kid", signWith(t, Key{Algorithm: AlgEdDSA, Private: ed.Private}), CodeUnknownKID, "Token has no key id"},
		{"no kid, HMAC", signWith(t, Key{Secret: testSecret}), CodeUnknownKID, "Token has no key id"},
		{"kid of an HMAC key", signWith(t, hs), CodeUnknownKID, "Unknown signing key"},
		{"kid of an HMAC key, alg RS256", hsSigned("hmac-key", "RS256"), CodeUnknownKID, "Unknown signing key"},
		{"kid of an oct key claiming RS256", hsSigned("hmac-rs", "RS256"), CodeUnknownKID, "Unknown signing key"},
		{"RSA kid, alg HS256 (key confusion)", hsSigned(rs.ID, "HS256"), CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"RSA kid, alg PS256", hsSigned(rs.ID, "PS256"), CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"EdDSA kid, alg ES256", craft(`{"alg":"ES256","kid":"`+ed.ID+`","typ":"JWT"}`, payloadAt(iat, ""), nil, nil), CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"EC kid, alg none", craft(`{"alg":"none","kid":"`+es.ID+`"}`, payloadAt(iat, ""), nil, nil), CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"EdDSA signature under the EC kid", enc(`{"alg":"EdDSA","kid":"`+es.ID+`","typ":"JWT"}`) + "." + parts[1] + "." + parts[2], CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"garbage", "garbage", CodeMalformed, "Not enough segments"},
		{"unknown kid", hsSigned("nope", "EdDSA"), CodeUnknownKID, "Unknown signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := r.Verify(context.Background(), tt.token, testNow, VerifyOptions{})
			wantCode(t, err, tt.code, tt.detail)
		})
	}
	// The Keyring (which does hold the HMAC key) refuses the confused
	// token too: a kid naming an HMAC key with alg RS256.
	kr := newTestKeyring(t, hs, publicOnly(rs))
	_, err := kr.Verify(hsSigned("hmac-key", "RS256"), testNow, VerifyOptions{})
	wantCode(t, err, CodeAlgNotAllowed, "The specified alg value is not allowed")
}

func TestRemoteCaching(t *testing.T) {
	t.Parallel()
	ed := testKey(t, AlgEdDSA, 0)
	body := jwksOf(t, ed)
	minute := time.Minute
	tests := []struct {
		name   string
		header http.Header
		// fresh is how long the set is used without a refetch.
		fresh time.Duration
	}{
		{"max-age", maxAge("public, max-age=600"), 10 * minute},
		{"max-age minus Age", http.Header{"Cache-Control": {"max-age=600"}, "Age": {"120"}}, 8 * minute},
		{"max-age quoted, upper case", maxAge(`MAX-AGE="300"`), 5 * minute},
		{"max-age capped by MaxAge", maxAge("max-age=31536000"), 2 * time.Hour},
		{"max-age below MinRefresh", maxAge("max-age=5"), minute},
		{"max-age 0", maxAge("max-age=0"), minute},
		{"no-store", maxAge("no-store"), minute},
		{"no-cache wins over max-age", maxAge("max-age=600, no-cache"), minute},
		{"invalid max-age", maxAge("max-age=soon"), minute},
		{"Expires", http.Header{"Date": {"Fri, 02 Jan 2026 03:04:05 GMT"}, "Expires": {"Fri, 02 Jan 2026 03:34:05 GMT"}}, 30 * minute},
		{"Expires against a skewed Date", http.Header{"Date": {"Thu, 01 Jan 2026 00:00:00 GMT"}, "Expires": {"Thu, 01 Jan 2026 00:20:00 GMT"}}, 20 * minute},
		{"Expires invalid", http.Header{"Expires": {"0"}}, minute},
		{"max-age wins over Expires", http.Header{"Cache-Control": {"max-age=240"}, "Expires": {"Fri, 02 Jan 2026 03:34:05 GMT"}}, 4 * minute},
		{"no headers: DefaultTTL", nil, 5 * minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newJWKSServer(t, body, tt.header)
			clock := newFakeClock()
			r := newRemote(srv, clock, RemoteOptions{MaxAge: 2 * time.Hour})
			tok := signWith(t, ed)
			verify := func(wantFetches int) {
				t.Helper()
				if _, err := r.Verify(context.Background(), tok, testNow, VerifyOptions{}); err != nil {
					t.Fatal(err)
				}
				if n := srv.count(); n != wantFetches {
					t.Fatalf("after %v: %d fetches, want %d", clock.Now().Sub(newFakeClock().Now()), n, wantFetches)
				}
			}
			verify(1) // lazy first fetch
			verify(1)
			clock.Add(tt.fresh - time.Second)
			verify(1)
			clock.Add(time.Second)
			verify(2)
			verify(2)
		})
	}
}

func TestRemoteUnknownKIDRefetchIsRateLimited(t *testing.T) {
	t.Parallel()
	a := testKey(t, AlgES256, 0)
	b := testKey(t, AlgEdDSA, 0)
	srv := newJWKSServer(t, jwksOf(t, a), maxAge("max-age=86400"))
	clock := newFakeClock()
	r := newRemote(srv, clock, RemoteOptions{MinRefresh: time.Minute})
	ctx := context.Background()
	tokA, tokB := signWith(t, a), signWith(t, b)
	random := func(i int) string {
		return craft(`{"alg":"ES256","kid":"random-`+itoa(int64(i))+`","typ":"JWT"}`, payloadAt(testNow.Unix(), ""), nil, nil)
	}

	if _, err := r.Verify(ctx, tokA, testNow, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	// Right after a fetch, a flood of unknown kids fetches nothing.
	for i := range 50 {
		_, err := r.Verify(ctx, random(i), testNow, VerifyOptions{})
		wantCode(t, err, CodeUnknownKID, "Unknown signing key")
	}
	if n := srv.count(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}

	// A minute later one unknown kid triggers exactly one refetch, and the
	// flood behind it none.
	clock.Add(time.Minute)
	for i := range 50 {
		_, err := r.Verify(ctx, random(i), testNow, VerifyOptions{})
		wantCode(t, err, CodeUnknownKID, "Unknown signing key")
	}
	if n := srv.count(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}

	// The server rotates to key b. A token with b's kid is refused until
	// the rate limit allows a refetch, then accepted.
	srv.set(jwksOf(t, b, publicOnly(a)), maxAge("max-age=86400"))
	clock.Add(30 * time.Second)
	_, err := r.Verify(ctx, tokB, testNow, VerifyOptions{})
	wantCode(t, err, CodeUnknownKID, "Unknown signing key")
	clock.Add(30 * time.Second)
	if _, err := r.Verify(ctx, tokB, testNow, VerifyOptions{}); err != nil {
		t.Fatalf("rotated key not picked up: %v", err)
	}
	if _, err := r.Verify(ctx, tokA, testNow, VerifyOptions{}); err != nil {
		t.Fatalf("old key still published but refused: %v", err)
	}
	if n := srv.count(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}

	// Key a is retired on the server: its tokens stop verifying at the
	// next fetch.
	srv.set(jwksOf(t, b), maxAge("max-age=86400"))
	clock.Add(24 * time.Hour)
	_, err = r.Verify(ctx, tokA, testNow, VerifyOptions{})
	wantCode(t, err, CodeUnknownKID, "Unknown signing key")
	if n := srv.count(); n != 4 {
		t.Fatalf("%d fetches, want 4", n)
	}
}

func TestRemoteBadDocuments(t *testing.T) {
	t.Parallel()
	ed := testKey(t, AlgEdDSA, 0)
	good := jwksOf(t, ed)
	many := `{"keys":[` + strings.Repeat(strings.TrimSuffix(strings.TrimPrefix(string(good), `{"keys":[`), `]}`)+",", 3)
	many = strings.TrimSuffix(many, ",") + `]}`
	tests := []struct {
		name   string
		body   string
		status int
		opts   RemoteOptions
		want   string // in the error
	}{
		{"oversized body", `{"keys":[` + strings.Repeat(" ", 2048) + `]}`, 200, RemoteOptions{MaxBody: 1024}, "larger than 1024 bytes"},
		{"bad JSON", `{"keys":[`, 200, RemoteOptions{}, "bad JSON"},
		{"not JSON", `<html>`, 200, RemoteOptions{}, "bad JSON"},
		{"keys not an array", `{"keys":{}}`, 200, RemoteOptions{}, "bad JSON"},
		{"no keys member", `{}`, 200, RemoteOptions{}, `no "keys" array`},
		{"null", `null`, 200, RemoteOptions{}, `no "keys" array`},
		{"too many keys", many, 200, RemoteOptions{MaxKeys: 2}, "more than the limit of 2"},
		{"only HMAC keys", `{"keys":[{"kty":"oct","kid":"a","k":"c2VjcmV0"}]}`, 200, RemoteOptions{}, "no usable keys"},
		{"keys of the wrong shape", `{"keys":[1,"x",null,{"kty":7}]}`, 200, RemoteOptions{}, "no usable keys"},
		{"duplicate kids only", many, 200, RemoteOptions{}, "no usable keys"},
		{"server error", string(good), 500, RemoteOptions{}, "500 Internal Server Error"},
		{"deep nesting", strings.Repeat("[", 100000), 200, RemoteOptions{}, "bad JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newJWKSServer(t, []byte(tt.body), nil)
			srv.setStatus(tt.status)
			clock := newFakeClock()
			r := newRemote(srv, clock, tt.opts)
			tok := signWith(t, ed)
			_, err := r.Verify(context.Background(), tok, testNow, VerifyOptions{})
			var te *TokenError
			if err == nil || errors.As(err, &te) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want a key set error containing %q", err, tt.want)
			}
			// A failure is not retried at once, so a broken server is not
			// hammered by every request...
			r.Verify(context.Background(), tok, testNow, VerifyOptions{})
			if n := srv.count(); n != 1 {
				t.Fatalf("%d fetches, want 1", n)
			}
			// ...but it is after a short back-off, and a good answer then
			// makes the set usable.
			srv.set(good, nil)
			srv.setStatus(http.StatusOK)
			clock.Add(5 * time.Second)
			if _, err := r.Verify(context.Background(), tok, testNow, VerifyOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRemoteKeepsStaleKeysWhileServerIsDown(t *testing.T) {
	t.Parallel()
	ed := testKey(t, AlgEdDSA, 0)
	srv := newJWKSServer(t, jwksOf(t, ed), maxAge("max-age=60"))
	clock := newFakeClock()
	r := newRemote(srv, clock, RemoteOptions{MaxAge: time.Hour})
	tok := signWith(t, ed)
	ctx := context.Background()
	if _, err := r.Verify(ctx, tok, testNow, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.setStatus(http.StatusBadGateway)
	clock.Add(2 * time.Minute) // expired, refetch fails: the old keys serve
	if _, err := r.Verify(ctx, tok, testNow, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour) // beyond MaxAge: no more keys
	_, err := r.Verify(ctx, tok, testNow, VerifyOptions{})
	var te *TokenError
	if err == nil || errors.As(err, &te) {
		t.Fatalf("error = %v, want a key set error", err)
	}
}

func TestRemoteUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r := NewRemoteKeySet(url, RemoteOptions{})
	_, err := r.Verify(context.Background(), signWith(t, testKey(t, AlgEdDSA, 0)), testNow, VerifyOptions{})
	var te *TokenError
	if err == nil || errors.As(err, &te) {
		t.Fatalf("error = %v, want a key set error", err)
	}
	r = NewRemoteKeySet("::not a url", RemoteOptions{})
	if _, err := r.Verify(context.Background(), "a.b.c", testNow, VerifyOptions{}); err == nil || errors.As(err, &te) {
		t.Fatalf("error = %v, want a key set error", err)
	}
}

func TestRemoteConcurrentVerifyCoalescesFetches(t *testing.T) {
	t.Parallel()
	ed := testKey(t, AlgEdDSA, 0)
	es := testKey(t, AlgES256, 0)
	srv := newJWKSServer(t, jwksOf(t, ed, publicOnly(es)), maxAge("max-age=600"))
	gate := make(chan struct{})
	srv.setGate(gate)
	clock := newFakeClock()
	r := newRemote(srv, clock, RemoteOptions{})
	tokens := []string{signWith(t, ed), signWith(t, es)}

	const n = 64
	var started, done sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			_, err := r.Verify(context.Background(), tokens[i%2], testNow, VerifyOptions{})
			errs <- err
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // let them pile up on the fetch (the count holds either way)
	close(gate)
	done.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.count(); got != 1 {
		t.Fatalf("%d fetches for %d concurrent first verifications, want 1", got, n)
	}

	// The same for a refresh of an expired set, mixed with unknown kids.
	clock.Add(time.Hour)
	gate2 := make(chan struct{})
	srv.setGate(gate2)
	unknown := craft(`{"alg":"EdDSA","kid":"nope","typ":"JWT"}`, payloadAt(testNow.Unix(), ""), nil, nil)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				r.Verify(context.Background(), unknown, testNow, VerifyOptions{})
				return
			}
			if _, err := r.Verify(context.Background(), tokens[i%2], testNow, VerifyOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(gate2)
	wg.Wait()
	if got := srv.count(); got != 2 {
		t.Fatalf("%d fetches, want 2", got)
	}
}

func TestRemoteWaiterContextCancelled(t *testing.T) {
	t.Parallel()
	ed := testKey(t, AlgEdDSA, 0)
	srv := newJWKSServer(t, jwksOf(t, ed), nil)
	gate := make(chan struct{})
	srv.setGate(gate)
	r := newRemote(srv, newFakeClock(), RemoteOptions{})
	tok := signWith(t, ed)

	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := r.Verify(ctx, tok, testNow, VerifyOptions{})
		res <- err
	}()
	for srv.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	// The fetch itself went on, for everyone else.
	close(gate)
	if _, err := r.Verify(context.Background(), tok, testNow, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := srv.count(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func BenchmarkRemoteVerifyWarm(b *testing.B) {
	for _, alg := range []string{AlgEdDSA, AlgES256, AlgRS256} {
		b.Run(alg, func(b *testing.B) {
			k := testKey(b, alg, 0)
			srv := newJWKSServer(b, jwksOf(b, k), maxAge("max-age=3600"))
			r := NewRemoteKeySet(srv.URL, RemoteOptions{HTTPClient: srv.Client()})
			tok := signWith(b, k)
			ctx := context.Background()
			if _, err := r.Verify(ctx, tok, testNow, VerifyOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.Verify(ctx, tok, testNow, VerifyOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			if n := srv.count(); n != 1 {
				b.Fatalf("%d fetches", n)
			}
		})
		// The same token through a local Keyring, for comparison: the
		// remote set adds only an atomic load and a clock read.
		b.Run(alg+"/keyring", func(b *testing.B) {
			k := testKey(b, alg, 0)
			kr := newTestKeyring(b, testKey(b, AlgHS256, 0), publicOnly(k))
			tok := signWith(b, k)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := kr.Verify(tok, testNow, VerifyOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
