package warehouse

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestParseQty(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Qty
		wantErr string // substring of the error; "" for success
	}{
		// Decimal forms.
		{in: "0", want: 0},
		{in: "12", want: 12_000},
		{in: "12.5", want: 12_500},
		{in: "0.125", want: 125},
		{in: "0.001", want: 1},
		{in: "-3.5", want: -3_500},
		{in: "1.000000", want: 1_000}, // trailing zeros are not decimals
		{in: "-0", want: 0},
		{in: "-0.000", want: 0},
		{in: "007", want: 7_000}, // a leading zero is decimal, not octal
		// Exponent forms, read exactly.
		{in: "1e3", want: 1_000_000},
		{in: "1.5E2", want: 150_000},
		{in: "125e-3", want: 125},
		{in: "1e-3", want: 1},
		{in: "0e999", want: 0},
		{in: "12500e-4", want: 1_250},
		// Forms big.Rat reads that JSON never sends; accepted as they are.
		{in: ".5", want: 500},
		{in: "5.", want: 5_000},
		{in: "+1", want: 1_000},
		{in: " 1 ", want: 1_000}, // surrounding space is trimmed on purpose
		{in: "\t2\n", want: 2_000},
		// The bounds, +-10^12.
		{in: "1000000000000", want: MaxQty},
		{in: "-1000000000000", want: -MaxQty},
		{in: "1e12", want: MaxQty},
		{in: "999999999999.999", want: MaxQty - 1},
		{in: "1000000000000.001", wantErr: "out of range"},
		{in: "-1000000000000.001", wantErr: "out of range"},
		{in: "1e13", wantErr: "out of range"},
		{in: "1e400", wantErr: "out of range"},
		{in: "-1e400", wantErr: "out of range"},
		{in: "9223372036854775808", wantErr: "out of range"}, // past int64
		// At most three decimals.
		{in: "0.0001", wantErr: "more than 3 decimals"},
		{in: "1.2345", wantErr: "more than 3 decimals"},
		{in: "1e-4", wantErr: "more than 3 decimals"},
		{in: "1e-400", wantErr: "more than 3 decimals"},
		// Junk.
		{in: "", wantErr: "must be a number"},
		{in: " ", wantErr: "must be a number"},
		{in: "1/2", wantErr: "must be a number"},
		{in: "4/2", wantErr: "must be a number"},
		{in: "0x10", wantErr: "must be a number"},
		{in: "0X10", wantErr: "must be a number"},
		{in: "0x1p4", wantErr: "must be a number"},
		{in: "0b11", wantErr: "must be a number"},
		{in: "0B11", wantErr: "must be a number"},
		{in: "0o17", wantErr: "must be a number"},
		{in: "0O17", wantErr: "must be a number"},
		{in: "1_000", wantErr: "must be a number"},
		{in: "inf", wantErr: "must be a number"},
		{in: "-Inf", wantErr: "must be a number"},
		{in: "Infinity", wantErr: "must be a number"},
		{in: "NaN", wantErr: "must be a number"},
		{in: "nan", wantErr: "must be a number"},
		{in: "abc", wantErr: "must be a number"},
		{in: "1,5", wantErr: "must be a number"},
		{in: "1.2.3", wantErr: "must be a number"},
		{in: "--1", wantErr: "must be a number"},
		{in: "1e", wantErr: "must be a number"},
		{in: "e3", wantErr: "must be a number"},
		{in: "1 2", wantErr: "must be a number"},
		{in: `"1"`, wantErr: "must be a number"},
	} {
		got, err := ParseQty(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseQty(%q): %v, want %d", tc.in, err, tc.want)
		case tc.wantErr == "" && got != tc.want:
			t.Errorf("ParseQty(%q) = %d, want %d", tc.in, got, tc.want)
		case tc.wantErr != "" && err == nil:
			t.Errorf("ParseQty(%q) = %d, want an error with %q", tc.in, got, tc.wantErr)
		case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("ParseQty(%q): %q, want it to say %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestQtyString(t *testing.T) {
	for _, tc := range []struct {
		q    Qty
		want string
	}{
		{0, "0"},
		{1, "0.001"},
		{10, "0.01"},
		{100, "0.1"},
		{120, "0.12"},
		{1_000, "1"},
		{12_500, "12.5"},
		{1_234_567, "1234.567"},
		{-1, "-0.001"},
		{-12_000, "-12"},
		{-3_050, "-3.05"},
		{MaxQty, "1000000000000"},
		{-MaxQty, "-1000000000000"},
		{math.MaxInt64, "9223372036854775.807"},
		{math.MinInt64, "-9223372036854775.808"}, // -q overflows; the uint64 conversion still gets it right
	} {
		if got := tc.q.String(); got != tc.want {
			t.Errorf("Qty(%d).String() = %q, want %q", int64(tc.q), got, tc.want)
		}
	}
}

func TestQtyDecimals(t *testing.T) {
	for _, tc := range []struct {
		q    Qty
		want int
	}{
		{0, 0}, {1_000, 0}, {-7_000, 0}, {MaxQty, 0},
		{1_500, 1}, {-100, 1},
		{1_250, 2}, {10, 2},
		{1_125, 3}, {1, 3}, {-1, 3},
	} {
		if got := tc.q.Decimals(); got != tc.want {
			t.Errorf("Qty(%s).Decimals() = %d, want %d", tc.q, got, tc.want)
		}
	}
}

func TestQtyJSON(t *testing.T) {
	type body struct {
		Q Qty  `json:"q"`
		P *Qty `json:"p"`
	}
	ptr := func(q Qty) *Qty { return &q }
	for _, tc := range []struct {
		name    string
		in      string
		start   body // what the target holds before decoding
		want    body
		wantErr string
	}{
		{name: "number", in: `{"q":12.5}`, want: body{Q: 12_500}},
		{name: "integer", in: `{"q":3}`, want: body{Q: 3_000}},
		{name: "exponent", in: `{"q":1.25e2}`, want: body{Q: 125_000}},
		{name: "negative", in: `{"q":-0.001}`, want: body{Q: -1}},
		{name: "pointer", in: `{"p":0.5}`, want: body{P: ptr(500)}},
		{name: "spaces around", in: `{"q" :  7 }`, want: body{Q: 7_000}},
		{name: "null leaves a value alone", in: `{"q":null}`, start: body{Q: 42}, want: body{Q: 42}},
		{name: "null pointer", in: `{"p":null}`, start: body{P: ptr(1)}, want: body{P: nil}},
		{name: "string refused", in: `{"q":"12"}`, wantErr: "not a string"},
		{name: "empty string refused", in: `{"q":""}`, wantErr: "not a string"},
		{name: "too precise", in: `{"q":0.0001}`, wantErr: "more than 3 decimals"},
		{name: "too large", in: `{"q":1e400}`, wantErr: "out of range"},
		{name: "boolean", in: `{"q":true}`, wantErr: "must be a number"},
		{name: "array", in: `{"q":[1]}`, wantErr: "must be a number"},
		{name: "object", in: `{"q":{}}`, wantErr: "must be a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.start
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Unmarshal(%s) = %v (%+v), want an error with %q", tc.in, err, got, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", tc.in, err)
			}
			if got.Q != tc.want.Q || (got.P == nil) != (tc.want.P == nil) || (got.P != nil && *got.P != *tc.want.P) {
				t.Fatalf("Unmarshal(%s) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestQtyJSONRoundTrip(t *testing.T) {
	for _, q := range []Qty{0, 1, -1, 100, 12_500, 1_234_567, MaxQty, -MaxQty} {
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != q.String() {
			t.Errorf("Marshal(%d) = %s, want %s", int64(q), b, q)
		}
		var back Qty
		if err := json.Unmarshal(b, &back); err != nil || back != q {
			t.Errorf("round trip of %d: %d, %v", int64(q), int64(back), err)
		}
	}
	// In a struct, and as a pointer.
	half := Qty(500)
	b, err := json.Marshal(struct {
		Q Qty  `json:"q"`
		P *Qty `json:"p"`
		N *Qty `json:"n"`
	}{12_500, &half, nil})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"q":12.5,"p":0.5,"n":null}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}

// Floats cannot add 0.1 and 0.2 exactly; quantities must.
func TestQtyJSONExactSums(t *testing.T) {
	var parts struct{ A, B, Sum Qty }
	if err := json.Unmarshal([]byte(`{"A":0.1,"B":0.2,"Sum":0.3}`), &parts); err != nil {
		t.Fatal(err)
	}
	if parts.A+parts.B != parts.Sum {
		t.Errorf("0.1 + 0.2 = %s, want %s", parts.A+parts.B, parts.Sum)
	}
	b, err := json.Marshal(parts.A + parts.B)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "0.3" {
		t.Errorf("Marshal(0.1 + 0.2) = %s, want 0.3", b)
	}
}

func TestCheckPrecision(t *testing.T) {
	for _, tc := range []struct {
		q         Qty
		precision int
		wantErr   string // the message; "" when allowed
	}{
		{1_000, 0, ""},
		{1_500, 1, ""},
		{1, 3, ""},
		{0, 0, ""},
		{1_500, 0, "qty: 1.5 has more decimals than item SKU-1 allows (qty_precision 0)"},
		{-1_500, 0, "qty: -1.5 has more decimals than item SKU-1 allows (qty_precision 0)"},
		{1, 2, "qty: 0.001 has more decimals than item SKU-1 allows (qty_precision 2)"},
		{1_250, 1, "qty: 1.25 has more decimals than item SKU-1 allows (qty_precision 1)"},
	} {
		err := CheckPrecision("qty", tc.q, tc.precision, "SKU-1")
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("CheckPrecision(%s, %d): %v", tc.q, tc.precision, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("CheckPrecision(%s, %d) = %v, want a *Error", tc.q, tc.precision, err)
		}
		if e.Code != EINVALID || e.Message != tc.wantErr {
			t.Errorf("CheckPrecision(%s, %d) = %s %q, want %s %q", tc.q, tc.precision, e.Code, e.Message, EINVALID, tc.wantErr)
		}
		want := "at most " + string(rune('0'+tc.precision)) + " decimals for this item"
		if len(e.Fields) != 1 || e.Fields[0].Field != "qty" || e.Fields[0].Message != want {
			t.Errorf("CheckPrecision(%s, %d) fields %+v, want qty: %q", tc.q, tc.precision, e.Fields, want)
		}
	}
}

// FuzzParseQty checks that whatever ParseQty accepts is in range and
// survives String -> ParseQty and the JSON round trip unchanged. Without
// -fuzz it runs the seeds as a normal test.
func FuzzParseQty(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "1", "12.5", "0.125", "0.001", "-3.05", "1e3", "1.5E2", "125e-3", "1e12", "-1e12",
		"1000000000000", "999999999999.999", "1e13", "1e400", "0.0001", ".5", "5.", "+1", " 1 ",
		"", "1/2", "0x10", "0b11", "0o17", "1_000", "inf", "NaN", "abc", "1e", "0e999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQty(s)
		if err != nil {
			return
		}
		if q > MaxQty || q < -MaxQty {
			t.Fatalf("ParseQty(%q) = %d, out of range", s, int64(q))
		}
		str := q.String()
		back, err := ParseQty(str)
		if err != nil || back != q {
			t.Fatalf("ParseQty(%q) = %d; its String %q reads back as %d, %v", s, int64(q), str, int64(back), err)
		}
		if d := q.Decimals(); d != len(str)-1-strings.IndexByte(str, '.') && strings.Contains(str, ".") || !strings.Contains(str, ".") && d != 0 {
			t.Fatalf("Qty(%s).Decimals() = %d", str, d)
		}
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		var viaJSON Qty
		if err := json.Unmarshal(b, &viaJSON); err != nil || viaJSON != q {
			t.Fatalf("JSON round trip of %s: %s -> %d, %v", str, b, int64(viaJSON), err)
		}
	})
}

// TestParseQtyHugeExponents: exponents far outside a Qty are decided from
// the digits, without building 10^exp (1e999999 took tens of milliseconds),
// and give the answers big.Rat gives.
func TestParseQtyHugeExponents(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Qty
		wantErr string
	}{
		{"1e999999", 0, "out of range"},
		{"-1e999999", 0, "out of range"},
		{"1e99999999999999999999", 0, "out of range"},
		{"0.0000000001e100", 0, "out of range"},
		{"1e-999999", 0, "more than 3 decimals"},
		{"1e-99999999999999999999", 0, "more than 3 decimals"},
		{"12345e-999999", 0, "more than 3 decimals"},
		{"0e999999", 0, ""},
		{"-0.000e-999999", 0, ""},
		{"1e12", 1e12 * QtyScale, ""},
		{"1000000000000000e-3", 1e12 * QtyScale, ""},
		{"1e-3", 1, ""},
		{"1.5e2", 150 * QtyScale, ""},
		{"1e", 0, "must be a number"},
		{"1e+-5", 0, "must be a number"},
		{"1.2.3e5", 0, "must be a number"},
		{"--1e999999", 0, "must be a number"},
	} {
		got, err := ParseQty(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseQty(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseQty(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func BenchmarkParseQtyHugeExponent(b *testing.B) {
	for b.Loop() {
		if _, err := ParseQty("1e999999"); err == nil {
			b.Fatal("accepted")
		}
	}
}
