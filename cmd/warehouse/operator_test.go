package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// runBinary runs this test binary as the real warehouse command (see
// TestMain) in dir, with env added, and returns what it printed and its
// exit code.
func runBinary(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), runMainEnv+"=1"), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logcheck.Tee(t, &errOut)
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestFirstStartOnBusyPort: a first start that cannot bind creates nothing,
// so the next start still creates the admin and writes its password
// (before, the password was printed by the failed start and never again).
func TestFirstStartOnBusyPort(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	var logs bytes.Buffer
	args := append([]string{"serve", "--data", dir, "--addr", busy.Addr().String(), "--log-format", "text"}, fastHash...)
	err = run(context.Background(), args, nil, io.Discard, logcheck.Tee(t, &logs), noEnv)
	if err == nil {
		t.Fatal("serve started on a busy port")
	}
	for _, want := range []string{"--addr", "WAREHOUSE_ADDR", busy.Addr().String(), "address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("bind error %q lacks %q", err, want)
		}
	}
	if strings.Contains(logs.String(), "created user") {
		t.Errorf("the failed start created users:\n%s", logs.String())
	}

	base, logs2, _ := startServe(t, []string{"--data", dir}, noEnv)
	m := regexp.MustCompile(`file=(\S+)`).FindStringSubmatch(logs2.String())
	if m == nil || !strings.Contains(logs2.String(), "warehouse users set-password admin") {
		t.Fatalf("the next start did not name the admin password's file and how to reset it:\n%s", logs2)
	}
	// The admin logs in with the password in that file (never in the log).
	pw, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, base, step{method: "POST", path: "/login", body: loginBody("admin", strings.TrimSpace(string(pw))), status: 200})
}

// TestBindErrors: a listen address that cannot work says which setting
// to change and how.
func TestBindErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"bare port", []string{"--addr", "8000"}, nil, []string{"--addr 8000", "WAREHOUSE_ADDR", `did you mean :8000`}},
		{"bare port from env", nil, map[string]string{"WAREHOUSE_ADDR": "8000"}, []string{"WAREHOUSE_ADDR", ":8000"}},
		{"no port", []string{"--addr", "localhost"}, nil, []string{`--addr "localhost"`, "HOST:PORT"}},
		{"bare port, print-config", []string{"--addr", "8000", "--print-config"}, nil, []string{"did you mean :8000"}},
		{"pprof bare port", []string{"--addr", "127.0.0.1:0", "--pprof-addr", "6060"}, nil, []string{"--pprof-addr", "6060"}},
		{"metrics bare port", nil, map[string]string{"WAREHOUSE_METRICS_ADDR": "9100"}, []string{"--metrics-addr 9100", "WAREHOUSE_METRICS_ADDR", "did you mean :9100"}},
		{"access log mode", []string{"--access-log", "all"}, nil, []string{`--access-log must be on, off or errors, not "all"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"serve", "--data", t.TempDir()}, tt.args...)
			err := run(context.Background(), args, nil, io.Discard, logcheck.Writer(t), func(k string) string { return tt.env[k] })
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: lacks %q", err, w)
				}
			}
		})
	}
}

// TestDatabaseLocationErrors: a database that cannot be where it is asked
// to be is an error that names the path and the reason, and nothing is
// created in its place.
func TestDatabaseLocationErrors(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	file := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	asDir := filepath.Join(tmp, "dir.db")
	if err := os.Mkdir(asDir, 0o700); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing", "dir")
	// urlOnly: the mistake is in the URL itself, so --print-config (which
	// checks settings without touching the disk) refuses it too.
	tests := []struct {
		name    string
		args    []string
		want    []string
		urlOnly bool
	}{
		{"sqlite: without a path", []string{"--database-url", "sqlite:"}, []string{"sqlite:", "names no file"}, true},
		{"sqlite:// without a path", []string{"--database-url", "sqlite://"}, []string{"names no file"}, true},
		{"missing directory", []string{"--database-url", "sqlite:" + filepath.Join(missing, "x.db")}, []string{missing, "does not exist"}, false},
		{"--data under a file", []string{"--data", filepath.Join(file, "data")}, []string{file, "not a directory"}, false},
		{"database is a directory", []string{"--database-url", "sqlite:" + asDir}, []string{asDir, "is a directory"}, false},
		{"unknown scheme", []string{"--database-url", "mysql://db/wh"}, []string{"unsupported database URL", "sqlite:PATH"}, true},
		{"keyword string", []string{"--database-url", "host=db dbname=wh"}, []string{"keyword/value", "postgres://"}, true},
	}
	for _, tt := range tests {
		cmds := [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"migrate"}, {"users", "list"}}
		if tt.urlOnly {
			cmds = append(cmds, []string{"serve", "--print-config"})
		}
		for _, cmd := range cmds {
			t.Run(tt.name+" "+strings.Join(cmd, " "), func(t *testing.T) {
				t.Parallel()
				args := append(append(append([]string{}, cmd...), tt.args...), fastHash...)
				err := run(context.Background(), args, nil, io.Discard, logcheck.Writer(t), noEnv)
				if err == nil {
					t.Fatal("accepted")
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%v: lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "(14)") {
					t.Errorf("SQLite's own message: %v", err)
				}
			})
		}
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing directory was created: %v", err)
	}
}

// TestUnwritableData: a --data the server may not write to is an error
// that names the directory and says "permission denied". Root may write
// anywhere, so as root the command runs as the user nobody.
func TestUnwritableData(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	// Readable and searchable by everyone, writable by its owner only.
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	existing := filepath.Join(tmp, "existing")
	fresh := filepath.Join(tmp, "ro", "data")
	for _, d := range []string{existing, filepath.Dir(fresh)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var cred *syscall.Credential
	bin, _ := os.Executable()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			// Debian has nobody; a machine without it cannot show the
			// message a real unprivileged user gets. CI must not pass by skipping.
			if os.Getenv("CI") == "true" {
				t.Fatalf("running as root without a user nobody: %v", err)
			}
			t.Skipf("running as root without a user nobody: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// nobody must be able to run the binary: a copy in tmp.
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(tmp, "warehouse")
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		for _, d := range []string{existing, filepath.Dir(fresh)} {
			if err := os.Chmod(d, 0o555); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name, data string
		want       []string
	}{
		{"existing directory", existing, []string{existing, "permission denied"}},
		{"directory to create", fresh, []string{fresh, "permission denied"}},
	}
	for _, tt := range tests {
		for _, cmd := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"migrate"}} {
			t.Run(tt.name+" "+cmd[0], func(t *testing.T) {
				t.Parallel()
				c := exec.Command(bin, append(append(cmd, "--data", tt.data), fastHash...)...)
				c.Dir = tmp
				c.Env = append(os.Environ(), runMainEnv+"=1", "HOME="+tmp)
				c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
				out, err := c.CombinedOutput()
				_, _ = logcheck.Writer(t).Write(out)
				if err == nil {
					t.Fatalf("accepted:\n%s", out)
				}
				for _, w := range tt.want {
					if !strings.Contains(string(out), w) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
				if strings.Contains(string(out), "(14)") {
					t.Errorf("SQLite's own message:\n%s", out)
				}
			})
		}
	}
}

// TestBadValues: a value that does not parse, from a flag, the environment
// or .env, is one line naming the setting, the value and an example; an
// unknown flag is one line that points to --help, for every command. The
// usage is not printed: that is for --help.
func TestBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		env    []string
		dotenv string
		want   []string
	}{
		{"duration flag", []string{"serve", "--access-ttl", "15"}, nil, "", []string{`--access-ttl "15"`, "15m", "720h"}},
		{"duration env", []string{"serve"}, []string{"WAREHOUSE_REFRESH_TTL=30 days"}, "", []string{`WAREHOUSE_REFRESH_TTL="30 days"`, "720h"}},
		{"duration .env", []string{"serve"}, nil, "WAREHOUSE_LOGIN_LOCKOUT=5 minutes\n", []string{`WAREHOUSE_LOGIN_LOCKOUT="5 minutes"`, ".env", "15m"}},
		{"bool flag", []string{"serve", "--cookie-secure=yes"}, nil, "", []string{`--cookie-secure "yes"`, "true or false"}},
		{"bool env", []string{"serve"}, []string{"WAREHOUSE_DEMO=on"}, "", []string{`WAREHOUSE_DEMO="on"`, "true or false"}},
		{"number flag", []string{"migrate", "--db-max-conns", "many"}, nil, "", []string{`--db-max-conns "many"`, "whole number"}},
		{"unknown flag serve", []string{"serve", "--no-such-flag"}, nil, "", []string{"no-such-flag", "see `warehouse serve --help`"}},
		{"unknown flag migrate", []string{"migrate", "--no-such-flag"}, nil, "", []string{"see `warehouse migrate --help`"}},
		{"unknown flag users", []string{"users", "list", "--no-such-flag"}, nil, "", []string{"see `warehouse users list --help`"}},
		{"unknown flag keys", []string{"keys", "list", "--no-such-flag"}, nil, "", []string{"see `warehouse keys list --help`"}},
		{"flag without value", []string{"serve", "--addr"}, nil, "", []string{"needs an argument", "see `warehouse serve --help`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.dotenv != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.dotenv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := append(tt.args, "--data", filepath.Join(dir, "data"))
			if tt.name == "flag without value" {
				args = tt.args
			}
			_, stderr, code := runBinary(t, dir, tt.env, args...)
			if code == 0 {
				t.Fatalf("accepted:\n%s", stderr)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n > 0 {
				t.Errorf("%d lines, want one:\n%s", n+1, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("lacks %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Error("a bad setting created the data directory")
			}
		})
	}
}

// TestHelpAndMessages: --help exits 0 with the usage; errors read as
// sentences, without the domain's machine codes; --print-config refuses
// what serve would refuse.
func TestHelpAndMessages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		code       int
		want, deny []string
	}{
		{"users --help", []string{"users", "--help"}, 0, []string{"warehouse users create USERNAME"}, nil},
		{"users help", []string{"users", "help"}, 0, []string{"warehouse users set-password"}, nil},
		{"users create --help", []string{"users", "create", "--help"}, 0, []string{"warehouse users create USERNAME", "-password-stdin"}, nil},
		{"serve --help", []string{"serve", "--help"}, 0, []string{"-access-ttl duration"}, nil},
		{"migrate -h", []string{"migrate", "-h"}, 0, []string{"-database-url"}, nil},
		{"help", []string{"help"}, 0, []string{"warehouse serve [flags]"}, nil},
		{"not found", []string{"users", "set-roles", "nobody", "viewer", "--data", dir}, 2, []string{"warehouse: ", "nobody"}, []string{"not_found:"}},
		{"invalid username", []string{"users", "create", "bad name", "--data", dir}, 2, []string{"username may contain only"}, []string{"invalid:"}},
		{"invalid role", []string{"users", "set-roles", "admin", "emperor", "--data", dir}, 2, []string{"unknown role"}, []string{"invalid:"}},
		{"print-config bad algorithm", []string{"serve", "--print-config", "--jwt-algorithm", "none"}, 2, []string{"not supported"}, []string{"addr  "}},
		{"print-config bad samesite", []string{"serve", "--print-config", "--cookie-samesite", "sometimes"}, 2, []string{"--cookie-samesite"}, []string{"addr  "}},
		{"print-config ttl", []string{"serve", "--print-config", "--refresh-ttl", "1m"}, 2, []string{"--refresh-ttl"}, []string{"addr  "}},
		{"print-config bad url", []string{"serve", "--print-config", "--database-url", "postgres://app:top secret@db/wh"}, 2, []string{"invalid PostgreSQL URL"}, []string{"top secret", "addr  "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, dir, nil, append(tt.args, fastHash...)...)
			all := stdout + stderr
			if code != tt.code {
				t.Errorf("exit code %d, want %d:\n%s", code, tt.code, all)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("lacks %q:\n%s", w, all)
				}
			}
			for _, d := range tt.deny {
				if strings.Contains(all, d) {
					t.Errorf("shows %q:\n%s", d, all)
				}
			}
		})
	}
}
