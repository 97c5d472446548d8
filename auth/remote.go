package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of RemoteOptions.
const (
	DefaultMinRefresh = time.Minute
	DefaultMaxAge     = 24 * time.Hour
	DefaultMaxKeys    = 100
	DefaultMaxBody    = 1 << 20
	DefaultTTL        = 5 * time.Minute
)

// fetchTimeout bounds one JWKS request, whatever the HTTP client allows.
const fetchTimeout = 30 * time.Second

// detailNoKID refuses a token without kid against a remote key set, which
// has no "current" key to fall back on.
const detailNoKID = "Token has no key id"

// RemoteOptions configure a RemoteKeySet. Zero values take the defaults.
type RemoteOptions struct {
	// HTTPClient fetches the JWKS; http.DefaultClient when nil. Each fetch
	// is also bounded to 30 seconds.
	HTTPClient *http.Client
	// MinRefresh is the shortest time between two fetches (default 1
	// minute). A token naming an unknown kid triggers a refetch only when
	// the last fetch is at least this old, so a flood of tokens with random
	// kids cannot hammer the JWKS server. It is also the shortest time a
	// fetched set is cached, whatever its cache headers say.
	MinRefresh time.Duration
	// MaxAge caps how long a fetched set is cached (default 24 hours) and
	// how long a stale set keeps being used while refetching fails.
	MaxAge time.Duration
	// MaxKeys is the most keys a JWKS may hold (default 100); a larger
	// document is an error.
	MaxKeys int
	// MaxBody is the largest JWKS body read, in bytes (default 1 MiB); a
	// larger document is an error.
	MaxBody int64
	// DefaultTTL is how long a set is cached when the response has neither
	// Cache-Control max-age nor Expires (default 5 minutes).
	DefaultTTL time.Duration
	// Now is the clock for cache lifetimes and refresh limits; time.Now
	// when nil. It does not affect token validation, which uses the time
	// given to Verify.
	Now func() time.Time
}

// RemoteKeySet verifies tokens with the public keys another service
// publishes as a JWK Set (RFC 7517), such as warehouse's
// /.well-known/jwks.json. It is what a Go service that trusts warehouse's
// tokens uses instead of a Keyring.
//
// The set is fetched on first use and cached as the response's
// Cache-Control max-age (minus Age) or Expires says, DefaultTTL when it
// says nothing, and at least MinRefresh and at most MaxAge in any case;
// no-store and no-cache cache it for MinRefresh only. A token whose kid is
// not in the set triggers a refetch, at most once per MinRefresh, which is
// how a key rotation on the server is picked up. When a refetch fails the
// old keys stay in use until MaxAge after they were fetched.
//
// Only asymmetric keys with a kid are taken (EdDSA, ES256/384/512,
// RS256/384/512, PS256/384/512); symmetric ("oct") keys, keys without kid,
// keys with use other than "sig" and keys whose alg does not fit their kty
// and crv are skipped, and a kid that appears twice is dropped. A missing
// alg is inferred: EdDSA, ES256/384/512 by curve, RS256 for RSA.
//
// A RemoteKeySet is safe for concurrent use; concurrent fetches are
// coalesced into one request.
type RemoteKeySet struct {
	url  string
	opts RemoteOptions

	state atomic.Pointer[remoteState] // nil until the first successful fetch

	mu          sync.Mutex
	inflight    *fetchCall // the fetch running now, if any
	lastAttempt time.Time  // start of the last fetch
	lastErr     error      // outcome of the last fetch
}

// remoteState is one fetched key set, immutable once stored.
type remoteState struct {
	set     *keySet
	fetched time.Time
	expires time.Time
}

// fetchCall is one fetch that any number of callers wait for.
type fetchCall struct {
	done  chan struct{}
	state *remoteState
	err   error
}

// errRateLimited is returned (internally) when an unknown kid may not
// trigger a fetch yet.
var errRateLimited = errors.New("auth: jwks: refresh rate limited")

// NewRemoteKeySet returns a key set that fetches jwksURL lazily, on the
// first Verify. It never fails: a bad URL shows up as an error from Verify.
func NewRemoteKeySet(jwksURL string, opts RemoteOptions) *RemoteKeySet {
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.MinRefresh <= 0 {
		opts.MinRefresh = DefaultMinRefresh
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxAge < opts.MinRefresh {
		opts.MaxAge = opts.MinRefresh
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.DefaultTTL <= 0 {
		opts.DefaultTTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &RemoteKeySet{url: jwksURL, opts: opts}
}

// Verify checks a token exactly as Keyring.Verify does, with the key its
// kid names in the remote set and only with that key's algorithm. A token
// without kid is refused (CodeUnknownKID, "Token has no key id"), and so is
// a kid the set does not hold after the refetch it may trigger
// (CodeUnknownKID, "Unknown signing key"). Every refusal of the token is a
// *TokenError; any other error means the key set could not be loaded (the
// JWKS server is unreachable or answered garbage, or ctx ended while
// waiting for it), which is not the token's fault.
func (r *RemoteKeySet) Verify(ctx context.Context, token string, now time.Time, opt VerifyOptions) (Claims, error) {
	if now.IsZero() {
		now = time.Now()
	}
	st, err := r.current(ctx)
	if err != nil {
		return Claims{}, err
	}
	c, terr := verify(st.set, token, now, opt)
	if terr != nil && terr.Code == CodeUnknownKID && terr.Detail != detailNoKID {
		// Maybe the server rotated its keys: refetch, unless that was done
		// too recently.
		if fresh, err := r.refresh(ctx, st, true); err == nil && fresh != nil && fresh != st {
			c, terr = verify(fresh.set, token, now, opt)
		}
	}
	if terr != nil {
		return Claims{}, terr
	}
	return c, nil
}

// VerifyToken is Verify; it makes *RemoteKeySet a Verifier.
func (r *RemoteKeySet) VerifyToken(ctx context.Context, token string, now time.Time, opt VerifyOptions) (Claims, error) {
	return r.Verify(ctx, token, now, opt)
}

// current returns a usable key set, fetching it when there is none or the
// cached one has expired.
func (r *RemoteKeySet) current(ctx context.Context) (*remoteState, error) {
	st := r.state.Load()
	clock := r.opts.Now()
	if st != nil && clock.Before(st.expires) {
		return st, nil // the hot path
	}
	fresh, err := r.refresh(ctx, st, false)
	if err == nil && fresh != nil {
		return fresh, nil
	}
	if st != nil && ctx.Err() == nil && clock.Before(st.fetched.Add(r.opts.MaxAge)) {
		return st, nil // stale, but better than refusing every token
	}
	if err == nil {
		err = errors.New("auth: jwks: no key set")
	}
	return nil, err
}

// refresh fetches the set again, or joins a fetch already running. seen is
// the state the caller found lacking. With unknownKID the fetch happens only
// if the last one started at least MinRefresh ago; otherwise a fetch is not
// retried sooner than errBackoff after a failure.
func (r *RemoteKeySet) refresh(ctx context.Context, seen *remoteState, unknownKID bool) (*remoteState, error) {
	r.mu.Lock()
	call := r.inflight
	if call == nil {
		clock := r.opts.Now()
		cur := r.state.Load()
		if cur != nil && cur != seen && (unknownKID || clock.Before(cur.expires)) {
			// Another caller refreshed while we looked.
			r.mu.Unlock()
			return cur, nil
		}
		if !r.lastAttempt.IsZero() {
			since := clock.Sub(r.lastAttempt)
			if unknownKID && since < r.opts.MinRefresh {
				r.mu.Unlock()
				return cur, errRateLimited
			}
			if r.lastErr != nil && since < r.errBackoff() {
				err := r.lastErr
				r.mu.Unlock()
				return cur, err
			}
		}
		r.lastAttempt = clock
		call = &fetchCall{done: make(chan struct{})}
		r.inflight = call
		go r.run(context.WithoutCancel(ctx), call)
	}
	r.mu.Unlock()

	select {
	case <-call.done:
		return call.state, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// errBackoff is how long a failed fetch is not retried: short, so that a
// service that starts before its JWKS server recovers quickly, but never
// more often than MinRefresh allows.
func (r *RemoteKeySet) errBackoff() time.Duration {
	return min(r.opts.MinRefresh, 5*time.Second)
}

// run performs one fetch for everyone waiting on call. It runs on its own
// goroutine so that a caller whose context ends does not cancel the fetch
// for the others.
func (r *RemoteKeySet) run(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	st, err := r.fetch(ctx)
	r.mu.Lock()
	if err == nil {
		r.state.Store(st)
	}
	r.lastErr = err
	r.inflight = nil
	call.state, call.err = st, err
	r.mu.Unlock()
	close(call.done)
}

func (r *RemoteKeySet) fetch(ctx context.Context) (*remoteState, error) {
	fail := func(format string, args ...any) (*remoteState, error) {
		return nil, fmt.Errorf("auth: jwks %s: "+format, append([]any{r.url}, args...)...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return fail("%w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		return fail("%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // let the connection be reused
		return fail("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.opts.MaxBody+1))
	if err != nil {
		return fail("read body: %w", err)
	}
	if int64(len(body)) > r.opts.MaxBody {
		return fail("body larger than %d bytes", r.opts.MaxBody)
	}
	set, err := parseJWKS(body, r.opts.MaxKeys)
	if err != nil {
		return fail("%w", err)
	}
	now := r.opts.Now()
	ttl := cacheTTL(resp.Header, now, r.opts.DefaultTTL)
	ttl = min(max(ttl, r.opts.MinRefresh), r.opts.MaxAge)
	return &remoteState{set: set, fetched: now, expires: now.Add(ttl)}, nil
}

// parseJWKS builds a verify-only keySet from a JWK Set document. Keys we
// cannot or must not use are skipped; a document that had keys but none
// usable is an error that says why the first one was refused.
func parseJWKS(body []byte, maxKeys int) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	if len(doc.Keys) > maxKeys {
		return nil, fmt.Errorf("%d keys, more than the limit of %d", len(doc.Keys), maxKeys)
	}
	set := &keySet{byID: make(map[string]*keyEntry, len(doc.Keys))}
	dup := map[string]bool{}
	var firstErr error
	for i, raw := range doc.Keys {
		var j rawJWK
		err := json.Unmarshal(raw, &j)
		var e *keyEntry
		if err == nil {
			e, err = parseJWK(j)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("key %d: %w", i, err)
			}
			continue
		}
		if _, seen := set.byID[j.Kid]; seen || dup[j.Kid] {
			// Two keys with one kid: which one a token means is ambiguous.
			dup[j.Kid] = true
			delete(set.byID, j.Kid)
			continue
		}
		set.byID[j.Kid] = e
	}
	if len(set.byID) == 0 && len(doc.Keys) > 0 {
		if firstErr == nil {
			firstErr = errors.New("duplicate kids")
		}
		return nil, fmt.Errorf("no usable keys (%w)", firstErr)
	}
	return set, nil
}

// cacheTTL reads how long a response may be cached (RFC 9111): 0 for
// no-store or no-cache, max-age minus Age, else Expires minus Date (or
// now), else def. An unparsable Expires means already expired.
func cacheTTL(h http.Header, now time.Time, def time.Duration) time.Duration {
	maxAge := int64(-1)
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if err != nil || n < 0 {
					return 0 // RFC 9111 §4.2.1: an invalid max-age means stale
				}
				if maxAge < 0 {
					maxAge = n
				}
			}
		}
	}
	if maxAge >= 0 {
		if age, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && age > 0 {
			maxAge -= age
		}
		return time.Duration(max(min(maxAge, int64(1<<62)/int64(time.Second)), 0)) * time.Second
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d // both from the server's clock, so skew does not matter
		}
		return max(t.Sub(base), 0)
	}
	return def
}
