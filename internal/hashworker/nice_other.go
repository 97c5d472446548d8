//go:build !linux

package hashworker

// setNice is a no-op where per-thread priorities are not handled.
func setNice(int) error { return nil }
