package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/session"
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
func (s *Server) tokenResponse(pair session.Pair, cookies bool) *tokenOutput {
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
		if p := s.ipLimited(ctx); p != nil {
			return nil, p
		}
		pair, err := s.sessions.Login(ctx, in.Body.Username, in.Body.Password, s.client(ctx, in.Cookies))
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
		pair, err := s.sessions.Refresh(ctx, presented(p), s.client(ctx, false))
		if err != nil {
			return nil, s.problem(err)
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
		c := principal(ctx).Claims
		if err := s.sessions.Revoke(ctx, c.ID, c.Expiry); err != nil {
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
		c := principal(ctx).Claims
		if err := s.sessions.Revoke(ctx, c.ID, c.Expiry); err != nil {
			return nil, s.problem(err)
		}
		return &struct{ Body DetailBody }{DetailBody{"Refresh token has been revoked"}}, nil
	})

	s.healthRoutes()
}

// ipLimited is the 429 while the client's address has tried too many
// password logins on this instance (see ipLimiter), else nil. It is this
// instance's guard against hash floods, so it stays at the HTTP edge; the
// per-account throttle is the session service's.
func (s *Server) ipLimited(ctx context.Context) *Problem {
	if ok, wait := s.ipLimit.allow(s.requestMeta(ctx).ip, s.now()); !ok {
		return tooManyFromIP(wait)
	}
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
	switch form.Get("grant_type") {
	case "password":
		if form.Get("username") == "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "username is required")
		}
		if p := s.ipLimited(ctx); p != nil {
			return nil, s.oauthErrorFor(p)
		}
		pair, err := s.sessions.Login(ctx, form.Get("username"), form.Get("password"), s.client(ctx, false))
		if err != nil {
			return nil, s.oauthErrorFor(err)
		}
		body := s.body(pair, false)
		return &body, nil
	case "refresh_token":
		token := form.Get("refresh_token")
		if token == "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "refresh_token is required")
		}
		p, prob := s.verify(r, token, auth.TypeRefresh, false)
		if prob != nil {
			// Every verification failure: the grant is invalid.
			return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", prob.Detail)
		}
		if p.Claims.CSRF != "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", detailCookieToken)
		}
		pair, err := s.sessions.Refresh(ctx, presented(p), s.client(ctx, false))
		if err != nil {
			return nil, s.oauthErrorFor(err)
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
