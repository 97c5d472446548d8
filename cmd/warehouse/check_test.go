package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestCheckCommand runs `warehouse check` beside a running `serve --demo`
// on both engines: "ok" with the demo's counts and exit 0; after a balance
// is changed behind the server's back, the finding on its own line and
// exit 1 (an exitError). The PostgreSQL password never shows.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		dbURL := pgtest.URL(t, engine)
		shown := dbURL
		if engine == pgtest.Postgres {
			shown = strings.Replace(dbURL, "postgres@", "postgres:sekrit@", 1) // trust auth ignores it
		}
		startServe(t, []string{"--database-url", dbURL, "--demo"}, noEnv)

		var out, errOut bytes.Buffer
		if err := run(ctx, []string{"check", "--database-url", shown}, nil, &out, &errOut, noEnv); err != nil {
			t.Fatalf("check: %v\n%s", err, errOut.String())
		}
		t.Logf("warehouse check on serve --demo (%s): %s", engine, out.String())
		if out.String() != "ok: 7 balances, 7 ledger lines checked\n" {
			t.Errorf("check: %q", out.String())
		}

		driver, dsn := "pgx", dbURL
		if engine == pgtest.SQLite {
			driver, dsn = "sqlite", "file:"+strings.TrimPrefix(dbURL, "sqlite:")
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`UPDATE stock_balances SET on_hand = on_hand + 1000 WHERE item_id = (SELECT id FROM items WHERE sku = 'WID-BLU')`); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		err = run(ctx, []string{"check", "--database-url", shown}, nil, &out, io.Discard, noEnv)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 1 {
			t.Fatalf("check on a bad balance: %v, want exit code 1", err)
		}
		t.Logf("warehouse check after a balance changed (%s):\n%s\nwarehouse: %v", engine, out.String(), err)
		want := "balance_ledger: item 2 (WID-BLU) at location 4 (WH1-A-02): expected on_hand 15 (the sum of 1 ledger entry), found 16\n1 finding in 7 balances, 7 ledger lines, 1 movement\n"
		if out.String() != want || strings.Contains(out.String()+err.Error(), "sekrit") {
			t.Errorf("check on a bad balance:\n%s\nwant:\n%s", out.String(), want)
		}
	})
}
