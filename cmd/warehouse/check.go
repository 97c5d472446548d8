package main

import (
	"context"
	"fmt"
	"io"

	"github.com/warehouse-api/warehouse/internal/store"
)

const checkUsage = `Usage:
  warehouse check

Verifies the database, read-only, also while servers run: on SQLite the
file (PRAGMA integrity_check) and its foreign keys; on both engines that
every balance equals the sum of its ledger entries and is not negative,
that the ledger's qty_after chains are unbroken, that every movement has
lines and every reversal names an existing movement. Prints
"ok: N balances, M ledger lines checked" and exits 0, or one finding per
line and exits 1. Database flags as for serve (--data, --database-url;
on PostgreSQL --db-statement-timeout 0s for a large database).
`

// exitError ends the process with code after main prints err.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func check(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFileCommand("check", checkUsage, stderr, &c)
	if err := parseFlags(fs, args, getenv); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("check: unexpected argument %q; usage: warehouse check [flags]", fs.Arg(0))
	}
	// A typo in --data must not create an empty database that checks ok.
	if err := store.MustExist(c.DatabaseURL, c.DataDir); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	opt := c.storeOptions()
	opt.NoMigrate = true
	db, err := store.Open(ctx, c.DatabaseURL, c.DataDir, opt)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer db.Close()
	r, err := db.Check(ctx)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if r.OK() {
		fmt.Fprintln(stdout, r)
		return nil
	}
	fmt.Fprintln(stdout, r)
	return &exitError{code: 1, err: fmt.Errorf("check: the database has %d finding(s), listed above", len(r.Findings))}
}
