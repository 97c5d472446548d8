package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/importer"
	"github.com/warehouse-api/warehouse/internal/store"
)

const importUsage = `Usage:
  warehouse import items|locations|stock FILE.csv [--dry-run]

Imports a CSV file whose header names its columns as the API's JSON fields
(see POST /api/v1/imports/{kind} in /docs):
  items      sku,name,uom,qty_precision,barcode,lot_tracked,reorder_point,description,active
  locations  code,name,parent_code,structural,active
  stock      sku,location_code,lot,qty   (one count movement per 500 rows;
             the same file imported twice posts once)

Every row is checked first; a file with any bad row is refused whole, with
every error listed. Then everything is applied in one transaction.
--dry-run does all of it and writes nothing. Progress goes to standard
error (a bar on a terminal), the summary to standard output. Database flags
as for serve (--data, --database-url).
`

// cliImporter is the actor of imports from the command line: an operator
// with the database's keys, as for warehouse users.
var cliImporter = importer.Actor{Name: "cli", Roles: []string{string(warehouse.RoleAdmin)}}

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, importUsage)
		return nil
	}
	var c config
	fs := flag.NewFlagSet("warehouse import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), importUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	commonFlags(fs, &c)
	dryRun := fs.Bool("dry-run", false, "check and count everything, write nothing")
	pos, err := parseInterspersed(fs, args, getenv)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if len(pos) != 2 {
		return fmt.Errorf("import: expected a kind and a file, got %d argument(s); usage: warehouse import items|locations|stock FILE.csv [--dry-run]", len(pos))
	}
	// Before the database is opened: a typo must not create one.
	kind, err := importer.ParseKind(pos[0])
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	f, err := os.Open(pos[1])
	if err != nil {
		return fmt.Errorf("import: cannot open %s (%v): give the path of a CSV file", pos[1], unwrapPath(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("import: %s is a directory: give the path of a CSV file", pos[1])
	}

	db, err := store.Open(ctx, c.DatabaseURL, c.DataDir, c.storeOptions())
	if err != nil {
		return err
	}
	defer db.Close()

	p := newProgress(stderr)
	start := time.Now()
	sum, err := importer.New(db).Import(ctx, cliImporter, kind, f, *dryRun, p.step)
	p.done()
	if err != nil {
		return importFailure(stderr, err)
	}
	printSummary(stdout, sum, time.Since(start))
	return nil
}

// unwrapPath is an open error without the path, which the message names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// importFailure prints every row error, one per line, and returns the
// one-line error main prints last.
func importFailure(stderr io.Writer, err error) error {
	var we *warehouse.Error
	if !errors.As(err, &we) || len(we.Fields) == 0 || we.Fields[0].Line == 0 {
		return fmt.Errorf("import: %w", err)
	}
	for _, f := range we.Fields {
		fmt.Fprintln(stderr, f.String())
	}
	msg, _, _ := strings.Cut(we.Message, ": ")
	return fmt.Errorf("import: %s; fix the lines above and run again", msg)
}

func printSummary(w io.Writer, s importer.Summary, took time.Duration) {
	verb := "imported"
	if s.DryRun {
		verb = "dry run, nothing written: would import"
	}
	switch {
	case s.Kind == importer.Stock && s.Replayed:
		fmt.Fprintf(w, "%s %d stock rows: this file was imported before (movements %s); nothing posted again\n", verb, s.Rows, ids(s.MovementIDs))
	case s.Kind == importer.Stock:
		fmt.Fprintf(w, "%s %d stock rows: %d balances counted in %d movement(s) %s\n", verb, s.Rows, s.Created, len(s.MovementIDs), ids(s.MovementIDs))
	default:
		fmt.Fprintf(w, "%s %d %s rows: %d created, %d updated, %d unchanged\n", verb, s.Rows, s.Kind, s.Created, s.Updated, s.Unchanged)
	}
	fmt.Fprintf(w, "time %s (%.0f rows/s)\n", took.Round(time.Millisecond), float64(s.Rows)/max(took.Seconds(), 1e-9))
}

func ids(v []int64) string {
	var b strings.Builder
	for i, id := range v {
		if i > 0 {
			b.WriteString(",")
		}
		if i == 10 {
			fmt.Fprintf(&b, "... (%d in all)", len(v))
			break
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}

// progress shows an import's steps: a bar on a terminal, else a line per
// 10,000 rows and per phase (a log, a CI job).
type progress struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	phase string
	last  int
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

const plainEvery = 10_000

func (p *progress) step(s importer.Step) {
	if p.tty {
		p.barStep(s)
		return
	}
	if s.Phase != p.phase {
		p.phase, p.last = s.Phase, 0
	}
	final := s.Total > 0 && s.Rows == s.Total
	if s.Rows-p.last < plainEvery && !final {
		return
	}
	p.last = s.Rows
	switch {
	case s.Phase == importer.PhaseValidate && final:
		fmt.Fprintf(p.w, "checked %d rows\n", s.Rows)
	case s.Phase == importer.PhaseValidate:
		fmt.Fprintf(p.w, "checking: %d rows\n", s.Rows)
	default:
		fmt.Fprintf(p.w, "applying: %d/%d rows (%d%%)\n", s.Rows, s.Total, s.Rows*100/max(s.Total, 1))
	}
}

func (p *progress) barStep(s importer.Step) {
	if s.Phase != p.phase {
		p.finishBar()
		p.phase = s.Phase
		total, desc := -1, "checking"
		if s.Phase == importer.PhaseApply {
			total, desc = s.Total, "applying"
		}
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	_ = p.bar.Set(s.Rows)
}

func (p *progress) finishBar() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}

func (p *progress) done() { p.finishBar() }
