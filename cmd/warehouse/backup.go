package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/warehouse-api/warehouse/internal/store"
)

const backupUsage = `Usage:
  warehouse backup FILE [--force]

Writes a consistent copy of the SQLite database to FILE, also while a
server runs and writes: FILE appears whole or not at all, and an existing
FILE is refused without --force. On PostgreSQL use pg_dump (see the README).
Database flags as for serve (--data, --database-url).
`

const restoreUsage = `Usage:
  warehouse restore FILE

Puts the backup FILE in place of the SQLite database, once it is checked
(a warehouse database, SQLite's integrity check, a schema no newer than
this binary's), and migrates it up. Refused while a server or another
command has the database open. The database it replaces is kept as
warehouse.db.before-restore-<time> beside it. On PostgreSQL use pg_restore.
Database flags as for serve (--data, --database-url).
`

func backup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFileCommand("backup", backupUsage, stderr, &c)
	force := fs.Bool("force", false, "replace FILE if it exists")
	file, err := fileArg(fs, "backup", args, getenv)
	if err != nil || file == "" {
		return err
	}
	src, err := store.DatabasePath(c.DatabaseURL, c.DataDir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	start := time.Now()
	size, err := store.Backup(ctx, src, file, store.BackupOptions{Force: *force, Started: func(n int64) {
		fmt.Fprintf(stderr, "backing up %s (%s, WAL included) to %s ...\n", src, humanSize(n), file)
	}})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup %s: %s in %s\n", file, byteSize(size), time.Since(start).Round(time.Millisecond))
	return nil
}

func restore(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFileCommand("restore", restoreUsage, stderr, &c)
	file, err := fileArg(fs, "restore", args, getenv)
	if err != nil || file == "" {
		return err
	}
	r, err := store.Restore(ctx, c.DatabaseURL, c.DataDir, file, time.Now())
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if r.Aside != "" {
		fmt.Fprintf(stderr, "the database that was in place is kept as %s\n", r.Aside)
	}
	// Open migrates the restored file up to this binary's schema.
	db, err := store.Open(ctx, c.DatabaseURL, c.DataDir, c.storeOptions())
	if err != nil {
		return fmt.Errorf("restore: %s is in place, but opening it failed: %w", file, err)
	}
	defer db.Close()
	v, err := db.Version(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s to %s (schema version %d, now %d)\n", file, db.Path, r.Version, v)
	return nil
}

// newFileCommand is the flag set of a command taking one file and the
// database flags.
func newFileCommand(name, usage string, stderr io.Writer, c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("warehouse "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	commonFlags(fs, c)
	return fs
}

// fileArg parses args (flags before or after the file) and returns the one
// file named; "" with a nil error after --help.
func fileArg(fs *flag.FlagSet, name string, args []string, getenv func(string) string) (string, error) {
	pos, err := parseInterspersed(fs, args, getenv)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("%s: expected one file, got %d argument(s); usage: warehouse %s FILE", name, len(pos), name)
	}
	return pos[0], nil
}

// byteSize is n for a person and exactly: 1.5 MiB (1572864 bytes).
func byteSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%s (%d bytes)", humanSize(n), n)
}

// humanSize is n in binary units: 512 bytes, 1.5 MiB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n)/unit, "KiB"
	for _, next := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, u = v/unit, next
	}
	return fmt.Sprintf("%.1f %s", v, u)
}
