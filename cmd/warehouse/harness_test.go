package main

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The answers the tests look into, with only the fields they check: a
// decoded answer compared with go-cmp checks exactly these.

// tokenResponse is the answer of /login.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
}

// problem is an error answer (problem+json).
type problem struct {
	Detail string `json:"detail"`
}

// userResponse is the answer of GET /user.
type userResponse struct {
	User string `json:"user"`
}

// created is the answer of a POST that created a resource.
type created struct {
	ID int64 `json:"id"`
}

// auditPage is a page of GET /api/v1/audit-events.
type auditPage struct {
	Items []struct {
		Action string `json:"action"`
	} `json:"items"`
}

// actions are the page's actions, in order.
func (p auditPage) actions() []string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.Action)
	}
	return out
}

// discovery is an OpenID Connect or OAuth2 server metadata document.
type discovery struct {
	Issuer             string `json:"issuer"`
	JWKSURI            string `json:"jwks_uri"`
	RevocationEndpoint string `json:"revocation_endpoint"`
}

// call makes one request of a server started by startServe and returns
// the status and the body. body, if not empty, is sent as JSON; token, if
// not empty, as a bearer token.
func call(t *testing.T, method, url, body, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// decode decodes a JSON answer into a T, failing the test if it is not one.
func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode the answer as %T: %v: %s", v, err, b)
	}
	return v
}

// accessToken decodes a /login answer and returns its access token.
func accessToken(t *testing.T, b []byte) string {
	t.Helper()
	tok := decode[tokenResponse](t, b).AccessToken
	if tok == "" {
		t.Fatalf("login answer without an access token: %s", b)
	}
	return tok
}

// step is one request of a scenario against a running server and the
// answer it must get. A scenario is a sequence of them: later steps use
// what earlier ones saved (a token).
type step struct {
	method, path string
	// body is sent as is, as JSON ("" for none).
	body string
	// token points at the bearer token (nil or "" for none): a pointer,
	// because an earlier step of the scenario usually saves it.
	token  *string
	status int
	// want, if set, is the expected answer: the body is decoded into a
	// new value of want's type and compared with go-cmp, so exactly the
	// fields the type has are checked.
	want any
	// then, if set, is handed the answer once the step passed: it saves
	// what later steps need (saveToken), or looks at the answer further.
	then func(t *testing.T, body []byte)
}

// runSteps runs the steps in order against the server at base. A wrong
// status ends the test (the steps after it depend on it); a wrong answer
// is reported and the scenario goes on.
func runSteps(t *testing.T, base string, steps ...step) {
	t.Helper()
	for i, s := range steps {
		var token string
		if s.token != nil {
			token = *s.token
		}
		code, body := call(t, s.method, base+s.path, s.body, token)
		if code != s.status {
			t.Fatalf("step %d, %s %s: status %d, want %d: %s", i+1, s.method, s.path, code, s.status, body)
		}
		if s.want != nil {
			got := decodeLike(t, s.want, body)
			if diff := cmp.Diff(s.want, got); diff != "" {
				t.Errorf("step %d, %s %s: answer (-want +got):\n%s", i+1, s.method, s.path, diff)
			}
		}
		if s.then != nil {
			s.then(t, body)
		}
	}
}

// decodeLike decodes b into a new value of want's type.
func decodeLike(t *testing.T, want any, b []byte) any {
	t.Helper()
	v := reflect.New(reflect.TypeOf(want))
	if err := json.Unmarshal(b, v.Interface()); err != nil {
		t.Fatalf("decode the answer as %T: %v: %s", want, err, b)
	}
	return v.Elem().Interface()
}

// saveToken saves the access token of a /login answer into *dst.
func saveToken(dst *string) func(*testing.T, []byte) {
	return func(t *testing.T, b []byte) {
		t.Helper()
		*dst = accessToken(t, b)
	}
}

// loginBody is the JSON body of a /login request, byte for byte as the
// tests wrote it by hand.
func loginBody(user, password string) string {
	return `{"username":"` + user + `","password":"` + password + `"}`
}

// The requests the scale-out tests send, typed so that a misspelt field
// fails to compile rather than being ignored by the server.

type newLocation struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

type newItem struct {
	SKU  string `json:"sku"`
	Name string `json:"name"`
	UOM  string `json:"uom"`
}

type newMovement struct {
	Type  string         `json:"type"`
	Lines []movementLine `json:"lines"`
}

type movementLine struct {
	ItemID         int64 `json:"item_id"`
	FromLocationID int64 `json:"from_location_id,omitempty"`
	ToLocationID   int64 `json:"to_location_id,omitempty"`
	Qty            int   `json:"qty"`
}

// receiptOf is a receipt of qty units of item into loc.
func receiptOf(item, loc int64, qty int) newMovement {
	return newMovement{Type: "receipt", Lines: []movementLine{{ItemID: item, ToLocationID: loc, Qty: qty}}}
}
