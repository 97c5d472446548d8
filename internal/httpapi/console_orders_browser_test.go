package httpapi_test

// The order pages and the pick list in a real browser (chromedp, as
// console_browser_test.go): a manager confirms and allocates an order from
// its page; a clerk on a phone-sized screen (360x740) walks the pick list
// by scanning (a scanner is a keyboard: the code, then Enter): a wrong
// location says which is expected, the right location and item confirm the
// line and the ledger has the issue; the same pick form posted twice posts
// once; the clerk ships. Every page passes axe-core and its CSP;
// screenshots of the pick list at 360 px go to $WAREHOUSE_ARTIFACTS.
//
//	WAREHOUSE_AXE_JS=/tmp/axe/node_modules/axe-core/axe.min.js go test -run TestBrowserOrders -v ./internal/httpapi/

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/browsertest"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

func TestBrowserOrders(t *testing.T) {
	e := newDomainTestServer(t, pgtest.SQLite)
	ctx := context.Background()
	seedFloor(ctx, t, e.db)
	seedOrders(ctx, t, e.db, map[string]int64{"SO-10": 3})
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	origin := "http://" + net.JoinHostPort(consoleHost, port)

	bctx := browsertest.New(t, browsertest.Options{Hosts: []string{consoleHost}})
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		t.Fatalf("install the CSP violation recorder: %v", err)
	}
	b := &consoleBrowser{t: t, ctx: bctx, origin: origin}
	ready := chromedp.Poll[chromedp.Void](`document.readyState === "complete"`)

	// The manager: the list, the order, Confirm and Allocate.
	b.signIn("manager", "manager-password")
	b.do("the orders list", chromedp.Click(chromedp.CSS(`nav a[href="/orders"]`)), chromedp.WaitVisible(chromedp.ID("orders")))
	b.checkPage("orders")
	b.do("open SO-10", chromedp.Click(chromedp.CSS(`#orders a[href="/orders/SO-10"]`)), chromedp.WaitVisible(chromedp.ID("order-lines")))
	b.checkPage("draft order")
	for _, step := range []struct{ button, notice string }{{"confirm", "Confirmed."}, {"allocate", "Allocated: the order is allocated."}} {
		b.do(step.button, chromedp.Click(chromedp.CSS(`form[action="/orders/SO-10/`+step.button+`"] button`)))
		b.waitFor(`location.search === "?done=` + step.button + `" && document.readyState === "complete"`)
		if s := b.text(`main`); !strings.Contains(s, step.notice) {
			t.Fatalf("after %s: %s", step.button, s)
		}
	}
	if s := b.text(`#order-reservations`); !strings.Contains(s, "A-01") || !strings.Contains(s, "open") {
		t.Errorf("the reservations after allocating: %q", s)
	}
	b.checkPage("allocated order")
	// (The order page has a notice too: wait for the signed-out page.)
	b.do("sign out the manager", chromedp.Click(chromedp.CSS(`form.signout button`)))
	b.waitFor(`location.pathname === "/signout" && document.readyState === "complete"`)

	// The clerk, on a phone.
	b.signIn("clerk", "clerk-password")
	b.do("a phone-sized screen", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	b.do("the order's pick list", chromedp.Navigate(origin+"/orders/SO-10"), chromedp.WaitVisible(chromedp.ID("order-lines")),
		chromedp.Click(chromedp.CSS(`a[href="/orders/SO-10/pick"]`)), chromedp.WaitVisible(chromedp.ID("pick-scan")), ready)
	b.checkPage("pick list at 360 px")
	browsertest.Screenshot(bctx, t, "console-pick-360px", 0)
	layout, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth - window.innerWidth,
		document.querySelector("form.scan-step button").getBoundingClientRect().height,
		document.getElementById("pick-scan").getBoundingClientRect().height]`))
	if err != nil || layout[0] > 0 || layout[1] < 44 || layout[2] < 44 {
		t.Errorf("at 360 px: sideways scroll %v px, button %v px, scan field %v px high (%v); want no scroll, touch targets of 44 px or more", layout[0], layout[1], layout[2], err)
	}
	if s := b.text(`#stop-location`); s != "A-01" {
		t.Fatalf("the stop's location: %q", s)
	}

	// The scan field has the focus: the scanner types B-01 and Enter.
	b.do("scan the wrong location", chromedp.SendKeys(chromedp.ID("pick-scan"), "B-01\r"), chromedp.WaitVisible(chromedp.ID("pick-error")), ready)
	if s := b.text(`#pick-error`); s != "Wrong location: you scanned B-01, this stop is A-01." {
		t.Errorf("wrong location: %q", s)
	}
	b.checkPage("wrong location")
	browsertest.Screenshot(bctx, t, "console-pick-wrong-location-360px", 0)
	b.do("scan the right location", chromedp.SendKeys(chromedp.ID("pick-scan"), "A-01\r"), chromedp.WaitVisible(chromedp.CSS(`.scanned`)), ready)
	focus, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[document.activeElement.id, document.activeElement.name]`))
	if err != nil || focus[0] != "pick-scan" || focus[1] != "item" {
		t.Errorf("after the location scan the focus is on %q (%v), want the item scan field", focus, err)
	}
	b.checkPage("location scanned")

	// The same pick form posted twice (a double tap that beat the
	// disabled button, a resent page): one pick, one issue.
	urls, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(async () => {
		const f = document.querySelector("form.scan-step");
		f.elements.namedItem("item").value = "4006381333931";
		const post = () => fetch(f.action, {method: "POST", body: new URLSearchParams(new FormData(f))}).then(r => r.url);
		return [await post(), await post()];
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || len(urls) != 2 || !strings.Contains(urls[0], "picked=") || urls[1] != urls[0]+"&again=1" {
		t.Fatalf("the pick posted twice answered %q (%v); want the same pick, the second a replay", urls, err)
	}
	b.do("the pick list after the pick", chromedp.Navigate(urls[1]), chromedp.WaitVisible(chromedp.ID("pick-done")))
	if s := b.text(`.notice`); !strings.Contains(s, "Picked 3 WID-RED at A-01. (That was a second submit of the same pick: it was posted once.)") {
		t.Errorf("after the pick: %q", s)
	}
	b.checkPage("pick list done")
	browsertest.Screenshot(bctx, t, "console-pick-done-360px", 0)
	entries, _, err := e.db.ListLedger(ctx, warehouse.LedgerFilter{Type: warehouse.MoveIssue}, warehouse.Page{Limit: 10})
	if err != nil || len(entries) != 1 || entries[0].SKU != "WID-RED" || entries[0].LocationCode != "A-01" || entries[0].QtyDelta.String() != "-3" {
		t.Fatalf("the ledger's issues after the pick posted twice: %+v (%v); want one issue of 3 WID-RED at A-01", entries, err)
	}

	// The order: the pick links its movement; the clerk ships.
	b.do("the order after the pick", chromedp.Click(chromedp.CSS(`main a[href="/orders/SO-10"]`)), chromedp.WaitVisible(chromedp.ID("order-picks")))
	b.do("the pick's movement", chromedp.Click(chromedp.CSS(`#order-picks a[href^="/movement/"]`)))
	b.waitFor(`location.pathname.startsWith("/movement/") && document.readyState === "complete"`)
	if h := b.text(`main h1`); !strings.HasSuffix(h, ": issue") {
		t.Errorf("the pick's movement: %q", h)
	}
	b.do("ship", chromedp.Navigate(origin+"/orders/SO-10"), chromedp.WaitVisible(chromedp.ID("order-picks")),
		chromedp.Click(chromedp.CSS(`form[action="/orders/SO-10/ship"] button`)))
	b.waitFor(`location.search === "?done=ship" && document.readyState === "complete"`)
	if s := b.text(`#order-state`); s != "shipped" {
		t.Errorf("after ship: %q (%s)", s, b.text(`main`))
	}
	b.checkPage("shipped order at 360 px")
	browsertest.Screenshot(bctx, t, "console-order-shipped-360px", 0)
}
