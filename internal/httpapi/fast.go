package httpapi

import (
	"encoding/json"
	"net/http"
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

// fastAdapter is the humago adapter, except that the operations named in
// fast get a plain net/http handler in front of Huma's.
type fastAdapter struct {
	huma.Adapter
	mux  *http.ServeMux
	fast map[string]func(slow http.Handler) http.Handler // by OperationID
}

func (a *fastAdapter) Handle(op *huma.Operation, handler func(huma.Context)) {
	mk, ok := a.fast[op.OperationID]
	if !ok {
		a.Adapter.Handle(op, handler)
		return
	}
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler(humago.NewContext(op, r, w))
	})
	a.mux.Handle(strings.ToUpper(op.Method)+" "+op.Path, mk(slow))
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
	body := MessageBody{"Welcome to the Warehouse Management API"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !plainJSON(r) {
			slow.ServeHTTP(w, r)
			return
		}
		s.writeBody(w, body)
	})
}

func (s *Server) fastUser(slow http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := r.Context().Value(requestKey).(*reqState)
		authz := r.Header["Authorization"]
		if st == nil || len(authz) != 1 || authz[0] == "" || !plainJSON(r) {
			// Cookie tokens, repeated headers and other formats: Huma's path.
			slow.ServeHTTP(w, r)
			return
		}
		p := &st.principal
		if prob := s.authenticate(p, credentials{authorization: authz[0], method: r.Method}, auth.TypeAccess, false); prob != nil {
			writeProblem(w, prob)
			return
		}
		st.auth = p
		s.writeBody(w, UserBody{User: p.Claims.Subject, Roles: p.Roles})
	})
}
