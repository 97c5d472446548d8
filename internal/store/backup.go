// Backup and restore of the SQLite database (warehouse backup, restore).
// PostgreSQL has its own tools for both (pg_dump, pg_restore, WAL
// archiving): the README gives the procedure.

package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrPostgresBackup is the answer of Backup and Restore on PostgreSQL. Its
// message names the tools to use and never the URL.
var ErrPostgresBackup = errors.New("the database is PostgreSQL: back it up with pg_dump -Fc and restore it with pg_restore (see the README, Backups and integrity)")

// IsPostgresURL reports whether databaseURL names a PostgreSQL database.
func IsPostgresURL(databaseURL string) bool { return isPostgresURL(databaseURL) }

// DatabasePath is the SQLite file that databaseURL and dataDir name, as
// Open resolves it.
func DatabasePath(databaseURL, dataDir string) (string, error) {
	if isPostgresURL(databaseURL) {
		return "", ErrPostgresBackup
	}
	return sqlitePath(databaseURL, dataDir)
}

// MustExist reports, on SQLite, that the database named by databaseURL and
// dataDir does not exist, for commands that look at a database and must
// not create an empty one on a typo (warehouse check).
func MustExist(databaseURL, dataDir string) error {
	if isPostgresURL(databaseURL) {
		return nil
	}
	path, err := sqlitePath(databaseURL, dataDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database at %s (give --data or --database-url): %w", path, describeFSErr(err))
	}
	return nil
}

// BackupOptions tune Backup.
type BackupOptions struct {
	// Force replaces an existing destination.
	Force bool
	// Started, if set, is called once the checks passed and the copy
	// begins, with the size of the database and its WAL: for a progress
	// line.
	Started func(size int64)
}

// ErrExists is returned by Backup when the destination exists and force is
// not set.
var ErrExists = errors.New("file exists")

// Backup writes a consistent copy of the SQLite database at src to dest:
// VACUUM INTO on a connection of its own reads one snapshot (WAL: a server
// may go on writing meanwhile, and needs no lock of ours for it), into a
// temporary file beside dest that is synced and then linked or renamed into
// place, so dest is either absent or a whole backup. An existing dest is
// refused (ErrExists) unless opt.Force. It returns dest's size.
func Backup(ctx context.Context, src, dest string, opt BackupOptions) (size int64, err error) {
	force := opt.Force
	fi, err := os.Stat(src)
	if err != nil {
		return 0, fmt.Errorf("no database at %s (give --data or --database-url): %w", src, describeFSErr(err))
	}
	if !force {
		if _, err := os.Lstat(dest); err == nil {
			return 0, fmt.Errorf("%s: %w (give --force to replace it)", dest, ErrExists)
		}
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		return 0, fmt.Errorf("%s is a directory: name the backup file", dest)
	}
	if opt.Started != nil {
		var wal int64
		if wi, err := os.Stat(src + "-wal"); err == nil {
			wal = wi.Size()
		}
		opt.Started(fi.Size() + wal)
	}
	dir := filepath.Dir(dest)
	if di, err := os.Stat(dir); err != nil || !di.IsDir() {
		return 0, fmt.Errorf("cannot write %s: directory %s does not exist", dest, dir)
	}
	// VACUUM INTO refuses an existing file: a fresh name, not created.
	tmp := filepath.Join(dir, "."+filepath.Base(dest)+".tmp-"+rand.Text()[:10])
	defer os.Remove(tmp) // a no-op once it is renamed

	db, err := sql.Open("sqlite", fileURI(src)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("open database %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, wrapErr(err))
	}
	if err := syncFile(tmp); err != nil {
		return 0, err
	}
	if force {
		err = os.Rename(tmp, dest)
	} else if err = os.Link(tmp, dest); errors.Is(err, fs.ErrExist) {
		// Linking cannot replace a file that appeared meanwhile.
		return 0, fmt.Errorf("%s: %w (give --force to replace it)", dest, ErrExists)
	} else if err != nil {
		// A file system without hard links: check, then rename.
		if _, serr := os.Lstat(dest); serr == nil {
			return 0, fmt.Errorf("%s: %w (give --force to replace it)", dest, ErrExists)
		}
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", dest, describeFSErr(err))
	}
	if err := syncDir(dir); err != nil {
		return 0, err
	}
	out, err := os.Stat(dest)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", dest, describeFSErr(err))
	}
	return out.Size(), nil
}

// ErrInUse is returned by Restore while a server (or another command) has
// the database open.
var ErrInUse = errors.New("the database is in use by a running warehouse server or command: stop it first")

// Restored tells what Restore did.
type Restored struct {
	// Aside is where the database that was in place was moved ("" when
	// there was none).
	Aside string
	// Version is the schema version of the file restored, before Open
	// migrates it up.
	Version int64
}

// Restore puts the SQLite backup src in place of the database that
// databaseURL and dataDir name (path):
// it checks src on a copy beside path (a SQLite file, integrity_check ok,
// a warehouse schema no newer than this binary's migrations), refuses
// while any process has the database open (ErrInUse; see lockShared),
// moves the current database aside to path.before-restore-<now> (with its
// WAL, which may hold its last commits), removes the stale -shm, and
// renames the copy into place. The caller then opens it with Open, which
// migrates it up.
func Restore(ctx context.Context, databaseURL, dataDir, src string, now time.Time) (_ Restored, err error) {
	path, err := DatabasePath(databaseURL, dataDir)
	if err != nil {
		return Restored{}, err
	}
	in, err := os.Open(src)
	if err != nil {
		return Restored{}, fmt.Errorf("cannot open %s: %w", src, describeFSErr(err))
	}
	defer in.Close()
	if fi, err := in.Stat(); err == nil && fi.IsDir() {
		return Restored{}, fmt.Errorf("%s is a directory: give a backup file (warehouse backup FILE)", src)
	}
	// A WAL beside src may hold its last commits, which a copy of src
	// alone would lose: such a file is a live database, not a backup.
	if fi, err := os.Stat(src + "-wal"); err == nil && fi.Size() > 0 {
		return Restored{}, fmt.Errorf("refusing to restore %s: it has a WAL beside it (%s-wal), so it is a database in use or not closed cleanly, not a backup; copy it with warehouse backup", src, src)
	}
	dir := filepath.Dir(path)
	// --data's directory is created, a sqlite:PATH's must exist (as Open).
	if err := prepareDir(path, databaseURL == ""); err != nil {
		return Restored{}, err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".restore-"+rand.Text()[:10])
	defer removeSQLite(tmp) // no-op once it is renamed
	if err := copyFile(tmp, in); err != nil {
		return Restored{}, err
	}
	v, err := inspectBackup(ctx, src, tmp)
	if err != nil {
		return Restored{}, err
	}

	// No migration runs while the files move, and no process may have
	// the database open: each holds lockShared from before SQLite opens
	// the file to after it closes it.
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return Restored{}, err
	}
	defer unlock()
	out := Restored{Version: v}
	cur, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return Restored{}, fmt.Errorf("open database %s: %w", path, describeFSErr(err))
	default:
		defer cur.Close()
		ok, err := tryLockExclusive(cur)
		if err != nil {
			return Restored{}, err
		}
		if !ok {
			return Restored{}, fmt.Errorf("refusing to restore %s: %w", path, ErrInUse)
		}
		out.Aside = path + ".before-restore-" + now.UTC().Format("20060102T150405Z")
		if err := os.Rename(path, out.Aside); err != nil {
			return Restored{}, fmt.Errorf("move %s aside: %w", path, describeFSErr(err))
		}
		// The WAL goes with its database: SQLite finds it by name.
		if err := os.Rename(path+"-wal", out.Aside+"-wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Restored{}, fmt.Errorf("move %s-wal aside: %w", path, describeFSErr(err))
		}
	}
	// A stale -wal or -shm next to the restored file would be replayed
	// into it, or mislead SQLite about it.
	for _, ext := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Restored{}, fmt.Errorf("remove stale %s%s: %w", path, ext, describeFSErr(err))
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return Restored{}, fmt.Errorf("put %s in place: %w", path, describeFSErr(err))
	}
	if err := syncDir(dir); err != nil {
		return Restored{}, err
	}
	return out, nil
}

// inspectBackup checks that tmp (a copy of src) is a warehouse SQLite
// database this binary can run, and returns its schema version. Its
// messages name src, the file the operator gave.
func inspectBackup(ctx context.Context, src, tmp string) (int64, error) {
	// Journal mode DELETE: the copy stays one file, as it was given.
	db, err := sql.Open("sqlite", fileURI(tmp)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", src, err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		if strings.Contains(err.Error(), "not a database") {
			return 0, fmt.Errorf("refusing to restore %s: not a SQLite database", src)
		}
		return 0, fmt.Errorf("refusing to restore %s: %w", src, err)
	}
	if check != "ok" {
		return 0, fmt.Errorf("refusing to restore %s: the SQLite integrity check fails: %s", src, check)
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v); err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return 0, fmt.Errorf("refusing to restore %s: a SQLite database, but not a warehouse one (no migrations table)", src)
		}
		return 0, fmt.Errorf("refusing to restore %s: read its schema version: %w", src, err)
	}
	known, err := knownVersion()
	if err != nil {
		return 0, err
	}
	if v.Int64 > known {
		return 0, fmt.Errorf("refusing to restore %s: its schema version %d is newer than this binary's %d (restore it with the warehouse version that wrote it)", src, v.Int64, known)
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'movements', 'ledger_entries')`).Scan(&tables); err != nil {
		return 0, fmt.Errorf("refusing to restore %s: %w", src, err)
	}
	if v.Int64 >= 2 && tables != 3 {
		return 0, fmt.Errorf("refusing to restore %s: at schema version %d but without the warehouse's tables", src, v.Int64)
	}
	return v.Int64, nil
}

// knownVersion is the newest SQLite migration embedded in this binary.
func knownVersion() (int64, error) {
	entries, err := fs.ReadDir(migrations, "migrations/sqlite")
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	var v int64
	for _, e := range entries {
		n, _, _ := strings.Cut(e.Name(), "_")
		if x, err := strconv.ParseInt(n, 10, 64); err == nil && x > v {
			v = x
		}
	}
	return v, nil
}

func copyFile(dst string, src io.Reader) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dst, describeFSErr(err))
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return fmt.Errorf("copy to %s: %w", dst, describeFSErr(err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", dst, describeFSErr(err))
	}
	return f.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, describeFSErr(err))
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, describeFSErr(err))
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, describeFSErr(err))
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, describeFSErr(err))
	}
	return nil
}

func removeSQLite(path string) {
	for _, ext := range []string{"", "-wal", "-shm", "-journal"} {
		_ = os.Remove(path + ext)
	}
}

// fileURI is path as the file: URI the driver opens, as Open writes it.
func fileURI(path string) string { return "file:" + (&url.URL{Path: path}).EscapedPath() }
