package app

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// accessLine is an access log line, as JSON.
type accessLine struct {
	Level     string  `json:"level"`
	Msg       string  `json:"msg"`
	Method    string  `json:"method"`
	Route     string  `json:"route"`
	Status    int     `json:"status"`
	Bytes     *int    `json:"bytes"`
	Duration  *int64  `json:"duration"`
	RequestID string  `json:"request_id"`
	User      *string `json:"user"`
}

// TestAccessLog runs the same requests under each --access-log mode and
// reads the JSON log: on, a line per request at info (a 5xx would be at
// error) with method, route template, status, bytes, duration, request id
// (the one the client got in X-Request-Id) and, when a token was checked,
// the user; errors, only the answers >= 400; off, none. No line holds a
// token, the password, a query string or a raw path. The requests do not
// touch the store's engine-specific parts: SQLite only.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	type want struct {
		Method, Route string
		Status        int
		User          *string
	}
	all := []want{
		{"POST", "/login", 200, nil},
		{"GET", "/user", 200, str("admin")},
		{"GET", "/user", 401, nil},
		{"GET", "unmatched", 404, nil},
		{"GET", "/api/v1/items/{id}", 404, str("admin")},
	}
	for _, tc := range []struct {
		mode string
		want []want
	}{
		{"on", all},
		{"errors", []want{all[2], all[3], all[4]}},
		{"off", nil},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			logs := &logBuffer{}
			cfg := testConfig(t, pgtest.SQLite)
			cfg.AccessLog = tc.mode
			r := startApp(t, cfg, slog.New(slog.NewJSONHandler(logcheck.Tee(t, logs), nil)))

			p := r.login("admin", "app-test-admin-password")
			var ids []string
			for _, q := range []struct {
				path, token string
				status      int
			}{
				{"/user", p.Access, 200},
				{"/user?access_token=" + p.Refresh, p.Refresh, 401}, // a refresh token where an access token belongs
				{"/no/such/" + p.Access + "?token=" + p.Access, "", 404},
				{"/api/v1/items/424242?x=" + p.Access, p.Access, 404},
			} {
				code, body, hdr := r.do("GET", q.path, "", q.token)
				if code != q.status {
					t.Fatalf("GET %.40s: %d, want %d: %s", q.path, code, q.status, body)
				}
				ids = append(ids, hdr.Get("X-Request-Id"))
			}
			// The edge writes the line before net/http flushes the answer.
			var got []want
			var gotIDs []string
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			for sc.Scan() {
				line := sc.Text()
				for _, secret := range []string{p.Access, p.Refresh, "app-test-admin-password"} {
					if strings.Contains(line, secret) {
						t.Errorf("log line holds a token or the password: %s", line)
					}
				}
				var l accessLine
				if err := json.Unmarshal([]byte(line), &l); err != nil {
					t.Fatalf("not JSON: %v: %s", err, line)
				}
				if l.Msg != "request" {
					continue
				}
				for _, raw := range []string{"?", "424242", "no/such"} {
					if strings.Contains(line, raw) {
						t.Errorf("access line holds a path or query (%q): %s", raw, line)
					}
				}
				if l.Level != "INFO" || l.Bytes == nil || l.Duration == nil || *l.Duration <= 0 || l.RequestID == "" {
					t.Errorf("access line without its fields: %s", line)
				}
				got = append(got, want{l.Method, l.Route, l.Status, l.User})
				if l.Route != "/login" {
					gotIDs = append(gotIDs, l.RequestID)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("access lines (-want +got):\n%s", diff)
			}
			if tc.mode == "on" && !cmp.Equal(ids, gotIDs) {
				t.Errorf("request ids %v, the clients got %v", gotIDs, ids)
			}
		})
	}
}

// TestAccessLogSetting: --access-log takes on, off or errors only.
func TestAccessLogSetting(t *testing.T) {
	t.Parallel()
	c := Defaults()
	if c.AccessLog != "on" {
		t.Errorf("default --access-log %q", c.AccessLog)
	}
	c.AccessLog = "verbose"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `--access-log must be on, off or errors, not "verbose" (WAREHOUSE_ACCESS_LOG)`) {
		t.Errorf("Validate: %v", err)
	}
}
