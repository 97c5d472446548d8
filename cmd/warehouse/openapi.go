package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/warehouse-api/warehouse/internal/app"
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
	c.Version = versionString()
	doc, err := app.OpenAPI(c.Config)
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc)
	return err
}
