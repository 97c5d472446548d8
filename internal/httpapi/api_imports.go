package httpapi

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/importer"
)

// defaultImportMaxBytes bounds an uploaded file when Config says nothing.
const defaultImportMaxBytes = 64 << 20

func (s *Server) opImport() huma.Operation {
	op := s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"imports"},
		Summary: "Import a CSV file of items, locations or stock",
		Description: "The body is a CSV file whose header names its columns, as the API's JSON fields:\n\n" +
			"- **items**: `sku` (required), `name`, `description`, `uom`, `qty_precision`, `barcode`, `lot_tracked`, `reorder_point`, `active`. " +
			"A new sku is created (it needs `name` and `uom`), an existing one updated with the columns the file has.\n" +
			"- **locations**: `code` (required), `name`, `parent_code`, `structural`, `active`; a parent may come later in the file or exist already.\n" +
			"- **stock**: `sku`, `location_code`, `qty` (required), `lot`: posted as count movements (one per 500 rows) whose " +
			"idempotency key is the file's SHA-256, so the same file imported twice posts once (`replayed: true`).\n\n" +
			"The read-only columns of the CSV export (`id`, `on_hand`, `version`, `path`...) are accepted and ignored, so an export imports back unchanged; " +
			"any other column is an error. Every row is checked first; a file with any bad row is refused whole with 422, " +
			"whose `errors` list every problem with its `line` and column (`field`). Everything is applied in one transaction; " +
			"`?dry_run=true` does all of it and rolls back.",
		Errors: []int{http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity},
		RequestBody: &huma.RequestBody{Required: true, Description: "The CSV file (UTF-8; a byte order mark is allowed)",
			Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}},
	})
	return op
}

type importInput struct {
	Kind   string `path:"kind" enum:"items,locations,stock" doc:"What the file holds"`
	DryRun bool   `query:"dry_run" doc:"Check and count everything, write nothing"`

	body        io.Reader
	contentType string
}

// Resolve keeps the body for the handler to spool: Huma reads no body the
// operation does not declare as a Go type, and a file is not one.
func (in *importInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	in.contentType = ctx.Header("Content-Type")
	return nil
}

type importOutput struct {
	Body importer.Summary
}

// importLimit bounds an uploaded file, for the API and the console alike.
func (s *Server) importLimit() int64 {
	if s.cfg.ImportMaxBytes > 0 {
		return s.cfg.ImportMaxBytes
	}
	return defaultImportMaxBytes
}

// importFile spools the body to a temporary file (the import reads it
// twice, and must not hold it in memory), then imports it.
func (s *Server) importFile(ctx context.Context, in *importInput) (*importOutput, error) {
	if mt, _, err := mime.ParseMediaType(in.contentType); err != nil || mt != "text/csv" {
		return nil, warehouse.Errorf(codeUnsupportedMedia, "the body must be a CSV file sent as Content-Type: text/csv, not %q", in.contentType)
	}
	limit := s.importLimit()
	f, err := os.CreateTemp("", "warehouse-import-*.csv")
	if err != nil {
		return nil, fmt.Errorf("spool the upload: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	n, err := io.Copy(f, io.LimitReader(in.body, limit+1))
	if err != nil {
		return nil, warehouse.Errorf(codeBadRequest, "the upload ended early: %v", err)
	}
	if n > limit {
		return nil, warehouse.Errorf(codeBodyTooLarge, "the file is larger than %d bytes: split it, or import it on the server with `warehouse import`", limit)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind the upload: %w", err)
	}
	kind, err := importer.ParseKind(in.Kind)
	if err != nil {
		return nil, err
	}
	a := mover(ctx)
	sum, err := s.imports.Import(ctx, importer.Actor{Name: a.Name, Roles: a.Roles}, kind, f, in.DryRun, nil)
	if err != nil {
		return nil, err
	}
	return &importOutput{Body: sum}, nil
}
