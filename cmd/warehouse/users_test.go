package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
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
			err := run(context.Background(), all, strings.NewReader(stdin), &out, logcheck.Writer(t), noEnv)
			return out.String(), err
		}
		if _, err := cli("boss-password\n", "create", "boss", "--role", "admin", "--password-stdin"); err != nil {
			t.Fatal(err)
		}
		base, _, _ := startServe(t, []string{"--database-url", dbURL, "--data", t.TempDir(), "--sync-interval", "1h", "--login-max-failures", "3"}, noEnv)
		login := func(user, pw string) int {
			code, _ := call(t, "POST", base+"/login", loginBody(user, pw), "")
			return code
		}
		if out, err := cli("sam-password\n", "create", "sam", "--role", "clerk", "--password-stdin"); err != nil {
			t.Fatal(err, out)
		}
		// A user the CLI just created logs in and uses the token.
		var samToken string
		runSteps(t, base,
			step{method: "POST", path: "/login", body: loginBody("sam", "sam-password"), status: 200, then: saveToken(&samToken)},
			step{method: "GET", path: "/user", token: &samToken, status: 200},
		)
		lock := func() {
			t.Helper()
			for range 3 {
				if code := login("sam", "wrong-guess"); code != 401 {
					t.Fatalf("wrong password: %d", code)
				}
			}
			if code := login("sam", "sam-password"); code != 429 {
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
		var bossToken string
		runSteps(t, base,
			step{method: "POST", path: "/login", body: loginBody("sam", "sam-password"), status: 200}, // after unlock
			step{method: "POST", path: "/login", body: loginBody("boss", "boss-password"), status: 200, then: saveToken(&bossToken)},
			step{method: "GET", path: "/api/v1/audit-events?entity=user&entity_id=sam", token: &bossToken, status: 200,
				then: func(t *testing.T, body []byte) {
					if !strings.Contains(strings.Join(decode[auditPage](t, body).actions(), ","), "unlock") {
						t.Errorf("audit of the unlock: %s", body)
					}
				}},
		)

		lock()
		if out, err := cli("reset-password\n", "set-password", "sam", "--password-stdin"); err != nil {
			t.Fatal(err, out)
		}
		runSteps(t, base, step{method: "POST", path: "/login", body: loginBody("sam", "reset-password"), status: 200}) // after set-password
	})
}
