package httpapi_test

// The console in a real browser (headless Chromium by chromedp, started by
// internal/browsertest): a manager signs in, scans a barcode into the scan
// field, receives by location code, transfers, is refused an issue with
// the shortage sentence, reverses a movement and signs out; a clerk is
// refused an adjustment; a form posted from another origin without the
// CSRF value is refused. Every page is checked by axe-core (no serious or
// critical violation) and for anything its Content-Security-Policy
// blocked. Screenshots of the stock page, the shortage and the stock page
// at 375 px go to $WAREHOUSE_ARTIFACTS (see browsertest.ArtifactsDir).
//
//	WAREHOUSE_AXE_JS=/tmp/axe/node_modules/axe-core/axe.min.js go test -run TestBrowserConsole -v ./internal/httpapi/

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/warehouse-api/warehouse/internal/browsertest"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// consoleHost is the test server's name in the browser.
const consoleHost = "warehouse-console.test"

type consoleBrowser struct {
	t      *testing.T
	ctx    context.Context
	origin string
}

// do runs the actions of one step, failing the test with its name.
func (b *consoleBrowser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		b.t.Fatalf("%s: %v\npage: %.2000s", step, err, html)
	}
}

// waitFor waits until the page's expression is true, across the
// navigation a form's submission starts (an evaluation in a page being
// replaced fails: it is tried again in the next).
func (b *consoleBrowser) waitFor(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: %v", expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *consoleBrowser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// checkPage holds the page the tab shows to axe-core and to its policy.
func (b *consoleBrowser) checkPage(name string) {
	b.t.Helper()
	browsertest.CheckA11y(b.ctx, b.t, name)
	violations, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__cspViolations || []`))
	if err != nil {
		b.t.Fatalf("%s: read the CSP violations: %v", name, err)
	}
	for _, v := range violations {
		b.t.Errorf("%s: Content-Security-Policy: %s", name, v)
	}
}

func (b *consoleBrowser) signIn(user, pw string) {
	b.t.Helper()
	b.do("sign in as "+user,
		chromedp.Navigate(b.origin+"/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("scan")),
	)
}

// post fills a movement form (inputs found by their labels' ids) and
// presses Post.
func (b *consoleBrowser) post(typ string, fields map[string]string) {
	b.t.Helper()
	actions := []chromedp.Action[chromedp.Void]{chromedp.Navigate(b.origin + "/post/" + typ), chromedp.WaitVisible(chromedp.ID("item"))}
	for id, v := range fields {
		actions = append(actions, chromedp.SendKeys(chromedp.ID(id), v))
	}
	// The form page has none of these; its answer has one of them.
	actions = append(actions, chromedp.Click(chromedp.CSS(`form.move button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.notice, .error, .field-error`)))
	b.do("post a "+typ, actions...)
}

func TestBrowserConsole(t *testing.T) {
	e := newDomainTestServer(t, pgtest.SQLite)
	seedFloor(context.Background(), t, e.db)
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	origin := "http://" + net.JoinHostPort(consoleHost, port)

	// Another origin on the same site (another port): the browser sends
	// the console's cookies with its form, so only the CSRF value can
	// tell the two apart. (From another site, SameSite=Lax already keeps
	// the cookies home.)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><head><title>Win a prize</title></head><body><main>
<form method="post" action="%s/post/receipt"><input type="hidden" name="idempotency_key" value="evil-1">
<input type="hidden" name="item" value="WID-RED"><input type="hidden" name="to" value="A-01"><input type="hidden" name="qty" value="1000">
<button id="win" type="submit">Claim</button></form></main></body></html>`, origin)
	}))
	t.Cleanup(evil.Close)
	_, evilPort, _ := net.SplitHostPort(evil.Listener.Addr().String())

	ctx := browsertest.New(t, browsertest.Options{Hosts: []string{consoleHost}})
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		t.Fatalf("install the CSP violation recorder: %v", err)
	}
	b := &consoleBrowser{t: t, ctx: ctx, origin: origin}

	b.do("open the start page", chromedp.Navigate(origin+"/"), chromedp.WaitVisible(chromedp.ID("username")))
	b.checkPage("start page")
	b.signIn("manager", "manager-password")
	b.checkPage("stock by item")

	// The scan field: a scanner types the code and Enter.
	b.do("scan the barcode", chromedp.SendKeys(chromedp.ID("scan"), "4006381333931\r"))
	b.waitFor(`location.search.includes("item=") && document.readyState === "complete"`)
	if h := b.text(`main h2`); !strings.Contains(h, "WID-RED") {
		t.Fatalf("the scan led to %q, want the item WID-RED", h)
	}
	b.checkPage("item stock")

	// A scanned code ends with Enter: in the Item field it goes on to
	// the next field rather than posting (console.js).
	// The page's script must be in place before the scanner's Enter, or
	// the browser submits the form as it would without it.
	b.do("scan into the receipt form", chromedp.Navigate(origin+"/post/receipt"), chromedp.WaitVisible(chromedp.ID("item")),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete"`),
		chromedp.SendKeys(chromedp.ID("item"), "4006381333931\r"))
	// The Enter posted nothing (still the form, Item kept) and took the
	// focus on to a later field. (Which one is not pinned: under a loaded
	// machine the focus was seen on To location or, once, Quantity.)
	state, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.pathname, document.getElementById("item").value, (document.activeElement || {}).id || ""]`))
	if err != nil || state[0] != "/post/receipt" || state[1] != "4006381333931" || (state[2] != "to" && state[2] != "qty") {
		t.Errorf("after a scan into Item: page, Item, focus = %q (%v); want the form still, the code kept, the focus on To location", state, err)
	}
	b.checkPage("receipt form")
	b.post("receipt", map[string]string{"item": "WID-RED", "to": "A-01", "qty": "10", "reference": "PO-1"})
	if s := b.text(`main`); !strings.Contains(s, "Posted.") || !strings.Contains(s, "receipt") {
		t.Fatalf("receipt: %s", s)
	}
	b.checkPage("movement detail")

	b.post("transfer", map[string]string{"item": "4006381333931", "from": "A-01", "to": "B-01", "qty": "4"})
	if s := b.text(`main`); !strings.Contains(s, "Posted.") || !strings.Contains(s, "transfer") {
		t.Fatalf("transfer: %s", s)
	}
	transfer, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	transfer, _, _ = strings.Cut(transfer, "?") // without its "Posted." notice

	b.post("issue", map[string]string{"item": "WID-RED", "from": "A-01", "qty": "50"})
	if s := b.text(`.shortage`); s != "Not enough WID-RED at A-01: requested 50, available 6." {
		t.Fatalf("shortage sentence %q", s)
	}
	b.checkPage("issue refused for a shortage")
	browsertest.Screenshot(ctx, t, "console-shortage", 0)

	// The manager reverses the transfer.
	b.do("reverse the transfer", chromedp.Navigate(transfer), chromedp.Click(chromedp.CSS(`form[action$="/reverse"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice, .error`)))
	if s := b.text(`main`); !strings.Contains(s, "This movement reverses") {
		t.Fatalf("reversal: %s", s)
	}
	b.checkPage("reversal")

	b.do("stock by location", chromedp.Navigate(origin+"/stock?by=location"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	b.checkPage("stock by location")
	b.do("ledger", chromedp.Navigate(origin+"/stock?q=WID-RED"), chromedp.Click(chromedp.CSS(`main td a`)),
		chromedp.WaitVisible(chromedp.CSS(`main h2`)), chromedp.Click(chromedp.CSS(`td.num a`)), chromedp.WaitVisible(chromedp.ID(`ledger`)))
	if h := b.text(`main h1`); !strings.HasPrefix(h, "Ledger of WID-RED at") {
		t.Errorf("the balance's link led to %q", h)
	}
	b.checkPage("ledger")
	b.do("my sessions", chromedp.Navigate(origin+"/my/sessions"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	b.checkPage("my sessions")

	b.do("stock page", chromedp.Navigate(origin+"/stock"), chromedp.WaitVisible(chromedp.ID("scan")))
	browsertest.Screenshot(ctx, t, "console-stock", 0)
	browsertest.Screenshot(ctx, t, "console-stock-375px", 375)
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Errorf("at 375 px the stock page scrolls sideways (%v)", err)
	}
	b.checkPage("stock at 375 px")
	b.do("back to desktop width", chromedp.EmulateViewport(1280, 900))

	b.do("sign out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if s := b.text(`.notice`); s != "You are signed out." {
		t.Errorf("after sign-out: %q", s)
	}
	b.checkPage("signed out")
	b.do("the console after sign-out", chromedp.Navigate(origin+"/stock"), chromedp.WaitVisible(chromedp.ID("username")))

	// A clerk is refused an adjustment, and is offered none.
	b.signIn("clerk", "clerk-password")
	if nav := b.text(`nav`); strings.Contains(nav, "Adjust") {
		t.Errorf("a clerk's menu offers adjustments: %q", nav)
	}
	b.do("a clerk opens the adjustment form", chromedp.Navigate(origin+"/post/adjustment"), chromedp.WaitVisible(chromedp.ID("page-error")))
	if s := b.text(`#page-error`); !strings.Contains(s, "requires role manager") {
		t.Errorf("clerk's adjustment: %q", s)
	}
	b.checkPage("adjustment refused")

	// The other origin's form, posted in the clerk's browser.
	b.do("a form from another origin", chromedp.Navigate("http://"+net.JoinHostPort(consoleHost, evilPort)+"/"),
		chromedp.Click(chromedp.ID("win")), chromedp.WaitVisible(chromedp.ID("page-error")))
	if s := b.text(`#page-error`); !strings.Contains(s, "This form was refused") {
		t.Errorf("cross-origin form: %q", s)
	}
	b.do("stock after the forged form", chromedp.Navigate(origin+"/scan?code=WID-RED"), chromedp.WaitVisible(chromedp.CSS(`main h2`)))
	if s := b.text(`main p`); !strings.Contains(s, "On hand 10 ") {
		t.Errorf("the forged receipt was posted: %q", s)
	}

	// The admin's users page.
	b.do("sign out the clerk", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	b.signIn("admin", "admin-password")
	b.do("users", chromedp.Navigate(origin+"/admin/users"), chromedp.WaitVisible(chromedp.ID("new-username")))
	b.checkPage("users")

	// The upload page (an admin is a manager too): a bad file refused
	// with every error, then a good one imported.
	dir := t.TempDir()
	bad, good := filepath.Join(dir, "bad.csv"), filepath.Join(dir, "good.csv")
	if err := os.WriteFile(bad, []byte("sku,name,uom,reorder_point\nUP-1,A,ea,-1\nUP-1,B,ea,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("sku,name,uom\nUP-1,Uploaded,ea\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.do("imports", chromedp.Navigate(origin+"/imports"), chromedp.WaitVisible(chromedp.ID("file")))
	b.checkPage("imports")
	b.do("upload a bad file", chromedp.SetUploadFiles(chromedp.ID("file"), []string{bad}),
		chromedp.Click(chromedp.CSS(`form.import button`)), chromedp.WaitVisible(chromedp.ID("import-errors")))
	if s := b.text(`#import-errors`); !strings.Contains(s, "line 2, reorder_point: must be >= 0") || !strings.Contains(s, `line 3, sku: "UP-1" is already on line 2`) {
		t.Errorf("the bad file's errors: %q", s)
	}
	b.checkPage("import refused")
	b.do("upload a good file", chromedp.SetUploadFiles(chromedp.ID("file"), []string{good}),
		chromedp.Click(chromedp.CSS(`form.import button`)), chromedp.WaitVisible(chromedp.ID("import-summary")))
	if s := b.text(`#import-summary`); !strings.Contains(s, "1 rows: 1 created, 0 updated, 0 unchanged.") {
		t.Errorf("the import's summary: %q", s)
	}
	b.checkPage("import summary")
}
