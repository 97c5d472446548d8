package app

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// runApp opens and runs an App of cfg until the test ends; logs collects
// its logs at debug level, so every request is logged.
func runApp(t *testing.T, cfg Config) (*App, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logcheck.Tee(t, logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	return startApp(t, cfg, log).app, logs
}

// exchangeOn writes raw on c (plain TCP or TLS) and reads every response
// until the server closes it, then closes c. eof says whether it ended in
// a clean EOF (not a reset, not a timeout).
func exchangeOn(t *testing.T, c net.Conn, raw string) (resps []*http.Response, bodies []string, eof bool) {
	t.Helper()
	defer c.Close()
	// A guard against a hang, not a timing assertion.
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(c)
	for {
		// ReadResponse says ErrUnexpectedEOF even at a clean end.
		if _, err := br.Peek(1); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Logf("read: %v", err)
			}
			return resps, bodies, errors.Is(err, io.EOF)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Logf("read: %v", err)
			return resps, bodies, false
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		resps, bodies = append(resps, resp), append(bodies, string(b))
	}
}

// TestAmbiguousFramingRefused: a request whose framing a proxy and this
// server could read differently (RFC 9112 section 6.3) is answered with
// one 400 problem and the connection closed, so the request hidden in its
// body is never served; well-framed pipelined requests are all served.
//
// Over TLS (--tls-cert) the same holds: the inspector reads the decrypted
// stream of every HTTP/1.1 connection.
func TestAmbiguousFramingRefused(t *testing.T) {
	t.Parallel()
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		a, logs := runApp(t, testConfig(t, pgtest.SQLite))
		addr := a.Addr().String()
		testAmbiguousFraming(t, logs, func(t *testing.T) net.Conn {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			return c
		})
	})
	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		roots := x509.NewCertPool()
		roots.AddCert(writePair(t, dir, "framing"))
		cfg := testConfig(t, pgtest.SQLite)
		cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		a, logs := runApp(t, cfg)
		addr := a.Addr().String()
		testAmbiguousFraming(t, logs, func(t *testing.T) net.Conn {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		})
	})
}

// testAmbiguousFraming runs TestAmbiguousFramingRefused's exchanges on
// connections from dial.
func testAmbiguousFraming(t *testing.T, logs *logBuffer, dial func(*testing.T) net.Conn) {
	const hidden = "GET /welcome?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n"
	// body is "0\r\n\r\n" then the hidden request: what a proxy framing
	// by Content-Length forwards as one request.
	body := "0\r\n\r\n" + hidden
	cl := func(n int) string { return "Content-Length: " + strconv.Itoa(n) + "\r\n" }
	post := "POST /welcome HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	for _, tc := range []struct{ name, raw string }{
		{"CL then TE", post + cl(len(body)) + "Transfer-Encoding: chunked\r\n\r\n" + body},
		{"TE then CL", post + "Transfer-Encoding: chunked\r\n" + cl(len(body)) + "\r\n" + body},
		{"TE Chunked with CL", post + "Transfer-Encoding: Chunked\r\n" + cl(len(body)) + "\r\n" + body},
		{"TE gzip", post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + body},
		{"TE identity", post + "Transfer-Encoding: identity\r\n\r\n" + body},
		{"two TE", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + body},
		{"TE in HTTP/1.0", strings.Replace(post, "HTTP/1.1", "HTTP/1.0", 1) + "Transfer-Encoding: chunked\r\n\r\n" + body},
		{"duplicate CL", post + cl(len(body)) + cl(len(body)) + "\r\n" + body},
		{"conflicting CL", post + cl(5) + cl(len(body)) + "\r\n" + body},
		{"CL list", post + "Content-Length: 5, 5\r\n\r\n" + body},
		{"CL sign", post + "Content-Length: +5\r\n\r\n" + body},
		{"obs-fold", post + "X-Note: a\r\n b\r\n" + cl(len(body)) + "\r\n" + body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resps, bodies, eof := exchangeOn(t, dial(t), tc.raw)
			if len(resps) != 1 || !eof {
				t.Fatalf("got %d answers (eof %v), want one and EOF: %q", len(resps), eof, bodies)
			}
			r := resps[0]
			if r.StatusCode != http.StatusBadRequest || r.Header.Get("Content-Type") != "application/problem+json" || !r.Close {
				t.Fatalf("answer %d %q close=%v, want 400 problem+json and Connection: close", r.StatusCode, r.Header.Get("Content-Type"), r.Close)
			}
			var p struct {
				Status       int
				Detail, Code string
			}
			if err := json.Unmarshal([]byte(bodies[0]), &p); err != nil || p.Code != "bad_framing" || !strings.Contains(p.Detail, "framing") {
				t.Fatalf("problem %q (%v)", bodies[0], err)
			}
		})
	}
	if strings.Contains(logs.String(), "method=GET") {
		t.Errorf("a hidden request was served:\n%s", logs.String())
	}

	// Well-framed requests pipelined on one connection, after bodies of
	// both kinds, and a client's own framing verdict header (ignored): all
	// served, in order.
	good := "POST /welcome HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n" +
		"POST /welcome HTTP/1.1\r\nHost: x\r\n" + cl(3) + "\r\nxyz" +
		"GET /welcome HTTP/1.1\r\nHost: x\r\nX-Warehouse-Bad-Framing: spoofed\r\n\r\n" +
		"GET /welcome HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	resps, bodies, eof := exchangeOn(t, dial(t), good)
	if len(resps) != 4 || !eof {
		t.Fatalf("pipelined: %d answers (eof %v): %q", len(resps), eof, bodies)
	}
	for i, want := range []int{http.StatusMethodNotAllowed, http.StatusMethodNotAllowed, http.StatusOK, http.StatusOK} {
		if resps[i].StatusCode != want {
			t.Errorf("pipelined request %d: %d, want %d: %s", i, resps[i].StatusCode, want, bodies[i])
		}
	}
}

// bodyRoutes are "METHOD path" of every operation that takes a body, path
// parameters filled in.
func bodyRoutes(a *App) []string {
	var out []string
	fill := regexp.MustCompile(`\{[^}]+\}`)
	for path, item := range a.Server().OpenAPI().Paths {
		p := fill.ReplaceAllString(path, "x")
		for m, op := range map[string]*huma.Operation{"POST": item.Post, "PUT": item.Put, "PATCH": item.Patch} {
			if op != nil {
				out = append(out, m+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestOversizedBodyAnswered413: an 8 MiB body on every route that takes a
// body gets a whole 413 problem, never a reset, from every kind of client:
// keep-alive, Connection: close, one still writing while it reads, and a
// chunked body of no declared length. Many tries each; no timing is
// asserted, only that every try read a full answer.
func TestOversizedBodyAnswered413(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, pgtest.SQLite)
	cfg.ImportMaxBytes = 4 << 20 // the upload routes' own limit, below the 8 MiB sent
	a, _ := runApp(t, cfg)
	addr := a.Addr().String()
	huge := strings.Repeat("x", 8<<20)
	try := func(t *testing.T, route, mode string) {
		method, path, _ := strings.Cut(route, " ")
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // a guard against a hang
		head := method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		var body string
		switch mode {
		case "keep-alive", "concurrent":
			head += "Content-Length: " + strconv.Itoa(len(huge)) + "\r\n\r\n"
			body = huge
		case "close":
			head += "Connection: close\r\nContent-Length: " + strconv.Itoa(len(huge)) + "\r\n\r\n"
			body = huge
		case "chunked":
			head += "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
			body = strconv.FormatInt(int64(len(huge)), 16) + "\r\n" + huge + "\r\n0\r\n\r\n"
		}
		wrote := make(chan error, 1)
		go func() {
			_, err := io.WriteString(c, head+body)
			wrote <- err
		}()
		if mode != "concurrent" {
			if err := <-wrote; err != nil {
				t.Fatalf("%s %s: write: %v", mode, route, err)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s %s: no answer: %v", mode, route, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: answer cut: %v", mode, route, err)
		}
		want := http.StatusRequestEntityTooLarge
		if mode == "chunked" && resp.StatusCode >= 400 && resp.StatusCode < 500 {
			// A body of no declared length is only found too large by
			// reading it; a route that refuses the caller or the
			// content type first never does, and says so readably.
			want = resp.StatusCode
		}
		var p map[string]any
		if resp.StatusCode != want || json.Unmarshal(b, &p) != nil {
			t.Fatalf("%s %s: %d %s, want a whole %d problem", mode, route, resp.StatusCode, b, want)
		}
		if mode == "concurrent" {
			<-wrote // the server drained it, or closed: either is fine once answered
		}
	}
	routes := bodyRoutes(a)
	if len(routes) < 10 {
		t.Fatalf("only %d body routes: %v", len(routes), routes)
	}
	for _, route := range routes {
		try(t, route, "close")
	}
	for _, route := range []string{"POST /login", "POST /api/v1/movements", "POST /token"} {
		for _, mode := range []string{"keep-alive", "close", "concurrent", "chunked"} {
			for range 4 {
				try(t, route, mode)
			}
		}
	}
}

// writePair writes a new self-signed certificate for 127.0.0.1 and its
// key to dir/cert.pem and dir/key.pem, and returns the certificate.
func writePair(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsGet GETs /welcome over a new TLS connection that trusts only
// roots, and returns the answer and the certificate the server showed.
func tlsGet(t *testing.T, addr string, roots *x509.CertPool) (*http.Response, *x509.Certificate) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/welcome")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, resp.TLS.PeerCertificates[0]
}

// TestTLS: with --tls-cert/--tls-key the server speaks HTTPS (HTTP/2 and
// HTTP/1.1) and sends HSTS on every answer; ReloadTLS (what SIGHUP calls)
// serves a renewed pair from the next handshake, and a bad pair is
// refused, logged, and the old one kept. Without TLS there is no HSTS.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := writePair(t, dir, "first")
	cfg := testConfig(t, pgtest.SQLite)
	cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	a, logs := runApp(t, cfg)
	addr := a.Addr().String()

	roots := x509.NewCertPool()
	roots.AddCert(first)
	resp, got := tlsGet(t, addr, roots)
	if resp.StatusCode != http.StatusOK || !got.Equal(first) || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("first: %d, cert %s, HSTS %q", resp.StatusCode, got.Subject, resp.Header.Get("Strict-Transport-Security"))
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2 by ALPN", resp.Proto)
	}
	// An answer of another kind (a problem) carries HSTS too.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	r404, err := http.ReadResponse(bufio.NewReader(c), nil)
	c.Close()
	if err != nil || r404.StatusCode != http.StatusNotFound || r404.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("404 over HTTP/1.1 and TLS: %v %v", r404, err)
	}

	second := writePair(t, dir, "second")
	if err := a.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	roots.AddCert(second)
	if _, got := tlsGet(t, addr, roots); !got.Equal(second) {
		t.Fatalf("after reload: served %s, want the second certificate", got.Subject)
	}

	if err := os.WriteFile(cfg.TLSKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.ReloadTLS(); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Fatalf("reload of a bad pair: %v, want a refusal naming --tls-key", err)
	}
	if _, got := tlsGet(t, addr, roots); !got.Equal(second) {
		t.Fatalf("after a bad reload: served %s, want the second certificate kept", got.Subject)
	}
	if !strings.Contains(logs.String(), "TLS certificate not reloaded") || strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Errorf("logs:\n%s", logs.String())
	}

	plain, _ := runApp(t, testConfig(t, pgtest.SQLite))
	presp, err := http.Get("http://" + plain.Addr().String() + "/welcome")
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if v := presp.Header.Get("Strict-Transport-Security"); v != "" {
		t.Errorf("HSTS over plain HTTP: %q", v)
	}
}

// TestTLSConfigRefused: a half-given or unloadable pair is refused before
// anything opens, in one line that names both flags.
func TestTLSConfigRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePair(t, dir, "x")
	for _, tc := range []struct{ cert, key, want string }{
		{filepath.Join(dir, "cert.pem"), "", "go together"},
		{"", filepath.Join(dir, "key.pem"), "go together"},
		{filepath.Join(dir, "cert.pem"), filepath.Join(dir, "missing.pem"), "do not load"},
		{filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pem"), "do not load"},
	} {
		cfg := Defaults()
		cfg.TLSCert, cfg.TLSKey = tc.cert, tc.key
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "WAREHOUSE_TLS_CERT") || strings.Contains(err.Error(), "\n") {
			t.Errorf("cert %q key %q: %v, want one line with %q", tc.cert, tc.key, err, tc.want)
		}
	}
}

// TestTLSInspectedConnections: the HTTP/1.1 connections the framing
// inspector reads under TLS still look like TLS to the handlers (the
// issuer they publish is https), plain HTTP on the TLS port is told so as
// net/http tells it, and a failed handshake is logged without stopping
// the server.
func TestTLSInspectedConnections(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	roots := x509.NewCertPool()
	roots.AddCert(writePair(t, dir, "inspected"))
	cfg := testConfig(t, pgtest.SQLite)
	cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	a, logs := runApp(t, cfg)
	addr := a.Addr().String()

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Issuer string }
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || resp.ProtoMajor != 1 || doc.Issuer != "https://"+addr {
		t.Fatalf("discovery over HTTP/1.1 and TLS: %s issuer %q (%v), want https://%s", resp.Proto, doc.Issuer, err, addr)
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a guard against a hang
	_, _ = io.WriteString(c, "GET /welcome HTTP/1.1\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(c)
	c.Close()
	if !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request") || !strings.Contains(string(b), "Client sent an HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP on the TLS port: %q", b)
	}
	// The listener logs the failure after it has answered: wait for it.
	logged := func() bool { return strings.Contains(logs.String(), "TLS handshake failed") }
	for deadline := time.Now().Add(5 * time.Second); !logged() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !logged() {
		t.Errorf("the failed handshake is not logged:\n%s", logs.String())
	}
	if resp, _ := tlsGet(t, addr, roots); resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("after a failed handshake: %d %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
}
