package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/warehouse-api/warehouse/internal/httpapi"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// localPath is next if it is a path on this server, else "/stock": a
// sign-in link must not send anyone elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || next == "/" {
		return "/stock"
	}
	return next
}

type signInData struct {
	Username string
	Next     string
	// Start: the page is GET /, which also says what this server is.
	Start bool
}

// Start is the HTML of GET /: the stock overview for a signed-in caller,
// else the start page with the sign-in form and the API's description.
func (c *Console) Start() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		if _, _, prob := c.auth.Session(w, r, ""); prob == nil {
			http.Redirect(w, r, "/stock", http.StatusSeeOther)
			return
		}
		c.render(w, r, http.StatusOK, "signin", view{Title: "Warehouse Management API", Data: signInData{Start: true, Next: "/stock"}})
	})
}

// SignIn is the sign-in form (GET) and the login (POST), in the API's
// cookie mode: the same session service call and the same four cookies as
// POST /login?cookies=true.
func (c *Console) SignIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		if r.Method != http.MethodPost {
			c.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", Data: signInData{Next: localPath(r.URL.Query().Get("next"))}})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			c.render(w, r, http.StatusBadRequest, "signin", view{Title: "Sign in", Error: "The form could not be read."})
			return
		}
		d := signInData{Username: r.PostFormValue("username"), Next: localPath(r.PostFormValue("next"))}
		// Login CSRF: a form posted from another site must not sign
		// the browser in as someone else. Browsers say where a form
		// came from; a request without the header (curl) is no browser.
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
			c.render(w, r, http.StatusForbidden, "signin", view{Title: "Sign in", Error: "A sign-in form from another site was refused.", Data: d})
			return
		}
		if d.Username == "" || r.PostFormValue("password") == "" {
			c.render(w, r, http.StatusUnprocessableEntity, "signin", view{Title: "Sign in", Error: "Enter your username and password.", Data: d})
			return
		}
		if prob := c.auth.Login(w, r, d.Username, r.PostFormValue("password")); prob != nil {
			c.render(w, r, prob.Status, "signin", view{Title: "Sign in", Error: sentence(prob), Data: d})
			return
		}
		http.Redirect(w, r, d.Next, http.StatusSeeOther)
	})
}

// SignOut ends the session through the session service (as POST /logout)
// and unsets the cookies.
func (c *Console) SignOut() http.Handler {
	return c.gate("", func(w http.ResponseWriter, r *http.Request, s signedIn) {
		if s.renewed {
			// The form's CSRF value was the old token's: ask again.
			http.Redirect(w, r, "/stock", http.StatusSeeOther)
			return
		}
		if prob := c.auth.Logout(w, r, s.p); prob != nil {
			v := c.view(s, "Sign out")
			v.Error = sentence(prob)
			c.render(w, r, prob.Status, "error", v)
			return
		}
		c.render(w, r, http.StatusOK, "signin", view{Title: "Signed out", Notice: "You are signed out.", Data: signInData{Next: "/stock"}})
	})
}

// sentence is a problem's detail as a sentence for a person: the error
// table's words (lockout and throttling name how long to wait).
func sentence(p *httpapi.Problem) string {
	d := strings.TrimSpace(p.Detail)
	if d == "" {
		d = p.Title
	}
	if d != "" && !strings.HasSuffix(d, ".") && !strings.HasSuffix(d, "?") && !strings.HasSuffix(d, "!") {
		d += "."
	}
	return d
}
