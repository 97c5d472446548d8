package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

// TestCLISecurityEvents: what `warehouse users` and `warehouse keys` do is
// in the audit trail as security events by the actor "cli", with no client
// address, User-Agent or request id (there is no request), on both
// engines; a generated or given password is in no event.
func TestCLISecurityEvents(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		dbURL := pgtest.URL(t, engine)
		var printed []string // everything the commands printed (generated passwords)
		cmd := func(stdin string, args ...string) {
			t.Helper()
			var out bytes.Buffer
			all := append(args, append([]string{"--database-url", dbURL}, fastHash...)...)
			if args[0] == "keys" {
				all = append(args, "--database-url", dbURL, "--key-publish-delay", "0s")
			}
			if err := run(context.Background(), all, strings.NewReader(stdin), &out, io.Discard, noEnv); err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			printed = append(printed, out.String())
		}
		cmd("cli-secret-pass-1\n", "users", "create", "ada", "--role", "clerk", "--password-stdin")
		cmd("", "users", "set-roles", "ada", "manager")
		cmd("", "users", "disable", "ada")
		cmd("", "users", "enable", "ada")
		cmd("", "users", "set-password", "ada") // a generated password, printed once
		cmd("", "keys", "rotate")
		cmd("", "keys", "rotate")

		db, err := store.Open(context.Background(), dbURL, "", store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		keys, err := db.SigningKeys(context.Background()) // newest first
		if err != nil || len(keys) != 2 {
			t.Fatalf("keys: %v %v", keys, err)
		}
		cmd("", "keys", "retire", "--kid", keys[1].ID, "--force")

		want := []struct{ kind, entity, id string }{
			{warehouse.KindUserCreated, "user", "ada"},
			{warehouse.KindRoleChanged, "user", "ada"},
			{warehouse.KindUserDeactivated, "user", "ada"},
			{warehouse.KindUserReactivated, "user", "ada"},
			{warehouse.KindPasswordChanged, "user", "ada"},
			{warehouse.KindKeyRotated, "key", keys[1].ID},
			{warehouse.KindKeyRotated, "key", keys[0].ID},
			{warehouse.KindKeyRetired, "key", keys[1].ID},
		}
		evs, _, err := db.ListAuditEvents(context.Background(), warehouse.AuditFilter{Kinds: warehouse.SecurityKinds, Actor: "cli"}, warehouse.Page{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != len(want) {
			t.Fatalf("%d events by cli, want %d: %+v", len(evs), len(want), evs)
		}
		for i, w := range want {
			g := evs[len(evs)-1-i] // oldest first
			if g.Kind != w.kind || g.Entity != w.entity || g.EntityID != w.id || g.Actor != "cli" || g.IP != "" || g.UserAgent != "" || g.RequestID != "" {
				t.Errorf("event %d: %+v, want %+v by cli", i, g, w)
			}
		}
		generated := strings.TrimSpace(strings.SplitAfter(printed[4], "password: ")[1])
		for _, ev := range evs {
			for _, secret := range []string{"cli-secret-pass-1", generated} {
				if strings.Contains(string(ev.Detail)+string(ev.Before)+string(ev.After), secret) {
					t.Errorf("event %s holds a password", ev.Kind)
				}
			}
		}
	})
}
