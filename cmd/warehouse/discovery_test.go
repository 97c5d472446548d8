package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// TestServeDiscoveryDefaults: `warehouse serve` with default settings
// publishes a discovery document naming the URL it was fetched from (it
// answered "issuer":"http:" before), not cached by shared caches; with
// --trusted-proxies a proxy's X-Forwarded-* are believed, and a bad CIDR is
// refused with the flag's name.
func TestServeDiscoveryDefaults(t *testing.T) {
	t.Parallel()
	fetch := func(url string, headers map[string]string) (discovery, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc discovery
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", url, resp.StatusCode, err)
		}
		return doc, resp.Header
	}
	spoof := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}

	base, _, _ := startServe(t, []string{"--data", t.TempDir()}, noEnv)
	doc, h := fetch(base+"/.well-known/openid-configuration", spoof)
	want := discovery{Issuer: base, JWKSURI: base + "/.well-known/jwks.json", RevocationEndpoint: base + "/revoke"}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("discovery, want URLs under %s (-want +got):\n%s", base, diff)
	}
	if !strings.HasPrefix(h.Get("Cache-Control"), "private") || !strings.Contains(h.Get("Vary"), "Host") {
		t.Errorf("Cache-Control %q Vary %q", h.Get("Cache-Control"), h.Get("Vary"))
	}

	base, _, _ = startServe(t, []string{"--data", t.TempDir(), "--trusted-proxies", "127.0.0.0/8,::1"}, noEnv)
	doc, _ = fetch(base+"/.well-known/oauth-authorization-server", spoof)
	if diff := cmp.Diff("https://evil.example", doc.Issuer); diff != "" {
		t.Errorf("behind a trusted proxy: issuer (-want +got):\n%s", diff)
	}

	err := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--trusted-proxies", "10.0.0.0/33"}, nil, io.Discard, logcheck.Writer(t), noEnv)
	if err == nil || !strings.Contains(err.Error(), "--trusted-proxies") || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("bad CIDR: %v", err)
	}
	err = run(context.Background(), []string{"serve", "--data", t.TempDir(), "--key-publish-delay", "-1m"}, nil, io.Discard, logcheck.Writer(t), noEnv)
	if err == nil || !strings.Contains(err.Error(), "--key-publish-delay") {
		t.Errorf("negative delay: %v", err)
	}
}
