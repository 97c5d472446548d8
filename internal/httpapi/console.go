package httpapi

import (
	"context"
	"net/http"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/session"
)

// Console is the web console's pages (internal/console), each mounted by a
// line of the route table. It is declared here, where it is mounted, so
// that httpapi does not import the console; the console uses CookieAuth,
// which the server hands to Deps.Console when it is built.
type Console interface {
	// Start is the HTML of GET /: the sign-in start page or the stock
	// overview. GET / with Accept: application/json stays the API's.
	Start() http.Handler
	SignIn() http.Handler
	SignOut() http.Handler
	Stock() http.Handler
	Scan() http.Handler
	Ledger() http.Handler
	MovementForm() http.Handler
	Movement() http.Handler
	Reverse() http.Handler
	MySessions() http.Handler
	EndSession() http.Handler
	Users() http.Handler
	UpdateUser() http.Handler
	// Imports is GET (the upload form) and POST (a multipart upload,
	// imported through the same importer.Service as the API) of /imports.
	Imports() http.Handler
	// Orders is the list of outbound orders, Order one order with a button
	// per action (OrderAction posts it), and PickList the phone-width pick
	// list driven by scans: all through the same orders.Service as the API.
	Orders() http.Handler
	Order() http.Handler
	OrderAction() http.Handler
	PickList() http.Handler
	// Receiving lists the purchase orders open for receiving (GET
	// /receive); ReceiveForm receives against one (/receive/{number}).
	Receiving() http.Handler
	ReceiveForm() http.Handler
	Static() http.Handler
}

// CookieAuth is the API's cookie mode for the console: the same login,
// the same four cookies, the same verification of the access cookie and
// the same double-submit CSRF rule as POST /login?cookies=true and the
// X-CSRF-Token header, with the CSRF value read from a form field instead
// of a header. It holds no rule of its own.
type CookieAuth struct{ s *Server }

// CSRFField is the name of the hidden form field that carries the CSRF
// value (the access token's csrf claim) on every state-changing form.
const CSRFField = "csrf_token"

// Login starts a cookie-mode session for username and sets the four
// cookies on w; the error is the problem the API would answer (lockout,
// throttling, bad credentials).
func (a *CookieAuth) Login(w http.ResponseWriter, r *http.Request, username, password string) *Problem {
	ctx := r.Context()
	if p := a.s.ipLimited(ctx, username); p != nil {
		return p
	}
	pair, err := a.s.sessions.Login(ctx, username, password, a.s.client(ctx, true))
	if err != nil {
		return a.s.problem(err)
	}
	a.setCookies(w, a.s.cookies(pair))
	return nil
}

// Session verifies the access cookie of r as the API does (on a
// state-changing method, csrf is the form's value, checked against the
// token's csrf claim). When the access token is missing or expired and
// the refresh cookie is valid, it rotates through the session service's
// Refresh, as POST /refresh does, sets the new cookies and answers the
// new token's principal with renewed true. On a state-changing request a
// renewal means the form's CSRF value belonged to the old token: the
// caller re-renders the form (with the new value) instead of acting.
func (a *CookieAuth) Session(w http.ResponseWriter, r *http.Request, csrf string) (p *Principal, renewed bool, prob *Problem) {
	creds := credentials{method: r.Method, r: r, form: true, formCSRF: csrf}
	p = new(Principal)
	prob = a.s.authenticate(p, creds, auth.TypeAccess, false)
	if prob == nil {
		return p, false, nil
	}
	switch prob.Code {
	case codeMissingToken, auth.CodeExpired, auth.CodeUnknownKID:
	default:
		// A refused form, a revoked token or an ended session: a
		// refresh must not revive it.
		return nil, false, prob
	}
	// The access token is gone (its cookie lives as long as it does) or
	// expired: try the refresh cookie, verified as POST /refresh verifies
	// it, from memory.
	token := cookieValue(r, cookieRefresh)
	if token == "" {
		return nil, false, prob
	}
	rp, rprob := a.s.verify(r, token, auth.TypeRefresh, false)
	if rprob != nil {
		return nil, false, rprob
	}
	if rp.Claims.CSRF == "" {
		return nil, false, unauthorized(codeMissingToken, detailMissingHeader)
	}
	pair, err := a.s.sessions.Refresh(r.Context(), presented(rp), a.s.client(r.Context(), true))
	if err != nil {
		return nil, false, a.s.problem(err)
	}
	a.setCookies(w, a.s.cookies(pair))
	np, nprob := a.s.verify(r, pair.Access, auth.TypeAccess, false)
	if nprob != nil {
		return nil, false, nprob
	}
	np.FromCookie = true
	return np, true, nil
}

// Peek reports the principal of r's session cookie (the access cookie, or
// else the refresh cookie) without the CSRF check and without renewing:
// for a caller that must decide whether to read a large body at all,
// before the form's CSRF value in that body can be read. It authorises
// nothing by itself; Session still decides once the form is read.
func (a *CookieAuth) Peek(r *http.Request) (*Principal, bool) {
	for _, c := range []struct{ name, typ string }{{cookieAccess, auth.TypeAccess}, {cookieRefresh, auth.TypeRefresh}} {
		token := cookieValue(r, c.name)
		if token == "" {
			continue
		}
		if p, prob := a.s.verify(r, token, c.typ, false); prob == nil && p.Claims.CSRF != "" {
			return p, true
		}
	}
	return nil, false
}

// Logout ends p's session through the session service and unsets the
// cookies, as POST /logout does.
func (a *CookieAuth) Logout(w http.ResponseWriter, r *http.Request, p *Principal) *Problem {
	if err := a.s.sessions.Logout(r.Context(), p.Claims.Subject, p.Claims.SessionID, "local"); err != nil {
		return a.s.problem(err)
	}
	a.setCookies(w, a.s.unsetCookies())
	return nil
}

// Client is what the session service may know of r (address, agent,
// issuer), for the console's calls to it.
func (a *CookieAuth) Client(ctx context.Context) session.Client { return a.s.client(ctx, true) }

// Presented is p's token for the session service.
func (a *CookieAuth) Presented(p *Principal) session.Presented { return presented(p) }

// Problem is what the API answers for err, from the one error table:
// status, detail, field errors and shortages.
func (a *CookieAuth) Problem(err error) *Problem { return a.s.problem(err) }

// ImportLimit is the largest file an import may upload: the limit of
// POST /api/v1/imports/{kind} (Config.ImportMaxBytes).
func (a *CookieAuth) ImportLimit() int64 { return a.s.importLimit() }

// CSRF is the value a form posted by p must carry.
func (a *CookieAuth) CSRF(p *Principal) string { return p.Claims.CSRF }

func (a *CookieAuth) setCookies(w http.ResponseWriter, cs []http.Cookie) {
	for i := range cs {
		http.SetCookie(w, &cs[i])
	}
}

func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// consoleRoute is a console page's handler, or the JSON 404 when the
// server has no console (the openapi command, tests of the API alone).
func (s *Server) consoleRoute(page func(Console) http.Handler, mux *http.ServeMux) serving {
	if s.console == nil {
		return plain(s.fallback(mux))
	}
	return plain(s.withOrigin(page(s.console)))
}

// withOrigin gives h's requests the request state and the origin the
// audit trail records (see audited): the console's pages call the session
// service with the request's context.
func (s *Server) withOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = withState(w, r)
		h.ServeHTTP(w, r.WithContext(s.audited(r.Context())))
	})
}
