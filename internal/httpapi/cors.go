package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORS (the Fetch standard's CORS protocol). Off unless --cors-origins
// lists origins: then a browser page on one of those exact origins may
// call the API with credentials, and any other origin gets no
// Access-Control-* header at all (so the browser refuses it).

// corsMethods and corsHeaders are what a preflight allows: every method
// the API has, and the request headers its routes read.
const (
	corsMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, Idempotency-Key, If-Match, X-CSRF-Token, X-Request-ID"
	// corsExpose are the response headers a page may read besides the
	// CORS-safelisted ones.
	corsExpose = "ETag, Location, Retry-After, WWW-Authenticate, X-Request-ID"
	// corsMaxAge is how long (seconds) a browser may cache a preflight.
	corsMaxAge = "600"
)

// cors is the allowlist, and the shared header values of its answers.
type cors struct {
	origins map[string]bool
	yes     []string // "true"
	vary    []string
	methods []string
	headers []string
	expose  []string
	maxAge  []string
}

func newCORS(origins []string) *cors {
	if len(origins) == 0 {
		return nil
	}
	c := &cors{origins: map[string]bool{}, yes: []string{"true"}, vary: []string{"Origin"},
		methods: []string{corsMethods}, headers: []string{corsHeaders}, expose: []string{corsExpose}, maxAge: []string{corsMaxAge}}
	for _, o := range origins {
		c.origins[o] = true
	}
	return c
}

// handle sets the CORS headers of an answer to r, and answers a preflight
// from an allowed origin itself (it then reports true). Every answer
// varies by Origin, so caches keep them apart.
func (c *cors) handle(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h["Vary"] = append(h["Vary"], c.vary...)
	origin := r.Header["Origin"]
	if len(origin) != 1 || !c.origins[origin[0]] {
		return false
	}
	h["Access-Control-Allow-Origin"] = origin
	h["Access-Control-Allow-Credentials"] = c.yes
	if r.Method != http.MethodOptions || len(r.Header["Access-Control-Request-Method"]) == 0 {
		h["Access-Control-Expose-Headers"] = c.expose
		return false
	}
	if !slices.Contains(strings.Split(corsMethods, ", "), r.Header.Get("Access-Control-Request-Method")) {
		// Not a method of ours: no permission; the route answers as without CORS.
		delete(h, "Access-Control-Allow-Origin")
		delete(h, "Access-Control-Allow-Credentials")
		return false
	}
	h["Access-Control-Allow-Methods"] = c.methods
	h["Access-Control-Allow-Headers"] = c.headers
	h["Access-Control-Max-Age"] = c.maxAge
	w.WriteHeader(http.StatusNoContent)
	return true
}

// ParseCORSOrigins reads --cors-origins: comma-separated exact origins,
// scheme://host[:port], written as browsers send them in Origin (a
// default port is dropped, scheme and host lowercased).
func ParseCORSOrigins(v string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == "*" || s == "null" {
			return nil, fmt.Errorf("%q is not allowed: credentialed requests need exact origins, e.g. https://app.example.com", s)
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
			return nil, fmt.Errorf("%q is not an origin: write scheme://host[:port], e.g. https://app.example.com", s)
		}
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
			port = ""
		}
		o := strings.ToLower(u.Scheme) + "://" + host
		if strings.Contains(host, ":") {
			o = strings.ToLower(u.Scheme) + "://[" + host + "]"
		}
		if port != "" {
			o += ":" + port
		}
		out = append(out, o)
	}
	return out, nil
}
