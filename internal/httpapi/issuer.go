package httpapi

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/session"
)

// The issuer is one notion, published by discovery and carried by every
// access token as iss: --issuer when set, else --public-url, else the URL
// the request came to (see origin), so that an OIDC library configured
// from discovery accepts our access tokens with no settings at all.
//
// Our own check follows from where the issuer comes from:
//   - --issuer: the keyring requires iss and compares it, as before;
//   - --public-url: a present iss must equal it;
//   - the request: a present iss must equal the origin of the request
//     presenting the token, so a token minted at http://a is refused at
//     http://b.
//
// Without --issuer a token without iss is accepted: the tutorial's tokens
// and ours from before iss was set by default.

// issuer is the iss for tokens minted in answer to r, and the issuer the
// discovery documents publish ("" when there is nothing to say: no
// setting and no request).
func (s *Server) issuer(r *http.Request) string {
	switch {
	case s.cfg.Issuer != "":
		return s.cfg.Issuer
	case s.cfg.PublicURL != "":
		return s.cfg.PublicURL
	case r == nil:
		return ""
	}
	return s.origin(r).baseURL()
}

// verifyOptions are the keyring's options for our own tokens: the issuer
// is compared by the keyring only when it is static and required
// (--issuer), else by issuerOK.
// No token of ours lives longer than the longer TTL, so one whose exp is
// further away was not signed by this configuration (MaxLifetime).
func verifyOptions(cfg Config) auth.VerifyOptions {
	access, refresh := cfg.AccessTTL, cfg.RefreshTTL
	if access <= 0 {
		access = session.DefaultAccessTTL
	}
	if refresh <= 0 {
		refresh = session.DefaultRefreshTTL
	}
	return auth.VerifyOptions{Leeway: cfg.Leeway, Issuer: cfg.Issuer, Audience: cfg.Audience,
		IssuerByCaller: cfg.Issuer == "", MaxLifetime: max(access, refresh)}
}

// issuerOK reports whether iss, as the keyring returned it, is ours for a
// token presented in r.
func (s *Server) issuerOK(r *http.Request, iss string) bool {
	switch {
	case s.cfg.Issuer != "" || iss == "":
		return true // checked by the keyring, or a token without iss
	case s.cfg.PublicURL != "":
		return iss == s.cfg.PublicURL
	case r == nil:
		return false
	}
	return s.originIs(r, iss)
}

// originIs reports whether s.origin(r).baseURL() is base (the host's case
// aside). It runs on every GET /user whose token has iss, so the common
// case, a client talking to us directly with a plain Host, is decided
// without building the URL or allocating.
func (s *Server) originIs(r *http.Request, base string) bool {
	if !s.viaTrustedProxy(r) && r.Host != "" && validHost(r.Host) {
		// What origin would find, without its address parsing.
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return isBaseURL(base, scheme, r.Host)
	}
	o := s.origin(r)
	return isBaseURL(base, o.scheme, o.host)
}

// viaTrustedProxy reports whether r's peer is a trusted proxy, whose
// X-Forwarded-* origin would then read.
func (s *Server) viaTrustedProxy(r *http.Request) bool {
	if len(s.cfg.TrustedProxies) == 0 {
		return false
	}
	peer, err := netip.ParseAddr(peerIP(r))
	return err == nil && s.trusted(peer)
}

// isBaseURL reports whether base is scheme://host, the host compared
// case-insensitively as DNS names are.
func isBaseURL(base, scheme, host string) bool {
	rest, ok := strings.CutPrefix(base, scheme)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, "://")
	return ok && strings.EqualFold(rest, host)
}
