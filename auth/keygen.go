package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// rsaGenBits is the size of the RSA keys GenerateKey makes.
const rsaGenBits = 2048

// GenerateKey makes a new random signing key for alg: a 32, 48 or 64 byte
// secret for HS256, HS384 and HS512; an Ed25519 key for EdDSA; a P-256,
// P-384 or P-521 key for ES256, ES384 and ES512; a 2048-bit RSA key for
// RS256/384/512 and PS256/384/512. The ID of an asymmetric key is its
// RFC 7638 thumbprint (see Thumbprint); an HMAC key gets 16 random bytes in
// base64url, since a thumbprint of a secret would leak a hash of it.
func GenerateKey(alg string) (Key, error) {
	key := Key{Algorithm: alg}
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgHS256, AlgHS384, AlgHS512:
		n := map[string]int{AlgHS256: 32, AlgHS384: 48, AlgHS512: 64}[alg]
		key.Secret = make([]byte, n)
		rand.Read(key.Secret) // never fails since Go 1.24
		id := make([]byte, 16)
		rand.Read(id)
		key.ID = b64url(id)
		return key, nil
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case AlgES512:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case AlgRS256, AlgRS384, AlgRS512, AlgPS256, AlgPS384, AlgPS512:
		priv, err = rsa.GenerateKey(rand.Reader, rsaGenBits)
	default:
		return Key{}, fmt.Errorf("auth: generate key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return Key{}, fmt.Errorf("auth: generate %s key: %w", alg, err)
	}
	key.Private, key.Public = priv, priv.Public()
	if key.ID, err = Thumbprint(key.Public); err != nil {
		return Key{}, err
	}
	return key, nil
}

// storedKey is the JSON form of MarshalKey. Exactly one of Secret, PKCS8
// and SPKI is set; the DER blobs are standard base64.
type storedKey struct {
	Kid    string `json:"kid,omitempty"`
	Alg    string `json:"alg"`
	Secret string `json:"secret,omitempty"` // base64url, HMAC keys
	PKCS8  string `json:"pkcs8,omitempty"`  // PKCS #8 DER private key
	SPKI   string `json:"spki,omitempty"`   // PKIX DER public key, verify-only keys
}

// MarshalKey encodes a key for storage (a database row, a file, an
// environment variable) as a small JSON object:
//
//	{"kid":"...","alg":"HS256","secret":"<base64url>"}
//	{"kid":"...","alg":"ES256","pkcs8":"<base64 PKCS #8 DER>"}
//	{"kid":"...","alg":"RS256","spki":"<base64 PKIX DER>"}   (verify-only)
//
// The output holds the secret or private key in clear: store it as a
// secret. The key is validated first, and an empty Algorithm is filled in
// as NewKeyring would.
func MarshalKey(k Key) ([]byte, error) {
	e, err := newKeyEntry(k)
	if err != nil {
		return nil, fmt.Errorf("auth: marshal key: %w", err)
	}
	k = e.key
	s := storedKey{Kid: k.ID, Alg: k.Algorithm}
	switch {
	case e.isHMAC():
		s.Secret = b64url(k.Secret)
	case k.Private != nil:
		der, err := x509.MarshalPKCS8PrivateKey(privateForPKCS8(k.Private))
		if err != nil {
			return nil, fmt.Errorf("auth: marshal key: %w", err)
		}
		s.PKCS8 = base64.StdEncoding.EncodeToString(der)
	default:
		der, err := x509.MarshalPKIXPublicKey(e.verifyKey)
		if err != nil {
			return nil, fmt.Errorf("auth: marshal key: %w", err)
		}
		s.SPKI = base64.StdEncoding.EncodeToString(der)
	}
	return json.Marshal(s)
}

// privateForPKCS8 unwraps *ed25519.PrivateKey, which x509 does not take.
func privateForPKCS8(p crypto.Signer) any {
	if pp, ok := p.(*ed25519.PrivateKey); ok && pp != nil {
		return *pp
	}
	return p
}

// UnmarshalKey decodes a key written by MarshalKey and validates it as
// NewKeyring does. Unknown fields, trailing data and a key whose type does
// not fit its alg are refused.
func UnmarshalKey(b []byte) (Key, error) {
	var s storedKey
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Key{}, fmt.Errorf("auth: unmarshal key: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Key{}, errors.New("auth: unmarshal key: trailing data")
	}
	n := 0
	for _, v := range []string{s.Secret, s.PKCS8, s.SPKI} {
		if v != "" {
			n++
		}
	}
	if n != 1 || s.Alg == "" {
		return Key{}, errors.New("auth: unmarshal key: need alg and exactly one of secret, pkcs8, spki")
	}
	k := Key{ID: s.Kid, Algorithm: s.Alg}
	switch {
	case s.Secret != "":
		secret, err := b64.DecodeString(s.Secret)
		if err != nil {
			return Key{}, errors.New("auth: unmarshal key: bad secret encoding")
		}
		k.Secret = secret
	case s.PKCS8 != "":
		der, err := base64.StdEncoding.DecodeString(s.PKCS8)
		if err != nil {
			return Key{}, errors.New("auth: unmarshal key: bad pkcs8 encoding")
		}
		p, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return Key{}, fmt.Errorf("auth: unmarshal key: %w", err)
		}
		signer, ok := p.(crypto.Signer)
		if !ok {
			return Key{}, fmt.Errorf("auth: unmarshal key: %T cannot sign", p)
		}
		k.Private, k.Public = signer, signer.Public()
	default:
		der, err := base64.StdEncoding.DecodeString(s.SPKI)
		if err != nil {
			return Key{}, errors.New("auth: unmarshal key: bad spki encoding")
		}
		if k.Public, err = x509.ParsePKIXPublicKey(der); err != nil {
			return Key{}, fmt.Errorf("auth: unmarshal key: %w", err)
		}
	}
	if _, err := newKeyEntry(k); err != nil {
		return Key{}, fmt.Errorf("auth: unmarshal key: %w", err)
	}
	return k, nil
}
