package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
)

// PprofHandler serves the runtime profiles (CPU, heap, goroutines...) under
// /debug/pprof/, for `warehouse serve --pprof-addr`. It is its own mux, so
// nothing is registered on http.DefaultServeMux and the API never serves it.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

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
