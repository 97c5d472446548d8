package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// commandsWithDB are every command that takes a database URL, as a user
// would run them.
var commandsWithDB = [][]string{
	{"serve", "--print-config"},
	{"serve", "--addr", "127.0.0.1:0"},
	{"migrate"},
	{"users", "list"},
	{"users", "create", "bob"},
	{"users", "set-password", "bob"},
	{"keys", "list"},
	{"keys", "rotate"},
	{"version"},
}

// TestSecretsNeverShown runs every command with a database password in
// each form PostgreSQL accepts (and a malformed URL), from the flag and
// from the environment, and looks for the password in everything the
// command says: stdout, stderr (the log) and the error main prints.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	const pw = "topsecret"
	unreachable := []string{
		"postgres://app:" + pw + "@127.0.0.1:1/wh?sslmode=disable",
		"postgres://app@127.0.0.1:1/wh?sslmode=disable&password=" + pw,
		"postgresql://127.0.0.1:1/wh?sslpassword=" + pw + "&password=" + pw,
		"host=127.0.0.1 port=1 user=app password=" + pw + " dbname=wh",
		"postgres://app:top secret@127.0.0.1:1/wh",
		"postgres://app:" + pw + "@127.0.0.1:1/wh?sslmode=nonsense",
	}
	var reachable []string
	if base := pgtest.Shared(t).NewDatabase(t); base != "" {
		reachable = []string{
			strings.Replace(base, "postgres@", "postgres:"+pw+"@", 1), // trust auth ignores it
			base + "&password=" + pw,
		}
	}
	check := func(t *testing.T, what string, texts ...string) {
		t.Helper()
		for _, s := range texts {
			for _, secret := range []string{pw, "top secret", "top%20secret"} {
				if strings.Contains(s, secret) {
					t.Errorf("%s shows the password:\n%s", what, s)
				}
			}
		}
	}
	for _, dsn := range append(unreachable, reachable...) {
		for _, args := range commandsWithDB {
			if args[0] == "serve" && args[1] == "--addr" && slices.Contains(reachable, dsn) {
				continue // a server that starts: its log is checked below
			}
			for _, viaEnv := range []bool{false, true} {
				name := strings.Join(args, " ") + " " + dsn
				if viaEnv {
					name += " (env)"
				}
				t.Run(name, func(t *testing.T) {
					all := append(append([]string{}, args...), fastHash...)
					getenv := noEnv
					if viaEnv {
						getenv = func(k string) string {
							if k == "WAREHOUSE_DATABASE_URL" {
								return dsn
							}
							return ""
						}
					} else {
						all = append(all, "--database-url", dsn)
					}
					if args[0] == "serve" && len(args) > 1 && args[1] == "--addr" {
						all = append(all, "--log-format", "text", "--hash-workers", "inline")
					}
					var out, errOut bytes.Buffer
					err := run(context.Background(), all, strings.NewReader(""), &out, logcheck.Tee(t, &errOut), getenv)
					check(t, "output", out.String(), errOut.String())
					if err != nil {
						check(t, "error", "warehouse: "+cliMessage(err))
					}
				})
			}
		}
	}
	// The server's startup log names the database it uses.
	for _, dsn := range reachable {
		_, logs, stop := startServe(t, []string{"--database-url", dsn, "--data", t.TempDir(), "--log-level", "debug"}, noEnv)
		stop()
		if !strings.Contains(logs.String(), "database=") {
			t.Errorf("startup log does not name the database:\n%s", logs)
		}
		check(t, "serve log", logs.String())
	}
}
