package hashworker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// setNice lowers every thread of this process to nice. On Linux the nice
// value belongs to each thread, not to the process, and a new thread
// inherits its creator's: so every thread that exists is lowered, and the
// listing is repeated until it shows no thread not seen before (one
// created meanwhile by a thread not yet lowered).
func setNice(nice int) error {
	// getpriority(2) returns 20 - nice on Linux.
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return fmt.Errorf("getpriority: %w", err)
	}
	if 20-cur >= nice {
		return nil // already as nice; lowering it back needs privileges
	}
	seen := map[int]bool{}
	for {
		entries, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		fresh := false
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || seen[tid] {
				continue
			}
			seen[tid], fresh = true, true
			err = syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
			if err != nil && !errors.Is(err, syscall.ESRCH) { // ESRCH: the thread has exited
				return fmt.Errorf("setpriority thread %d: %w", tid, err)
			}
		}
		if !fresh {
			return nil
		}
	}
}
