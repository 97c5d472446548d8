package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanDir: the second grep finds a planted token, password and PHC
// hash in the kept lines, names file and line, masks them, and passes
// ordinary lines; a directory without logs is an error, not a pass.
func TestScanDir(t *testing.T) {
	dir := t.TempDir()
	lines := []string{
		"TestA\ttime=x level=INFO msg=request path=/user status=200",
		"TestA\ttime=x level=INFO msg=login token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqb2V2dSJ9.c2lnbmF0dXJl",
		"TestB\ttime=x level=WARN msg=\"demo user joevu, password glinteco\"",
		"TestC\ttime=x level=ERROR msg=rehash hash=$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5",
	}
	if err := os.WriteFile(filepath.Join(dir, "internal.httpapi.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	n, found, err := scanDir(dir, &out)
	if err != nil || n != 4 || found != 3 {
		t.Fatalf("scanDir = %d lines, %d found, %v; want 4, 3, nil:\n%s", n, found, err, out.String())
	}
	for _, want := range []string{"internal.httpapi.log:2: TestA", "internal.httpapi.log:3:", "internal.httpapi.log:4:", "<JWT>", "<registered secret>", "<argon2 PHC hash>"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"c2lnbmF0dXJl", "glinteco", "a2V5"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("report prints %q:\n%s", secret, out.String())
		}
	}
	if _, _, err := scanDir(t.TempDir(), &out); err == nil {
		t.Error("an empty directory passed")
	}
}
