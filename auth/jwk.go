package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// JSON Web Keys (RFC 7517, 7518, 8037) for the public half of asymmetric
// keys: thumbprints for key IDs, the JWKS document a Keyring publishes and
// the parser a RemoteKeySet uses. HMAC keys never leave the process this
// way: a JWK of kty "oct" is neither written nor accepted.

// maxRSABits bounds the RSA keys accepted from a JWKS, because verifying
// with a huge modulus costs CPU on every token.
const maxRSABits = 8192

// publicJWK is one public key as JSON. Field order is the output order.
type publicJWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkMembers returns the required public members of pub (RFC 7638 §3.2),
// with kid, alg and use left empty.
func jwkMembers(pub crypto.PublicKey) (publicJWK, error) {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return publicJWK{}, errors.New("auth: jwk: bad Ed25519 public key length")
		}
		return publicJWK{Kty: "OKP", Crv: "Ed25519", X: b64url(p)}, nil
	case *ed25519.PublicKey:
		if p == nil {
			break
		}
		return jwkMembers(*p)
	case *ecdsa.PublicKey:
		if p == nil {
			break
		}
		crv := curveName(p.Curve)
		if crv == "" {
			return publicJWK{}, errors.New("auth: jwk: unsupported ECDSA curve")
		}
		raw, err := p.Bytes() // 0x04 || X || Y, each padded to the field size
		if err != nil {
			return publicJWK{}, fmt.Errorf("auth: jwk: %w", err)
		}
		size := (len(raw) - 1) / 2
		return publicJWK{Kty: "EC", Crv: crv, X: b64url(raw[1 : 1+size]), Y: b64url(raw[1+size:])}, nil
	case *rsa.PublicKey:
		if p == nil || p.N == nil || p.N.Sign() <= 0 || p.E <= 0 {
			break
		}
		return publicJWK{Kty: "RSA", N: b64url(p.N.Bytes()), E: b64url(big.NewInt(int64(p.E)).Bytes())}, nil
	}
	return publicJWK{}, fmt.Errorf("auth: jwk: unsupported public key type %T", pub)
}

func curveName(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "P-256"
	case elliptic.P384():
		return "P-384"
	case elliptic.P521():
		return "P-521"
	}
	return ""
}

// Thumbprint returns the RFC 7638 JWK thumbprint of a public key: the
// base64url (unpadded) SHA-256 of the JSON object holding only the required
// members in lexicographic order and without whitespace: {"crv","kty","x"}
// for Ed25519 (OKP), {"crv","kty","x","y"} for ECDSA (EC) and {"e","kty","n"}
// for RSA. It is the kid GenerateKey gives asymmetric keys. ed25519.PublicKey,
// *ecdsa.PublicKey (P-256, P-384, P-521) and *rsa.PublicKey are supported.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	j, err := jwkMembers(pub)
	if err != nil {
		return "", err
	}
	var b []byte
	switch j.Kty {
	case "OKP":
		b = append(b, `{"crv":`...)
		b = appendJSONString(b, j.Crv)
		b = append(b, `,"kty":"OKP","x":`...)
		b = appendJSONString(b, j.X)
	case "EC":
		b = append(b, `{"crv":`...)
		b = appendJSONString(b, j.Crv)
		b = append(b, `,"kty":"EC","x":`...)
		b = appendJSONString(b, j.X)
		b = append(b, `,"y":`...)
		b = appendJSONString(b, j.Y)
	case "RSA":
		b = append(b, `{"e":`...)
		b = appendJSONString(b, j.E)
		b = append(b, `,"kty":"RSA","n":`...)
		b = appendJSONString(b, j.N)
	}
	b = append(b, '}')
	sum := sha256.Sum256(b)
	return b64url(sum[:]), nil
}

// PublicJWKS returns the RFC 7517 JWK Set of the keyring's public keys,
// {"keys":[...]}, for a /.well-known/jwks.json endpoint: the current key
// first, then every verify-only key in the order given to SetKeys. Each
// entry has kty, use "sig", alg, kid (omitted only for a current key
// without an ID) and crv/x[/y] or n/e. HMAC keys are never published: a
// keyring holding only HMAC keys gives {"keys":[]}.
func (k *Keyring) PublicJWKS() ([]byte, error) {
	set, err := k.keys()
	if err != nil {
		return nil, err
	}
	doc := struct {
		Keys []publicJWK `json:"keys"`
	}{Keys: []publicJWK{}}
	add := func(e *keyEntry) error {
		if e.isHMAC() {
			return nil
		}
		j, err := jwkMembers(e.verifyKey)
		if err != nil {
			return err
		}
		j.Use, j.Alg, j.Kid = "sig", e.key.Algorithm, e.key.ID
		doc.Keys = append(doc.Keys, j)
		return nil
	}
	if err := add(set.current); err != nil {
		return nil, err
	}
	for _, e := range set.others {
		if err := add(e); err != nil {
			return nil, err
		}
	}
	return json.Marshal(doc)
}

// rawJWK is one entry of a fetched JWK Set. Only what we use is decoded.
type rawJWK struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	Kid    string   `json:"kid"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	D      string   `json:"d"` // a private member: refused, it should never be published
	K      string   `json:"k"`
}

// parseJWK turns one JWK into a verify-only key entry. It refuses symmetric
// ("oct") keys, keys without kid, keys not meant for signatures, keys that
// carry private members and keys whose alg does not fit their kty and crv.
// A missing alg is taken from the key: EdDSA for Ed25519, ES256/384/512 by
// curve, RS256 for RSA.
func parseJWK(j rawJWK) (*keyEntry, error) {
	if j.Kid == "" {
		return nil, errors.New("key has no kid")
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("key use is %q, not sig", j.Use)
	}
	if j.KeyOps != nil {
		ok := false
		for _, op := range j.KeyOps {
			ok = ok || op == "verify"
		}
		if !ok {
			return nil, errors.New("key_ops does not allow verify")
		}
	}
	if j.D != "" || j.K != "" {
		return nil, errors.New("key carries private or secret material")
	}
	dec := func(name, s string) ([]byte, error) {
		b, err := b64.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("bad %q member", name)
		}
		return b, nil
	}
	var pub crypto.PublicKey
	var algs []string // the algorithms this key may be used with
	switch j.Kty {
	case "oct":
		return nil, errors.New("symmetric (oct) keys are not accepted")
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("unsupported OKP curve %q", j.Crv)
		}
		x, err := dec("x", j.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key length")
		}
		pub = ed25519.PublicKey(x)
		algs = []string{AlgEdDSA}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve, algs = elliptic.P256(), []string{AlgES256}
		case "P-384":
			curve, algs = elliptic.P384(), []string{AlgES384}
		case "P-521":
			curve, algs = elliptic.P521(), []string{AlgES512}
		default:
			return nil, fmt.Errorf("unsupported EC curve %q", j.Crv)
		}
		x, err := dec("x", j.X)
		if err != nil {
			return nil, err
		}
		y, err := dec("y", j.Y)
		if err != nil {
			return nil, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size { // RFC 7518 §6.2.1.2: full length
			return nil, errors.New("bad EC coordinate length")
		}
		p, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errors.New("EC point is not on the curve")
		}
		pub = p
	case "RSA":
		n, err := dec("n", j.N)
		if err != nil {
			return nil, err
		}
		e, err := dec("e", j.E)
		if err != nil {
			return nil, err
		}
		if n[0] == 0 || e[0] == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA modulus or exponent")
		}
		N := new(big.Int).SetBytes(n)
		E := new(big.Int).SetBytes(e).Int64()
		if N.BitLen() > maxRSABits || E < 3 || E > 1<<31-1 || E%2 == 0 {
			return nil, errors.New("RSA key size or exponent out of range")
		}
		pub = &rsa.PublicKey{N: N, E: int(E)}
		algs = []string{AlgRS256, AlgRS384, AlgRS512, AlgPS256, AlgPS384, AlgPS512}
	default:
		return nil, fmt.Errorf("unsupported kty %q", j.Kty)
	}
	alg := j.Alg
	if alg == "" {
		alg = algs[0]
	}
	fits := false
	for _, a := range algs {
		fits = fits || a == alg
	}
	if !fits {
		return nil, fmt.Errorf("alg %q does not fit a %s key", alg, j.Kty)
	}
	// newKeyEntry also refuses RSA keys under 2048 bits.
	return newKeyEntry(Key{ID: j.Kid, Algorithm: alg, Public: pub})
}
