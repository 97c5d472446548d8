package store

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoHTTPBelowHTTPAPI keeps HTTP out of the store: statuses and headers
// are the HTTP layer's choice (issue 11).
func TestNoHTTPBelowHTTPAPI(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	if deps := strings.Fields(string(out)); slices.Contains(deps, "net/http") {
		t.Fatal("internal/store depends on net/http")
	}
}
