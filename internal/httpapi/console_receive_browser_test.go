package httpapi_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/warehouse-api/warehouse/internal/browsertest"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestBrowserReceiving receives against a purchase order in a real
// browser at phone width: a clerk opens the open orders, scans an item's
// barcode three times into the scan field (each scan counts one more on
// its line, the focus stays in the field), puts the goods away by
// location code and receives; the order shows the open quantity left. A
// second receipt beyond the expected quantity is refused with the
// server's sentence. Every page is checked by axe-core and for CSP
// violations.
func TestBrowserReceiving(t *testing.T) {
	e := newDomainTestServer(t, pgtest.SQLite)
	seedFloor(context.Background(), t, e.db)
	m := e.tokens["manager"]
	e.do("POST", "/api/v1/purchase-orders", m, map[string]any{"number": "PO-77", "supplier": "ACME", "lines": []any{
		line("sku", "WID-RED", "expected_qty", 5),
		line("sku", "WID-BLU", "expected_qty", 2),
	}}).must(201)
	e.do("POST", "/api/v1/purchase-orders/PO-77/confirm", m, nil, "If-Match", `"v1"`).must(200)

	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	origin := "http://" + net.JoinHostPort(consoleHost, port)
	ctx := browsertest.New(t, browsertest.Options{Hosts: []string{consoleHost}})
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		t.Fatalf("install the CSP violation recorder: %v", err)
	}
	b := &consoleBrowser{t: t, ctx: ctx, origin: origin}
	b.do("phone width", chromedp.EmulateViewport(375, 800))
	b.signIn("clerk", "clerk-password")

	b.do("open orders", chromedp.Navigate(origin+"/receive"), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if s := b.text(`main table`); !strings.Contains(s, "PO-77") || !strings.Contains(s, "ACME") {
		t.Fatalf("open orders: %q", s)
	}
	b.checkPage("open purchase orders")
	b.do("open PO-77", chromedp.Click(chromedp.CSS(`main td a`)), chromedp.WaitVisible(chromedp.ID("qty-1")),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete"`))
	b.checkPage("receiving form")
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Errorf("at 375 px the receiving form scrolls sideways (%v)", err)
	}
	browsertest.Screenshot(ctx, t, "console-receive-375px", 375)

	// Three scans of the red widget's barcode; the page stays, line 1 counts.
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__samePage = true`))
	for range 3 {
		b.do("scan", chromedp.SendKeys(chromedp.ID("scan"), "4006381333931\r"))
	}
	b.do("let a submission start, if any", chromedp.Sleep(300*time.Millisecond))
	state, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[String(window.__samePage), document.getElementById("qty-1").value, document.getElementById("qty-2").value, (document.activeElement || {}).id || "", document.getElementById("scan-status").textContent]`))
	if err != nil || state[0] != "true" || state[1] != "3" || state[2] != "" || state[3] != "scan" || !strings.Contains(state[4], "line 1 now 3") {
		t.Fatalf("after three scans: same page, qty-1, qty-2, focus, status = %q (%v)", state, err)
	}
	b.do("scan an unknown code", chromedp.SendKeys(chromedp.ID("scan"), "NOPE\r"))
	if s := b.text(`#scan-status`); !strings.Contains(s, "No line of this order is for the code NOPE") {
		t.Errorf("unknown code: %q", s)
	}
	b.do("receive", chromedp.SendKeys(chromedp.ID("location"), "A-01"),
		chromedp.Click(chromedp.CSS(`form.receive button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.notice, .error, .field-error`)))
	if s := b.text(`.notice`); !strings.Contains(s, "Received: movement") {
		t.Fatalf("after receiving: %q", s)
	}
	if s := b.text(`#po-status`); s != "partially_received" {
		t.Errorf("status %q", s)
	}
	if s := b.text(`fieldset.po-line`); !strings.Contains(s, "received 3, open 2") {
		t.Errorf("line 1 after the receipt: %q", s)
	}
	b.checkPage("received")

	// Beyond the expected quantity (no tolerance): refused, nothing posted.
	b.do("over-receive", chromedp.SendKeys(chromedp.ID("qty-1"), "9"), chromedp.SendKeys(chromedp.ID("location"), "A-01"),
		chromedp.Click(chromedp.CSS(`form.receive button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	if s := b.text(`p.error`); !strings.Contains(s, "line 1 (WID-RED): 12 received would exceed the expected 5") {
		t.Errorf("over-receipt: %q", s)
	}
	b.checkPage("over-receipt refused")
	r := e.do("GET", "/api/v1/purchase-orders/PO-77", m, nil).must(200)
	if l := poLine(t, r, 0); l["received_qty"].(float64) != 3 {
		t.Errorf("line 1 received %v after the refused receipt", l["received_qty"])
	}
}
