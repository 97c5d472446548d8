//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockDir takes an exclusive lock on the directory dir, for as long as
// processes opening a SQLite database in it must take turns (migrations):
// SQLite's own locks cover one transaction, and goose runs several, so two
// first starts could both find a migration missing and both apply it. A
// flock on the directory leaves no file behind and is released by the
// kernel if the process dies. It waits until ctx ends.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another process migrating %s: %w", dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockShared takes a shared flock on f, the database file, without
// waiting. Every process that opens the SQLite database holds one for as
// long as it has it open (flock, not SQLite's fcntl locks, which are per
// process and dropped by any close), so that restore can tell that one
// does: it wants the lock exclusively. Taken under lockDir, it only ever
// meets a restore, which holds lockDir too.
func lockShared(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("lock database %s: %w", f.Name(), err)
	}
	return nil
}

// tryLockExclusive takes an exclusive flock on f without waiting, and
// reports false when another process holds the file (lockShared).
func tryLockExclusive(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false, nil
	default:
		return false, fmt.Errorf("lock database %s: %w", f.Name(), err)
	}
}
