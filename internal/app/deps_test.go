package app

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependenciesPointInward keeps the shape: the HTTP edge and the
// services reach the database only through interfaces they declare, so
// none of them may depend on internal/store or an SQL driver; the services
// and the domain know nothing of HTTP. The App (this package) is where
// they meet.
func TestDependenciesPointInward(t *testing.T) {
	t.Parallel()
	const mod = "github.com/warehouse-api/warehouse"
	sql := []string{mod + "/internal/store", "database/sql", "github.com/jackc/pgx/v5", "modernc.org/sqlite"}
	cases := []struct {
		pkg    string
		banned []string
	}{
		{mod + "/internal/httpapi", sql},
		{mod + "/internal/console", sql},
		{mod + "/internal/session", append(sql, "github.com/danielgtaylor/huma/v2")},
		{mod + "/internal/inventory", append(sql, "net/http", "github.com/danielgtaylor/huma/v2")},
		{mod + "/internal/importer", append(sql, "net/http", "github.com/danielgtaylor/huma/v2")},
		{mod + "/internal/orders", append(sql, "net/http", "github.com/danielgtaylor/huma/v2")},
		{mod + "/internal/receiving", append(sql, "net/http", "github.com/danielgtaylor/huma/v2")},
		{mod + "/internal/authstate", append(sql, "net/http")},
		{mod + "/internal/events", append(sql, "github.com/danielgtaylor/huma/v2")},
		{mod, append(sql, "net/http")},
		{mod + "/internal/store", []string{"net/http", "github.com/danielgtaylor/huma/v2"}},
	}
	for _, tc := range cases {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, b := range tc.banned {
			if slices.Contains(deps, b) {
				t.Errorf("%s depends on %s", tc.pkg, b)
			}
		}
	}
}
