package httpapi

import (
	"fmt"
	"net"
)

// LoopbackAddr checks that addr listens on a loopback interface only
// (profiles reveal internals and cost CPU); an empty host means 127.0.0.1.
func LoopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--pprof-addr: %w", err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if host != "localhost" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return "", fmt.Errorf("--pprof-addr must be a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), not %q", addr)
		}
	}
	return net.JoinHostPort(host, port), nil
}
