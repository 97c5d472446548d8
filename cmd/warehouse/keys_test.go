package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

func TestKeysCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keysCmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		// --key-publish-delay 0s: a rotated key signs at once (the delay
		// has its own test, TestKeysPublishDelay).
		err := run(context.Background(), append(append([]string{"keys"}, args...), "--data", dir, "--jwt-algorithm", "EdDSA", "--key-publish-delay", "0s"), nil, &out, logcheck.Writer(t), noEnv)
		return out.String(), err
	}
	if _, err := keysCmd("rotate"); err != nil {
		t.Fatal(err)
	}
	out, err := keysCmd("list")
	if err != nil || strings.Count(out, "EdDSA") != 1 || !strings.Contains(out, "signs") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	first := strings.Fields(strings.Split(out, "\n")[1])[0]
	if _, err := keysCmd("rotate"); err != nil {
		t.Fatal(err)
	}
	// The first key signed moments ago: its refresh tokens may be live.
	if _, err := keysCmd("retire", "--kid", first, "--force"); err != nil {
		t.Fatalf("retire the old key: %v", err)
	}
	out, _ = keysCmd("list")
	if !strings.Contains(out, "retired") || !strings.Contains(out, "signs") {
		t.Fatalf("after retire:\n%s", out)
	}
	current := strings.Fields(strings.Split(out, "\n")[1])[0]
	if _, err := keysCmd("retire", "--kid", current); err == nil || !strings.Contains(err.Error(), "rotate before retiring") {
		t.Fatalf("retiring the signing key: %v", err)
	}
	if _, err := keysCmd("retire", "nope"); err == nil {
		t.Fatal("retired an unknown key")
	}

	// A server on this database signs with the current key and publishes it.
	base, _, _ := startServe(t, []string{"--data", dir, "--demo", "--jwt-algorithm", "EdDSA"}, noEnv)
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), current) || strings.Contains(string(body), first) {
		t.Fatalf("jwks %s: want %s, not the retired %s", body, current, first)
	}
	var tok string
	runSteps(t, base, step{method: "POST", path: "/login", body: loginBody("joevu", "glinteco"), status: 200, then: saveToken(&tok)})
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if !strings.Contains(string(hdr), `"alg":"EdDSA"`) || !strings.Contains(string(hdr), current) {
		t.Fatalf("token header %s", hdr)
	}
}

func TestCustomClaims(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--claims", `{"sub":"root"}`}, nil, io.Discard, logcheck.Writer(t), noEnv)
	if err == nil || !strings.Contains(err.Error(), `may not set "sub"`) {
		t.Fatalf("reserved claim: %v", err)
	}
	err = run(context.Background(), []string{"serve", "--data", t.TempDir(), "--claims", `[1]`}, nil, io.Discard, logcheck.Writer(t), noEnv)
	if err == nil || !strings.Contains(err.Error(), "JSON object") {
		t.Fatalf("bad claims: %v", err)
	}
	base, _, _ := startServe(t, []string{"--data", t.TempDir(), "--demo", "--claims", `{"tenant":"acme","tier":2}`}, noEnv)
	var tok string
	runSteps(t, base, step{method: "POST", path: "/login", body: loginBody("joevu", "glinteco"), status: 200, then: saveToken(&tok)})
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if !strings.HasSuffix(string(payload), `"tenant":"acme","tier":2}`) {
		t.Fatalf("payload %s", payload)
	}
}
