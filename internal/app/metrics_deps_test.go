package app

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestOnlyMetricsKnowsPrometheus: the domain, the services, the store,
// the auth state, the auth package and the HTTP edge report through
// interfaces of their own; only internal/metrics (and the App that wires
// it) imports Prometheus.
func TestOnlyMetricsKnowsPrometheus(t *testing.T) {
	t.Parallel()
	const mod = "github.com/warehouse-api/warehouse"
	for _, pkg := range []string{mod, mod + "/auth", mod + "/internal/session", mod + "/internal/inventory", mod + "/internal/importer",
		mod + "/internal/authstate", mod + "/internal/store", mod + "/internal/httpapi", mod + "/internal/hashworker", mod + "/internal/console"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		if deps := strings.Fields(string(out)); slices.ContainsFunc(deps, func(d string) bool { return strings.HasPrefix(d, "github.com/prometheus/") }) {
			t.Errorf("%s depends on Prometheus", pkg)
		}
	}
}
