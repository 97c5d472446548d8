package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// ParseTrustedProxies reads --trusted-proxies: comma-separated CIDRs (a
// bare address is a single host). Empty means no proxy is trusted.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither a CIDR (10.0.0.0/8) nor an address (10.0.0.1)", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// origin is where a request came from and the URL it was sent to, as far
// as we can trust them. It is the one place that reads X-Forwarded-*:
// those headers count only when the peer is a trusted proxy, so a client
// talking to us directly cannot change its address, scheme or host.
type origin struct {
	ip     string // the client's address
	scheme string // "http" or "https"
	host   string // host[:port] the client addressed
}

// baseURL is scheme://host.
func (o origin) baseURL() string { return o.scheme + "://" + o.host }

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerIP is the address of the connection's other end, without its port.
func peerIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// origin works out the request's origin (see the type).
func (s *Server) origin(r *http.Request) origin {
	o := origin{ip: peerIP(r), scheme: "http", host: r.Host}
	if r.TLS != nil {
		o.scheme = "https"
	}
	if o.host == "" || !validHost(o.host) {
		// HTTP/1.0 without Host: the address we were reached at.
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			o.host = a.String()
		} else {
			o.host = "localhost"
		}
	}
	peer, err := netip.ParseAddr(o.ip)
	if err != nil || len(s.cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		return o
	}
	// Walk X-Forwarded-For from the nearest hop back, past our own proxies:
	// the first address not trusted is the client. An entry that does not
	// parse stops the walk (whoever wrote it is not to be believed).
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0 && s.trusted(client); i-- {
		list := strings.Split(hops[i], ",")
		for j := len(list) - 1; j >= 0 && s.trusted(client); j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(list[j]))
			if err != nil {
				i = -1
				break
			}
			client = a.Unmap()
		}
	}
	o.ip = client.String()
	if v := firstValue(r.Header.Get("X-Forwarded-Proto")); v == "http" || v == "https" {
		o.scheme = v
	}
	if v := firstValue(r.Header.Get("X-Forwarded-Host")); v != "" && validHost(v) {
		o.host = v
	}
	return o
}

// firstValue is the first of comma-separated header values, lower-cased:
// the one the outermost proxy saw.
func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(v))
}

// validHost accepts host, host:port, [v6] and [v6]:port, nothing that
// could carry a path, user info or spaces into a URL we publish.
func validHost(h string) bool {
	if h == "" || len(h) > 255 || strings.ContainsAny(h, "/\\@?# \t") {
		return false
	}
	if plainHost(h) {
		return true // what url.Parse accepts as is, without its allocations
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h && u.User == nil && u.Path == ""
}

// plainHost reports whether h is a DNS name or IPv4 address with an
// optional numeric port: letters, digits, '.', '-', '_', then ":digits".
func plainHost(h string) bool {
	name, port, hasPort := strings.Cut(h, ":")
	if name == "" || hasPort && port == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

// requestOf is the request a Huma operation or plain handler serves (nil
// outside the edge middleware).
func requestOf(ctx context.Context) *http.Request {
	st, _ := ctx.Value(requestKey).(*reqState)
	if st == nil {
		return nil
	}
	return st.req
}
