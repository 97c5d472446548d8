package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

type ctxKey int

const (
	requestKey ctxKey = iota // *reqState
	claimsKey
)

// reqMeta is what session records and the audit trail keep of a request.
type reqMeta struct {
	ip        string
	userAgent string
	requestID string
}

func (s *Server) requestMeta(ctx context.Context) reqMeta {
	st, _ := ctx.Value(requestKey).(*reqState)
	if st == nil {
		return reqMeta{}
	}
	return reqMeta{ip: s.origin(st.req).ip, userAgent: st.req.UserAgent(), requestID: st.id[0]}
}

// reqState is everything the edge middleware keeps of one request, in one
// small allocation: the status-recording writer, the request id (as the
// header value slice, so echoing it costs nothing more) and the request as
// it arrived (session records read its address and User-Agent). It is the
// ResponseWriter the routes get (see withState). It stays small because
// every request pays for it and garbage sets the collector's pace: the
// Principal is allocated only on routes with auth.
type reqState struct {
	statusWriter
	id  [1]string
	req *http.Request
	// auth is the verified caller, once authMiddleware has checked it.
	auth *Principal
}

// ids makes request ids: a random per-process prefix and a counter, so an
// id costs no system call (crypto/rand per request did) and ids from
// several instances do not collide.
type ids struct {
	prefix string
	n      atomic.Uint64
}

func newIDs() *ids {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &ids{prefix: hex.EncodeToString(b[:])}
}

func (g *ids) next() string {
	var buf [8 + 16]byte
	out := append(buf[:0], g.prefix...)
	n := g.n.Add(1)
	const digits = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		out = append(out, digits[(n>>uint(i))&0xf])
	}
	return string(out)
}

// Response headers every answer carries. The slices are shared by all
// responses: net/http only reads them, and a handler that Adds to one gets
// a new array because each has len == cap.
type fixedHeaders struct {
	nosniff []string
	json    []string // Content-Type of the fast answers
	// hsts is Strict-Transport-Security, under TLS only (nil otherwise):
	// sent over plain HTTP it would be ignored, or pin a host that has
	// no HTTPS.
	hsts []string
}

func newFixedHeaders(hsts bool) fixedHeaders {
	f := fixedHeaders{nosniff: []string{"nosniff"}, json: []string{"application/json"}}
	if hsts {
		f.hsts = []string{"max-age=31536000"}
	}
	return f
}

// edge is the middleware around every request, in one handler so that a
// request costs one allocation here: it recovers panics as a 500 problem
// (so one bad request never takes the server down), takes a sane
// X-Request-ID from the client or makes one and echoes it (so a client can
// quote it in a bug report), sets nosniff (the one security header every
// answer needs: the HTML docs add their own, see docsPage), and ends every
// request with its metrics and access log line (obs, observe.go; never
// headers, so never a token).
//
// It also sends HSTS under TLS, answers CORS (cors.go) when configured,
// and bounds request bodies (limits.go).
func edge(log *slog.Logger, obs *observer, gen *ids, fixed fixedHeaders, cors *cors, limits bodyLimits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{statusWriter: statusWriter{ResponseWriter: w}, req: r}
		// The header map is indexed by the canonical name: Get("X-Request-ID")
		// would allocate to canonicalize it on every request.
		if v := r.Header["X-Request-Id"]; len(v) > 0 && saneID(v[0]) {
			st.id[0] = v[0]
		} else {
			st.id[0] = gen.next()
		}
		h := w.Header()
		h["X-Request-Id"] = st.id[:]
		h["X-Content-Type-Options"] = fixed.nosniff
		if fixed.hsts != nil {
			h["Strict-Transport-Security"] = fixed.hsts
		}
		if v := r.Header[framingHeader]; len(v) > 0 {
			// The listener cut this connection after an ambiguous head
			// (framing.go): answer it and close.
			h["Connection"] = []string{"close"}
			writeProblem(st, codeProblem(codeBadFraming, "Bad request framing: "+v[0]+" (RFC 9112 section 6.3); the connection is closed"))
			obs.done(r.Context(), r, st, time.Now())
			return
		}
		start := time.Now()
		if cors != nil && cors.handle(st, r) {
			obs.done(r.Context(), r, st, start)
			return
		}
		if limitBody(w, st, r, limits) {
			obs.done(r.Context(), r, st, start)
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()), "request_id", st.id[0])
				if st.status == 0 {
					st.status = http.StatusInternalServerError // for obs: w is the real writer
					writeProblem(w, problemFor(fmt.Errorf("panic: %v", v)))
				}
			}
			obs.done(r.Context(), r, st, start)
		}()
		// The state travels as the ResponseWriter: handlers that need it
		// from a context (Huma's, POST /token) get it there via withState,
		// and the fast routes skip the context and request copies.
		next.ServeHTTP(st, r)
	})
}

// withState returns r with the request's state in its context, for
// handlers that only see a context: every Huma operation (fastAdapter
// does this) and plain handlers that call requestMeta or principal.
func withState(w http.ResponseWriter, r *http.Request) *http.Request {
	st, ok := w.(*reqState)
	if !ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), requestKey, st))
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		noStoreCookies(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		noStoreCookies(w.Header())
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// noStoreCookies marks an answer that sets cookies (the cookie mode's
// tokens, or their removal) Cache-Control: no-store, so no cache keeps or
// replays it; answers with a token in the body say so themselves.
func noStoreCookies(h http.Header) {
	if _, ok := h["Set-Cookie"]; ok {
		if _, set := h["Cache-Control"]; !set {
			h["Cache-Control"] = []string{"no-store"}
		}
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
