package store

import (
	"context"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestRebind pins down what rebind does, limits included: the limits are
// scenarios too, so that a change to them is a decision, not an accident.
func TestRebind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"no placeholder", `SELECT 1`, `SELECT 1`},
		{"one", `SELECT * FROM users WHERE username = ?`, `SELECT * FROM users WHERE username = $1`},
		{"several", `INSERT INTO t (a, b, c) VALUES (?, ?, ?)`, `INSERT INTO t (a, b, c) VALUES ($1, $2, $3)`},
		{"many, past one digit", `VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, `VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`},
		{"adjacent ?? are two placeholders", `SELECT ??`, `SELECT $1$2`},
		{"in a string literal", `SELECT '?' || ?`, `SELECT '?' || $1`},
		{"doubled quote in a literal", `SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{"in a quoted identifier", `SELECT "a?b" FROM t WHERE x = ?`, `SELECT "a?b" FROM t WHERE x = $1`},
		{"casts", `SELECT ?::bigint, CAST(? AS text), '1'::int`, `SELECT $1::bigint, CAST($2 AS text), '1'::int`},
		{"$n left as it is", `SELECT $1, ?`, `SELECT $1, $1`},
		{"unterminated literal copied", `SELECT ?, 'abc?`, `SELECT $1, 'abc?`},
		// Not handled: none of these occurs in the store's SQL.
		{"not handled: line comment", "SELECT ? -- why?\n", "SELECT $1 -- why$2\n"},
		{"not handled: block comment", `SELECT /* ? */ ?`, `SELECT /* $1 */ $2`},
		{"not handled: E'' backslash escape", `SELECT E'\'?', ?`, `SELECT E'\'$1', ?`},
		{"not handled: dollar quoting", `SELECT $$?$$, ?`, `SELECT $$$1$$, $2`},
		{"not handled: jsonb ? operator", `SELECT '{}'::jsonb ? 'k'`, `SELECT '{}'::jsonb $1 'k'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rebind(tt.in); got != tt.want {
				t.Errorf("rebind(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRebindPostgres runs the handled scenarios on PostgreSQL through the
// dialect (conn and txn), so that the server, not this test, judges the
// rebound text.
func TestRebindPostgres(t *testing.T) {
	t.Parallel()
	db := openTestDB(t, pgtest.Postgres)
	ctx := context.Background()
	tests := []struct {
		name string
		q    string
		args []any
		want string
	}{
		{"literal ? kept", `SELECT '?' || ?::text`, []any{"x"}, "?x"},
		{"doubled quote", `SELECT 'it''s ?' || ?::text`, []any{"!"}, "it's ?!"},
		{"quoted identifier", `SELECT "a?b" FROM (SELECT ?::text AS "a?b") s`, []any{"v"}, "v"},
		{"casts", `SELECT (?::bigint + CAST(? AS int))::text || '1'::int::text`, []any{int64(40), 2}, "421"},
		{"many", `SELECT concat(?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text)`,
			[]any{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}, "abcdefghijkl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if err := db.read.QueryRowContext(ctx, tt.q, tt.args...).Scan(&got); err != nil {
				t.Fatalf("conn: %v", err)
			}
			if got != tt.want {
				t.Errorf("conn: got %q, want %q", got, tt.want)
			}
			err := db.tx(ctx, func(tx *txn) error {
				got = ""
				return tx.QueryRowContext(ctx, tt.q, tt.args...).Scan(&got)
			})
			if err != nil {
				t.Fatalf("txn: %v", err)
			}
			if got != tt.want {
				t.Errorf("txn: got %q, want %q", got, tt.want)
			}
		})
	}
}
