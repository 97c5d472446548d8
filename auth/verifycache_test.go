package auth

import (
	"errors"
	"testing"
	"time"
)

func TestVerifyCacheAnswersRepeatedTokens(t *testing.T) {
	kr := newTestKeyring(t)
	c := NewVerifyCache(kr, 8)
	tok, err := kr.Sign(benchClaims())
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Verify(tok, testNow, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 1 {
		t.Fatalf("cache holds %d tokens, want 1", c.Len())
	}
	again, err := c.Verify(tok, testNow.Add(time.Minute), VerifyOptions{})
	if err != nil || again.ID != first.ID || again.Subject != "joevu" {
		t.Fatalf("cached verify = %+v, %v", again, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = c.Verify(tok, testNow, VerifyOptions{}) }); n != 0 {
		t.Errorf("a cache hit allocates %v times", n)
	}
}

func TestVerifyCacheChecksExpiryOnEveryHit(t *testing.T) {
	kr := newTestKeyring(t)
	c := NewVerifyCache(kr, 8)
	tok, _ := kr.Sign(benchClaims()) // 15 minutes
	if _, err := c.Verify(tok, testNow, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Verify(tok, testNow.Add(16*time.Minute), VerifyOptions{})
	var te *TokenError
	if !errors.As(err, &te) || te.Code != CodeExpired {
		t.Fatalf("expired token from the cache: %v", err)
	}
	// Within the leeway it is still good, as without the cache.
	if _, err := c.Verify(tok, testNow.Add(15*time.Minute+time.Second), VerifyOptions{Leeway: 10 * time.Second}); err != nil {
		t.Fatalf("leeway: %v", err)
	}
}

func TestVerifyCacheNeverOutlivesTheKeys(t *testing.T) {
	kr := newTestKeyring(t, Key{ID: "old", Secret: testSecret})
	c := NewVerifyCache(kr, 8)
	tok, _ := kr.Sign(benchClaims())
	if _, err := c.Verify(tok, testNow, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	// The old key is retired: its tokens must be refused at once.
	if err := kr.SetKeys(Key{ID: "new", Secret: otherSecret}); err != nil {
		t.Fatal(err)
	}
	var te *TokenError
	if _, err := c.Verify(tok, testNow, VerifyOptions{}); !errors.As(err, &te) || te.Code != CodeUnknownKID {
		t.Fatalf("token of a retired key: %v", err)
	}
}

func TestVerifyCacheMissesOnOtherOptionsAndEarlierClocks(t *testing.T) {
	kr := newTestKeyring(t)
	c := NewVerifyCache(kr, 8)
	tok, _ := kr.Sign(benchClaims())
	if _, err := c.Verify(tok, testNow, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(tok, testNow, VerifyOptions{Issuer: "other"}); err == nil {
		t.Fatal("a cached token skipped the issuer check of other options")
	}
	if _, err := c.Verify(tok, testNow.Add(-time.Hour), VerifyOptions{}); err == nil {
		t.Fatal("a clock before the check answered from the cache (iat in the future)")
	}
}

func TestVerifyCacheIsBounded(t *testing.T) {
	kr := newTestKeyring(t)
	c := NewVerifyCache(kr, 8)
	for range 100 {
		tok, _ := kr.Sign(benchClaims())
		if _, err := c.Verify(tok, testNow, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n > 8 {
		t.Fatalf("cache holds %d tokens, bound 8", n)
	}
	if _, err := c.Verify("a.b.c", testNow, VerifyOptions{}); err == nil || c.Len() > 8 {
		t.Fatal("a forged token was accepted or cached")
	}
}

func benchVerifyCached(b *testing.B, alg string) {
	kr := benchKeyring(b, alg)
	c := NewVerifyCache(kr, 0)
	tok, err := kr.Sign(benchClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(tok, testNow, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedHS256 is the hot path of every authenticated
// request: the same token again.
func BenchmarkVerifyCachedHS256(b *testing.B) { benchVerifyCached(b, AlgHS256) }
func BenchmarkVerifyCachedEdDSA(b *testing.B) { benchVerifyCached(b, AlgEdDSA) }
