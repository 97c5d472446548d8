package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/session"
)

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSecurityEvents: each use case of the service records its security
// event in the database with the caller's origin (the Client, or the
// context's for the methods that take none), and it is logged once, at
// info, with kind, actor, subject, ip and request_id; a change that fails
// records and logs nothing; neither the trail nor the log holds a
// password or a token.
func TestSecurityEvents(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		var logs syncBuffer
		log := slog.New(slog.NewJSONHandler(logcheck.Tee(t, &logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
		e := newEnvLog(t, engine, session.Config{Throttle: session.Throttle{MaxFailures: 2, Lockout: time.Minute}}, log)
		bg := context.Background()
		client := func(id string) session.Client {
			return session.Client{IP: "198.51.100.1", UserAgent: "agent/" + id, RequestID: id}
		}
		with := func(id string) context.Context { return session.NewContext(bg, client(id)) }

		pair, err := e.svc.Login(bg, "alice", "right-password", client("r1"))
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range []string{"r2", "r3"} {
			if _, err := e.svc.Login(bg, "alice", "wrong-password-"+id, client(id)); warehouse.ErrorCode(err) != warehouse.EBADCREDENTIALS {
				t.Fatalf("failure %d: %v", i, err)
			}
		}
		if _, err := e.svc.Login(bg, "alice", "right-password", client("r4")); warehouse.ErrorCode(err) != warehouse.ELOGINTHROTTLED {
			t.Fatalf("throttled: %v", err)
		}
		if _, err := e.svc.Unlock(with("r5"), "alice", "admin"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Revoke(with("r6"), e.claims(pair.Access)); err != nil {
			t.Fatal(err)
		}
		// Another user's session is not found: nothing is recorded.
		if err := e.svc.EndSession(with("r-none"), "gone", e.claims(pair.Access).SessionID); warehouse.ErrorCode(err) != warehouse.ENOTFOUND {
			t.Fatalf("end another user's session: %v", err)
		}
		if err := e.svc.Logout(with("r7"), "alice", "", warehouse.ScopeGlobal); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateUser(with("r8"), "gone", warehouse.AnyVersion, warehouse.UserUpdate{Roles: []string{"clerk"}}, "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CreateUser(bg, session.NewUser{Username: "carol", Password: "carol-password", Roles: []string{"viewer"}, Active: true}, "cli"); err != nil {
			t.Fatal(err)
		}

		want := []struct{ kind, actor, entity, entityID, requestID string }{
			{warehouse.KindLoginSucceeded, "alice", "user", "alice", "r1"},
			{warehouse.KindLoginFailed, "alice", "user", "alice", "r2"},
			{warehouse.KindLoginFailed, "alice", "user", "alice", "r3"},
			{warehouse.KindAccountLocked, "alice", "user", "alice", "r3"},
			{warehouse.KindLoginThrottled, "alice", "user", "alice", "r4"},
			{warehouse.KindAccountUnlocked, "admin", "user", "alice", "r5"},
			{warehouse.KindTokenRevoked, "alice", "user", "alice", "r6"},
			{warehouse.KindLogout, "alice", "user", "alice", "r7"},
			{warehouse.KindRoleChanged, "admin", "user", "gone", "r8"},
			{warehouse.KindUserCreated, "cli", "user", "carol", ""},
		}
		evs, _, err := e.db.ListAuditEvents(bg, warehouse.AuditFilter{Kinds: warehouse.SecurityKinds}, warehouse.Page{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		// The users the test env seeded are the oldest: skip them.
		var got []*warehouse.AuditEvent
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Kind == warehouse.KindUserCreated && evs[i].EntityID != "carol" {
				continue
			}
			got = append(got, evs[i])
		}
		if len(got) != len(want) {
			t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
		}
		for i, w := range want {
			g := got[i]
			ip, ua := "198.51.100.1", "agent/"+w.requestID
			if w.requestID == "" {
				ip, ua = "", ""
			}
			if g.Kind != w.kind || g.Actor != w.actor || g.Entity != w.entity || g.EntityID != w.entityID ||
				g.RequestID != w.requestID || g.IP != ip || g.UserAgent != ua {
				t.Errorf("event %d: %+v, want %+v", i, g, w)
			}
		}
		if d := string(got[7].Detail); !strings.Contains(d, `"scope":"global"`) || !strings.Contains(d, pairSID(e, pair)) {
			t.Errorf("logout detail %s: want the scope and the session ended", d)
		}

		// One log line per event, with the attributes an operator greps.
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			if m["msg"] == "security event" {
				lines = append(lines, m)
			}
		}
		logged := lines[len(lines)-len(want):]
		if len(lines) != len(want)+2 { // + the two users the env seeded
			t.Errorf("%d security event log lines, want %d", len(lines), len(want)+2)
		}
		for i, w := range want {
			l := logged[i]
			if l["level"] != "INFO" || l["kind"] != w.kind || l["actor"] != w.actor || l["subject"] != w.entityID || l["request_id"] != w.requestID {
				t.Errorf("log line %d: %v, want %+v", i, l, w)
			}
			if _, ok := l["ip"]; !ok {
				t.Errorf("log line %d without ip: %v", i, l)
			}
		}
		for _, secret := range []string{"right-password", "wrong-password-r2", "wrong-password-r3", "carol-password", pair.Access, pair.Refresh,
			e.claims(pair.Access).ID, e.claims(pair.Refresh).ID} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds a secret (%.6s...)", secret)
			}
			for _, ev := range got {
				b, _ := json.Marshal(ev)
				if strings.Contains(string(b), secret) {
					t.Errorf("event %s holds a secret (%.6s...)", ev.Kind, secret)
				}
			}
		}
	})
}

func pairSID(e *env, p session.Pair) string { return e.claims(p.Access).SessionID }
