package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// TestOpenAPICommandIsServed: what `warehouse openapi` prints, and so what
// the generated client in internal/apitest/client is built from, is byte
// for byte what a running `serve` answers at GET /openapi.json.
func TestOpenAPICommandIsServed(t *testing.T) {
	t.Parallel()
	var printed bytes.Buffer
	if err := run(context.Background(), []string{"openapi"}, strings.NewReader(""), &printed, logcheck.Writer(t), noEnv); err != nil {
		t.Fatal(err)
	}
	base, _, _ := startServe(t, []string{"--data", t.TempDir()}, noEnv)
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	served, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	if !bytes.Equal(printed.Bytes(), served) {
		t.Fatalf("warehouse openapi (%d bytes) differs from GET /openapi.json of a running server (%d bytes)", printed.Len(), len(served))
	}
}
