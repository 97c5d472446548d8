package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/warehouse-api/warehouse/internal/httpapi"
)

// openapi prints the OpenAPI document exactly as `serve` answers
// GET /openapi.json, without a database or a listener: for linters and
// client generators.
func openapi(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := flag.NewFlagSet("warehouse openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.PublicURL, "public-url", "", "external base URL, written as the document's server (default: relative, \"/\")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: warehouse openapi [--public-url URL]\n\nPrints the OpenAPI 3.1 document that serve answers at /openapi.json.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	// The document depends on the routes, not on the database: the server
	// is built without one and never asked anything else.
	srv := httpapi.New(httpapi.Config{Version: versionString(), PublicURL: c.PublicURL},
		httpapi.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if w.Code != http.StatusOK {
		return fmt.Errorf("openapi: the server answered %d", w.Code)
	}
	_, err := stdout.Write(w.Body.Bytes())
	return err
}
