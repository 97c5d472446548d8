// Package console is the web console for the people on the warehouse
// floor: server-rendered pages (html/template, embedded), a little script
// of our own for progressive enhancement only, and a strict
// Content-Security-Policy. Every page calls the same services as the JSON
// API (internal/session for sign-in and users, internal/inventory for
// movements) and reads through a small interface declared here; the
// API's cookie mode (httpapi.CookieAuth) authenticates every request.
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/importer"
	"github.com/warehouse-api/warehouse/internal/inventory"
	"github.com/warehouse-api/warehouse/internal/orders"
	"github.com/warehouse-api/warehouse/internal/receiving"
	"github.com/warehouse-api/warehouse/internal/session"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Reader is what the pages read, declared here where it is used; the SQL
// behind it is internal/store's, the same methods the JSON API reads.
type Reader interface {
	ListItems(ctx context.Context, f warehouse.ItemFilter, p warehouse.Page) ([]*warehouse.Item, string, error)
	ListLocations(ctx context.Context, f warehouse.LocationFilter, p warehouse.Page) ([]*warehouse.Location, string, error)
	ListStock(ctx context.Context, f warehouse.StockFilter, p warehouse.Page) ([]*warehouse.Balance, string, error)
	ListLedger(ctx context.Context, f warehouse.LedgerFilter, p warehouse.Page) ([]*warehouse.LedgerEntry, string, error)
	ListMovements(ctx context.Context, f warehouse.MovementFilter, p warehouse.Page) ([]*warehouse.Movement, string, error)
	Item(ctx context.Context, id int64) (*warehouse.Item, error)
	ItemByBarcode(ctx context.Context, code string) (*warehouse.Item, error)
	Location(ctx context.Context, id int64) (*warehouse.Location, error)
	LocationByCode(ctx context.Context, code string) (*warehouse.Location, error)
	Movement(ctx context.Context, id int64) (*warehouse.Movement, error)
	ListUsers(ctx context.Context) ([]*warehouse.User, error)
	UserByName(ctx context.Context, username string) (*warehouse.User, error)
	Sessions(ctx context.Context, username string) ([]warehouse.Session, error)
}

// Deps are what the console is built from (internal/app wires them).
type Deps struct {
	Auth      *httpapi.CookieAuth
	Sessions  *session.Service
	Inventory *inventory.Service
	// Imports is the bulk import service of the API and the CLI.
	Imports *importer.Service
	// Orders is the outbound order service of the API (orders, allocation,
	// pick lists, picks).
	Orders *orders.Service
	// Receiving is purchase orders and receipts, as the API's.
	Receiving *receiving.Service
	Read      Reader
	Log       *slog.Logger
	Version   string
}

// Console serves the pages.
type Console struct {
	auth      *httpapi.CookieAuth
	sessions  *session.Service
	inventory *inventory.Service
	imports   *importer.Service
	orders    *orders.Service
	receiving *receiving.Service
	read      Reader
	log       *slog.Logger
	version   string
	pages     map[string]*template.Template
	static    http.Handler
}

// Policy is every page's Content-Security-Policy: scripts, styles and
// images only from this server's own files, forms only to itself, no
// framing, no inline code at all.
const Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// New builds the console; it panics on a template that does not parse,
// which is a programming error caught by any test.
func New(d Deps) *Console {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	c := &Console{auth: d.Auth, sessions: d.Sessions, inventory: d.Inventory, imports: d.Imports, orders: d.Orders, receiving: d.Receiving, read: d.Read, log: d.Log, version: d.Version,
		pages: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"qty":     func(q warehouse.Qty) string { return q.String() },
		"deref":   func(p *int64) int64 { return *p },
		"hasRole": func(roles []string, r string) bool { return slices.Contains(roles, r) },
		// stateName is an order state for people: partially allocated.
		"stateName": func(state string) string { return strings.ReplaceAll(state, "_", " ") },
		"fieldOf": func(name, label, value, list string, errs map[string]string) field {
			return field{Name: name, Label: label, Value: value, List: list, Error: errs[name]}
		},
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		c.pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	c.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	return c
}

// field is one labelled input of a form, with its error next to it.
type field struct{ Name, Label, Value, List, Error string }

// view is what every page template gets.
type view struct {
	Title string
	// DocTitle is the document's <title>: Title and the product's name.
	DocTitle string
	User     string
	Roles    []string
	CSRF     string
	Version  string
	// Notice is a sentence shown at the top (a success, a renewal).
	Notice string
	// Error is a sentence for the page as a whole.
	Error string
	Data  any
}

func (v view) Has(role string) bool { return warehouse.HasRole(v.Roles, warehouse.Role(role)) }

// render writes page with status, with the console's headers.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := c.pages[page]
	if !ok {
		panic("console: no template " + page)
	}
	v.Version = c.version
	v.DocTitle = v.Title + " · Warehouse"
	if strings.Contains(v.Title, "Warehouse") {
		v.DocTitle = v.Title
	}
	secure(w)
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		c.log.ErrorContext(r.Context(), "console page", "page", page, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// secure sets the headers of every console answer, redirects included.
func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", Policy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store") // pages show stock and sessions of one user
}

// signedIn is a request whose caller the API's cookie mode verified.
type signedIn struct {
	p *httpapi.Principal
	// renewed: the tokens were rotated on this request; on a POST the
	// form's CSRF value was the old token's, so nothing was done.
	renewed bool
}

func (s signedIn) name() string { return s.p.Claims.Subject }

func (s signedIn) actor() inventory.Actor {
	return inventory.Actor{Name: s.p.Claims.Subject, Roles: s.p.Roles}
}

func (c *Console) view(s signedIn, title string) view {
	return view{Title: title, User: s.name(), Roles: s.p.Roles, CSRF: c.auth.CSRF(s.p)}
}

// gate runs page for a signed-in caller with at least role need. A GET
// without a session goes to the sign-in page; a state-changing request is
// checked for the form's CSRF value by the API's own verification, and
// refused (403) without it.
func (c *Console) gate(need warehouse.Role, page func(http.ResponseWriter, *http.Request, signedIn)) http.Handler {
	return c.guard(need, false, page)
}

// gateUpload is gate for a form that uploads a file (multipart): the body
// may be as large as an import's file, spooled to disk past formMemory.
func (c *Console) gateUpload(need warehouse.Role, page func(http.ResponseWriter, *http.Request, signedIn)) http.Handler {
	return c.guard(need, true, page)
}

// formMemory is how much of a multipart form is held in memory; the rest
// (the file) is spooled to a temporary file by ParseMultipartForm.
const formMemory = 1 << 20

func (c *Console) guard(need warehouse.Role, upload bool, page func(http.ResponseWriter, *http.Request, signedIn)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		csrf := ""
		if r.Method == http.MethodPost {
			var err error
			if upload && isMultipart(r) {
				// The file is spooled to disk before the form's CSRF
				// value in it can be read: only for a caller whose
				// session cookie verifies and whose role may upload, so
				// that nobody else can make the server write a file.
				if p, ok := c.auth.Peek(r); !ok || (need != "" && !warehouse.HasRole(p.Roles, need)) {
					status, msg := http.StatusUnauthorized, "You are not signed in (or your session has ended): sign in again."
					if ok {
						status, msg = http.StatusForbidden, fmt.Sprintf("This page needs the %s role (or higher).", need)
					}
					c.render(w, r, status, "error", view{Title: "Refused", Error: msg})
					return
				}
				// The file, plus the few small fields and the parts' headers.
				r.Body = http.MaxBytesReader(w, r.Body, c.auth.ImportLimit()+formMemory)
				err = r.ParseMultipartForm(formMemory)
				if r.MultipartForm != nil {
					defer func() { _ = r.MultipartForm.RemoveAll() }()
				}
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
				err = r.ParseForm()
			}
			if err != nil {
				status, msg := http.StatusBadRequest, "The form could not be read: "+err.Error()
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					status, msg = http.StatusRequestEntityTooLarge, "The form is too large."
					if upload {
						msg = fmt.Sprintf("The file is larger than %s: split it, or import it on the server with warehouse import.", byteSize(c.auth.ImportLimit()))
					}
				}
				c.render(w, r, status, "error", view{Title: "Bad request", Error: msg})
				return
			}
			csrf = r.PostFormValue(httpapi.CSRFField)
		}
		p, renewed, prob := c.auth.Session(w, r, csrf)
		if prob != nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			status, msg := http.StatusUnauthorized, "You are not signed in (or your session has ended): sign in again."
			if prob.Code == "missing_csrf_token" || prob.Code == "csrf_mismatch" {
				status, msg = http.StatusForbidden, "This form was refused: it did not carry this session's security value (a form from another site, or from an ended session). Reload the page and try again."
			}
			c.render(w, r, status, "error", view{Title: "Refused", Error: msg})
			return
		}
		s := signedIn{p: p, renewed: renewed}
		if need != "" && !warehouse.HasRole(p.Roles, need) {
			v := c.view(s, "Not allowed")
			v.Error = fmt.Sprintf("This page needs the %s role (or higher); you are signed in as %s.", need, s.name())
			c.render(w, r, http.StatusForbidden, "error", v)
			return
		}
		page(w, r, s)
	})
}

// newKey is a fresh idempotency key for a form being rendered.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "console-" + hex.EncodeToString(b)
}

// Static serves the embedded style sheet and script.
func (c *Console) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		c.static.ServeHTTP(w, r)
	})
}
