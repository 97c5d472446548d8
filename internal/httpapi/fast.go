package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/warehouse-api/warehouse/auth"
)

// The hottest routes, GET /welcome and GET /user, are answered without
// Huma's per-request machinery (context, reflection over the input and
// output types, content negotiation, transformers): profiled under load it
// was most of the handler's CPU. They are still registered with Huma, so
// the OpenAPI document is the one Huma generates, and every request the
// fast path does not cover exactly (an Accept other than JSON, a token in
// a cookie) is handed to the Huma handler, so the answers do not change.

// fastAdapter is the humago adapter (embedded for serving), except that
// the operations named in fast get a plain net/http handler in front of
// Huma's.
type fastAdapter struct {
	huma.Adapter
	mux  *http.ServeMux
	fast map[string]func(slow http.Handler) http.Handler // by OperationID
	// installed holds the OperationIDs of fast that Handle has seen.
	installed map[string]bool
	// patterns are the mux patterns Handle registered (the route table's
	// Huma routes and Huma's own, the document), for the edge's metrics.
	patterns []string
	// onHuma, when set (by tests only), is told the OperationID of every
	// request that Huma's handler serves, so a test can tell which path
	// answered.
	onHuma func(opID string)
}

// Handle registers op as humago does, with the request state in the
// context of Huma's handler (see withState).
func (a *fastAdapter) Handle(op *huma.Operation, handler func(huma.Context)) {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.onHuma != nil {
			a.onHuma(op.OperationID)
		}
		handler(humago.NewContext(op, withState(w, r), w))
	})
	if mk, ok := a.fast[op.OperationID]; ok {
		h = mk(h)
		if a.installed == nil {
			a.installed = make(map[string]bool, len(a.fast))
		}
		a.installed[op.OperationID] = true
	}
	a.mux.Handle(humaPattern(op), h)
	a.patterns = append(a.patterns, humaPattern(op))
}

// humaPattern is the mux pattern of a Huma operation.
func humaPattern(op *huma.Operation) string { return strings.ToUpper(op.Method) + " " + op.Path }

// checkFast returns an error naming every fast path whose operation was
// never registered, once all routes are.
func (a *fastAdapter) checkFast() error {
	var missing []string
	for id := range a.fast {
		if !a.installed[id] {
			missing = append(missing, strconv.Quote(id))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("httpapi: fast path for operation %s, which is not registered", strings.Join(missing, ", "))
}

// plainJSON reports whether Huma would answer r in its default format,
// JSON: no Accept header, or one asking for exactly that or anything.
func plainJSON(r *http.Request) bool {
	accept := r.Header["Accept"]
	if len(accept) == 0 {
		return true
	}
	return len(accept) == 1 && (accept[0] == "application/json" || accept[0] == "*/*")
}

// writeBody writes v as Huma's JSON format does (no HTML escaping).
func (s *Server) writeBody(w http.ResponseWriter, v any) {
	w.Header()["Content-Type"] = s.fixed.json
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (s *Server) fastWelcome(slow http.Handler) http.Handler {
	// The answer never changes: encode it once, as Huma would.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(MessageBody{"Welcome to the Warehouse Management API"})
	body := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !plainJSON(r) {
			slow.ServeHTTP(w, r)
			return
		}
		w.Header()["Content-Type"] = s.fixed.json
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

func (s *Server) fastUser(slow http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := w.(*reqState)
		authz := r.Header["Authorization"]
		if st == nil || len(authz) != 1 || authz[0] == "" || !plainJSON(r) {
			// Cookie tokens, repeated headers and other formats: Huma's path.
			slow.ServeHTTP(w, r)
			return
		}
		p := new(Principal)
		if prob := s.authenticate(p, credentials{authorization: authz[0], method: r.Method, r: r}, auth.TypeAccess, false); prob != nil {
			writeProblem(w, prob)
			return
		}
		st.auth = p
		if body, ok := appendUserBody(make([]byte, 0, 128), p.Claims.Subject, p.Roles); ok {
			w.Header()["Content-Type"] = s.fixed.json
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
			return
		}
		s.writeBody(w, UserBody{User: p.Claims.Subject, Roles: p.Roles})
	})
}

// appendUserBody writes UserBody as encoding/json would, without its
// reflection, when every string is printable ASCII without '"' or '\\'
// (usernames and role names are); ok is false otherwise, and for nil
// roles, which the caller then encodes the general way.
func appendUserBody(b []byte, user string, roles []string) ([]byte, bool) {
	if roles == nil || !plainASCII(user) {
		return nil, false
	}
	b = append(b, `{"user":"`...)
	b = append(b, user...)
	b = append(b, `","roles":[`...)
	for i, r := range roles {
		if !plainASCII(r) {
			return nil, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, r...)
		b = append(b, '"')
	}
	return append(b, "]}\n"...), true
}

// plainASCII reports whether s needs no escaping in a JSON string.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
