package httpapi

import (
	"net/http"

	swaggerfiles "github.com/swaggo/files/v2"
)

// docsIndex is Swagger UI's page, pointed at our document. Everything it
// loads comes from the binary (no CDN), so the docs work offline.
const docsIndex = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>Warehouse Management API - docs</title>
  <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
  <link rel="stylesheet" type="text/css" href="/docs/index.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script src="/docs/warehouse-init.js" charset="UTF-8"></script>
</body>
</html>
`

const docsInit = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    validatorUrl: "none", // the default badge calls validator.swagger.io with our URL
    oauth2RedirectUrl: window.location.origin + "/docs/oauth2-redirect.html",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
`

// docsPolicy is the docs page's Content-Security-Policy: everything from
// this server (Swagger UI sets inline styles and draws icons from data:
// URLs), and no framing, because the page's Authorize form takes passwords.
const docsPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// mountDocs serves the interactive docs at /docs from embedded assets.
func mountDocs(mux *http.ServeMux) {
	page := func(body, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write([]byte(body))
		}
	}
	html := func(body string) http.HandlerFunc {
		serve := page(body, "text/html; charset=utf-8")
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", docsPolicy)
			h.Set("X-Frame-Options", "DENY")
			// The docs link out (license, spec); don't tell those sites the URL.
			h.Set("Referrer-Policy", "no-referrer")
			serve(w, r)
		}
	}
	mux.HandleFunc("GET /docs", html(docsIndex))
	mux.HandleFunc("GET /docs/{$}", html(docsIndex))
	mux.HandleFunc("GET /docs/warehouse-init.js", page(docsInit, "text/javascript; charset=utf-8"))
	assets := http.StripPrefix("/docs/", http.FileServerFS(swaggerfiles.FS))
	mux.Handle("GET /docs/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/docs/index.html" || r.URL.Path == "/docs/swagger-initializer.js" {
			// The stock page and initializer point at a petstore on the
			// internet; ours is above.
			http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(w, r)
	}))
}
