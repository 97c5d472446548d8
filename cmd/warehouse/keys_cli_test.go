package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// TestKeysCLI: the operator's first hour with `warehouse keys`: help exits
// 0, list shows the same states whatever --jwt-algorithm says, a rotated
// key is published before it signs, retiring a key whose refresh tokens may
// be live needs --force, and errors carry no internal code prefix.
func TestKeysCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keysCmd := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(append([]string{"keys"}, args...), "--data", dir), nil, &out, logcheck.Tee(t, &errOut), noEnv)
		return out.String(), errOut.String(), err
	}
	// help
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"keys"}, args...), nil, &out, logcheck.Writer(t), noEnv); err != nil || !strings.Contains(out.String(), "warehouse keys rotate") {
			t.Errorf("keys %v: %v\n%s", args, err, out.String())
		}
	}
	if _, _, err := keysCmd("list", "--help"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("keys list --help: %v (main exits 0 on flag.ErrHelp)", err)
	}
	// Every algorithm the help names is one serve accepts, and all are named.
	for _, alg := range algorithms {
		if !strings.Contains(keysUsage, alg) {
			t.Errorf("keys help does not name %s", alg)
		}
	}

	if _, _, err := keysCmd("rotate", "--jwt-algorithm", "EdDSA"); err != nil {
		t.Fatal(err)
	}
	out, _, err := keysCmd("rotate", "--jwt-algorithm", "EdDSA")
	if err != nil || !strings.Contains(out, "is published now and signs from") {
		t.Fatalf("rotate: %v %s", err, out)
	}
	var lists []string
	for _, alg := range []string{"HS256", "EdDSA", "RS256"} {
		out, _, err := keysCmd("list", "--jwt-algorithm", alg)
		if err != nil {
			t.Fatal(err)
		}
		lists = append(lists, out)
	}
	if lists[0] != lists[1] || lists[1] != lists[2] {
		t.Errorf("list depends on --jwt-algorithm:\n%s\n%s\n%s", lists[0], lists[1], lists[2])
	}
	rows := strings.Split(strings.TrimSpace(lists[0]), "\n")
	if len(rows) != 3 || !strings.Contains(rows[1], "published, signs from") || !strings.HasSuffix(rows[2], "signs") {
		t.Fatalf("list:\n%s", lists[0])
	}
	published, signing := strings.Fields(rows[1])[0], strings.Fields(rows[2])[0]

	tests := []struct {
		name    string
		args    []string
		wantErr string // "" = success
		wantOut string
	}{
		{"retire the signing key", []string{"retire", "--kid", signing, "--force"}, "rotate before retiring it", ""},
		{"unknown key", []string{"retire", "--kid", "nope"}, "", ""},
		{"unknown subcommand", []string{"shuffle"}, `unknown subcommand "shuffle"`, ""},
		{"bad algorithm", []string{"rotate", "--jwt-algorithm", "none"}, "use one of HS256", ""},
		{"a published key never signed: no --force needed", []string{"retire", "--kid", published}, "", "retired"}, // --kid: a thumbprint may begin with "-"
	}
	for _, tt := range tests {
		out, _, err := keysCmd(tt.args...)
		if tt.name == "unknown key" {
			if err == nil || strings.Contains(err.Error(), "not_found:") || strings.Contains(err.Error(), "invalid:") {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "conflict:") {
				t.Errorf("%s: %v, want %q without a code prefix", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(out, tt.wantOut) {
			t.Errorf("%s: %v %s", tt.name, err, out)
		}
	}

	// A key that signed moments ago: its refresh tokens may be live.
	if _, _, err := keysCmd("rotate", "--jwt-algorithm", "EdDSA", "--key-publish-delay", "0s"); err != nil {
		t.Fatal(err)
	}
	_, _, err = keysCmd("retire", signing, "--key-publish-delay", "0s")
	if err == nil || !strings.Contains(err.Error(), "refresh tokens it signed may be live") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("retire a key that just signed: %v", err)
	}
	if out, _, err := keysCmd("retire", signing, "--key-publish-delay", "0s", "--force"); err != nil || !strings.Contains(out, "retired") {
		t.Fatalf("retire --force: %v %s", err, out)
	}
}
