// Command logscan greps the log lines the test suite kept (every line a
// logcheck logger saw, in $WAREHOUSE_ARTIFACTS/logs/*.log) once more for
// secrets, with logcheck's patterns and fixture passwords and keys, so a
// line no test's own check looked at still fails CI. It prints each
// finding masked and exits 1 if there is any.
//
//	go run ./internal/logcheck/cmd/logscan "$WAREHOUSE_ARTIFACTS/logs"
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: logscan DIR")
		os.Exit(2)
	}
	n, found, err := scanDir(os.Args[1], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "logscan:", err)
		os.Exit(2)
	}
	fmt.Printf("logscan: %d line(s) scanned, %d hold a secret\n", n, found)
	if found > 0 {
		os.Exit(1)
	}
}

// scanDir scans every *.log file in dir and reports each line with a
// secret to w, masked. An empty or missing directory is an error: the
// tests were meant to write there.
func scanDir(dir string, w io.Writer) (lines, found int, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return 0, 0, err
	}
	if len(files) == 0 {
		return 0, 0, fmt.Errorf("no *.log files in %s (is %s set for the tests?)", dir, logcheck.ArtifactsEnv)
	}
	for _, name := range files {
		n, f, err := scanFile(name, w)
		if err != nil {
			return lines, found, err
		}
		lines += n
		found += f
	}
	return lines, found, nil
}

func scanFile(name string, w io.Writer) (lines, found int, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		lines++
		line := sc.Text()
		// "<test name>\t<line>": the name is not looked at.
		_, text, ok := strings.Cut(line, "\t")
		if !ok {
			text = line
		}
		if fs := logcheck.Scan(text); len(fs) > 0 {
			found++
			fmt.Fprintf(w, "%s:%d: %s\n", filepath.Base(name), lines, logcheck.Mask(line, shift(fs, len(line)-len(text))))
		}
	}
	if err := sc.Err(); err != nil {
		return lines, found, fmt.Errorf("read %s: %w", name, err)
	}
	return lines, found, nil
}

// shift moves findings in text to their place in the whole line.
func shift(fs []logcheck.Finding, by int) []logcheck.Finding {
	out := make([]logcheck.Finding, len(fs))
	for i, f := range fs {
		out[i] = logcheck.Finding{Kind: f.Kind, Start: f.Start + by, End: f.End + by}
	}
	return out
}
