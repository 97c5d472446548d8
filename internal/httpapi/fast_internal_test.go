package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
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
