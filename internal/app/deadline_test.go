package app

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// runSlowHashApp runs an App on SQLite whose password hash takes slow for
// the password "slow-password" (as a login waits for a slot under a
// flood), with the server's read timeout readTimeout (0: the default).
func runSlowHashApp(t *testing.T, slow, readTimeout time.Duration) (*App, Config) {
	t.Helper()
	key := func(ctx context.Context, password, salt []byte, p auth.Params) ([]byte, error) {
		if string(password) == "slow-password" {
			select {
			case <-time.After(slow):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen), nil
	}
	cfg := testConfig(t, pgtest.SQLite)
	hasher := auth.NewHasher(auth.TestParams(), 4, auth.WithKeyFunc(key))
	a, err := Open(context.Background(), cfg, Deps{Log: logcheck.New(t), Hasher: hasher})
	if err != nil {
		t.Fatal(err)
	}
	a.readTimeout = readTimeout
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = a.Close()
	})
	return a, cfg
}

// keepAlive is one client connection that sends requests one after the
// other on it.
type keepAlive struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, a *App) *keepAlive {
	t.Helper()
	c, err := net.Dial("tcp", a.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // a guard against a hang
	return &keepAlive{t: t, c: c, br: bufio.NewReader(c)}
}

// post sends one POST on the connection and returns the answer's status
// and body.
func (k *keepAlive) post(path, contentType, body string) (int, string) {
	k.t.Helper()
	if _, err := io.WriteString(k.c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: "+contentType+"\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\n\r\n"+body); err != nil {
		k.t.Fatal(err)
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		k.t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestSlowLoginKeepsItsConnection: a login that waits longer than Huma's
// 5 s body read deadline for its hash (as under a login flood) is
// answered, not cut off 503 by the deadline canceling its context, and
// the keep-alive connection it came on still serves the next request
// (it answered 500 "context canceled" to every later request before).
func TestSlowLoginKeepsItsConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("a 6 s login")
	}
	t.Parallel()
	a, cfg := runSlowHashApp(t, 6*time.Second, 0) // past Huma's default BodyReadTimeout
	k := dialKeepAlive(t, a)
	if code, body := k.post("/login", "application/json", `{"username":"admin","password":"slow-password"}`); code != http.StatusUnauthorized || !strings.Contains(body, "bad_credentials") {
		t.Fatalf("the slow login: %d %s, want 401 bad_credentials", code, body)
	}
	if code, body := k.post("/login", "application/json", `{"username":"admin","password":"`+cfg.AdminPassword+`"}`); code != http.StatusOK {
		t.Fatalf("the next login on the same connection: %d %s, want 200", code, body)
	}
}

// TestSlowFormLoginsKeepTheirConnection: the form routes outside Huma that
// may wait for a hash, POST /token's password grant and the console's
// sign-in, are answered however long the wait, past the server's read
// timeout (shortened here to 1 s, 30 s in production), and their keep-alive
// connection serves the next request. (They read their body with net/http,
// whose ReadTimeout bounds the reading only; Huma's per-operation read
// deadline is what TestSlowLoginKeepsItsConnection guards against.)
func TestSlowFormLoginsKeepTheirConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("two 2 s logins")
	}
	t.Parallel()
	a, cfg := runSlowHashApp(t, 2*time.Second, time.Second)
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, path, slowBody, okBody string
		slowCode, okCode             int
	}{
		{"token", "/token", "grant_type=password&username=admin&password=slow-password",
			"grant_type=password&username=admin&password=" + cfg.AdminPassword, http.StatusBadRequest, http.StatusOK},
		{"console sign-in", "/signin", "username=admin&password=slow-password&next=%2Fstock",
			"username=admin&password=" + cfg.AdminPassword + "&next=%2Fstock", http.StatusUnauthorized, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := dialKeepAlive(t, a)
			if code, _ := k.post(tc.path, form, tc.slowBody); code != tc.slowCode {
				t.Fatalf("the slow login: %d, want %d", code, tc.slowCode)
			}
			if code, _ := k.post(tc.path, form, tc.okBody); code != tc.okCode {
				t.Fatalf("the next login on the same connection: %d, want %d", code, tc.okCode)
			}
		})
	}
}
