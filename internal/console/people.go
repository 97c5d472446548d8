package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/session"
)

type sessionsData struct {
	Current  string
	Sessions []warehouse.Session
}

// MySessions lists the caller's sessions (as GET /sessions), each with a
// button that ends it.
func (c *Console) MySessions() http.Handler {
	return c.gate("", func(w http.ResponseWriter, r *http.Request, s signedIn) {
		all, err := c.read.Sessions(r.Context(), s.name())
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		d := sessionsData{Current: s.p.Claims.SessionID}
		for _, x := range all {
			if x.EndedAt.IsZero() {
				d.Sessions = append(d.Sessions, x)
			}
		}
		v := c.view(s, "My sessions")
		if r.URL.Query().Get("ended") == "1" {
			v.Notice = "The session was ended."
		}
		v.Data = d
		c.render(w, r, http.StatusOK, "sessions", v)
	})
}

// EndSession ends one of the caller's sessions through the session
// service (as DELETE /sessions/{id}); ending this one signs out.
func (c *Console) EndSession() http.Handler {
	return c.gate("", func(w http.ResponseWriter, r *http.Request, s signedIn) {
		if s.renewed {
			http.Redirect(w, r, "/my/sessions", http.StatusSeeOther)
			return
		}
		id := r.PathValue("id")
		if err := c.sessions.EndSession(r.Context(), s.name(), id); err != nil {
			c.fail(w, r, s, err)
			return
		}
		if id == s.p.Claims.SessionID {
			_ = c.auth.Logout(w, r, s.p)
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/my/sessions?ended=1", http.StatusSeeOther)
	})
}

type usersData struct {
	Users []*warehouse.User
	Roles []string
	// Form is the create form as posted, on an error.
	Username string
}

// roleNames are the roles a user may be given, lowest first.
func roleNames() []string {
	var out []string
	for _, r := range warehouse.Roles {
		out = append(out, string(r))
	}
	return out
}

// Users lists the users and creates one (admin), through the session
// service's CreateUser as POST /api/v1/users does.
func (c *Console) Users() http.Handler {
	return c.gate(warehouse.RoleAdmin, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		v := c.view(s, "Users")
		status := http.StatusOK
		d := usersData{Roles: roleNames()}
		if r.Method == http.MethodPost && s.renewed {
			v.Notice = "Your sign-in was renewed; fill in the new user again and press Create."
		} else if r.Method == http.MethodPost {
			nu := session.NewUser{Username: strings.TrimSpace(r.PostFormValue("username")), Password: r.PostFormValue("password"),
				Roles: r.PostForm["roles"], Active: true}
			if _, err := c.sessions.CreateUser(r.Context(), nu, s.name()); err != nil {
				p := c.auth.Problem(err)
				status, v.Error, d.Username = p.Status, sentence(p), nu.Username
			} else {
				v.Notice = "User " + nu.Username + " was created."
			}
		}
		if n := r.URL.Query().Get("done"); n != "" {
			v.Notice = n
		}
		var err error
		if d.Users, err = c.read.ListUsers(r.Context()); err != nil {
			c.fail(w, r, s, err)
			return
		}
		v.Data = d
		c.render(w, r, status, "users", v)
	})
}

// UpdateUser changes one user (admin): roles, disable or enable, unlock,
// reset password, each through the session service as the JSON API's
// PATCH and unlock routes do.
func (c *Console) UpdateUser() http.Handler {
	return c.gate(warehouse.RoleAdmin, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		if s.renewed {
			http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
			return
		}
		ctx := r.Context()
		name := r.PathValue("username")
		u, err := c.read.UserByName(ctx, name)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		var ch session.UserChange
		done := ""
		switch r.PostFormValue("action") {
		case "roles":
			ch.Roles = r.PostForm["roles"]
			if ch.Roles == nil {
				ch.Roles = []string{}
			}
			done = "The roles of " + name + " were changed."
		case "disable", "enable":
			active := r.PostFormValue("action") == "enable"
			ch.Active = &active
			done = name + " was " + r.PostFormValue("action") + "d."
		case "password":
			pw := r.PostFormValue("password")
			ch.Password = &pw
			done = "The password of " + name + " was reset."
		case "unlock":
			if _, err := c.sessions.Unlock(ctx, name, s.name()); err != nil {
				c.fail(w, r, s, err)
				return
			}
			http.Redirect(w, r, "/admin/users?done="+urlQueryEscape(name+" was unlocked."), http.StatusSeeOther)
			return
		default:
			c.fail(w, r, s, warehouse.Errorf(warehouse.EINVALID, "unknown action"))
			return
		}
		upd, err := c.sessions.PrepareUpdate(ctx, ch)
		if err == nil {
			err = session.SelfLockout(s.name(), name, upd)
		}
		if err == nil {
			_, err = c.sessions.UpdateUser(ctx, name, u.Version, upd, s.name())
		}
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		http.Redirect(w, r, "/admin/users?done="+urlQueryEscape(done)+"#user-"+strconv.FormatInt(u.ID, 10), http.StatusSeeOther)
	})
}
