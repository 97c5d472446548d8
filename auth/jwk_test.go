package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// allAlgs is every algorithm the package supports.
var allAlgs = []string{
	AlgHS256, AlgHS384, AlgHS512, AlgEdDSA, AlgES256, AlgES384, AlgES512,
	AlgRS256, AlgRS384, AlgRS512, AlgPS256, AlgPS384, AlgPS512,
}

// genKeys caches generated keys per (algorithm, slot): RSA generation is
// slow under the race detector and many tests need a key of each kind.
var genKeys sync.Map // string -> func() (Key, error)

func testKey(t testing.TB, alg string, slot int) Key {
	t.Helper()
	name := alg + "/" + itoa(int64(slot))
	f, _ := genKeys.LoadOrStore(name, sync.OnceValues(func() (Key, error) { return GenerateKey(alg) }))
	k, err := f.(func() (Key, error))()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// publicOnly strips the private half of an asymmetric key.
func publicOnly(k Key) Key { return Key{ID: k.ID, Algorithm: k.Algorithm, Public: k.Public} }

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestThumbprintVectors(t *testing.T) {
	t.Parallel()
	// RFC 7638 §3.1.
	rsaN := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rsaKey := &rsa.PublicKey{N: new(big.Int).SetBytes(mustB64(t, rsaN)), E: 65537}
	// RFC 8037 appendix A.3.
	edKey := ed25519.PublicKey(mustB64(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))

	// An EC key whose coordinates have leading zero bytes must still be
	// written at the full field length (RFC 7518 §6.2.1.2).
	var ecKey *ecdsa.PublicKey
	for i := 1; i < 5000 && ecKey == nil; i++ {
		seed := make([]byte, 32)
		seed[30], seed[31] = byte(i>>8), byte(i)
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed)
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := priv.PublicKey.Bytes(); raw[1] == 0 {
			ecKey = &priv.PublicKey
		}
	}
	if ecKey == nil {
		t.Fatal("no P-256 key with a short x found")
	}
	raw, _ := ecKey.Bytes()
	ecJSON := `{"crv":"P-256","kty":"EC","x":"` + b64url(raw[1:33]) + `","y":"` + b64url(raw[33:]) + `"}`
	ecSum := sha256.Sum256([]byte(ecJSON))

	tests := []struct {
		name string
		pub  any
		want string
	}{
		{"RFC 7638 RSA", rsaKey, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 Ed25519", edKey, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
		{"Ed25519 pointer", &edKey, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
		{"EC P-256 full-length coordinates", ecKey, b64url(ecSum[:])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Thumbprint(tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Thumbprint = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestThumbprintRefusals(t *testing.T) {
	t.Parallel()
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for _, tt := range []struct {
		name string
		pub  any
	}{
		{"nil", nil},
		{"secret", []byte("secret")},
		{"short ed25519", ed25519.PublicKey{1, 2, 3}},
		{"P-224", &p224.PublicKey},
		{"nil rsa", (*rsa.PublicKey)(nil)},
		{"rsa without modulus", &rsa.PublicKey{E: 65537}},
		{"nil ecdsa", (*ecdsa.PublicKey)(nil)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := Thumbprint(tt.pub); err == nil {
				t.Errorf("Thumbprint = %q, want an error", got)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	secretLen := map[string]int{AlgHS256: 32, AlgHS384: 48, AlgHS512: 64}
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k := testKey(t, alg, 0)
			if k.Algorithm != alg {
				t.Fatalf("Algorithm = %q", k.Algorithm)
			}
			if n, hmac := secretLen[alg]; hmac {
				if len(k.Secret) != n || k.Private != nil || k.Public != nil {
					t.Fatalf("secret of %d bytes, private %T, public %T", len(k.Secret), k.Private, k.Public)
				}
				if id := mustB64(t, k.ID); len(id) != 16 {
					t.Fatalf("ID %q is not 16 random bytes", k.ID)
				}
				if err := CheckSecret(k.Secret); err != nil {
					t.Fatal(err)
				}
			} else {
				tp, err := Thumbprint(k.Public)
				if err != nil || k.ID != tp {
					t.Fatalf("ID = %q, thumbprint %q (%v)", k.ID, tp, err)
				}
				if rk, ok := k.Public.(*rsa.PublicKey); ok && rk.N.BitLen() != 2048 {
					t.Fatalf("RSA key of %d bits", rk.N.BitLen())
				}
			}
			// Two keys are never the same.
			if other := testKey(t, alg, 1); other.ID == k.ID {
				t.Fatal("two generated keys share an ID")
			}
			kr := newTestKeyring(t, k)
			tok, err := kr.Sign(NewClaims("joevu", TypeAccess, testNow, time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(mustB64(t, strings.Split(tok, ".")[0])), `"kid":"`+k.ID+`"`) {
				t.Fatal("token header lacks the kid")
			}
			if _, err := kr.Verify(tok, testNow, VerifyOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := GenerateKey("none"); err == nil {
		t.Error("GenerateKey(none) succeeded")
	}
}

func TestMarshalKeyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		for _, verifyOnly := range []bool{false, true} {
			if verifyOnly && strings.HasPrefix(alg, "HS") {
				continue
			}
			name := alg
			if verifyOnly {
				name += "/public"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				signer := testKey(t, alg, 0)
				k := signer
				if verifyOnly {
					k = publicOnly(signer)
				}
				b, err := MarshalKey(k)
				if err != nil {
					t.Fatal(err)
				}
				got, err := UnmarshalKey(b)
				if err != nil {
					t.Fatalf("UnmarshalKey(%s): %v", b, err)
				}
				if got.ID != k.ID || got.Algorithm != k.Algorithm || !bytes.Equal(got.Secret, k.Secret) {
					t.Fatalf("got %+v, want %+v", got, k)
				}
				if k.Public != nil && !got.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public) {
					t.Fatal("public key differs")
				}
				if (got.Private == nil) != verifyOnly && got.Secret == nil {
					t.Fatalf("private key present = %v", got.Private != nil)
				}
				if k.Private != nil && !got.Private.(interface{ Equal(crypto.PrivateKey) bool }).Equal(k.Private) {
					t.Fatal("private key differs")
				}
				again, err := MarshalKey(got)
				if err != nil || !bytes.Equal(again, b) {
					t.Fatalf("second marshal differs: %s vs %s (%v)", again, b, err)
				}
				// A token signed with the original verifies with the copy
				// and the other way round.
				tok, err := newTestKeyring(t, signer).Sign(NewClaims("joevu", TypeAccess, testNow, time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				cur := got
				var others []Key
				if verifyOnly {
					cur, others = Key{ID: "other", Secret: testSecret}, []Key{got}
				}
				if _, err := newTestKeyring(t, append([]Key{cur}, others...)...).Verify(tok, testNow, VerifyOptions{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestMarshalKeyFillsAlgorithm(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	b, err := MarshalKey(Key{ID: "x", Private: priv})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"alg":"EdDSA"`) {
		t.Fatalf("MarshalKey = %s", b)
	}
	if _, err := MarshalKey(Key{}); err == nil {
		t.Fatal("MarshalKey of an empty key succeeded")
	}
}

func TestUnmarshalKeyRefusals(t *testing.T) {
	t.Parallel()
	ed, _ := MarshalKey(testKey(t, AlgEdDSA, 0))
	var s map[string]string
	json.Unmarshal(ed, &s)
	for _, tt := range []struct{ name, in string }{
		{"empty", ``},
		{"not JSON", `nope`},
		{"no material", `{"alg":"HS256"}`},
		{"no alg", `{"secret":"` + b64url(testSecret) + `"}`},
		{"two materials", `{"alg":"HS256","secret":"` + b64url(testSecret) + `","pkcs8":"` + s["pkcs8"] + `"}`},
		{"unknown field", `{"alg":"HS256","secret":"` + b64url(testSecret) + `","x":1}`},
		{"trailing data", `{"alg":"HS256","secret":"` + b64url(testSecret) + `"} {}`},
		{"bad secret", `{"alg":"HS256","secret":"***"}`},
		{"bad pkcs8 base64", `{"alg":"EdDSA","pkcs8":"***"}`},
		{"bad pkcs8 DER", `{"alg":"EdDSA","pkcs8":"AAAA"}`},
		{"bad spki", `{"alg":"EdDSA","spki":"AAAA"}`},
		{"Ed25519 key as ES256", `{"kid":"k","alg":"ES256","pkcs8":"` + s["pkcs8"] + `"}`},
		{"Ed25519 key as HS256", `{"kid":"k","alg":"HS256","pkcs8":"` + s["pkcs8"] + `"}`},
		{"unknown alg", `{"alg":"none","secret":"` + b64url(testSecret) + `"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if k, err := UnmarshalKey([]byte(tt.in)); err == nil {
				t.Errorf("UnmarshalKey = %+v, want an error", k)
			}
		})
	}
}

type jwksDoc struct {
	Keys []map[string]string `json:"keys"`
}

func TestPublicJWKS(t *testing.T) {
	t.Parallel()
	hs := testKey(t, AlgHS256, 0)
	hs2 := testKey(t, AlgHS512, 0)
	ed := testKey(t, AlgEdDSA, 0)
	es := testKey(t, AlgES256, 0)
	es5 := testKey(t, AlgES512, 0)
	rs := testKey(t, AlgRS256, 0)
	ps := testKey(t, AlgPS256, 0)

	tests := []struct {
		name    string
		keys    []Key
		wantIDs []string
	}{
		{"HMAC only", []Key{hs, hs2}, nil},
		{"HMAC without ID", []Key{{Secret: testSecret}}, nil},
		{"HMAC current, asymmetric others", []Key{hs, ed, hs2, publicOnly(es)}, []string{ed.ID, es.ID}},
		{"asymmetric current first", []Key{rs, hs, ps, es5, publicOnly(ed)}, []string{rs.ID, ps.ID, es5.ID, ed.ID}},
		{"current without ID", []Key{{Algorithm: AlgES256, Private: es.Private}, hs}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr := newTestKeyring(t, tt.keys...)
			b, err := kr.PublicJWKS()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.keys {
				if k.Secret != nil && (bytes.Contains(b, []byte(b64url(k.Secret))) || (k.ID != "" && bytes.Contains(b, []byte(k.ID)))) {
					t.Fatalf("JWKS leaks HMAC key %q: %s", k.ID, b)
				}
			}
			if bytes.Contains(b, []byte(`"oct"`)) || bytes.Contains(b, []byte(`"k"`)) || bytes.Contains(b, []byte(`"d"`)) {
				t.Fatalf("JWKS holds secret material: %s", b)
			}
			var doc jwksDoc
			if err := json.Unmarshal(b, &doc); err != nil || doc.Keys == nil {
				t.Fatalf("JWKS %s: %v", b, err)
			}
			var ids []string
			for _, j := range doc.Keys {
				ids = append(ids, j["kid"])
				if j["use"] != "sig" || j["alg"] == "" {
					t.Errorf("key %v lacks use/alg", j)
				}
				want := map[string][]string{"OKP": {"crv", "x"}, "EC": {"crv", "x", "y"}, "RSA": {"n", "e"}}[j["kty"]]
				if want == nil {
					t.Errorf("key %v has kty %q", j, j["kty"])
				}
				for _, m := range want {
					if j[m] == "" {
						t.Errorf("key %v lacks %q", j, m)
					}
				}
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Errorf("kids = %q, want %q", ids, tt.wantIDs)
			}
			// Deterministic: the same keyring gives the same bytes.
			if again, _ := kr.PublicJWKS(); !bytes.Equal(again, b) {
				t.Error("PublicJWKS is not deterministic")
			}
			// What we publish, a RemoteKeySet can read back.
			if len(tt.wantIDs) > 0 && tt.wantIDs[0] != "" {
				set, err := parseJWKS(b, 100)
				if err != nil || len(set.byID) != len(tt.wantIDs) {
					t.Fatalf("parseJWKS: %v", err)
				}
			}
		})
	}
	if _, err := new(Keyring).PublicJWKS(); err == nil {
		t.Error("PublicJWKS of an empty keyring succeeded")
	}
}

func TestParseJWKRefusals(t *testing.T) {
	t.Parallel()
	ed := testKey(t, AlgEdDSA, 0)
	es := testKey(t, AlgES256, 0)
	rs := testKey(t, AlgRS256, 0)
	good := map[string]map[string]any{}
	for _, k := range []Key{ed, es, rs} {
		j, _ := jwkMembers(k.Public)
		b, _ := json.Marshal(j)
		var m map[string]any
		json.Unmarshal(b, &m)
		m["kid"] = "k"
		good[k.Algorithm] = m
	}
	with := func(alg string, kv ...any) string {
		m := map[string]any{}
		for k, v := range good[alg] {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	raw, _ := es.Public.(*ecdsa.PublicKey).Bytes()
	offCurve := append([]byte(nil), raw[33:]...)
	offCurve[len(offCurve)-1] ^= 1
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallJ, _ := jwkMembers(&small.PublicKey)

	tests := []struct {
		name string
		jwk  string
		ok   bool
		alg  string
	}{
		{"EdDSA inferred", with(AlgEdDSA), true, AlgEdDSA},
		{"ES256 inferred", with(AlgES256), true, AlgES256},
		{"RS256 inferred", with(AlgRS256), true, AlgRS256},
		{"PS384 on RSA", with(AlgRS256, "alg", "PS384"), true, AlgPS384},
		{"use sig, key_ops verify", with(AlgES256, "use", "sig", "key_ops", []string{"verify"}), true, AlgES256},
		{"oct", `{"kty":"oct","kid":"k","alg":"HS256","k":"` + b64url(testSecret) + `"}`, false, ""},
		{"oct without k", `{"kty":"oct","kid":"k","alg":"HS256"}`, false, ""},
		{"no kid", with(AlgEdDSA, "kid", nil), false, ""},
		{"use enc", with(AlgEdDSA, "use", "enc"), false, ""},
		{"key_ops sign only", with(AlgEdDSA, "key_ops", []string{"sign"}), false, ""},
		{"private member", with(AlgEdDSA, "d", "AAAA"), false, ""},
		{"EdDSA key as ES256", with(AlgEdDSA, "alg", "ES256"), false, ""},
		{"EdDSA key as HS256", with(AlgEdDSA, "alg", "HS256"), false, ""},
		{"P-256 key as ES384", with(AlgES256, "alg", "ES384"), false, ""},
		{"RSA key as ES256", with(AlgRS256, "alg", "ES256"), false, ""},
		{"RSA key as HS256", with(AlgRS256, "alg", "HS256"), false, ""},
		{"alg none", with(AlgRS256, "alg", "none"), false, ""},
		{"X25519", with(AlgEdDSA, "crv", "X25519"), false, ""},
		{"secp256k1", with(AlgES256, "crv", "secp256k1"), false, ""},
		{"short x", with(AlgEdDSA, "x", "AAAA"), false, ""},
		{"bad base64", with(AlgEdDSA, "x", "*"), false, ""},
		{"padded base64", with(AlgEdDSA, "x", good[AlgEdDSA]["x"].(string)+"="), false, ""},
		{"EC point off the curve", with(AlgES256, "y", b64url(offCurve)), false, ""},
		{"EC short coordinate", with(AlgES256, "x", b64url(raw[2:33])), false, ""},
		{"EC missing y", with(AlgES256, "y", nil), false, ""},
		{"RSA 1024 bits", with(AlgRS256, "n", smallJ.N), false, ""},
		{"RSA e=1", with(AlgRS256, "e", "AQ"), false, ""},
		{"RSA even e", with(AlgRS256, "e", "AQAA"), false, ""},
		{"RSA leading zero n", with(AlgRS256, "n", b64url(append([]byte{0}, mustB64(t, good[AlgRS256]["n"].(string))...))), false, ""},
		{"unknown kty", with(AlgRS256, "kty", "RSA-X"), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var j rawJWK
			if err := json.Unmarshal([]byte(tt.jwk), &j); err != nil {
				t.Fatal(err)
			}
			e, err := parseJWK(j)
			if (err == nil) != tt.ok {
				t.Fatalf("parseJWK(%s) error = %v, want ok %v", tt.jwk, err, tt.ok)
			}
			if tt.ok && (e.key.Algorithm != tt.alg || e.key.ID != "k" || e.canSign) {
				t.Fatalf("got %+v", e.key)
			}
		})
	}
}
