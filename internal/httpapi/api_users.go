package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/session"
)

// UserAdminBody is a user as the admin API shows it (never the password).
type UserAdminBody struct {
	Username  string    `json:"username"`
	Roles     []string  `json:"roles"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
	Version   int64     `json:"version"`
}

func userBody(u *warehouse.User) *UserAdminBody {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return &UserAdminBody{Username: u.Username, Roles: roles, Active: u.Active, CreatedAt: u.CreatedAt, CreatedBy: u.CreatedBy,
		UpdatedAt: u.UpdatedAt, UpdatedBy: u.UpdatedBy, Version: u.Version}
}

// UserCreateBody creates a user.
type UserCreateBody struct {
	Username string   `json:"username" minLength:"1" maxLength:"150" example:"sam"`
	Password string   `json:"password" minLength:"8" maxLength:"1024" format:"password"`
	Roles    []string `json:"roles" example:"[\"clerk\"]" doc:"viewer, clerk, manager, admin"`
	Active   *bool    `json:"active,omitempty" doc:"Default true"`
}

// UserPatchBody changes a user; absent fields stay as they are.
type UserPatchBody struct {
	Roles    []string `json:"roles,omitempty"`
	Active   *bool    `json:"active,omitempty" doc:"false deactivates: the user's tokens are refused at once"`
	Password *string  `json:"password,omitempty" minLength:"8" maxLength:"1024" format:"password"`
}

type userOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     *UserAdminBody
}

type UsernameParam struct {
	Username string `path:"username" minLength:"1" maxLength:"150"`
}

// applyUser applies upd under the request's If-Match (see
// session.Service.UpdateUser for the rules and the auth state update).
func (s *Server) applyUser(ctx context.Context, username, ifMatchHeader string, upd warehouse.UserUpdate) (*warehouse.User, error) {
	pc, prob := parseIfMatch(ifMatchHeader)
	if prob != nil {
		return nil, prob
	}
	me := actor(ctx)
	if err := session.SelfLockout(me, username, upd); err != nil {
		return nil, apiError(err)
	}
	var u *warehouse.User
	err := pc.apply(func(version int64) (err error) {
		u, err = s.sessions.UpdateUser(s.audited(ctx), username, version, upd, me)
		return err
	})
	if err != nil {
		return nil, apiError(err)
	}
	return u, nil
}

func encodeUserCursor(after string) string { return encodeOpaque("users", after) }

func decodeUserCursor(c string) (string, bool) { return decodeOpaque(c, "users") }

func (s *Server) opListUsers() huma.Operation {
	op := s.v1op(warehouse.RoleAdmin, huma.Operation{Tags: []string{"users"}, Summary: "List users",
		Description: "Ordered by username."})
	s.jsonListDoc(&op, PageBody[*UserAdminBody]{})
	return op
}

type listUsersInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	Cursor string `query:"cursor" maxLength:"1000"`
}

func (s *Server) listUsers(ctx context.Context, in *listUsersInput) (*streamOutput, error) {
	users, err := s.db.ListUsers(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	// Users are few: page in memory, with the same opaque cursor shape.
	start := 0
	if in.Cursor != "" {
		after, ok := decodeUserCursor(in.Cursor)
		if !ok {
			return nil, &warehouse.Error{Code: warehouse.EBADCURSOR, Message: "invalid cursor: pass next_cursor from the previous page unchanged"}
		}
		start, _ = slices.BinarySearchFunc(users, after, func(u *warehouse.User, name string) int { return strings.Compare(u.Username, name) })
		if start < len(users) && users[start].Username == after {
			start++
		}
	}
	limit := max(in.Limit, 1)
	end := min(start+limit, len(users))
	out := make([]*UserAdminBody, 0, end-start)
	for _, u := range users[start:end] {
		out = append(out, userBody(u))
	}
	next := ""
	if end < len(users) {
		next = encodeUserCursor(users[end-1].Username)
	}
	return jsonPage(out, next), nil
}

func (s *Server) opCreateUser() huma.Operation {
	return s.v1op(warehouse.RoleAdmin, huma.Operation{Metadata: map[string]any{metaFresh: true}, Tags: []string{"users"},
		Summary: "Create a user", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}})
}

func (s *Server) createUser(ctx context.Context, in *struct{ Body UserCreateBody }) (*userOutput, error) {
	b := in.Body
	u, err := s.sessions.CreateUser(s.audited(ctx), session.NewUser{Username: b.Username, Password: b.Password, Roles: b.Roles,
		Active: b.Active == nil || *b.Active}, actor(ctx))
	if err != nil {
		return nil, apiError(err)
	}
	return &userOutput{ETag: etag(u.Version), Location: v1 + "/users/" + u.Username, Body: userBody(u)}, nil
}

func (s *Server) opGetUser() huma.Operation {
	return s.v1op(warehouse.RoleAdmin, huma.Operation{Tags: []string{"users"},
		Summary: "One user", Errors: []int{http.StatusNotFound}})
}

func (s *Server) getUser(ctx context.Context, in *UsernameParam) (*userOutput, error) {
	u, err := s.db.UserByName(ctx, in.Username)
	if err != nil {
		return nil, apiError(err)
	}
	return &userOutput{ETag: etag(u.Version), Body: userBody(u)}, nil
}

// userChangeErrors are the errors of a change to a user under If-Match.
func userChangeErrors() []int {
	return []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired, http.StatusUnprocessableEntity}
}

func (s *Server) opUpdateUser() huma.Operation {
	return s.v1op(warehouse.RoleAdmin, huma.Operation{Metadata: map[string]any{metaFresh: true}, Tags: []string{"users"},
		Summary: "Change a user's roles, active flag or password",
		Description: "Send If-Match with the ETag of your last GET (or `*`). Deactivation and role changes apply to the user's existing tokens at once. " +
			"A new password ends the user's sessions and any login lockout.",
		Errors: userChangeErrors()})
}

type updateUserInput struct {
	UsernameParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v3\", or * for any"`
	Body    UserPatchBody
}

func (s *Server) updateUser(ctx context.Context, in *updateUserInput) (*userOutput, error) {
	upd, err := s.sessions.PrepareUpdate(ctx, session.UserChange{Roles: in.Body.Roles, Active: in.Body.Active, Password: in.Body.Password})
	if err != nil {
		return nil, apiError(err)
	}
	u, err := s.applyUser(ctx, in.Username, in.IfMatch, upd)
	if err != nil {
		return nil, err
	}
	return &userOutput{ETag: etag(u.Version), Body: userBody(u)}, nil
}

func (s *Server) opDeactivateUser() huma.Operation {
	return s.v1op(warehouse.RoleAdmin, huma.Operation{Metadata: map[string]any{metaFresh: true}, Tags: []string{"users"},
		Summary: "Deactivate a user", Description: "Sets active=false (the account and its history stay); every token of the user is refused at once.",
		Errors: userChangeErrors()})
}

type deactivateUserInput struct {
	UsernameParam
	IfMatch string `header:"If-Match" doc:"ETag of the version you changed, e.g. \"v3\", or * for any"`
}

func (s *Server) deactivateUser(ctx context.Context, in *deactivateUserInput) (*struct{}, error) {
	f := false
	if _, err := s.applyUser(ctx, in.Username, in.IfMatch, warehouse.UserUpdate{Active: &f}); err != nil {
		return nil, err
	}
	return nil, nil
}

// POST /api/v1/users/{username}/unlock ends a login lockout (see
// LoginThrottle): the admin equivalent of `warehouse users unlock`.
func (s *Server) opUnlockUser() huma.Operation {
	return s.v1op(warehouse.RoleAdmin, huma.Operation{Metadata: map[string]any{metaFresh: true}, Tags: []string{"users"},
		Summary:       "End a user's login lockout",
		Description:   "Forgets the user's failed logins, so that the right password works again at once. Unlocking a user that is not locked out is not an error. A password reset (PATCH with password) also ends a lockout.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound}})
}

func (s *Server) unlockUser(ctx context.Context, in *UsernameParam) (*struct{}, error) {
	if _, err := s.sessions.Unlock(s.audited(ctx), in.Username, actor(ctx)); err != nil {
		return nil, apiError(err)
	}
	return nil, nil
}
