package importer_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/warehouse-api/warehouse/internal/importer"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// GenerateItems writes a file of n new items, as the benchmark and the
// CLI measurement import.
func generateItems(n int) []byte {
	var b bytes.Buffer
	b.WriteString("sku,name,description,uom,qty_precision,barcode,lot_tracked,reorder_point\n")
	for i := range n {
		fmt.Fprintf(&b, "SKU-%06d,Generated item %d,A thing to count,ea,0,BC-%06d,false,%d\n", i, i, i, i%50)
	}
	return b.Bytes()
}

// BenchmarkImportItems imports 100,000 new items into an empty SQLite
// database per iteration; rows/s is the figure to read.
func BenchmarkImportItems(b *testing.B) {
	rows := 100_000
	if testing.Short() {
		rows = 1_000 // CI's smoke run (-short -benchtime=100x): that it runs, not how fast
	}
	file := generateItems(rows)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		_, svc := open(b, pgtest.SQLite)
		b.StartTimer()
		s, err := svc.Import(ctx, manager, importer.Items, bytes.NewReader(file), false, nil)
		if err != nil || s.Created != rows {
			b.Fatalf("import = %+v, %v", s, err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
