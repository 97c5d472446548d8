package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
)

// Request and response bodies.
type (
	// MessageBody is the tutorial's {"message": ...}.
	MessageBody struct {
		Message string `json:"message" example:"Welcome to the Warehouse Management API"`
	}
	// DetailBody is the tutorial's {"detail": ...} success answer.
	DetailBody struct {
		Detail string `json:"detail" example:"Access token has been revoked"`
	}
	loginInput struct {
		Cookies bool `query:"cookies" doc:"Set the tokens as HttpOnly cookies (with CSRF double-submit cookies) instead of returning them"`
		Body    LoginBody
	}
	// LoginBody is the tutorial's User model.
	LoginBody struct {
		Username string `json:"username" minLength:"1" maxLength:"150" example:"joevu"`
		Password string `json:"password" maxLength:"1024" example:"glinteco"`
		// Unknown fields are allowed, as in the tutorial.
		_ struct{} `additionalProperties:"true"`
	}
	// TokenPair is what a login or refresh returns (RFC 6749 section 5.1).
	TokenPair struct {
		AccessToken  string `json:"access_token,omitempty" doc:"JWT access token, for Authorization: Bearer (absent in cookie mode)"`
		RefreshToken string `json:"refresh_token,omitempty" doc:"JWT refresh token, for POST /refresh; rotated on every use (absent in cookie mode)"`
		TokenType    string `json:"token_type" doc:"bearer, or cookie when the tokens were set as cookies" example:"bearer"`
		ExpiresIn    int    `json:"expires_in" doc:"Lifetime of the access token in seconds" example:"900"`
	}
	// UserBody answers GET /user.
	UserBody struct {
		User  string   `json:"user" doc:"The token's subject" example:"joevu"`
		Roles []string `json:"roles" doc:"The user's current roles" example:"[\"admin\"]"`
	}
)

type tokenOutput struct {
	CacheControl string        `header:"Cache-Control"`
	Pragma       string        `header:"Pragma"`
	SetCookie    []http.Cookie `header:"Set-Cookie"`
	Body         TokenPair
}

// tokenResponse answers with a pair: in the body, or in cookies when the
// session is in cookie mode.
func (s *Server) tokenResponse(pair issued, cookies bool) *tokenOutput {
	out := &tokenOutput{CacheControl: "no-store", Pragma: "no-cache", Body: s.body(pair, cookies)}
	if cookies {
		out.SetCookie = s.cookies(pair)
	}
	return out
}

// security marks an operation as taking a token; completeOperation writes
// the exact requirement (which token, and the cookie mode).
var security = []map[string][]string{{schemeOAuth2: {}}, {schemeBearer: {}}}

func (s *Server) routes() {
	api := s.api
	authErrors := []int{http.StatusUnauthorized}

	huma.Register(api, huma.Operation{
		OperationID: "welcome", Method: http.MethodGet, Path: "/welcome", Tags: []string{"tutorial"},
		Summary:     "Welcome message",
		Description: "The tutorial's first endpoint: a fixed greeting, with no authentication. Useful to check that the server answers.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body MessageBody }, error) {
		return &struct{ Body MessageBody }{MessageBody{"Welcome to the Warehouse Management API"}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/login", Tags: []string{"tutorial"},
		Summary: "Log in with username and password",
		Description: "Starts a session and returns a fresh access token (" + humanDuration(s.cfg.AccessTTL) + ") and a refresh token (" +
			humanDuration(s.cfg.RefreshTTL) + "), as this server is configured. " +
			"With `?cookies=true` the tokens are set as HttpOnly cookies (`access_token_cookie`, `refresh_token_cookie`) with CSRF double-submit cookies " +
			"(`csrf_access_token`, `csrf_refresh_token`) instead of being returned. Wrong password and unknown user answer the same 401.",
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *loginInput) (*tokenOutput, error) {
		u, err := s.checkPassword(ctx, in.Body.Username, in.Body.Password)
		if err != nil {
			return nil, err
		}
		pair, err := s.startSession(ctx, u, in.Cookies)
		if err != nil {
			return nil, s.problem(err)
		}
		return s.tokenResponse(pair, in.Cookies), nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "user", Method: http.MethodGet, Path: "/user", Tags: []string{"tutorial"},
		Summary: "The logged-in user", Security: security, Errors: authErrors,
		Description: "The access token's subject and the user's current roles (as stored now, not as the token was issued).",
		Metadata:    map[string]any{metaToken: auth.TypeAccess},
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body UserBody }, error) {
		p := principal(ctx)
		return &struct{ Body UserBody }{UserBody{User: p.Claims.Subject, Roles: p.Roles}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "refresh", Method: http.MethodPost, Path: "/refresh", Tags: []string{"tutorial"},
		Summary: "Trade a refresh token for new tokens",
		Description: "Send the refresh token as the bearer token (or in `refresh_token_cookie` with `X-CSRF-Token`). Returns a new access token and a " +
			"new refresh token; the old refresh token is retired (rotation). A retired token presented again within the reuse interval gets the same new " +
			"pair; later, it is treated as theft and the whole session is revoked.",
		Security: security, Errors: authErrors,
		Metadata: map[string]any{metaToken: auth.TypeRefresh},
	}, func(ctx context.Context, _ *struct{}) (*tokenOutput, error) {
		p := principal(ctx)
		pair, err := s.rotate(ctx, p)
		if err != nil {
			return nil, err
		}
		return s.tokenResponse(pair, p.FromCookie), nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "access-revoke", Method: http.MethodDelete, Path: "/access-revoke", Tags: []string{"tutorial"},
		Summary:     "Revoke the access token sent",
		Description: "The token is refused from then on, by every instance and after restarts. Revoking twice is not an error.",
		Security:    security, Errors: authErrors,
		Metadata: map[string]any{metaToken: auth.TypeAccess, metaAllowRevoked: true},
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body DetailBody }, error) {
		if err := s.revoke(ctx, principal(ctx).Claims); err != nil {
			return nil, s.problem(err)
		}
		return &struct{ Body DetailBody }{DetailBody{"Access token has been revoked"}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "refresh-revoke", Method: http.MethodDelete, Path: "/refresh-revoke", Tags: []string{"tutorial"},
		Summary:     "Revoke the refresh token sent",
		Description: "The refresh token is refused from then on, by every instance and after restarts. Revoking twice is not an error.",
		Security:    security, Errors: authErrors,
		Metadata: map[string]any{metaToken: auth.TypeRefresh, metaAllowRevoked: true},
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body DetailBody }, error) {
		if err := s.revoke(ctx, principal(ctx).Claims); err != nil {
			return nil, s.problem(err)
		}
		return &struct{ Body DetailBody }{DetailBody{"Refresh token has been revoked"}}, nil
	})

	s.healthRoutes()
}

// checkPassword returns the active user with that password, or the 401
// problem, or a 429 while the username is locked out (see LoginThrottle) or
// the client's address has tried too often (see ipLimiter).
func (s *Server) checkPassword(ctx context.Context, username, password string) (*warehouse.User, error) {
	if ok, wait := s.ipLimit.allow(s.requestMeta(ctx).ip, s.now()); !ok {
		return nil, tooManyFromIP(wait)
	}
	failures, p := s.loginThrottled(ctx, username)
	if p != nil {
		return nil, p
	}
	u, err := s.verifyPassword(ctx, username, password)
	var prob *Problem
	switch {
	case errors.As(err, &prob) && prob.Code == codeBadCredentials:
		if p := s.loginFailed(ctx, username); p != nil {
			return nil, p
		}
	case err == nil && failures > 0:
		s.loginSucceeded(ctx, username)
	}
	return u, err
}

// hashFailure is the 503 for a password hash that could not be computed:
// the request ended while it waited for a hashing slot, or hashing itself
// failed (a worker process died). Neither says anything about the
// password, so neither may count as a wrong one. It is nil for other
// errors.
func (s *Server) hashFailure(ctx context.Context, err error) *Problem {
	if err == nil || (ctx.Err() == nil && !errors.Is(err, auth.ErrHashUnavailable)) {
		return nil
	}
	s.log.Warn("password hash not computed", "err", err)
	return domainProblem(&warehouse.Error{Code: warehouse.EUNAVAILABLE, Message: "Server busy; try again shortly"})
}

// verifyPassword returns the active user with that password, or the 401
// problem. Unknown and inactive users cost the same hash as a wrong password
// so that timing tells nothing about which usernames exist.
func (s *Server) verifyPassword(ctx context.Context, username, password string) (*warehouse.User, error) {
	bad := newProblem(http.StatusUnauthorized, codeBadCredentials, "Bad username or password")
	u, err := s.db.UserByName(ctx, username)
	if err != nil {
		if warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
			return nil, s.problem(err)
		}
		// Answered as a known user's wrong password is, failures included.
		if p := s.hashFailure(ctx, s.hasher.VerifyDummy(ctx, password)); p != nil {
			return nil, p
		}
		return nil, bad
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if p := s.hashFailure(ctx, err); p != nil {
		return nil, p
	}
	if err != nil {
		if !errors.Is(err, auth.ErrPasswordTooLong) {
			s.log.Error("password verification failed", "user", u.Username, "err", err)
		}
		return nil, bad
	}
	if !ok || !u.Active {
		return nil, bad
	}
	if rehash {
		// Parameters changed since this hash was made: upgrade it now that
		// we know the password. A failure only delays the upgrade.
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			if err := s.db.RehashPassword(ctx, u.Username, u.PasswordHash, h); err != nil {
				s.log.Warn("password re-hash not stored", "user", u.Username, "err", err)
			}
		}
	}
	// The tokens about to be issued are checked against the in-memory
	// state, which may not have synced yet a change made elsewhere (the
	// CLI, another instance): record what this read found, so that a token
	// is never issued that this server would then refuse. SetUser keeps a
	// newer version if one is already known.
	s.state.SetUser(u)
	return u, nil
}

// revoke stores the revocation, then applies it here at once (other
// instances pick it up from the database's event log).
func (s *Server) revoke(ctx context.Context, c auth.Claims) error {
	if err := s.db.RevokeToken(ctx, c.ID, c.Expiry); err != nil {
		return err
	}
	s.state.Revoke(c.ID, c.Expiry)
	return nil
}

// tokenRoute is the OAuth2 token endpoint (RFC 6749): the docs' Authorize
// button logs in here with the password grant, and clients may refresh here.
// It is form-encoded, which Huma does not decode, so it is a plain handler
// on the mux with its OpenAPI operation described by hand.
func (s *Server) tokenRoute(mux *http.ServeMux) {
	formSchema := &huma.Schema{
		Type:     "object",
		Required: []string{"grant_type"},
		Properties: map[string]*huma.Schema{
			"grant_type":    {Type: "string", Enum: []any{"password", "refresh_token"}},
			"username":      {Type: "string", Description: "For grant_type=password"},
			"password":      {Type: "string", Format: "password", Description: "For grant_type=password"},
			"refresh_token": {Type: "string", Description: "For grant_type=refresh_token"},
			"scope":         {Type: "string", Description: "Ignored"},
		},
	}
	oauthErr := &huma.Schema{Type: "object", Properties: map[string]*huma.Schema{
		"error": {Type: "string"}, "error_description": {Type: "string"}, "detail": {Type: "string"},
	}}
	tokenSchema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[TokenPair](), true, "")
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "token", Method: http.MethodPost, Path: "/token", Tags: []string{"oauth2"},
		Summary:     "OAuth2 token endpoint (password and refresh_token grants)",
		Description: "Form-encoded, as RFC 6749 sections 4.3 and 6 define. Errors are RFC 6749 section 5.2 objects.",
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/x-www-form-urlencoded": {Schema: formSchema},
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "Tokens", Content: map[string]*huma.MediaType{"application/json": {Schema: tokenSchema}}},
			"400": {Description: "RFC 6749 error", Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}},
			"429": {Description: "Too many password attempts (this username, or this address): temporarily_unavailable",
				Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}},
			"503": {Description: "Server busy or the database unavailable: temporarily_unavailable",
				Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}},
			"500": {Description: "A bug: server_error",
				Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}},
		},
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		pair, oerr := s.token(withState(w, r)) // sessions record the caller's IP and user agent
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		w.Header().Set("Content-Type", "application/json")
		if oerr != nil {
			if oerr.retryAfter != "" {
				w.Header().Set("Retry-After", oerr.retryAfter)
			}
			w.WriteHeader(oerr.status)
			_ = jsonEncode(w, oerr)
			return
		}
		_ = jsonEncode(w, pair)
	})
}

// oauthError is an RFC 6749 section 5.2 error, with our `detail` as well.
type oauthError struct {
	status     int
	retryAfter string
	Err        string `json:"error"`
	Desc       string `json:"error_description"`
	Detail     string `json:"detail"`
}

func newOAuthError(status int, code, desc string) *oauthError {
	return &oauthError{status: status, Err: code, Desc: desc, Detail: desc}
}

func (s *Server) token(r *http.Request) (*TokenPair, *oauthError) {
	ctx := r.Context()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "The body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "The body is not a valid form")
	}
	form := r.PostForm
	for _, name := range []string{"grant_type", "username", "password", "refresh_token", "scope"} {
		for _, v := range form[name] {
			if badText(v) {
				return nil, newOAuthError(http.StatusBadRequest, "invalid_request", name+" "+msgBadText)
			}
		}
	}
	fromProblem := func(err error) *oauthError {
		var p *Problem
		if errors.As(err, &p) {
			if p.Status == http.StatusUnauthorized {
				return newOAuthError(http.StatusBadRequest, "invalid_grant", p.Detail)
			}
			code := "temporarily_unavailable"
			if p.Status >= 500 && p.Status != http.StatusServiceUnavailable {
				code = "server_error" // a bug, not a wait: nothing to retry after
			}
			e := newOAuthError(p.Status, code, p.Detail)
			e.retryAfter = p.headers.Get("Retry-After")
			return e
		}
		e := newOAuthError(http.StatusServiceUnavailable, "temporarily_unavailable", warehouse.ErrorMessage(err))
		e.retryAfter = "2"
		return e
	}
	switch form.Get("grant_type") {
	case "password":
		if form.Get("username") == "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "username is required")
		}
		u, err := s.checkPassword(ctx, form.Get("username"), form.Get("password"))
		if err != nil {
			return nil, fromProblem(err)
		}
		pair, err := s.startSession(ctx, u, false)
		if err != nil {
			return nil, fromProblem(s.problem(err))
		}
		body := s.body(pair, false)
		return &body, nil
	case "refresh_token":
		token := form.Get("refresh_token")
		if token == "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "refresh_token is required")
		}
		p, prob := s.verify(token, auth.TypeRefresh, false)
		if prob != nil {
			return nil, fromProblem(prob)
		}
		if p.Claims.CSRF != "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", detailCookieToken)
		}
		pair, err := s.rotate(ctx, p)
		if err != nil {
			return nil, fromProblem(err)
		}
		body := s.body(pair, false)
		return &body, nil
	case "":
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		return nil, newOAuthError(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
	}
}

type healthBody struct {
	Status string `json:"status" example:"ok"`
}

func (s *Server) healthRoutes() {
	huma.Register(s.api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"operations"},
		Summary:     "Liveness: the process serves requests",
		Description: "Answers 200 while the process can serve HTTP; it does not touch the database. For liveness probes.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body healthBody }, error) {
		return &struct{ Body healthBody }{healthBody{"ok"}}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"operations"},
		Summary: "Readiness: the database answers", Errors: []int{http.StatusServiceUnavailable},
		Description: "Answers 200 when the database answers a ping, else 503: for readiness probes and load balancers.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body healthBody }, error) {
		if err := s.db.Ping(ctx); err != nil {
			return nil, s.problem(err)
		}
		return &struct{ Body healthBody }{healthBody{"ok"}}, nil
	})
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// humanDuration writes d for a person: "15 minutes", "30 days", "1 hour".
func humanDuration(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return strconv.FormatInt(n, 10) + " " + name + "s"
	}
	switch {
	case d > 0 && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d > 0 && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d > 0 && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d > 0 && d%time.Second == 0:
		return unit(int64(d/time.Second), "second")
	}
	return d.String()
}
