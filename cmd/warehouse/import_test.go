package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestImportCommand runs `warehouse import` on both engines: plain progress
// lines when standard error is no terminal, the summary, every bad row
// listed, the same stock file twice posting once, and the one-line
// answers to an operator's mistakes.
func TestImportCommand(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		dbURL := pgtest.URL(t, engine)
		dir := t.TempDir()
		write := func(name, body string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		cli := func(args ...string) (stdout, stderr string, err error) {
			var out, errOut bytes.Buffer
			all := append(append([]string{"import"}, args...), "--database-url", dbURL)
			err = run(context.Background(), all, strings.NewReader(""), &out, logcheck.Tee(t, &errOut), noEnv)
			return out.String(), errOut.String(), err
		}

		var items strings.Builder
		items.WriteString("sku,name,uom\n")
		for i := range 25_000 {
			items.WriteString("SKU-" + strings.Repeat("0", 5-len(itoa(i))) + itoa(i) + ",Item,ea\n")
		}
		out, progress, err := cli("items", write("items.csv", items.String()))
		if err != nil {
			t.Fatal(err, progress)
		}
		for _, want := range []string{"checking: 10000 rows\n", "checking: 20000 rows\n", "checked 25000 rows\n", "applying: 10000/25000 rows (40%)\n", "applying: 25000/25000 rows (100%)\n"} {
			if !strings.Contains(progress, want) {
				t.Errorf("progress lacks %q:\n%s", want, progress)
			}
		}
		if !strings.HasPrefix(out, "imported 25000 items rows: 25000 created, 0 updated, 0 unchanged\ntime ") {
			t.Errorf("summary = %q", out)
		}

		out, _, err = cli("locations", write("locations.csv", "code,name,parent_code,structural\nA1,Bin,WH,false\nWH,Main,,true\n"), "--dry-run")
		if err != nil || !strings.HasPrefix(out, "dry run, nothing written: would import 2 locations rows: 2 created") {
			t.Fatalf("dry run: %q, %v", out, err)
		}
		if _, _, err = cli("locations", filepath.Join(dir, "locations.csv")); err != nil {
			t.Fatal(err)
		}

		stock := write("stock.csv", "sku,location_code,lot,qty\nSKU-00001,A1,,5\nSKU-00002,A1,,7\n")
		if out, _, err = cli("stock", stock); err != nil || !strings.HasPrefix(out, "imported 2 stock rows: 2 balances counted in 1 movement(s) ") {
			t.Fatalf("stock: %q, %v", out, err)
		}
		if out, _, err = cli(stock, "stock"); err == nil || !strings.Contains(err.Error(), "unknown import kind") {
			// Kind and file the wrong way round.
			t.Fatalf("swapped: %q, %v", out, err)
		}
		if out, _, err = cli("stock", stock); err != nil || !strings.Contains(out, "this file was imported before") {
			t.Fatalf("stock again: %q, %v", out, err)
		}

		_, listed, err := cli("items", write("bad.csv", "sku,name,uom,reorder_point\nA-1,A,ea,1\nA-2,B,ea,-1\nA-1,C,ea,2\n"))
		if err == nil || cliMessage(err) != "import: the file has 2 error(s); nothing was imported; fix the lines above and run again" {
			t.Fatalf("bad file: %v", err)
		}
		if !strings.Contains(listed, "line 3, reorder_point: must be >= 0\nline 4, sku: \"A-1\" is already on line 2\n") {
			t.Errorf("errors listed:\n%s", listed)
		}

		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"items", filepath.Join(dir, "nope.csv")}, "import: cannot open " + filepath.Join(dir, "nope.csv") + " (no such file or directory): give the path of a CSV file"},
			{[]string{"pallets", stock}, `import: unknown import kind "pallets": use items, locations or stock`},
			{[]string{"items", stock, "--bogus"}, "import: flag provided but not defined: -bogus; see `warehouse import --help`"},
			{[]string{"items"}, "import: expected a kind and a file, got 1 argument(s); usage: warehouse import items|locations|stock FILE.csv [--dry-run]"},
			{[]string{"items", dir}, "import: " + dir + " is a directory: give the path of a CSV file"},
		} {
			_, _, err := cli(tc.args...)
			if err == nil || cliMessage(err) != tc.want || strings.Contains(cliMessage(err), "\n") {
				t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
			}
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
