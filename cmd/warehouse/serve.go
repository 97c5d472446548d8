package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/app"
)

// hasherFor is the in-process password hasher of c's argon2 settings.
func hasherFor(c *config, opts ...auth.HasherOption) (*auth.Hasher, error) {
	return c.Hasher(opts...)
}

// serve is `warehouse serve`: the settings from flags, env and .env, then
// one App, run until ctx ends.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := flag.NewFlagSet("warehouse serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &c)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v; see `warehouse serve --help`", fs.Args())
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Addr == "" { // the App would serve nothing
		return app.CheckAddr("--addr", c.Addr)
	}
	if c.PrintConfig {
		printConfig(stdout, fs)
		return nil
	}
	log, err := c.Logger(stderr)
	if err != nil {
		return err
	}
	if _, err := tuneGC(getenv, log); err != nil {
		return err
	}
	c.Version = versionString()
	a, err := app.Open(ctx, c.Config, app.Deps{Log: log, Stderr: stderr})
	if err != nil {
		return err
	}
	defer a.Close()
	if c.TLSCert != "" {
		// SIGHUP reloads the certificate (a renewal); ReloadTLS logs
		// the outcome, and a bad pair keeps the old one.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		done := make(chan struct{})
		defer func() { signal.Stop(hup); close(done) }()
		go func() {
			for {
				select {
				case <-done:
					return
				case <-hup:
					_ = a.ReloadTLS()
				}
			}
		}()
	}
	return a.Run(ctx)
}

// algorithms are the --jwt-algorithm values.
var algorithms = app.Algorithms

func supportedAlgorithm(alg string) bool { return app.SupportedAlgorithm(alg) }

func randomPassword() string { return app.RandomPassword() }
