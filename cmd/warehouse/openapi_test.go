package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAPICommand: `warehouse openapi` writes the very document a
// running server serves, and the copy the generated client is built from
// (internal/apitest/client) is that document.
func TestOpenAPICommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "openapi.json")
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"openapi", file}, strings.NewReader(""), &stdout, &stderr, noEnv); err != nil {
		t.Fatalf("openapi %s: %v\n%s", file, err, stderr.String())
	}
	written, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := run(ctx, []string{"openapi"}, strings.NewReader(""), &stdout, &stderr, noEnv); err != nil {
		t.Fatalf("openapi to stdout: %v", err)
	}
	if !bytes.Equal(stdout.Bytes(), written) {
		t.Fatal("openapi to stdout and to a file differ")
	}

	base, _, _ := startServe(t, []string{"--data", t.TempDir()}, noEnv)
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, served, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	if !bytes.Equal(indented.Bytes(), written) {
		t.Fatalf("warehouse openapi differs from GET /openapi.json of a running server (%d vs %d bytes)", len(written), indented.Len())
	}

	committed, err := os.ReadFile(filepath.Join("..", "..", "internal", "apitest", "client", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, written) {
		t.Fatal("internal/apitest/client/openapi.json is not the served document: run `go generate ./internal/apitest/client` and commit the result")
	}
}

func TestOpenAPICommandErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"two files", []string{"openapi", "a.json", "b.json"}, "at most one FILE"},
		{"unwritable file", []string{"openapi", filepath.Join(t.TempDir(), "missing", "openapi.json")}, "no such file or directory"},
		{"unknown flag", []string{"openapi", "--pretty"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr, noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
			if stdout.Len() != 0 {
				t.Fatalf("wrote to stdout on error: %.80s", stdout.String())
			}
		})
	}
}
