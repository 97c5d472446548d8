package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// homeStyle is the home page's only style, allowed by its hash in the
// page's Content-Security-Policy (no 'unsafe-inline', no script at all).
const homeStyle = `body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}` +
	`code,pre{background:#f3f3f3;border-radius:4px}code{padding:0 .2em}pre{padding:.6em .8em;overflow-x:auto}` +
	`a{color:#0b57d0}small{color:#555}`

var homeTemplate = template.Must(template.New("home").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Warehouse Management API</title>
  <style>{{.Style}}</style>
</head>
<body>
  <h1>Warehouse Management API</h1>
  <p>This server is <strong>warehouse</strong>: a JSON API for items, locations, stock and an append-only
  ledger of movements, behind JWT logins (the FastAPI JWT tutorial's <code>/login</code>, <code>/user</code>,
  <code>/refresh</code>, <code>/access-revoke</code>, <code>/refresh-revoke</code>). There is nothing to click here:
  it is meant for programs and for the interactive docs.</p>
  <ul>
    <li><a href="/docs">Interactive API docs</a>: try every route in the browser (Authorize with a username and password)</li>
    <li><a href="/openapi.json">OpenAPI document</a> (<code>/openapi.json</code>), for client generators</li>
    <li><a href="/healthz">/healthz</a> and <a href="/readyz">/readyz</a>, for load balancers</li>
  </ul>
  <p>From a terminal:</p>
  <pre>curl -s -X POST {{.Origin}}/login -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"..."}'</pre>
  <p><small>Version {{.Version}}</small></p>
</body>
</html>
`))

// homePolicy is the home page's Content-Security-Policy: nothing but its
// own style and links.
func homePolicy() string {
	sum := sha256.Sum256([]byte(homeStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
}

// homeInfo is GET / for a client that asks for JSON.
type homeInfo struct {
	Name    string `json:"name" example:"Warehouse Management API"`
	Version string `json:"version" example:"v1.2.0"`
	Docs    string `json:"docs" example:"/docs"`
	OpenAPI string `json:"openapi" example:"/openapi.json"`
}

func (s *Server) opHome() huma.Operation {
	infoSchema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[homeInfo](), true, "")
	return huma.Operation{Tags: []string{"operations"},
		Summary:     "What this server is, with links to the docs",
		Description: "An HTML page for browsers; `Accept: application/json` (without text/html) gets the same links as JSON.",
		Responses: map[string]*huma.Response{
			"200": {Description: "The home page", Content: map[string]*huma.MediaType{
				"text/html":        {Schema: &huma.Schema{Type: "string"}},
				"application/json": {Schema: infoSchema},
			}},
		},
	}
}

// home serves GET / (and HEAD /): a small page that says what this server
// is and links to the docs, for the person who opens the address in a
// browser; a client that asks for JSON (and not HTML) gets the same links
// as JSON. Every other unknown path stays a JSON 404 (fallback).
func (s *Server) home() http.HandlerFunc {
	info := homeInfo{Name: "Warehouse Management API", Version: s.cfg.Version, Docs: "/docs", OpenAPI: "/openapi.json"}
	jsonBody, _ := json.Marshal(info)
	policy := homePolicy()
	var start http.Handler
	if s.console != nil {
		start = s.console.Start()
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Vary", "Accept")
		h.Set("Cache-Control", "private, no-cache") // the curl example shows the Host asked for
		if wantsJSON(r.Header.Get("Accept")) {
			h.Set("Content-Type", "application/json")
			if r.Method != http.MethodHead {
				_, _ = w.Write(jsonBody)
			}
			return
		}
		if start != nil {
			// The console's start page: sign-in with what this server
			// is and a link to the docs or, signed in, the stock.
			start.ServeHTTP(w, r)
			return
		}
		// The origin the client used, for the curl example only; it is
		// HTML-escaped by the template.
		origin := "http://localhost:8000"
		if s.cfg.PublicURL != "" {
			origin = strings.TrimRight(s.cfg.PublicURL, "/")
		} else if r.Host != "" {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			origin = scheme + "://" + r.Host
		}
		var buf bytes.Buffer
		if err := homeTemplate.Execute(&buf, map[string]any{"Style": template.CSS(homeStyle), "Version": s.cfg.Version, "Origin": origin}); err != nil {
			s.writeError(w, fmt.Errorf("home page: %w", err))
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		if r.Method != http.MethodHead {
			_, _ = w.Write(buf.Bytes())
		}
	}
}

// wantsJSON reports whether an Accept header asks for JSON and not HTML.
func wantsJSON(accept string) bool {
	html, js := false, false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch {
		case mt == "text/html" || mt == "application/xhtml+xml":
			html = true
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			js = true
		}
	}
	return js && !html
}
