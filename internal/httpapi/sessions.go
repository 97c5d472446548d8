package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
)

// SessionBody is one session as GET /sessions shows it.
type SessionBody struct {
	ID         string    `json:"id" doc:"The session id, also the sid claim of its tokens"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	ViaCookies bool      `json:"via_cookies" doc:"Logged in with ?cookies=true"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at" doc:"Last login or refresh"`
	ExpiresAt  time.Time `json:"expires_at" doc:"End of the session's absolute lifetime"`
	Current    bool      `json:"current" doc:"The session of the token making this request"`
}

type noContent struct {
	SetCookie []http.Cookie `header:"Set-Cookie"`
}

// PasswordChange is the body of POST /user/password.
type PasswordChange struct {
	CurrentPassword string `json:"current_password" maxLength:"1024"`
	NewPassword     string `json:"new_password" minLength:"8" maxLength:"1024"`
}

func (s *Server) sessionRoutes() {
	api := s.api
	access := map[string]any{metaToken: auth.TypeAccess}

	huma.Register(api, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/logout", Tags: []string{"sessions"},
		Summary: "End the current session (or others, or all)",
		Description: "`scope=local` (default) ends this session: its access and refresh tokens stop working at once, on every instance. " +
			"`scope=others` ends every other session of the user, `scope=global` all of them. Cookies are unset. Logging out twice is not an error.",
		Security: security, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity},
		Metadata: map[string]any{metaToken: auth.TypeAccess, metaAllowRevoked: true},
	}, func(ctx context.Context, in *struct {
		Scope string `query:"scope" enum:"local,others,global" default:"local"`
	}) (*noContent, error) {
		p := principal(ctx)
		scope := in.Scope
		if scope == "" {
			scope = warehouse.ScopeLocal
		}
		if err := s.sessions.Logout(ctx, p.Claims.Subject, p.Claims.SessionID, scope); err != nil {
			return nil, s.problem(err)
		}
		out := &noContent{}
		if scope != warehouse.ScopeOthers {
			out.SetCookie = s.unsetCookies()
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-sessions", Method: http.MethodGet, Path: "/sessions", Tags: []string{"sessions"},
		Summary: "The caller's active sessions", Security: security, Errors: []int{http.StatusUnauthorized},
		Description: "Every session (login) of the caller that has not ended, with where and when it started and was last refreshed; `current` marks the one of this token.",
		Metadata:    access,
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []SessionBody }, error) {
		p := principal(ctx)
		list, err := s.db.Sessions(ctx, p.Claims.Subject)
		if err != nil {
			return nil, s.problem(err)
		}
		out := make([]SessionBody, 0, len(list))
		for _, x := range list {
			out = append(out, SessionBody{ID: x.ID, UserAgent: x.UserAgent, IP: x.IP, ViaCookies: x.ViaCookies,
				CreatedAt: x.CreatedAt, LastUsedAt: x.LastUsedAt, ExpiresAt: x.ExpiresAt, Current: x.ID == p.Claims.SessionID})
		}
		return &struct{ Body []SessionBody }{out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "end-session", Method: http.MethodDelete, Path: "/sessions/{id}", Tags: []string{"sessions"},
		Summary: "End one of the caller's sessions", Security: security, DefaultStatus: http.StatusNoContent,
		Description: "Revokes the session's tokens on every instance (e.g. a device you lost). 404 when the caller has no such session.",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound}, Metadata: access,
	}, func(ctx context.Context, in *struct {
		ID string `path:"id" maxLength:"64"`
	}) (*noContent, error) {
		p := principal(ctx)
		if err := s.sessions.EndSession(ctx, p.Claims.Subject, in.ID); err != nil {
			return nil, s.problem(err)
		}
		return &noContent{}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "change-password", Method: http.MethodPost, Path: "/user/password", Tags: []string{"sessions"},
		Summary: "Change your own password (fresh token required)",
		Description: "Needs a fresh access token (from a password login, not a refresh). Ends every session of the user, " +
			"then starts a new one for the caller and returns its tokens.",
		Security: security, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
		Metadata: map[string]any{metaToken: auth.TypeAccess, metaFresh: true},
	}, func(ctx context.Context, in *struct{ Body PasswordChange }) (*tokenOutput, error) {
		p := principal(ctx)
		pair, err := s.sessions.ChangePassword(ctx, p.Claims.Subject, in.Body.CurrentPassword, in.Body.NewPassword, s.client(ctx, p.FromCookie))
		if err != nil {
			return nil, s.problem(err)
		}
		return s.tokenResponse(pair, p.FromCookie), nil
	})
}
