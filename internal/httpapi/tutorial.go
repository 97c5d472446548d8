package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
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

// authErrors are the errors of a route that takes a token.
func authErrors() []int { return []int{http.StatusUnauthorized} }

func opWelcome() huma.Operation {
	return huma.Operation{Tags: []string{"tutorial"},
		Summary:     "Welcome message",
		Description: "The tutorial's first endpoint: a fixed greeting, with no authentication. Useful to check that the server answers.",
	}
}

// welcome is GET /welcome, also answered by fastWelcome.
func (s *Server) welcome(ctx context.Context, _ *struct{}) (*struct{ Body MessageBody }, error) {
	return &struct{ Body MessageBody }{MessageBody{"Welcome to the Warehouse Management API"}}, nil
}

func (s *Server) opLogin() huma.Operation {
	return huma.Operation{Tags: []string{"tutorial"},
		Summary: "Log in with username and password",
		Description: "Starts a session and returns a fresh access token (" + humanDuration(s.cfg.AccessTTL) + ") and a refresh token (" +
			humanDuration(s.cfg.RefreshTTL) + "), as this server is configured. " +
			"With `?cookies=true` the tokens are set as HttpOnly cookies (`access_token_cookie`, `refresh_token_cookie`) with CSRF double-submit cookies " +
			"(`csrf_access_token`, `csrf_refresh_token`) instead of being returned. Wrong password and unknown user answer the same 401.",
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}
}

func (s *Server) login(ctx context.Context, in *loginInput) (*tokenOutput, error) {
	if p := s.ipLimited(ctx, in.Body.Username); p != nil {
		return nil, p
	}
	pair, err := s.sessions.Login(ctx, in.Body.Username, in.Body.Password, s.client(ctx, in.Cookies))
	if err != nil {
		return nil, s.problem(err)
	}
	return s.tokenResponse(pair, in.Cookies), nil
}

func opUser() huma.Operation {
	return huma.Operation{Tags: []string{"tutorial"},
		Summary: "The logged-in user", Security: security, Errors: authErrors(),
		Description: "The access token's subject and the user's current roles (as stored now, not as the token was issued).",
		Metadata:    map[string]any{metaToken: auth.TypeAccess},
	}
}

// user is GET /user, also answered by fastUser.
func (s *Server) user(ctx context.Context, _ *struct{}) (*struct{ Body UserBody }, error) {
	p := principal(ctx)
	return &struct{ Body UserBody }{UserBody{User: p.Claims.Subject, Roles: p.Roles}}, nil
}

func opRefresh() huma.Operation {
	return huma.Operation{Tags: []string{"tutorial"},
		Summary: "Trade a refresh token for new tokens",
		Description: "Send the refresh token as the bearer token (or in `refresh_token_cookie` with `X-CSRF-Token`). Returns a new access token and a " +
			"new refresh token; the old refresh token is retired (rotation). A retired token presented again within the reuse interval gets the same new " +
			"pair; later, it is treated as theft and the whole session is revoked.",
		Security: security, Errors: authErrors(),
		Metadata: map[string]any{metaToken: auth.TypeRefresh},
	}
}

func (s *Server) refresh(ctx context.Context, _ *struct{}) (*tokenOutput, error) {
	p := principal(ctx)
	pair, err := s.sessions.Refresh(ctx, presented(p), s.client(ctx, false))
	if err != nil {
		return nil, s.problem(err)
	}
	return s.tokenResponse(pair, p.FromCookie), nil
}

func opAccessRevoke() huma.Operation {
	return huma.Operation{Tags: []string{"tutorial"},
		Summary:     "Revoke the access token sent",
		Description: "The token is refused from then on, by every instance and after restarts. Revoking twice is not an error.",
		Security:    security, Errors: authErrors(),
		Metadata: map[string]any{metaToken: auth.TypeAccess, metaAllowRevoked: true},
	}
}

func (s *Server) accessRevoke(ctx context.Context, _ *struct{}) (*struct{ Body DetailBody }, error) {
	return s.revokePresented(ctx, "Access token has been revoked")
}

func opRefreshRevoke() huma.Operation {
	return huma.Operation{Tags: []string{"tutorial"},
		Summary:     "Revoke the refresh token sent",
		Description: "The refresh token is refused from then on, by every instance and after restarts. Revoking twice is not an error.",
		Security:    security, Errors: authErrors(),
		Metadata: map[string]any{metaToken: auth.TypeRefresh, metaAllowRevoked: true},
	}
}

func (s *Server) refreshRevoke(ctx context.Context, _ *struct{}) (*struct{ Body DetailBody }, error) {
	return s.revokePresented(ctx, "Refresh token has been revoked")
}

// revokePresented revokes the token the request was authenticated with
// (its type checked by the operation's metaToken).
func (s *Server) revokePresented(ctx context.Context, done string) (*struct{ Body DetailBody }, error) {
	if err := s.sessions.Revoke(s.audited(ctx), principal(ctx).Claims); err != nil {
		return nil, s.problem(err)
	}
	return &struct{ Body DetailBody }{DetailBody{done}}, nil
}

// ipLimited is the 429 while the client's address has tried too many
// password logins on this instance (see ipLimiter), else nil. It is this
// instance's guard against hash floods, so it stays at the HTTP edge; the
// per-account throttle is the session service's. A refusal is recorded
// in the audit trail as login_throttled for username (the name tried).
func (s *Server) ipLimited(ctx context.Context, username string) *Problem {
	if ok, wait := s.ipLimit.allow(s.requestMeta(ctx).ip, s.now()); !ok {
		s.sessions.AddressThrottled(ctx, username, wait, s.client(ctx, false))
		s.metrics.LoginOutcome(session.OutcomeThrottled)
		return tooManyFromIP(wait)
	}
	return nil
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
