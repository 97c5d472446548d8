package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestHome: GET / is a small page for a person with a browser, JSON for a
// client that asks for JSON, HEAD works, and other unknown paths stay JSON
// 404s.
func TestHome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgtest.SQLite)
	tests := []struct {
		name, method, path, accept string
		status                     int
		ctype                      string
		want                       []string
	}{
		{"browser", "GET", "/", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200, "text/html", []string{"Warehouse Management API", `href="/docs"`, `href="/openapi.json"`, `<label for="username">Username</label>`, `<label for="password">Password</label>`}},
		{"curl", "GET", "/", "*/*", 200, "text/html", []string{`href="/docs"`}},
		{"no accept", "GET", "/", "", 200, "text/html", []string{`href="/openapi.json"`}},
		{"json client", "GET", "/", "application/json", 200, "application/json", []string{`"docs":"/docs"`, `"openapi":"/openapi.json"`}},
		{"json preferred, html too", "GET", "/", "application/json, text/html;q=0.5", 200, "text/html", nil},
		{"head", "HEAD", "/", "text/html", 200, "text/html", nil},
		{"unknown path", "GET", "/nope", "text/html", 404, "json", []string{`"detail":"Not Found"`}},
		{"unknown below root", "GET", "/index.html", "", 404, "json", nil},
		{"post", "POST", "/", "", 405, "json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.accept != "" {
				hdr = append(hdr, "Accept: "+tt.accept)
			}
			r := e.do(tt.method, tt.path, "", hdr...)
			if r.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.status, r.Body)
			}
			if ct := r.Header().Get("Content-Type"); !strings.Contains(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %q", ct, tt.ctype)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Body.String(), w) {
					t.Errorf("body lacks %q:\n%s", w, r.Body)
				}
			}
			if tt.method == "HEAD" && r.Body.Len() != 0 {
				t.Errorf("HEAD has a body")
			}
			if strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") {
				csp := r.Header().Get("Content-Security-Policy")
				if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") || r.Header().Get("X-Frame-Options") != "DENY" {
					t.Errorf("CSP %q, X-Frame-Options %q", csp, r.Header().Get("X-Frame-Options"))
				}
				// The console's start page (it replaced the static home
				// page): its one script is its own file, never inline.
				body := strings.ReplaceAll(r.Body.String(), `<script src="/static/console.js" defer></script>`, "")
				if strings.Contains(body, "<script") || strings.Contains(body, "https://") || strings.Contains(body, "style=") {
					t.Errorf("the page has an inline script or style, or an outside link:\n%s", r.Body)
				}
			}
		})
	}
	t.Run("openapi", func(t *testing.T) {
		r := e.do("GET", "/openapi.json", "")
		var doc struct {
			Paths map[string]map[string]struct {
				Responses map[string]struct {
					Content map[string]any `json:"content"`
				} `json:"responses"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		content := doc.Paths["/"]["get"].Responses["200"].Content
		if content["text/html"] == nil || content["application/json"] == nil {
			t.Errorf("GET / in the OpenAPI document: %v", doc.Paths["/"])
		}
	})
}

// TestBrowserHome opens / in Chromium: the page (the console's start
// page, which replaced the static home page) shows, its policy blocks
// nothing, it loads nothing from elsewhere, and its docs link leads to the
// docs.
func TestBrowserHome(t *testing.T) {
	exe := docsChromium(t)
	ts, _ := newDocsTestServer(t)
	b := newDocsBrowser(t, exe, ts)
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(b.origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`h1`)),
	)
	if err != nil {
		t.Fatalf("load /: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	font, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).fontFamily`))
	if err != nil {
		t.Fatal(err)
	}
	if title != "Warehouse Management API" {
		t.Errorf("title %q", title)
	}
	if !strings.Contains(font, "system-ui") {
		t.Errorf("the page's style was not applied (font %q): the CSP refused the style sheet", font)
	}
	b.checkOffline(t)
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`main a[href="/docs"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`.information-container h2.title`)),
	); err != nil {
		t.Fatalf("follow the docs link: %v", err)
	}
}
