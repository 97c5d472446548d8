package store

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestMigration00006: rows written before the security audit trail keep
// reading, the ones that were security events get their kind, and the
// refresh-reuse rows lose the token ids they carried; 00006 goes down and
// up again cleanly.
func TestMigration00006(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db, err := Open(ctx, pgtest.URL(t, engine), "", Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dir, dialect := "migrations/sqlite", goose.DialectSQLite3
		if db.pg {
			dir, dialect = "migrations/postgres", goose.DialectPostgres
		}
		fsys, err := fs.Sub(migrations, dir)
		if err != nil {
			t.Fatal(err)
		}
		p, err := goose.NewProvider(dialect, db.write.raw(), fsys)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(ctx, 5); err != nil {
			t.Fatalf("down to 5: %v", err)
		}
		// As 00002's audit_events had them.
		for _, q := range []string{
			`INSERT INTO audit_events (entity, entity_id, action, before, after, actor, at) VALUES ('session', 's1', 'refresh_token_reuse', NULL, '{"username":"alice","refresh_jti":"jti-old","replaced_by":"jti-new"}', 'system', 1)`,
			`INSERT INTO audit_events (entity, entity_id, action, before, after, actor, at) VALUES ('user', 'alice', 'unlock', '{"failures":3}', '{"failures":0}', 'admin', 2)`,
			`INSERT INTO audit_events (entity, entity_id, action, before, after, actor, at) VALUES ('item', '7', 'update', '{"name":"a"}', '{"name":"b"}', 'mia', 3)`,
		} {
			if _, err := db.write.raw().ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("up: %v", err)
		}
		evs, _, err := db.ListAuditEvents(ctx, warehouse.AuditFilter{}, warehouse.Page{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]*warehouse.AuditEvent{}
		for _, ev := range evs {
			byID[ev.EntityID] = ev
		}
		reuse, unlock, item := byID["s1"], byID["alice"], byID["7"]
		if reuse == nil || reuse.Kind != warehouse.KindRefreshReuse || string(reuse.After) != "null" ||
			strings.Contains(string(reuse.Detail), "jti") || !strings.Contains(string(reuse.Detail), `"alice"`) {
			t.Errorf("reuse row: %+v detail %s", reuse, reuse.Detail)
		}
		if unlock == nil || unlock.Kind != warehouse.KindAccountUnlocked || unlock.Action != "unlock" || unlock.Actor != "admin" {
			t.Errorf("unlock row: %+v", unlock)
		}
		if item == nil || item.Kind != "" || string(item.After) != `{"name":"b"}` || item.IP != "" {
			t.Errorf("item row: %+v", item)
		}
	})
}
