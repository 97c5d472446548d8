//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "os"

// links is unknown here: the path checks of fileID.check still apply.
func links(os.FileInfo) uint64 { return 1 }
