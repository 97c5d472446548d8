package httpapi_test

import (
	"context"
	"slices"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

// TestUserChangedOutsideServer: a user created or changed through a second
// store handle (as `warehouse users` does, while the server runs and before
// it has synced) can log in and use the token at once: the server never
// issues a token it then refuses. A disable refuses new logins at once; the
// tokens issued before it are refused once the server has synced (the
// session-end events), which the test stands for with an explicit Poll.
func TestUserChangedOutsideServer(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		cases := []struct {
			name      string
			user, pw  string
			change    func(t *testing.T, cli *store.DB, hash func(string) string)
			wantLogin int
			wantRoles []string
		}{
			{"created", "sam", "sam-password", func(t *testing.T, cli *store.DB, hash func(string) string) {
				if err := cli.CreateUser(ctx, &warehouse.User{Username: "sam", PasswordHash: hash("sam-password"), Roles: []string{"clerk"}, Active: true, CreatedBy: "cli"}); err != nil {
					t.Fatal(err)
				}
			}, 200, []string{"clerk"}},
			{"roles changed", "vera", "viewer-pass", func(t *testing.T, cli *store.DB, _ func(string) string) {
				if _, err := cli.UpdateUser(ctx, "vera", warehouse.UserUpdate{Roles: []string{"manager"}}, "cli"); err != nil {
					t.Fatal(err)
				}
			}, 200, []string{"manager"}},
			{"enabled", "gone", "gone-pass", func(t *testing.T, cli *store.DB, _ func(string) string) {
				on := true
				if _, err := cli.UpdateUser(ctx, "gone", warehouse.UserUpdate{Active: &on}, "cli"); err != nil {
					t.Fatal(err)
				}
			}, 200, []string{"clerk"}},
			{"password set", "vera", "brand-new-pass", func(t *testing.T, cli *store.DB, hash func(string) string) {
				h := hash("brand-new-pass")
				if _, err := cli.UpdateUser(ctx, "vera", warehouse.UserUpdate{PasswordHash: &h}, "cli"); err != nil {
					t.Fatal(err)
				}
			}, 200, []string{"viewer"}},
			{"disabled", "vera", "viewer-pass", func(t *testing.T, cli *store.DB, _ func(string) string) {
				off := false
				if _, err := cli.UpdateUser(ctx, "vera", warehouse.UserUpdate{Active: &off}, "cli"); err != nil {
					t.Fatal(err)
				}
			}, 401, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, engine)
				before, _ := e.login("vera", "viewer-pass")
				cli, err := store.Open(ctx, e.url, "", store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer cli.Close()
				tc.change(t, cli, func(pw string) string {
					h, err := e.hasher.Hash(ctx, pw)
					if err != nil {
						t.Fatal(err)
					}
					return h
				})
				r := e.do("POST", "/login", `{"username":"`+tc.user+`","password":"`+tc.pw+`"}`)
				if r.Code != tc.wantLogin {
					t.Fatalf("login after the change: %d %s", r.Code, r.Body)
				}
				if tc.wantLogin == 200 {
					u := e.do("GET", "/user", "", bearer(r.str("access_token")))
					if u.Code != 200 {
						t.Fatalf("GET /user with the token just issued: %d %s", u.Code, u.Body)
					}
					var roles []string
					for _, x := range u.body["roles"].([]any) {
						roles = append(roles, x.(string))
					}
					if !slices.Equal(roles, tc.wantRoles) {
						t.Errorf("roles %v, want %v", roles, tc.wantRoles)
					}
					if rr := e.do("POST", "/refresh", "", bearer(r.str("refresh_token"))); rr.Code != 200 {
						t.Errorf("refresh with the token just issued: %d %s", rr.Code, rr.Body)
					}
				}
				if tc.name == "disabled" {
					if err := e.state.Poll(ctx); err != nil {
						t.Fatal(err)
					}
					if u := e.do("GET", "/user", "", bearer(before)); u.Code != 401 {
						t.Errorf("token from before the disable, after sync: %d %s", u.Code, u.Body)
					}
				}
			})
		}
	})
}
