package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/warehouse-api/warehouse/internal/httpapi"
)

const openapiUsage = `Usage:
  warehouse openapi [FILE]

Writes the OpenAPI document the server serves at GET /openapi.json to FILE
(default or "-": standard output), without opening a database or a port.
Client generators and linters read it from there.
`

// openapi writes the served OpenAPI document. It asks a server built as
// serve builds it, through its own handler, so the bytes are those of
// GET /openapi.json and not a second rendering that could drift from it.
func openapi(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("warehouse openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, openapiUsage) }
	pos, err := parseInterspersed(fs, args, getenv)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("openapi: at most one FILE, got %d arguments", len(pos))
	}
	doc, err := servedOpenAPI(ctx, httpapi.Config{Version: versionString()})
	if err != nil {
		return err
	}
	if len(pos) == 0 || pos[0] == "-" {
		_, err := stdout.Write(doc)
		return err
	}
	if err := os.WriteFile(pos[0], doc, 0o644); err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	return nil
}

// servedOpenAPI returns GET /openapi.json of a server with cfg, indented
// and newline-terminated so that a committed copy diffs line by line. The
// document's routes and schemas do not depend on the database, so the
// server is built without one; no request reaches a handler that uses it.
func servedOpenAPI(ctx context.Context, cfg httpapi.Config) ([]byte, error) {
	srv := httpapi.New(cfg, httpapi.Deps{Log: slog.New(slog.DiscardHandler)})
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/openapi.json", nil)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		return nil, fmt.Errorf("openapi: GET /openapi.json answered %d: %s", w.Code, w.Body)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, w.Body.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("openapi: the served document is not JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
