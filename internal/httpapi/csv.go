package httpapi

import (
	"context"
	"encoding/csv"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// csvExport answers every matching row as CSV, streamed from the database.
// It counts first so that an export too large to be useful is refused (413)
// before any byte is sent.
func csvExport(ctx context.Context, log *slog.Logger, name string, count func() (int, error), header []string,
	each func(context.Context, func([]string) error) error) (*streamOutput, error) {
	n, err := count()
	if err != nil {
		return nil, err
	}
	if n > maxCSVRows {
		return nil, tooManyRows(n)
	}
	return &streamOutput{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "text/csv; charset=utf-8")
		hctx.SetHeader("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		hctx.SetStatus(http.StatusOK)
		w := csv.NewWriter(hctx.BodyWriter())
		_ = w.Write(header)
		err := each(hctx.Context(), func(row []string) error { return w.Write(row) })
		w.Flush()
		if err == nil {
			err = w.Error()
		}
		if err != nil {
			// Headers are gone; all we can do is stop and log.
			log.Warn("csv export interrupted", "export", name, "err", err)
		}
	}}, nil
}
