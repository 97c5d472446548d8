package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm names, as written in the "alg" header.
const (
	AlgHS256 = "HS256"
	AlgHS384 = "HS384"
	AlgHS512 = "HS512"
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgES384 = "ES384"
	AlgES512 = "ES512"
	AlgRS256 = "RS256"
	AlgRS384 = "RS384"
	AlgRS512 = "RS512"
	AlgPS256 = "PS256"
	AlgPS384 = "PS384"
	AlgPS512 = "PS512"
)

// minRSABits refuses RSA keys that are too weak to be worth accepting.
const minRSABits = 2048

// Key is one signing key.
//
// For HMAC algorithms Secret is set. For asymmetric algorithms Private
// signs (ed25519.PrivateKey, *ecdsa.PrivateKey or *rsa.PrivateKey) and
// Public verifies (ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey);
// a key with only Public can verify but not be the current key. When
// Algorithm is empty it is HS256 for a secret, EdDSA for an Ed25519 key,
// ES256/ES384/ES512 by curve for an ECDSA key and RS256 for an RSA key.
type Key struct {
	ID        string // kid, written into the header
	Algorithm string // "HS256" (default), "HS384", "HS512", "EdDSA", "ES256", "RS256", "PS256", ...
	Secret    []byte
	Private   crypto.Signer
	Public    crypto.PublicKey
}

// keyEntry is a validated Key with everything the hot path needs
// precomputed, so Sign and Verify do no per-call set-up.
type keyEntry struct {
	key Key // private copy; Secret is never shared with the caller

	// HMAC keys.
	newHash func() hash.Hash
	macSize int
	macs    sync.Pool // *macState, because hmac.New costs several allocations

	// Asymmetric keys.
	method    jwt.SigningMethod
	verifyKey crypto.PublicKey
	canSign   bool

	header64        string // base64url of the JSON header, written by Sign
	refreshHeader64 string // the same with typ TypRefresh, for refresh tokens
}

// macState is a keyed HMAC plus scratch buffers. hash.Hash takes []byte
// through an interface, so the buffers must live on the heap; pooling them
// keeps HMAC signing and verification free of allocations.
type macState struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

func (e *keyEntry) isHMAC() bool { return e.newHash != nil }

// hmacSum returns the HMAC of input. The caller must putMAC the state once
// it no longer needs the returned slice.
func (e *keyEntry) hmacSum(input string) (*macState, []byte) {
	st := e.macs.Get().(*macState)
	st.mac.Reset()
	st.buf = append(st.buf[:0], input...)
	st.mac.Write(st.buf)
	st.sum = st.mac.Sum(st.sum[:0])
	return st, st.sum
}

func (e *keyEntry) putMAC(st *macState) {
	// Do not keep huge buffers alive because of one oversized token.
	if cap(st.buf) > 16<<10 {
		st.buf = nil
	}
	e.macs.Put(st)
}

// keySet is an immutable snapshot of the keyring, swapped atomically.
type keySet struct {
	current *keyEntry // nil for a remote key set: tokens must then name a kid
	byID    map[string]*keyEntry
	others  []*keyEntry // verify-only keys in the order given, for PublicJWKS
}

// Keyring holds one current signing key plus older verify-only keys, looked
// up by kid. It is safe for concurrent use. Keys can be swapped at run time
// with SetKeys because another instance may rotate them; readers never
// block, they see either the old set or the new one.
type Keyring struct {
	set atomic.Pointer[keySet]
}

// NewKeyring returns a keyring that signs with current and also verifies
// with others. See SetKeys for the rules.
func NewKeyring(current Key, others ...Key) (*Keyring, error) {
	k := &Keyring{}
	if err := k.SetKeys(current, others...); err != nil {
		return nil, err
	}
	return k, nil
}

// SetKeys replaces all keys at once. The current key must be able to sign
// (a secret or a private key). Every other key needs a distinct non-empty
// ID, since tokens without a kid are only ever checked against the current
// key. HMAC secrets are only checked to be non-empty here: use CheckSecret
// to refuse weak ones where the operator supplies them.
func (k *Keyring) SetKeys(current Key, others ...Key) error {
	cur, err := newKeyEntry(current)
	if err != nil {
		return fmt.Errorf("auth: current key: %w", err)
	}
	if !cur.canSign {
		return errors.New("auth: current key: cannot sign (no secret or private key)")
	}
	set := &keySet{current: cur, byID: make(map[string]*keyEntry, len(others)+1)}
	if cur.key.ID != "" {
		set.byID[cur.key.ID] = cur
	}
	for i, o := range others {
		if o.ID == "" {
			return fmt.Errorf("auth: key %d: a verify-only key needs an ID (kid)", i+1)
		}
		if _, dup := set.byID[o.ID]; dup {
			return fmt.Errorf("auth: key %d: duplicate key ID %q", i+1, o.ID)
		}
		e, err := newKeyEntry(o)
		if err != nil {
			return fmt.Errorf("auth: key %q: %w", o.ID, err)
		}
		set.byID[o.ID] = e
		set.others = append(set.others, e)
	}
	k.set.Store(set)
	return nil
}

// Current returns a copy of the current signing key.
func (k *Keyring) Current() Key {
	set := k.set.Load()
	if set == nil {
		return Key{}
	}
	c := set.current.key
	c.Secret = append([]byte(nil), c.Secret...)
	return c
}

var errNoKeys = errors.New("auth: keyring has no keys")

func (k *Keyring) keys() (*keySet, error) {
	if k == nil {
		return nil, errNoKeys
	}
	set := k.set.Load()
	if set == nil {
		return nil, errNoKeys
	}
	return set, nil
}

// newKeyEntry validates a key and precomputes its header and primitives.
func newKeyEntry(key Key) (*keyEntry, error) {
	key.Secret = append([]byte(nil), key.Secret...)
	if key.Algorithm == "" {
		key.Algorithm = defaultAlgorithm(key)
	}
	e := &keyEntry{key: key}
	switch key.Algorithm {
	case AlgHS256, AlgHS384, AlgHS512:
		if len(key.Secret) == 0 {
			return nil, fmt.Errorf("%s needs a non-empty secret", key.Algorithm)
		}
		if key.Private != nil || key.Public != nil {
			return nil, fmt.Errorf("%s takes a secret, not a public/private key", key.Algorithm)
		}
		switch key.Algorithm {
		case AlgHS256:
			e.newHash = sha256.New
		case AlgHS384:
			e.newHash = sha512.New384
		default:
			e.newHash = sha512.New
		}
		e.macSize = e.newHash().Size()
		secret := key.Secret
		newHash := e.newHash
		e.macs.New = func() any { return &macState{mac: hmac.New(newHash, secret)} }
		e.canSign = true
	case AlgEdDSA, AlgES256, AlgES384, AlgES512, AlgRS256, AlgRS384, AlgRS512, AlgPS256, AlgPS384, AlgPS512:
		if len(key.Secret) != 0 {
			return nil, fmt.Errorf("%s takes a public/private key, not a secret", key.Algorithm)
		}
		pub := key.Public
		if key.Private != nil {
			derived := key.Private.Public()
			if pub != nil {
				eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
				if !ok || !eq.Equal(derived) {
					return nil, errors.New("public key does not match private key")
				}
			}
			pub = derived
			e.canSign = true
		}
		if pub == nil {
			return nil, fmt.Errorf("%s needs a public or private key", key.Algorithm)
		}
		if err := checkAsymmetric(key.Algorithm, pub); err != nil {
			return nil, err
		}
		if key.Private != nil {
			// golang-jwt wants the concrete private key types for ECDSA and RSA.
			switch key.Private.(type) {
			case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey, *ed25519.PrivateKey:
			default:
				if key.Algorithm != AlgEdDSA {
					return nil, fmt.Errorf("%s needs a *ecdsa.PrivateKey or *rsa.PrivateKey, got %T", key.Algorithm, key.Private)
				}
			}
		}
		e.method = jwt.GetSigningMethod(key.Algorithm)
		if e.method == nil {
			return nil, fmt.Errorf("algorithm %s is not available", key.Algorithm)
		}
		e.verifyKey = pub
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", key.Algorithm)
	}
	e.header64 = encodeHeader(key.Algorithm, key.ID, TypJWT)
	e.refreshHeader64 = encodeHeader(key.Algorithm, key.ID, TypRefresh)
	return e, nil
}

func defaultAlgorithm(key Key) string {
	var pub crypto.PublicKey = key.Public
	if key.Private != nil {
		pub = key.Private.Public()
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return AlgEdDSA
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P384():
			return AlgES384
		case elliptic.P521():
			return AlgES512
		}
		return AlgES256
	case *rsa.PublicKey:
		return AlgRS256
	}
	return AlgHS256
}

// checkAsymmetric ties the key type (and curve) to the algorithm, so a key
// can never be used with an algorithm it was not made for.
func checkAsymmetric(alg string, pub crypto.PublicKey) error {
	switch alg {
	case AlgEdDSA:
		if p, ok := pub.(ed25519.PublicKey); !ok || len(p) != ed25519.PublicKeySize {
			return fmt.Errorf("%s needs an Ed25519 key, got %T", alg, pub)
		}
	case AlgES256, AlgES384, AlgES512:
		p, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an ECDSA key, got %T", alg, pub)
		}
		want := elliptic.P256()
		switch alg {
		case AlgES384:
			want = elliptic.P384()
		case AlgES512:
			want = elliptic.P521()
		}
		if p.Curve != want {
			return fmt.Errorf("%s needs curve %s", alg, want.Params().Name)
		}
	default: // RS*, PS*
		p, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, got %T", alg, pub)
		}
		if p.N.BitLen() < minRSABits {
			return fmt.Errorf("%s needs an RSA key of at least %d bits", alg, minRSABits)
		}
	}
	return nil
}

// Header typ values (RFC 7515 section 4.1.9).
const (
	// TypJWT is the tutorial's typ, kept on access tokens.
	TypJWT = "JWT"
	// TypRefresh marks refresh tokens, so that a verifier checking typ
	// (RFC 8725 section 3.11) never takes one for an access token.
	TypRefresh = "refresh+jwt"
)

// encodeHeader builds the header the way PyJWT does (sorted keys, no
// spaces), so an access token differs from the tutorial's only by its kid.
func encodeHeader(alg, kid, typ string) string {
	b := []byte(`{"alg":`)
	b = appendJSONString(b, alg)
	if kid != "" {
		b = append(b, `,"kid":`...)
		b = appendJSONString(b, kid)
	}
	b = append(b, `,"typ":`...)
	b = appendJSONString(b, typ)
	b = append(b, '}')
	return base64.RawURLEncoding.EncodeToString(b)
}

// Algorithms lists the algorithms of the keys that verify, the current
// key's first, each once: what discovery advertises tokens are signed with.
func (k *Keyring) Algorithms() []string {
	set := k.set.Load()
	if set == nil {
		return nil
	}
	var out []string
	add := func(e *keyEntry) {
		if e != nil && !slices.Contains(out, e.key.Algorithm) {
			out = append(out, e.key.Algorithm)
		}
	}
	add(set.current)
	for _, e := range set.others {
		add(e)
	}
	return out
}
