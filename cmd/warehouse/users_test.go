package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestUsersCommandWhileServing runs `warehouse users` against the database
// of a running server, on both engines, with a sync interval far longer
// than the test: a user the CLI creates can log in and use the token at
// once, and the CLI ends a login lockout with `users unlock` or
// `users set-password`.
func TestUsersCommandWhileServing(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		dbURL := pgtest.URL(t, engine)
		cli := func(stdin string, args ...string) (string, error) {
			var out bytes.Buffer
			all := append(append([]string{"users"}, args...), append([]string{"--database-url", dbURL}, fastHash...)...)
			err := run(context.Background(), all, strings.NewReader(stdin), &out, io.Discard, noEnv)
			return out.String(), err
		}
		if _, err := cli("boss-password\n", "create", "boss", "--role", "admin", "--password-stdin"); err != nil {
			t.Fatal(err)
		}
		base, _, _ := startServe(t, []string{"--database-url", dbURL, "--sync-interval", "1h", "--login-max-failures", "3"}, noEnv)
		login := func(user, pw string) (int, map[string]any) {
			return call(t, "POST", base+"/login", `{"username":"`+user+`","password":"`+pw+`"}`, "")
		}
		if out, err := cli("sam-password\n", "create", "sam", "--role", "clerk", "--password-stdin"); err != nil {
			t.Fatal(err, out)
		}
		code, body := login("sam", "sam-password")
		if code != 200 {
			t.Fatalf("login of a user the CLI just created: %d %v", code, body)
		}
		if code, body := call(t, "GET", base+"/user", "", body["access_token"].(string)); code != 200 {
			t.Fatalf("GET /user with that token: %d %v", code, body)
		}
		lock := func() {
			t.Helper()
			for range 3 {
				if code, _ := login("sam", "wrong-guess"); code != 401 {
					t.Fatalf("wrong password: %d", code)
				}
			}
			if code, _ := login("sam", "sam-password"); code != 429 {
				t.Fatalf("locked out: %d", code)
			}
		}
		lock()
		steps := []struct {
			args    []string
			want    string
			wantErr string
		}{
			{[]string{"unlock", "sam"}, "user sam unlocked", ""},
			{[]string{"unlock", "sam"}, "user sam was not locked out", ""},
			{[]string{"unlock", "nobody"}, "", "not found"},
			{[]string{"unlock"}, "", "expected 1 argument"},
		}
		for _, s := range steps {
			out, err := cli("", s.args...)
			if s.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), s.wantErr) {
					t.Errorf("users %v: err = %v, want %q", s.args, err, s.wantErr)
				}
				continue
			}
			if err != nil || !strings.Contains(out, s.want) {
				t.Errorf("users %v: %v, output %q, want %q", s.args, err, out, s.want)
			}
		}
		if code, body := login("sam", "sam-password"); code != 200 {
			t.Fatalf("login after unlock: %d %v", code, body)
		}
		code, body = login("boss", "boss-password")
		if code != 200 {
			t.Fatal(code, body)
		}
		if code, body := call(t, "GET", base+"/api/v1/audit-events?entity=user&entity_id=sam", "", body["access_token"].(string)); code != 200 ||
			!strings.Contains(strings.Join(actions(body), ","), "unlock") {
			t.Errorf("audit of the unlock: %d %v", code, body)
		}

		lock()
		if out, err := cli("reset-password\n", "set-password", "sam", "--password-stdin"); err != nil {
			t.Fatal(err, out)
		}
		if code, body := login("sam", "reset-password"); code != 200 {
			t.Fatalf("login after set-password: %d %v", code, body)
		}
	})
}

func actions(page map[string]any) []string {
	items, _ := page["items"].([]any)
	var out []string
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			a, _ := m["action"].(string)
			out = append(out, a)
		}
	}
	return out
}
