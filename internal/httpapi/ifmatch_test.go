package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestIfMatch: every route that takes If-Match compares it the same way
// (RFC 9110 section 13.1.1): only the current version's strong ETag or "*"
// matches; "v0", a weak tag, another version or a tag of another shape is
// 412; a header that is not an entity-tag list is a 400 naming If-Match.
func TestIfMatch(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newDomainTestServer(t, engine)
		a, m := e.tokens["admin"], e.tokens["manager"]
		n := 0
		// Each resource kind makes a fresh resource at version 1 and returns
		// its path, the token to change it with and a harmless patch.
		kinds := []struct {
			name   string
			create func() (path, token string, patch map[string]any)
		}{
			{"users", func() (string, string, map[string]any) {
				name := fmt.Sprintf("u%d", n)
				e.do("POST", "/api/v1/users", a, map[string]any{"username": name, "password": "long-enough", "roles": []string{"clerk"}}).must(201)
				return "/api/v1/users/" + name, a, map[string]any{"roles": []string{"viewer"}}
			}},
			{"items", func() (string, string, map[string]any) {
				id := e.do("POST", "/api/v1/items", m, map[string]any{"sku": fmt.Sprintf("SKU%d", n), "name": "x", "uom": "ea"}).must(201).id()
				return fmt.Sprintf("/api/v1/items/%d", id), m, map[string]any{"name": "y"}
			}},
			{"locations", func() (string, string, map[string]any) {
				id := e.do("POST", "/api/v1/locations", m, map[string]any{"code": fmt.Sprintf("L%d", n), "name": "x"}).must(201).id()
				return fmt.Sprintf("/api/v1/locations/%d", id), m, map[string]any{"name": "y"}
			}},
		}
		cases := []struct {
			header string
			ok     bool // matches (else want status)
			want   int
		}{
			{`"v1"`, true, 0},
			{`*`, true, 0},
			{` "v1" `, true, 0},
			{`"v7", "v1"`, true, 0},
			{`"v0"`, false, 412},
			{`"v2"`, false, 412},
			{`W/"v1"`, false, 412},
			{`W/"v1", "v0"`, false, 412},
			{`"abc"`, false, 412},
			{`""`, false, 412},
			{`"v01"`, false, 412},
			{`"v-1"`, false, 412},
			{`v1`, false, 400},
			{`"v1`, false, 400},
			{`"v1" "v2"`, false, 400},
			{`*, "v1"`, false, 400},
			{`w/"v1"`, false, 400},
			{`,`, false, 400},
		}
		for _, k := range kinds {
			for _, method := range []string{"PATCH", "DELETE"} {
				for _, tc := range cases {
					n++
					path, tok, patch := k.create()
					var body any
					okStatus := 204
					if method == "PATCH" {
						body, okStatus = patch, 200
					}
					r := e.do(method, path, tok, body, "If-Match", tc.header)
					want := tc.want
					if tc.ok {
						want = okStatus
					}
					if r.status != want {
						t.Errorf("%s %s If-Match: %s: %d, want %d: %s", method, k.name, tc.header, r.status, want, r.body)
						continue
					}
					switch want {
					case 412:
						if got := r.json()["code"]; got != "precondition_failed" {
							t.Errorf("%s %s If-Match: %s: code %v", method, k.name, tc.header, got)
						}
						// Nothing changed.
						if g := e.do("GET", path, tok, nil).must(200); g.header.Get("ETag") != `"v1"` {
							t.Errorf("%s %s If-Match: %s: changed anyway, ETag %s", method, k.name, tc.header, g.header.Get("ETag"))
						}
					case 400:
						j := r.json()
						errs, _ := j["errors"].([]any)
						fe, _ := func() (map[string]any, bool) {
							if len(errs) != 1 {
								return nil, false
							}
							m, ok := errs[0].(map[string]any)
							return m, ok
						}()
						if j["code"] != "bad_parameter" || fe["field"] != "If-Match" || fe["in"] != "header" {
							t.Errorf("%s %s If-Match: %s: %s", method, k.name, tc.header, r.body)
						}
					}
				}
			}
		}
	})
}
