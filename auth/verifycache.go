package auth

import (
	"sync"
	"time"
)

// DefaultVerifyCacheSize is the number of verified tokens a VerifyCache
// keeps when given no size: a few MiB at most (tokens of up to
// maxCachedTokenLen bytes plus their claims).
const DefaultVerifyCacheSize = 4096

// maxCachedTokenLen keeps oversized tokens out of the cache, so its memory
// stays bounded by size × a few hundred bytes; real tokens are well below.
const maxCachedTokenLen = 2048

// VerifyCache is Keyring.Verify with a bounded memory of tokens that
// verified. A client sends the same access token on every request for its
// lifetime; on a hit the cache costs one map lookup instead of a signature
// check, two base64 decodes and a JSON parse.
//
// The cache is keyed by the whole token string, so a hit is exactly a token
// whose signature and claims were already checked. What can change for such
// a token is time, and exp is checked again on every hit (iat and nbf only
// become truer as time passes; a clock that goes back misses the cache).
// Entries are kept per key set: a rotation or a retired key empties the
// cache. Revocation, sessions and users are not the cache's business: the
// caller checks them on every request, as it would after Verify.
//
// Failed verifications are not cached, so forged tokens cannot fill it.
// Safe for concurrent use.
type VerifyCache struct {
	keys *Keyring
	half int // entries per generation

	mu  sync.RWMutex
	set *keySet // the key set the entries were verified with
	// Two generations: when cur is full it becomes old and old is dropped,
	// so recently used tokens survive and the size stays bounded without
	// per-entry bookkeeping. A hit in old moves the entry to cur.
	cur, old map[string]*cachedClaims
}

type cachedClaims struct {
	claims    Claims
	opt       VerifyOptions // the options the claims were checked against
	checkedAt time.Time
}

// NewVerifyCache returns a cache in front of k holding at most size tokens
// (size <= 0: DefaultVerifyCacheSize).
func NewVerifyCache(k *Keyring, size int) *VerifyCache {
	if size <= 0 {
		size = DefaultVerifyCacheSize
	}
	half := max(size/2, 1)
	return &VerifyCache{keys: k, half: half, cur: make(map[string]*cachedClaims, half)}
}

// Verify is Keyring.Verify, answered from the cache when it can be. The
// returned Claims may share their Roles and Extra with other callers: treat
// them as read-only.
func (c *VerifyCache) Verify(token string, now time.Time, opt VerifyOptions) (Claims, error) {
	set, err := c.keys.keys()
	if err != nil {
		return Claims{}, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	if e := c.lookup(set, token); e != nil && e.opt == opt && !now.Before(e.checkedAt) {
		if !now.Before(e.claims.Expiry.Add(max(opt.Leeway, 0))) {
			return Claims{}, tokenErr(CodeExpired, "Signature has expired")
		}
		return e.claims, nil
	}
	claims, terr := verify(set, token, now, opt)
	if terr != nil {
		return Claims{}, terr
	}
	if len(token) <= maxCachedTokenLen {
		c.put(set, token, &cachedClaims{claims: claims, opt: opt, checkedAt: now})
	}
	return claims, nil
}

func (c *VerifyCache) lookup(set *keySet, token string) *cachedClaims {
	c.mu.RLock()
	if c.set != set {
		c.mu.RUnlock()
		return nil
	}
	e := c.cur[token]
	if e != nil {
		c.mu.RUnlock()
		return e
	}
	e = c.old[token]
	c.mu.RUnlock()
	if e != nil {
		c.put(set, token, e)
	}
	return e
}

func (c *VerifyCache) put(set *keySet, token string, e *cachedClaims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != set {
		// The keys changed: nothing verified with the old set may be
		// answered from memory.
		c.set, c.old, c.cur = set, nil, make(map[string]*cachedClaims, c.half)
	}
	if len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[string]*cachedClaims, c.half)
	}
	c.cur[token] = e
}

// Len reports how many tokens the cache holds (for tests and metrics).
func (c *VerifyCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.old)
}
