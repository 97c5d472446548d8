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

// accessMeta marks an operation as taking an access token.
func accessMeta() map[string]any { return map[string]any{metaToken: auth.TypeAccess} }

func opLogout() huma.Operation {
	return huma.Operation{Tags: []string{"sessions"},
		Summary: "End the current session (or others, or all)",
		Description: "`scope=local` (default) ends this session: its access and refresh tokens stop working at once, on every instance. " +
			"`scope=others` ends every other session of the user, `scope=global` all of them. Cookies are unset. Logging out twice is not an error.",
		Security: security, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity},
		Metadata: map[string]any{metaToken: auth.TypeAccess, metaAllowRevoked: true},
	}
}

type logoutInput struct {
	Scope string `query:"scope" enum:"local,others,global" default:"local"`
}

func (s *Server) logout(ctx context.Context, in *logoutInput) (*noContent, error) {
	p := principal(ctx)
	scope := in.Scope
	if scope == "" {
		scope = warehouse.ScopeLocal
	}
	if err := s.sessions.Logout(s.audited(ctx), p.Claims.Subject, p.Claims.SessionID, scope); err != nil {
		return nil, s.problem(err)
	}
	out := &noContent{}
	if scope != warehouse.ScopeOthers {
		out.SetCookie = s.unsetCookies()
	}
	return out, nil
}

func opListSessions() huma.Operation {
	return huma.Operation{Tags: []string{"sessions"},
		Summary: "The caller's active sessions", Security: security, Errors: []int{http.StatusUnauthorized},
		Description: "Every session (login) of the caller that has not ended, with where and when it started and was last refreshed; `current` marks the one of this token.",
		Metadata:    accessMeta(),
	}
}

func (s *Server) listSessions(ctx context.Context, _ *struct{}) (*struct{ Body []SessionBody }, error) {
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
}

func opEndSession() huma.Operation {
	return huma.Operation{Tags: []string{"sessions"},
		Summary: "End one of the caller's sessions", Security: security, DefaultStatus: http.StatusNoContent,
		Description: "Revokes the session's tokens on every instance (e.g. a device you lost). 404 when the caller has no such session.",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound}, Metadata: accessMeta(),
	}
}

type sessionIDParam struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) endSession(ctx context.Context, in *sessionIDParam) (*noContent, error) {
	p := principal(ctx)
	if err := s.sessions.EndSession(s.audited(ctx), p.Claims.Subject, in.ID); err != nil {
		return nil, s.problem(err)
	}
	return &noContent{}, nil
}

func opChangePassword() huma.Operation {
	return huma.Operation{Tags: []string{"sessions"},
		Summary: "Change your own password (fresh token required)",
		Description: "Needs a fresh access token (from a password login, not a refresh). Ends every session of the user, " +
			"then starts a new one for the caller and returns its tokens.",
		Security: security, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
		Metadata: map[string]any{metaToken: auth.TypeAccess, metaFresh: true},
	}
}

func (s *Server) changePassword(ctx context.Context, in *struct{ Body PasswordChange }) (*tokenOutput, error) {
	p := principal(ctx)
	pair, err := s.sessions.ChangePassword(ctx, p.Claims.Subject, in.Body.CurrentPassword, in.Body.NewPassword, s.client(ctx, p.FromCookie))
	if err != nil {
		return nil, s.problem(err)
	}
	return s.tokenResponse(pair, p.FromCookie), nil
}
