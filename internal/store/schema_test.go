package store

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// The schema-parity test migrates a fresh database on each engine, reads
// each catalog into the same normalised shape and compares the two. The
// migrations are written twice, once per engine; this is what keeps them
// saying the same thing.
//
// Normalisation (what "the same" means):
//
//   - Types are reduced to a small vocabulary, by declared type on SQLite
//     and data_type on PostgreSQL: integer (INTEGER, INT, BIGINT,
//     SMALLINT; smallint, integer, bigint), text (TEXT, VARCHAR, CHAR;
//     text, character varying, character), real (REAL, DOUBLE, FLOAT;
//     real, double precision), blob (BLOB; bytea), bool (boolean on
//     PostgreSQL; on SQLite an INTEGER column with CHECK (c IN (0, 1)),
//     that CHECK being the type and not counted as a constraint) and
//     timestamp (timestamp*, date; the store keeps times as integer
//     milliseconds, so none is expected). Anything else shows as
//     "unmapped: <type>". Integer width is not compared: every SQLite
//     integer is 64-bit, and the PostgreSQL INTEGER columns hold small
//     ranges (precision, depth, line numbers, status codes).
//   - Defaults are compared as text once PostgreSQL's casts are dropped
//     (''::text is '') and booleans are written 1 and 0.
//   - An identity column is PostgreSQL's GENERATED ... AS IDENTITY and
//     SQLite's INTEGER PRIMARY KEY AUTOINCREMENT.
//   - Primary keys, unique constraints and indexes are compared by their
//     columns, in order, not by name (SQLite names the indexes of UNIQUE
//     constraints itself). A UNIQUE constraint and a unique index are the
//     same thing.
//   - CHECK constraints are compared by presence: the set of columns each
//     one mentions (SQLite keeps only the CREATE TABLE text, PostgreSQL
//     rewrites the expression, so the expressions themselves cannot be
//     compared).
//   - Triggers are compared by name. Collations are not compared.
//   - goose's own goose_db_version table is left out.

// schema is one database's tables, normalised.
type schema map[string]*table

type table struct {
	Columns     map[string]column
	PrimaryKey  string   // columns, comma-separated, in key order
	Unique      []string // unique constraints and indexes other than the key, by columns
	Indexes     []string // other indexes, by columns
	ForeignKeys []string // "column -> table(column)"
	Checks      []string // columns each CHECK mentions, sorted
	Triggers    []string
}

type column struct {
	Type     string
	NotNull  bool
	Default  string // "" when none
	Identity bool
}

// allowedDifference is a difference between the engines' schemas that is
// there on purpose. fix removes it from the two models and reports whether
// it found it: an entry that no longer applies fails the test, so the
// list cannot rot.
type allowedDifference struct {
	what, reason string
	fix          func(sqlite, pg schema) bool
}

var allowedDifferences = []allowedDifference{
	sqliteNullableKey("signing_keys", "kid"),
	sqliteNullableKey("revoked_tokens", "jti"),
	sqliteNullableKey("refresh_tokens", "jti"),
	sqliteNullableKey("sessions", "id"),
	sqliteNullableKey("login_failures", "username"),
	{
		what:   "ledger_entries: trigger ledger_entries_no_truncate on PostgreSQL only",
		reason: "SQLite has no TRUNCATE; its DELETE trigger covers every way to empty the table",
		fix: func(sqlite, pg schema) bool {
			return removeTrigger(pg, "ledger_entries", "ledger_entries_no_truncate") && !slices.Contains(sqlite["ledger_entries"].Triggers, "ledger_entries_no_truncate")
		},
	},
}

// sqliteNullableKey allows a single-column TEXT primary key that SQLite,
// unlike PostgreSQL, lets hold NULL.
func sqliteNullableKey(tbl, col string) allowedDifference {
	return allowedDifference{
		what:   tbl + "." + col + ": primary key nullable on SQLite",
		reason: "SQLite lets a non-INTEGER PRIMARY KEY hold NULL (a documented quirk kept for compatibility); the store always writes the key, and declaring NOT NULL would mean rebuilding the table",
		fix: func(sqlite, pg schema) bool {
			s, p := sqlite[tbl], pg[tbl]
			if s == nil || p == nil || s.PrimaryKey != col || p.PrimaryKey != col {
				return false
			}
			sc, pc := s.Columns[col], p.Columns[col]
			if sc.NotNull || !pc.NotNull {
				return false
			}
			sc.NotNull = true
			s.Columns[col] = sc
			return true
		},
	}
}

func removeTrigger(s schema, tbl, name string) bool {
	t := s[tbl]
	if t == nil {
		return false
	}
	i := slices.Index(t.Triggers, name)
	if i < 0 {
		return false
	}
	t.Triggers = slices.Delete(t.Triggers, i, i+1)
	return true
}

func TestSchemaParity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqlite := readSQLiteSchema(ctx, t, openTestDB(t, pgtest.SQLite))
	pg := readPostgresSchema(ctx, t, openTestDB(t, pgtest.Postgres))
	if len(sqlite) == 0 || len(pg) == 0 {
		t.Fatalf("no tables read: %d on SQLite, %d on PostgreSQL", len(sqlite), len(pg))
	}
	for _, a := range allowedDifferences {
		if !a.fix(sqlite, pg) {
			t.Errorf("allowed difference no longer found, remove it from the list: %s", a.what)
		}
	}
	if diff := cmp.Diff(sqlite, pg); diff != "" {
		t.Errorf("the migrated schemas differ (-sqlite +postgres); fix the migrations with a new pair of files, or allow the difference with a reason:\n%s", diff)
	}
}

// queryStrings runs q and returns its rows, each as strings (NULL is "").
func queryStrings(ctx context.Context, t *testing.T, c *conn, q string, args ...any) [][]string {
	t.Helper()
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]*string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			if v != nil {
				row[i] = *v
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// typeOf maps an engine's type name to the common vocabulary.
func typeOf(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if i := strings.IndexByte(n, '('); i >= 0 {
		n = strings.TrimSpace(n[:i])
	}
	switch {
	case n == "integer" || n == "int" || n == "bigint" || n == "smallint":
		return "integer"
	case n == "text" || n == "varchar" || n == "char" || n == "character varying" || n == "character":
		return "text"
	case n == "real" || n == "double" || n == "double precision" || n == "float":
		return "real"
	case n == "blob" || n == "bytea":
		return "blob"
	case n == "boolean":
		return "bool"
	case strings.HasPrefix(n, "timestamp") || n == "date":
		return "timestamp"
	}
	return "unmapped: " + name
}

var pgCast = regexp.MustCompile(`::[a-z ]+$`)

func normDefault(d string) string {
	d = pgCast.ReplaceAllString(strings.TrimSpace(d), "")
	switch strings.ToLower(d) {
	case "true":
		return "1"
	case "false":
		return "0"
	}
	return d
}

func sortedNonNil(s []string) []string {
	slices.Sort(s)
	if s == nil {
		return []string{}
	}
	return s
}

func readSQLiteSchema(ctx context.Context, t *testing.T, db *DB) schema {
	t.Helper()
	c := db.read
	s := schema{}
	for _, r := range queryStrings(ctx, t, c, `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'`) {
		name, ddl := r[0], r[1]
		tb := &table{Columns: map[string]column{}}
		var pk []string
		pkPos := map[string]string{}
		for _, col := range queryStrings(ctx, t, c, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY pk, cid`, name) {
			tb.Columns[col[0]] = column{
				Type:     typeOf(col[1]),
				NotNull:  col[2] == "1",
				Default:  normDefault(col[3]),
				Identity: col[4] == "1" && strings.EqualFold(col[1], "integer") && strings.Contains(strings.ToUpper(ddl), "AUTOINCREMENT"),
			}
			if col[4] != "0" {
				pkPos[col[4]] = col[0]
			}
		}
		for i := 1; i <= len(pkPos); i++ {
			pk = append(pk, pkPos[strconv.Itoa(i)])
		}
		tb.PrimaryKey = strings.Join(pk, ",")
		// An INTEGER PRIMARY KEY is the rowid: never NULL (a NULL written
		// to it picks the next id), whatever the pragma says.
		if col, ok := tb.Columns[tb.PrimaryKey]; ok && len(pk) == 1 && col.Type == "integer" {
			col.NotNull = true
			tb.Columns[tb.PrimaryKey] = col
		}
		for _, ix := range queryStrings(ctx, t, c, `SELECT name, "unique", origin FROM pragma_index_list(?)`, name) {
			if ix[2] == "pk" {
				continue
			}
			var cols []string
			for _, ic := range queryStrings(ctx, t, c, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, ix[0]) {
				cols = append(cols, ic[0])
			}
			if ix[1] == "1" {
				tb.Unique = append(tb.Unique, strings.Join(cols, ","))
			} else {
				tb.Indexes = append(tb.Indexes, strings.Join(cols, ","))
			}
		}
		for _, fk := range queryStrings(ctx, t, c, `SELECT "from", "table", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, name) {
			tb.ForeignKeys = append(tb.ForeignKeys, fk[0]+" -> "+fk[1]+"("+fk[2]+")")
		}
		for _, expr := range sqliteChecks(ddl) {
			mentioned := mentionedColumns(expr, tb.Columns)
			if len(mentioned) == 1 && sqliteBoolCheck(mentioned[0]).MatchString(expr) {
				col := tb.Columns[mentioned[0]]
				if col.Type == "integer" {
					col.Type = "bool"
					tb.Columns[mentioned[0]] = col
					continue
				}
			}
			tb.Checks = append(tb.Checks, strings.Join(mentioned, ","))
		}
		s[name] = tb
	}
	for _, r := range queryStrings(ctx, t, c, `SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'`) {
		if tb := s[r[0]]; tb != nil {
			tb.Triggers = append(tb.Triggers, r[1])
		}
	}
	for _, tb := range s {
		tb.finish()
	}
	return s
}

func (tb *table) finish() {
	tb.Unique = sortedNonNil(tb.Unique)
	tb.Indexes = sortedNonNil(tb.Indexes)
	tb.ForeignKeys = sortedNonNil(tb.ForeignKeys)
	tb.Checks = sortedNonNil(tb.Checks)
	tb.Triggers = sortedNonNil(tb.Triggers)
}

func sqliteBoolCheck(col string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)^\s*` + regexp.QuoteMeta(col) + `\s+IN\s*\(\s*0\s*,\s*1\s*\)\s*$`)
}

// sqliteChecks returns the expressions of the CHECK constraints in a
// CREATE TABLE statement, skipping string literals and comments.
func sqliteChecks(ddl string) []string {
	var checks []string
	clean := stripSQL(ddl, false)
	upper := strings.ToUpper(clean)
	for i := 0; ; {
		j := strings.Index(upper[i:], "CHECK")
		if j < 0 {
			return checks
		}
		i += j + len("CHECK")
		k := strings.IndexByte(clean[i:], '(')
		if k < 0 || strings.TrimSpace(clean[i:i+k]) != "" {
			continue
		}
		start := i + k + 1
		depth := 1
		end := start
		for ; end < len(clean) && depth > 0; end++ {
			switch clean[end] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		checks = append(checks, strings.TrimSpace(clean[start:end-1]))
		i = end
	}
}

// stripSQL removes -- comments and, if literals, the contents of string
// literals (the quotes are kept), so that neither can be taken for SQL.
func stripSQL(q string, literals bool) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		switch {
		case q[i] == '\'':
			j := strings.IndexByte(q[i+1:], '\'')
			if j < 0 {
				j = len(q) - i - 1
			}
			if literals {
				b.WriteString("''")
			} else {
				b.WriteString(q[i : i+j+2])
			}
			i += j + 1
		case strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return b.String()
			}
			i += j
			b.WriteByte('\n')
		default:
			b.WriteByte(q[i])
		}
	}
	return b.String()
}

var identifier = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// mentionedColumns returns the columns an expression names, sorted.
func mentionedColumns(expr string, cols map[string]column) []string {
	var out []string
	for _, w := range identifier.FindAllString(stripSQL(expr, true), -1) {
		if _, ok := cols[w]; ok && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

func readPostgresSchema(ctx context.Context, t *testing.T, db *DB) schema {
	t.Helper()
	c := db.read
	s := schema{}
	for _, r := range queryStrings(ctx, t, c, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`) {
		name := r[0]
		tb := &table{Columns: map[string]column{}}
		for _, col := range queryStrings(ctx, t, c, `SELECT column_name, data_type, is_nullable, column_default, is_identity FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?`, name) {
			tb.Columns[col[0]] = column{Type: typeOf(col[1]), NotNull: col[2] == "NO", Default: normDefault(col[3]), Identity: col[4] == "YES"}
		}
		// Index columns in index order; expression indexes would show as
		// an empty name and fail the comparison.
		const indexCols = `array_to_string(array(SELECT coalesce(a.attname, '') FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n), ',')`
		for _, ix := range queryStrings(ctx, t, c, `SELECT i.indisprimary::text, i.indisunique::text, `+indexCols+` FROM pg_index i WHERE i.indrelid = ?::regclass`, name) {
			switch {
			case ix[0] == "true":
				tb.PrimaryKey = ix[2]
			case ix[1] == "true":
				tb.Unique = append(tb.Unique, ix[2])
			default:
				tb.Indexes = append(tb.Indexes, ix[2])
			}
		}
		for _, fk := range queryStrings(ctx, t, c, `SELECT
				(SELECT attname FROM pg_attribute WHERE attrelid = f.conrelid AND attnum = f.conkey[1]),
				f.confrelid::regclass::text,
				(SELECT attname FROM pg_attribute WHERE attrelid = f.confrelid AND attnum = f.confkey[1]),
				array_length(f.conkey, 1)::text
			FROM pg_constraint f WHERE f.conrelid = ?::regclass AND f.contype = 'f'`, name) {
			if fk[3] != "1" {
				t.Fatalf("%s: a foreign key of %s columns; teach the parity test composite keys", name, fk[3])
			}
			tb.ForeignKeys = append(tb.ForeignKeys, fk[0]+" -> "+fk[1]+"("+fk[2]+")")
		}
		for _, ck := range queryStrings(ctx, t, c, `SELECT array_to_string(array(SELECT a.attname FROM unnest(k.conkey) AS n(attnum) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = n.attnum ORDER BY a.attname COLLATE "C"), ',') FROM pg_constraint k WHERE k.conrelid = ?::regclass AND k.contype = 'c'`, name) {
			tb.Checks = append(tb.Checks, ck[0])
		}
		for _, tr := range queryStrings(ctx, t, c, `SELECT tgname FROM pg_trigger WHERE tgrelid = ?::regclass AND NOT tgisinternal`, name) {
			tb.Triggers = append(tb.Triggers, tr[0])
		}
		tb.finish()
		s[name] = tb
	}
	return s
}
