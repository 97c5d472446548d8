package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// TestOpenAPICommand: `warehouse openapi` prints the served document, with
// the binary's version and the server given by --public-url.
func TestOpenAPICommand(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		server string
	}{
		{"relative server", []string{"openapi"}, "/"},
		{"public URL", []string{"openapi", "--public-url", "https://wh.example.com"}, "https://wh.example.com/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), tc.args, strings.NewReader(""), &out, logcheck.Writer(t), noEnv); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				OpenAPI string `json:"openapi"`
				Info    struct{ Version string }
				Servers []struct{ URL string }
				Paths   map[string]any
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("not JSON: %v: %.200s", err, out.String())
			}
			if doc.OpenAPI != "3.1.0" || doc.Info.Version != versionString() || len(doc.Servers) != 1 || doc.Servers[0].URL != tc.server {
				t.Errorf("openapi %q, version %q (want %q), servers %+v (want %q)", doc.OpenAPI, doc.Info.Version, versionString(), doc.Servers, tc.server)
			}
			for _, p := range []string{"/login", "/token", "/docs", "/openapi.json", "/api/v1/items"} {
				if doc.Paths[p] == nil {
					t.Errorf("no %s in the document", p)
				}
			}
		})
	}
}
