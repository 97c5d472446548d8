package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
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
  <link rel="stylesheet" type="text/css" href="/docs/warehouse.css">
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

const docsInit = `// The Authorize dialog as a person meets it: the username and password
// form (OAuth2 password flow) first and in view. Swagger UI focuses the
// last input it draws, which scrolled the dialog past that form; and it
// cannot send a cookie from a page, so the cookie-mode schemes (described
// in the document for other clients) are not offered here.
const WarehouseAuthorize = function () {
  return {
    wrapComponents: {
      authorizationPopup: (Original, system) => class extends system.React.Component {
        componentDidMount() {
          const user = document.getElementById("oauth_username");
          if (user) {
            user.focus({ preventScroll: true });
          }
          const content = document.querySelector(".modal-ux-content");
          if (content) {
            content.scrollTop = 0;
          }
        }
        render() {
          return system.React.createElement(Original, this.props);
        }
      },
      auths: (Original, system) => (props) => {
        const defs = props.definitions;
        if (defs && defs.size > 0 && defs.every((d) => d.get("type") === "apiKey" && d.get("in") === "cookie")) {
          return null;
        }
        return system.React.createElement(Original, props);
      }
    }
  };
};

window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    validatorUrl: "none", // the default badge calls validator.swagger.io with our URL
    oauth2RedirectUrl: window.location.origin + "/docs/oauth2-redirect.html",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [WarehouseAuthorize],
    layout: "StandaloneLayout"
  });
};
`

// docsStyle adapts Swagger UI to our token endpoint, which needs no
// client: the password flow's client fields (credentials location,
// client_id, client_secret) are hidden, so the dialog asks for what a
// person has, a username and a password. Swagger UI offers no option for
// this; its rows are matched by their labels.
const docsStyle = `.swagger-ui .auth-container .wrapper:has(> label[for="password_type"]),
.swagger-ui .auth-container .wrapper:has(> label[for="client_id_password"]),
.swagger-ui .auth-container .wrapper:has(> label[for="client_secret_password"]) {
  display: none;
}
`

// docsPolicy is the docs page's Content-Security-Policy: everything from
// this server (Swagger UI sets inline styles and draws icons from data:
// URLs), and no framing, because the page's Authorize form takes passwords.
const docsPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// serveText answers body as ctype, to be revalidated on every use.
func serveText(w http.ResponseWriter, body, ctype string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write([]byte(body))
}

// docsPage is GET /docs: Swagger UI's page, pointed at our document.
func docsPage(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", docsPolicy)
	h.Set("X-Frame-Options", "DENY")
	// The docs link out (license, spec); don't tell those sites the URL.
	h.Set("Referrer-Policy", "no-referrer")
	serveText(w, docsIndex, "text/html; charset=utf-8")
}

func docsInitScript(w http.ResponseWriter, _ *http.Request) {
	serveText(w, docsInit, "text/javascript; charset=utf-8")
}

func docsStyleSheet(w http.ResponseWriter, _ *http.Request) {
	serveText(w, docsStyle, "text/css; charset=utf-8")
}

// docsAssets serves Swagger UI's embedded files under /docs/.
func docsAssets() http.Handler {
	assets := http.StripPrefix("/docs/", http.FileServerFS(swaggerfiles.FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/docs/index.html" || r.URL.Path == "/docs/swagger-initializer.js" {
			// The stock page and initializer point at a petstore on the
			// internet; ours is above.
			http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(w, r)
	})
}

func opDocs() huma.Operation {
	return huma.Operation{Tags: []string{"docs"},
		Summary:     "Interactive documentation (Swagger UI)",
		Description: "Served from the binary, so it works offline. Authorize with your username and password (OAuth2 password flow at POST /token).",
		Responses:   map[string]*huma.Response{"200": {Description: "The docs page", Content: mediaType("text/html; charset=utf-8", &huma.Schema{Type: "string"})}}}
}

// opDocsAsset documents the assets GET /docs/ serves.
func opDocsAsset() huma.Operation {
	str := &huma.Schema{Type: "string"}
	assets := map[string]*huma.MediaType{
		"text/html":              {Schema: str},
		"text/css":               {Schema: str},
		"text/javascript":        {Schema: str},
		"application/javascript": {Schema: str},
		"image/png":              {Schema: &huma.Schema{Type: "string", Format: "binary"}},
	}
	return huma.Operation{Tags: []string{"docs"},
		Summary:     "An asset of the docs page",
		Description: "Swagger UI's scripts, styles and images, and the OAuth2 redirect page. `/docs/` is the docs page itself.",
		Parameters: []*huma.Param{{Name: "file", In: "path", Required: true, Description: "Asset name, e.g. swagger-ui-bundle.js",
			Schema: &huma.Schema{Type: "string"}}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The asset", Content: assets},
			// http.FileServer answers Range requests.
			"206": {Description: "Part of the asset, for a Range request (several ranges: multipart/byteranges)",
				Content: withMedia(assets, "multipart/byteranges", &huma.Schema{Type: "string", Format: "binary"}),
				Headers: map[string]*huma.Param{"Content-Range": {Description: "The part sent, e.g. bytes 0-9/1234 (one range)", Schema: str}}},
			"416": {Description: "The Range is beyond the asset", Content: mediaType("text/plain; charset=utf-8", str),
				Headers: map[string]*huma.Param{"Content-Range": {Description: "bytes */<size>", Required: true, Schema: str}}},
			"301": {Description: "The stock Swagger UI page: moved to /docs",
				Headers: map[string]*huma.Param{"Location": {Description: "/docs", Required: true, Schema: str}}},
			"404": {Description: "No such asset", Content: mediaType("text/plain; charset=utf-8", str)},
		}}
}
