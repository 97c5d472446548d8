package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

func newTableServer(t *testing.T) *Server {
	t.Helper()
	// The routes do not depend on the database: a server without one
	// registers them all (as `warehouse openapi` does).
	return New(Config{}, Deps{Log: logcheck.New(t)})
}

// The route table is the one place that registers: every operation of the
// document comes from its line (none is added elsewhere), under the line's
// method, path and id, and no pattern is listed twice.
func TestRouteTableListsEveryOperation(t *testing.T) {
	s := newTableServer(t)
	inTable := map[string]string{} // "METHOD /path" -> OperationID
	seen := map[string]bool{}
	for _, rt := range s.routeTable(http.NewServeMux()) {
		if seen[rt.pattern] {
			t.Errorf("%q is listed twice", rt.pattern)
		}
		seen[rt.pattern] = true
		if (rt.id == "") != (rt.doc == nil) {
			t.Errorf("%q: an operation id needs its documentation and the other way round (id %q)", rt.pattern, rt.id)
		}
		if rt.id == "" {
			continue
		}
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			t.Errorf("%q: a documented route needs a method", rt.pattern)
		}
		inTable[method+" "+strings.TrimSuffix(path, "{$}")] = rt.id
	}
	documented := map[string]string{}
	for path, item := range s.OpenAPI().Paths {
		for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put,
			http.MethodPatch: item.Patch, http.MethodDelete: item.Delete, http.MethodHead: item.Head, http.MethodOptions: item.Options} {
			if op != nil {
				documented[method+" "+path] = op.OperationID
			}
		}
	}
	for k, id := range documented {
		if inTable[k] != id {
			t.Errorf("the document has %s (%q); the table has %q", k, id, inTable[k])
		}
	}
	for k, id := range inTable {
		if _, ok := documented[k]; !ok {
			t.Errorf("the table has %s (%q); the document does not", k, id)
		}
	}
	if len(documented) < 50 {
		t.Errorf("only %d operations documented: the test is not looking at the real table", len(documented))
	}
}

// The fast paths are declared on their lines of the table and installed
// for those operations: GET /welcome and GET /user, no others.
func TestFastPathsOnTheirLines(t *testing.T) {
	s := newTableServer(t)
	var lines []string
	for _, rt := range s.routeTable(http.NewServeMux()) {
		if rt.serve.fast != nil {
			lines = append(lines, rt.pattern+" "+rt.id)
		}
	}
	if want := []string{"GET /welcome welcome", "GET /user user"}; !slices.Equal(lines, want) {
		t.Errorf("fast paths on %q, want %q", lines, want)
	}
	for _, id := range []string{"welcome", "user"} {
		if !s.adapter.installed[id] {
			t.Errorf("the fast path of %q is not installed", id)
		}
	}
}

// The operator's extra claims (--claims) are named, sorted, after the
// access token's own claims in the bearer scheme.
func TestBearerSchemeNamesExtraClaims(t *testing.T) {
	s := New(Config{ExtraClaims: map[string]any{"tenant": "acme", "region": "eu"}}, Deps{Log: logcheck.New(t)})
	desc := s.OpenAPI().Components.SecuritySchemes[schemeBearer].Description
	if want := "An access token's claims:" + claimsDoc() + "\n\nAccess tokens also carry the operator's claims: region, tenant."; !strings.HasSuffix(desc, want) {
		t.Errorf("bearer scheme: %q, want it to end %q", desc, want)
	}
	if plain := newTableServer(t).OpenAPI().Components.SecuritySchemes[schemeBearer].Description; strings.Contains(plain, "operator's claims") {
		t.Errorf("without --claims: %q", plain)
	}
}
