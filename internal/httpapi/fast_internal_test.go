package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// appendUserBody must write exactly what Huma's JSON encoder writes, or
// decline.
func TestAppendUserBodyMatchesEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		user  string
		roles []string
	}{
		{"joevu", []string{"admin"}},
		{"a.b-c_d", []string{"viewer", "clerk"}},
		{"alice", []string{}},
		{"alice", nil},
		{`q"uote`, []string{"admin"}},
		{"tab\there", []string{"admin"}},
		{"bob", []string{"<script>&"}},
		{"ünïcode", []string{"admin"}},
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(UserBody{User: tc.user, Roles: tc.roles}); err != nil {
			t.Fatal(err)
		}
		got, ok := appendUserBody(nil, tc.user, tc.roles)
		if ok && string(got) != want.String() {
			t.Errorf("%q %q: got %q, want %q", tc.user, tc.roles, got, want.String())
		}
		if !ok && tc.user == "joevu" {
			t.Errorf("the common case declined")
		}
	}
}

// checkFast must name each fast path whose operation was never
// registered: New panics on it rather than serve without the fast path.
func TestCheckFastNamesMissingOperations(t *testing.T) {
	noop := func(slow http.Handler) http.Handler { return slow }
	for _, tc := range []struct {
		name       string
		registered []string
		fast       []string
		wantErr    string
	}{
		{"all found", []string{"welcome", "user", "login"}, []string{"welcome", "user"}, ""},
		{"none asked", []string{"welcome"}, nil, ""},
		{"one renamed", []string{"welcome", "get-user"}, []string{"welcome", "user"}, `httpapi: fast path for operation "user", which is not registered`},
		{"both missing", nil, []string{"welcome", "user"}, `httpapi: fast path for operation "user", "welcome", which is not registered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			a := &fastAdapter{Adapter: humago.NewAdapter(mux, ""), mux: mux, fast: map[string]func(http.Handler) http.Handler{}}
			for _, id := range tc.fast {
				a.fast[id] = noop
			}
			api := huma.NewAPI(huma.DefaultConfig("test", "1"), a)
			for _, id := range tc.registered {
				huma.Register(api, huma.Operation{OperationID: id, Method: http.MethodGet, Path: "/" + id},
					func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })
			}
			err := a.checkFast()
			if got := fmt.Sprint(err); (tc.wantErr == "" && err != nil) || (tc.wantErr != "" && got != tc.wantErr) {
				t.Errorf("checkFast() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
