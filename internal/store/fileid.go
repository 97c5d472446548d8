package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// A SQLite database file deleted or replaced under a running server does
// not stop SQLite: its open descriptors still name the old inode, so
// writes go on being committed, and acknowledged, into a file that no path
// names any more and that is gone after a restart. fileID remembers which
// file the store opened and tells when the path no longer names it.
//
// PostgreSQL is not affected: its server owns its files, and a lost
// database is a connection or query error there.
type fileID struct {
	path string
	// f is kept open for fstat, read-only, and closed only after every
	// SQLite connection (DB.Close): closing any descriptor of a file
	// drops every POSIX lock the process holds on it, SQLite's included.
	f  *os.File
	fi os.FileInfo
}

// openFileID opens path, creating it empty if missing (SQLite takes an
// empty file for an empty database), remembers its identity (device and
// inode) and takes the shared lock that tells restore the database is in
// use (lockShared). Open calls it before SQLite opens the file, under
// lockDir, so that a restore swapping the file either finds the lock or
// happens before SQLite opens the path.
func openFileID(path string) (*fileID, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := lockShared(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (a restore is under way?)", err)
	}
	return &fileID{path: path, f: f, fi: fi}, nil
}

// errFileGone is the cause of the refusals once the database file is no
// longer the one the store opened.
var errFileGone = errors.New("database file gone")

// check reports, as an error naming the path and what happened, when the
// path no longer names the file the store opened: deleted (or renamed
// away), or replaced by another file. It costs a stat and an fstat, cheap
// next to a COMMIT (BenchmarkPostMovement), so the writer checks before
// every batch.
func (id *fileID) check() error {
	if id == nil {
		return nil
	}
	cur, err := os.Stat(id.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s was deleted or renamed while the server had it open; restore it and restart the server (writes are refused so that none is acknowledged into a file no path names)", errFileGone, id.path)
	case err != nil:
		return fmt.Errorf("check database file %s: %w", id.path, err)
	case !os.SameFile(cur, id.fi):
		return fmt.Errorf("%w: %s was replaced by another file while the server had it open; restart the server to use the new file (writes are refused so that none goes to the old one)", errFileGone, id.path)
	}
	// The path may name a new file that got the old one's inode number
	// (file systems reuse them at once): the open file's link count
	// tells that it was deleted.
	open, err := id.f.Stat()
	if err != nil {
		return fmt.Errorf("check database file %s: %w", id.path, err)
	}
	if links(open) == 0 {
		return fmt.Errorf("%w: %s was deleted while the server had it open; restart the server", errFileGone, id.path)
	}
	return nil
}

func (id *fileID) close() error {
	if id == nil {
		return nil
	}
	// DB.Close may be called again, as sql.DB's may.
	if err := id.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}
