package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/warehouse-api/warehouse/internal/session"
)

// client is who asks for tokens in this request, as the session service
// records it: the address and User-Agent, and the issuer the access token
// carries (see issuer), which a replayed successor's iss must also match.
func (s *Server) client(ctx context.Context, cookies bool) session.Client {
	r := requestOf(ctx)
	meta := s.requestMeta(ctx)
	return session.Client{Issuer: s.issuer(r), UserAgent: meta.userAgent, IP: meta.ip, RequestID: meta.requestID, Cookies: cookies,
		IssuerOK: func(iss string) bool { return s.issuerOK(r, iss) }}
}

// audited is ctx carrying the request's origin (address as the proxy
// rules have it, User-Agent, request id), for the session service's
// methods that take no Client: the audit trail records it with the
// security events they cause.
func (s *Server) audited(ctx context.Context) context.Context {
	return session.NewContext(ctx, s.client(ctx, false))
}

// presented is the verified token of p, for the session service.
func presented(p *Principal) session.Presented {
	return session.Presented{Token: p.Token, Claims: p.Claims, Roles: p.Roles}
}

// body is the token pair as a response body; in cookie mode the tokens
// stay out of it (scripts must not see them).
func (s *Server) body(pair session.Pair, cookies bool) TokenPair {
	out := TokenPair{TokenType: "bearer", ExpiresIn: int(s.cfg.AccessTTL.Seconds())}
	if cookies {
		out.TokenType = "cookie"
		return out
	}
	out.AccessToken, out.RefreshToken = pair.Access, pair.Refresh
	return out
}

// cookies are the four cookies of cookie mode: the tokens (HttpOnly) and
// their CSRF double-submit values (readable by scripts).
func (s *Server) cookies(pair session.Pair) []http.Cookie {
	mk := func(name, value string, httpOnly bool, maxAge time.Duration) http.Cookie {
		return http.Cookie{Name: name, Value: value, Path: "/", Domain: s.cfg.CookieDomain, HttpOnly: httpOnly,
			Secure: s.cfg.CookieSecure, SameSite: s.cfg.CookieSameSite, MaxAge: int(maxAge.Seconds())}
	}
	return []http.Cookie{
		mk(cookieAccess, pair.Access, true, s.cfg.AccessTTL),
		mk(cookieRefresh, pair.Refresh, true, s.cfg.RefreshTTL),
		mk(cookieCSRFAccess, pair.AccessCSRF, false, s.cfg.AccessTTL),
		mk(cookieCSRFRefresh, pair.RefreshCSRF, false, s.cfg.RefreshTTL),
	}
}

// unsetCookies expires all four cookies.
func (s *Server) unsetCookies() []http.Cookie {
	var out []http.Cookie
	for _, name := range []string{cookieAccess, cookieRefresh, cookieCSRFAccess, cookieCSRFRefresh} {
		out = append(out, http.Cookie{Name: name, Value: "", Path: "/", Domain: s.cfg.CookieDomain,
			Secure: s.cfg.CookieSecure, SameSite: s.cfg.CookieSameSite, MaxAge: -1, HttpOnly: name == cookieAccess || name == cookieRefresh})
	}
	return out
}
