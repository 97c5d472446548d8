//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "context"

// lockDir does nothing where flock is missing: concurrent first starts on
// one fresh SQLite database must then be avoided by the operator.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	return func() {}, nil
}
