//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"context"
	"os"
)

// lockDir does nothing where flock is missing: concurrent first starts on
// one fresh SQLite database must then be avoided by the operator.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	return func() {}, nil
}

// lockShared does nothing where flock is missing: restore cannot tell a
// running server there.
func lockShared(f *os.File) error { return nil }

// tryLockExclusive always succeeds where flock is missing.
func tryLockExclusive(f *os.File) (bool, error) { return true, nil }
