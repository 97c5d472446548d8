package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 named cn and
// its key to dir/cert.pem and dir/key.pem.
func selfSigned(t *testing.T, dir, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	_ = os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestServeTLSReloadOnSIGHUP: `warehouse serve --tls-cert --tls-key`
// serves HTTPS with HSTS, and a real SIGHUP makes it serve the renewed
// pair. (The flags come from the environment, as an operator's unit would
// set them.)
func TestServeTLSReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	first := selfSigned(t, dir, "first")
	env := map[string]string{"WAREHOUSE_TLS_CERT": filepath.Join(dir, "cert.pem"), "WAREHOUSE_TLS_KEY": filepath.Join(dir, "key.pem")}
	base, logs, stop := startServe(t, []string{"--data", t.TempDir()}, func(k string) string { return env[k] })
	defer stop()
	addr := strings.TrimPrefix(base, "http://")
	roots := x509.NewCertPool()
	roots.AddCert(first)
	get := func() (*http.Response, *x509.Certificate) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/welcome")
		if err != nil {
			t.Fatalf("GET over TLS: %v\n%s", err, logs)
		}
		resp.Body.Close()
		return resp, resp.TLS.PeerCertificates[0]
	}
	if resp, got := get(); !got.Equal(first) || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("served %s, HSTS %q", got.Subject, resp.Header.Get("Strict-Transport-Security"))
	}
	second := selfSigned(t, dir, "second")
	roots.AddCert(second)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Wait for the reload to be logged (a bound against a hang, not a
	// timing assertion).
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), "TLS certificate reloaded"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP:\n%s", logs)
		}
	}
	if _, got := get(); !got.Equal(second) {
		t.Fatalf("after SIGHUP: served %s, want the second certificate", got.Subject)
	}
}
