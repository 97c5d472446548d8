package main

import (
	"runtime/debug"
	"testing"

	"github.com/warehouse-api/warehouse/internal/logcheck"
)

// Not parallel: the GC percentage belongs to the whole process.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	log := logcheck.New(t)
	tests := []struct {
		gogc    string
		want    int
		wantErr bool
	}{
		{gogc: "", want: defaultGCPercent},
		{gogc: " ", want: defaultGCPercent},
		{gogc: "100", want: 100},
		{gogc: "350", want: 350},
		{gogc: "off", want: -1},
		{gogc: "OFF", want: -1},
		{gogc: "0", want: 0},
		{gogc: "-5", wantErr: true},
		{gogc: "lots", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.gogc, func(t *testing.T) {
			debug.SetGCPercent(123)
			got, err := tuneGC(func(k string) string {
				if k == "GOGC" {
					return tt.gogc
				}
				return ""
			}, log)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("GOGC=%q: no error", tt.gogc)
				}
				if now := debug.SetGCPercent(100); now != 123 {
					t.Errorf("GOGC=%q: refused, but the GC percent changed to %d", tt.gogc, now)
				}
				return
			}
			if err != nil {
				t.Fatalf("GOGC=%q: %v", tt.gogc, err)
			}
			if now := debug.SetGCPercent(100); got != tt.want || now != tt.want {
				t.Errorf("GOGC=%q: returned %d, in force %d, want %d", tt.gogc, got, now, tt.want)
			}
		})
	}
}
