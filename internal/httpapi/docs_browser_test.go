package httpapi_test

// A real-browser end-to-end test of the interactive docs at /docs: headless
// Chromium, driven by chromedp, loads Swagger UI from the real server
// handler (real SQLite store, real keys, real password hashing), logs in
// through the OAuth2 password flow of the Authorize dialog and calls
// GET /user with "Try it out". It also checks the docs as a person meets
// them in a 1280x1000 window: the tutorial tag first, the server's version
// shown, and the Authorize dialog opening on the username and password
// form, in view, with no client fields. Every request the browser makes is
// held against the OpenAPI document, as in the other HTTP tests.
//
// It needs Chromium: `apt-get install -y chromium` (Debian; /usr/bin/chromium),
// which .ci/run installs. Set CHROMIUM_PATH to use another binary. Without
// a browser the test skips, except when CI=true, where it fails so that CI
// never silently skips it. Set WAREHOUSE_DOCS_SCREENSHOT=/some/file.png to
// keep a screenshot of the authorized docs page.
//
//	go test -race -run Browser -v ./internal/httpapi/

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/browsertest"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/store"
)

// docsHost is the name the browser uses for the test server. Chromium maps
// it to 127.0.0.1 (--host-resolver-rules) and resolves nothing else. A
// public-looking name, not 127.0.0.1 or localhost, because Swagger UI
// behaves differently on loopback names (it skips its online validator
// badge there), and the docs must stay offline where users really open them.
const docsHost = "warehouse-docs.test"

const (
	docsUser     = "joevu"
	docsPassword = "glinteco"
	// docsVersion is the server's version, which the docs must show.
	docsVersion = "v0.0.0-docs-test"
	// The window a person is assumed to have: the Authorize dialog's
	// password field must be visible in it without scrolling.
	docsWidth, docsHeight = 1280, 1000
)

// docsRequestLog records what the server was asked, for assertions and for
// the failure log.
type docsRequestLog struct {
	mu    sync.Mutex
	lines []string          // "GET /docs -> 200"
	auth  map[string]string // path -> last Authorization header
	ctype map[string]string // path -> last request Content-Type
}

func (l *docsRequestLog) add(r *http.Request, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%s %s -> %d", r.Method, r.URL.RequestURI(), status))
	l.auth[r.URL.Path] = r.Header.Get("Authorization")
	l.ctype[r.URL.Path] = r.Header.Get("Content-Type")
}

func (l *docsRequestLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func (l *docsRequestLog) header(m map[string]string, path string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return m[path]
}

type docsStatusWriter struct {
	http.ResponseWriter
	status int
}

func (w *docsStatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *docsStatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *docsStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newDocsTestServer starts the real handler, opened as `warehouse serve`
// opens it (an App), on a SQLite database in a temp dir, with the tutorial's user.
func newDocsTestServer(t *testing.T) (*httptest.Server, *docsRequestLog) {
	t.Helper()
	cfg := testSettings("sqlite:" + filepath.Join(t.TempDir(), "warehouse.db"))
	cfg.Secret = rand.Text() + rand.Text() // a signing secret of its own
	logcheck.Secret(t, cfg.Secret, docsPassword)
	cfg.RefreshTTL, cfg.SessionLifetime, cfg.Version = 24*time.Hour, 24*time.Hour, docsVersion
	cfg.RefreshReuse, cfg.SessionInactivity = 0, 0
	hasher := auth.NewHasher(auth.TestParams(), 0)
	a := openApp(t, cfg, app.Deps{
		Log: logcheck.New(t), Hasher: hasher,
		Seed: func(ctx context.Context, db *store.DB) error {
			hash, err := hasher.Hash(ctx, docsPassword)
			if err != nil {
				return err
			}
			return db.CreateUser(ctx, &warehouse.User{Username: docsUser, PasswordHash: hash, Roles: []string{"admin"}, Active: true})
		},
	})
	srv := a.Server()

	rl := &docsRequestLog{auth: map[string]string{}, ctype: map[string]string{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What the browser asks is held against the document too,
		// except the console's files (GET / is the console's start
		// page, whose style sheet and script are no API operations).
		var rec *httptest.ResponseRecorder
		if strings.HasPrefix(r.URL.Path, "/static/") {
			rec = httptest.NewRecorder()
			srv.ServeHTTP(rec, r)
		} else {
			rec = serve(t, srv, r)
		}
		sw := &docsStatusWriter{ResponseWriter: w}
		for k, v := range rec.Header() {
			sw.Header()[k] = v
		}
		sw.WriteHeader(rec.Code)
		_, _ = sw.Write(rec.Body.Bytes())
		rl.add(r, sw.status)
	}))
	t.Cleanup(ts.Close)
	return ts, rl
}

// docsChromium finds the browser, or skips (fails when CI=true).
func docsChromium(t *testing.T) string { return browsertest.Chromium(t) }

// docsBrowser is one headless Chromium with a fresh profile and what it saw.
type docsBrowser struct {
	ctx    context.Context // the tab; Run actions on it
	origin string          // http://warehouse-docs.test:PORT

	mu         sync.Mutex
	urls       []string // every request the page made
	byID       map[network.RequestID]string
	failed     []string // requests that failed to load
	exceptions []string // uncaught JavaScript exceptions
	closed     bool     // the browser is gone: log no more
	output     bytes.Buffer
}

func (b *docsBrowser) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.output.Write(p)
}

// newDocsBrowser starts Chromium for ts. It is closed when the test ends.
func newDocsBrowser(t *testing.T, exe string, ts *httptest.Server) *docsBrowser {
	t.Helper()
	_, port, err := net.SplitHostPort(ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := &docsBrowser{origin: "http://" + net.JoinHostPort(docsHost, port), byID: map[network.RequestID]string{}}
	profile := t.TempDir() // made before the cleanup below, so removed after Chromium exits

	// chromedp's defaults have most of these already; they are repeated
	// because the machine has no internet, and without the background
	// networking flags Chromium floods refused connections.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP "+docsHost+" 127.0.0.1, MAP * ~NOTFOUND"),
		chromedp.WindowSize(docsWidth, docsHeight),
		chromedp.CombinedOutput(b),
	)
	// A hard stop for everything, browser start included; the flows have
	// their own 60s budget.
	base, stop := context.WithTimeout(t.Context(), 3*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(b.logf(t)), chromedp.WithListener(b.event))
	b.ctx = ctx
	t.Cleanup(func() {
		cancelTab()   // closes the browser
		cancelAlloc() // waits for the process to exit
		stop()
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		if t.Failed() {
			b.mu.Lock()
			var lines []string
			for l := range strings.Lines(b.output.String()) {
				if !strings.Contains(l, "dbus/") { // no D-Bus in containers: noise
					lines = append(lines, l)
				}
			}
			b.mu.Unlock()
			out := strings.Join(lines, "")
			if len(out) > 4000 {
				out = "..." + out[len(out)-4000:]
			}
			t.Logf("chromium output:\n%s", out)
		}
	})
	start := time.Now()
	// chromedp enables the network domain itself; enabling it here keeps
	// the recording of requests independent of that.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		t.Fatalf("install the CSP violation recorder: %v", err)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	return b
}

// logf logs chromedp's messages until the browser is closed: a goroutine
// of chromedp must not log to a test that has ended.
func (b *docsBrowser) logf(t *testing.T) func(string, ...any) {
	return func(format string, args ...any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.closed {
			t.Logf("chromedp: "+format, args...)
		}
	}
}

// event records what the page does. It runs in chromedp's read loop: it
// must be fast and run no command.
func (b *docsBrowser) event(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.urls = append(b.urls, e.Request.URL)
		b.byID[e.RequestID] = e.Request.URL
	case *network.EventLoadingFailed:
		b.failed = append(b.failed, fmt.Sprintf("%s %s: %s", e.Type, b.byID[e.RequestID], e.ErrorText))
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		b.exceptions = append(b.exceptions, msg)
	}
}

// cspRecorder runs in every page before its own scripts and keeps what the
// Content-Security-Policy blocked: a blocked inline style or eval is no
// failed request and no exception, so nothing else would notice.
const cspRecorder = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", e =>
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber));`

// checkOffline fails the test for any request the page sent elsewhere than
// the test server (a CDN, the online validator, ...), for requests that
// failed, for uncaught JavaScript exceptions and for anything the page's
// Content-Security-Policy blocked.
func (b *docsBrowser) checkOffline(t *testing.T) {
	t.Helper()
	violations, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__cspViolations || []`))
	if err != nil {
		t.Errorf("read the CSP violations: %v", err)
	}
	for _, v := range violations {
		t.Errorf("the docs page's Content-Security-Policy blocked: %s", v)
	}
	b.mu.Lock()
	urls, failed, exceptions := slices.Clone(b.urls), slices.Clone(b.failed), slices.Clone(b.exceptions)
	b.mu.Unlock()
	if len(urls) == 0 {
		t.Error("no network requests were recorded")
	}
	origin, _ := url.Parse(b.origin)
	bad := false
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("unparsable request URL %q: %v", raw, err)
			continue
		}
		switch u.Scheme {
		case "data", "blob", "about":
			continue // in-page, no network
		}
		if u.Host != origin.Host {
			bad = true
			t.Errorf("the docs page sent a request off the server (the docs must work offline): %s", raw)
		}
	}
	for _, f := range failed {
		bad = true
		t.Errorf("a request of the docs page failed: %s", f)
	}
	for _, e := range exceptions {
		bad = true
		t.Errorf("uncaught JavaScript exception on the docs page: %s", e)
	}
	if bad {
		t.Logf("requests the page made:\n  %s", strings.Join(urls, "\n  "))
	}
}

// checkServedDocs fails the test when the server did not serve a docs asset.
func checkServedDocs(t *testing.T, rl *docsRequestLog) {
	t.Helper()
	lines := rl.snapshot()
	bad := false
	for _, l := range lines {
		if strings.HasPrefix(l, "GET /docs") || strings.HasPrefix(l, "GET /openapi") {
			if !strings.HasSuffix(l, "-> 200") {
				bad = true
				t.Errorf("docs asset not served: %s", l)
			}
		}
	}
	if bad {
		t.Logf("requests the server saw:\n  %s", strings.Join(lines, "\n  "))
	}
}

// docsOAuth2 is the OAuth2 password scheme's block in the Authorize dialog
// (the dialog has one block per security scheme, this one first).
const docsOAuth2 = `//div[contains(@class,"auth-container")][.//h4[contains(., "OAuth2PasswordBearer")]]`

// openDocs loads /docs and checks that Swagger UI rendered our document.
func openDocs(t *testing.T, ctx context.Context, b *docsBrowser) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(b.origin+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`.information-container h2.title`)),
		chromedp.WaitVisible(chromedp.CSS(`.opblock .opblock-summary`)),
	)
	if err != nil {
		t.Fatalf("load /docs: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.information-container h2.title`)))
	if err != nil {
		t.Fatalf("read the title: %v", err)
	}
	ops, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".opblock")].map(op =>
		op.querySelector(".opblock-summary-method").textContent + " " +
		op.querySelector(".opblock-summary-path").getAttribute("data-path"))`))
	if err != nil {
		t.Fatalf("list the operations: %v", err)
	}
	version, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.information-container .version`)))
	if err != nil {
		t.Fatalf("read the version: %v", err)
	}
	if strings.TrimSpace(version) != docsVersion {
		t.Errorf("the docs show version %q, want the server's %q", version, docsVersion)
	}
	tags, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".opblock-tag")].map(t => t.getAttribute("data-tag"))`))
	if err != nil {
		t.Fatalf("list the tags: %v", err)
	}
	if len(tags) == 0 || tags[0] != "tutorial" {
		t.Errorf("the docs list the tags %q, want tutorial first", tags)
	}
	if !strings.Contains(title, "Warehouse Management API") {
		t.Errorf("Swagger UI title = %q, want it to contain %q", title, "Warehouse Management API")
	}
	for _, want := range []string{"POST /login", "GET /user", "GET /welcome", "POST /token"} {
		if !slices.Contains(ops, want) {
			t.Errorf("operation %q is not listed; the docs list %q", want, ops)
		}
	}
}

// fillAuthorize opens the Authorize dialog and submits the oauth2 password
// flow form; the client credentials location is left at its default.
func fillAuthorize(ctx context.Context, username, password string) error {
	return chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.scheme-container button.authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`.modal-ux #oauth_username`)),
		chromedp.SendKeys(chromedp.ID("oauth_username"), username),
		chromedp.SendKeys(chromedp.ID("oauth_password"), password),
		chromedp.Click(chromedp.Search(docsOAuth2+`//button[contains(@class,"authorize")]`)),
	)
}

// shownAuthErrors returns the errors the Authorize dialog shows.
func shownAuthErrors(ctx context.Context) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll(".auth-container .errors")].map(e => e.textContent).join("; ")`))
	return s
}

// checkAuthorizeDialog opens the Authorize dialog and checks what a person
// sees first: the OAuth2 password form, its password field inside the
// window without scrolling, and no client fields; then closes it.
func checkAuthorizeDialog(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.scheme-container button.authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`.modal-ux #oauth_password`)),
	)
	if err != nil {
		t.Fatalf("open the Authorize dialog: %v", err)
	}
	type dialog struct {
		First         string   `json:"first"`
		Top           float64  `json:"top"`
		Bottom        float64  `json:"bottom"`
		Height        float64  `json:"height"`
		VisibleClient []string `json:"visibleClient"`
	}
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[dialog](`(() => {
		const pw = document.querySelector(".modal-ux #oauth_password").getBoundingClientRect();
		const first = document.querySelector(".modal-ux .auth-container h4");
		return {
			first: first ? first.textContent : "",
			top: pw.top, bottom: pw.bottom, height: window.innerHeight,
			visibleClient: ["#password_type", "#client_id_password", "#client_secret_password"].filter(sel => {
				const el = document.querySelector(".modal-ux " + sel);
				return el && el.checkVisibility();
			}),
		};
	})()`))
	if err != nil {
		t.Fatalf("inspect the Authorize dialog: %v", err)
	}
	if !strings.Contains(seen.First, "OAuth2PasswordBearer") {
		t.Errorf("the Authorize dialog starts with %q, want the OAuth2 password form", seen.First)
	}
	if seen.Top < 0 || seen.Bottom > seen.Height {
		t.Errorf("the password field is at %.0f-%.0f px, outside the %dx%d window (height %.0f)", seen.Top, seen.Bottom, docsWidth, docsHeight, seen.Height)
	}
	if len(seen.VisibleClient) > 0 {
		t.Errorf("the password form shows client fields %q; the token endpoint needs no client", seen.VisibleClient)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.modal-ux button.close-modal`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.modal-ux`)),
	)
	if err != nil {
		t.Fatalf("close the Authorize dialog: %v", err)
	}
}

func TestBrowserDocs(t *testing.T) {
	exe := docsChromium(t)

	t.Run("AuthorizeAndTryItOut", func(t *testing.T) {
		ts, rl := newDocsTestServer(t)
		b := newDocsBrowser(t, exe, ts)
		ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
		defer cancel()
		start := time.Now()

		openDocs(t, ctx, b)
		checkAuthorizeDialog(t, ctx)

		if err := fillAuthorize(ctx, docsUser, docsPassword); err != nil {
			t.Fatalf("authorize: %v", err)
		}
		// Authorized: the oauth2 block says so and offers Logout.
		err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(docsOAuth2+`//button[contains(., "Logout")]`)))
		if err != nil {
			t.Fatalf("authorize did not succeed: %v (errors shown: %q; server saw %q)", err, shownAuthErrors(ctx), rl.snapshot())
		}
		authorized, err := chromedp.Run(ctx, chromedp.Text(chromedp.Search(docsOAuth2)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(authorized, "Authorized") {
			t.Errorf("oauth2 block after authorizing = %q, want it to say Authorized", authorized)
		}
		if ct := rl.header(rl.ctype, "/token"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			t.Errorf("Swagger UI posted /token as %q, want a form", ct)
		}
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`.modal-ux button.btn-done`)),
			chromedp.WaitNotPresent(chromedp.CSS(`.modal-ux`)),
		)
		if err != nil {
			t.Fatalf("close the Authorize dialog: %v", err)
		}

		// Try GET /user with the token.
		const op = `#operations-tutorial-user`
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(op+` .opblock-summary-control`)),
			chromedp.Click(chromedp.CSS(op+` .try-out__btn`)),
			chromedp.Click(chromedp.CSS(op+` button.execute`)),
			chromedp.WaitVisible(chromedp.CSS(op+` .live-responses-table .response .response-col_status`)),
		)
		if err != nil {
			t.Fatalf("try out GET /user: %v (server saw %q)", err, rl.snapshot())
		}
		status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table .response .response-col_status`)))
		if err != nil {
			t.Fatal(err)
		}
		body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table .response .microlight`)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(strings.TrimSpace(status), "200") {
			t.Errorf("GET /user in the docs: status %q, want 200; body %s", status, body)
		}
		if !strings.Contains(body, `"joevu"`) {
			t.Errorf("GET /user in the docs: body %s, want the user joevu", body)
		}
		if h := rl.header(rl.auth, "/user"); !strings.HasPrefix(h, "Bearer ey") {
			t.Errorf("GET /user was sent with Authorization %q, want the bearer access token", h)
		}

		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("screenshot: %v", err)
		} else if path := os.Getenv("WAREHOUSE_DOCS_SCREENSHOT"); path != "" {
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Errorf("write screenshot: %v", err)
			} else {
				t.Logf("screenshot of the authorized docs page: %s", path)
			}
		}
		t.Logf("docs flow took %v", time.Since(start).Round(time.Millisecond))

		b.checkOffline(t)
		checkServedDocs(t, rl)
	})

	t.Run("WrongPassword", func(t *testing.T) {
		ts, rl := newDocsTestServer(t)
		b := newDocsBrowser(t, exe, ts)
		ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
		defer cancel()

		openDocs(t, ctx, b)
		if err := fillAuthorize(ctx, docsUser, "not-the-password"); err != nil {
			t.Fatalf("authorize: %v", err)
		}
		const shownErr = docsOAuth2 + `//div[contains(@class,"errors")]`
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(shownErr))); err != nil {
			t.Fatalf("no auth error shown for a wrong password: %v (server saw %q)", err, rl.snapshot())
		}
		shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.Search(shownErr)))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the dialog shows: %s", shown)
		if !strings.Contains(strings.ToLower(shown), "auth error") || !strings.Contains(shown, "Bad username or password") {
			t.Errorf("auth error shown = %q, want Auth Error with the server's error_description", shown)
		}
		loggedOut, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`[...document.querySelectorAll(".auth-container")].every(c => !/Logout/.test(c.textContent))`))
		if err != nil {
			t.Fatal(err)
		}
		if !loggedOut {
			t.Error("a wrong password left the dialog authorized")
		}
		if !slices.Contains(rl.snapshot(), "POST /token -> 400") {
			t.Errorf("want POST /token -> 400 (invalid_grant); server saw %q", rl.snapshot())
		}
		b.checkOffline(t)
		checkServedDocs(t, rl)
	})
}
