package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// FuzzBearerToken: the Authorization parser takes exactly "Bearer" (any
// case), one space and a token without blanks; what it returns, put back
// as "Bearer <token>", parses to the same token.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "bearer x", "BEARER x", "BeArEr x", "Bearer", "Bearer ", "Bearer  x",
		"Bearer x ", "Bearer x y", "Bearer\tx", "Bearer x\t", "Basic x", "Bearerx", " Bearer x", "", " ", "Bearer \u00a0",
		"Bearer \xff", "B\u0130arer x", "Bearer " + strings.Repeat("a", 5000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := bearerToken(h)
		want := len(h) > 7 && strings.EqualFold(h[:6], "Bearer") && h[6] == ' ' && !strings.ContainsAny(h[7:], " \t")
		if ok != want {
			t.Fatalf("bearerToken(%q) ok=%v, want %v", h, ok, want)
		}
		if !ok {
			if tok != "" {
				t.Fatalf("bearerToken(%q) refused but returned %q", h, tok)
			}
			return
		}
		if tok != h[7:] {
			t.Fatalf("bearerToken(%q) = %q, want %q", h, tok, h[7:])
		}
		if back, ok := bearerToken("Bearer " + tok); !ok || back != tok {
			t.Fatalf("Bearer %q parses back as %q, %v", tok, back, ok)
		}
	})
}

// FuzzBodyQty: a body quantity never fails to decode (its problem is
// kept for the field), agrees with the domain's Qty on what is a quantity,
// reports a refusal with a message at its field, and re-serialises to a
// number that decodes to the same quantity.
func FuzzBodyQty(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "1", "12.5", "0.125", "0.001", "0.0001", "1e3", "1E-3", "125e-3", "1e12", "1e13", "-1e12", "1e400",
		"1e999999", "1e-999999", "0e999999", "999999999999.999", "1000000000000.001", `"1"`, "null", "true", "[]", "{}",
		"", " ", "1 ", "01", "+1", ".5", "5.", "-", "0x10", "1_000", "NaN", "Infinity", "1/2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<10 {
			return
		}
		var b BodyQty
		if err := b.UnmarshalJSON([]byte(s)); err != nil {
			t.Fatalf("BodyQty.UnmarshalJSON(%q) failed: %v", s, err)
		}
		var q warehouse.Qty
		qerr := q.UnmarshalJSON([]byte(s))
		if (b.err == nil) != (qerr == nil) || b.err == nil && b.q != q {
			t.Fatalf("BodyQty(%q) = %d, %v; Qty = %d, %v", s, int64(b.q), b.err, int64(q), qerr)
		}
		errs := b.Resolve(nil, huma.NewPathBuffer([]byte("lines[0].qty"), len("lines[0].qty")))
		if b.err != nil {
			if len(errs) != 1 {
				t.Fatalf("BodyQty(%q): %d errors resolved, want 1", s, len(errs))
			}
			d, ok := errs[0].(*huma.ErrorDetail)
			if !ok || d.Location != "lines[0].qty" || d.Message == "" {
				t.Fatalf("BodyQty(%q): resolved %#v, want a message at lines[0].qty", s, errs[0])
			}
			return
		}
		if len(errs) != 0 {
			t.Fatalf("BodyQty(%q) resolved errors for a good quantity: %v", s, errs)
		}
		if b.q > warehouse.MaxQty || b.q < -warehouse.MaxQty {
			t.Fatalf("BodyQty(%q) = %d, out of range", s, int64(b.q))
		}
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var back BodyQty
		if err := json.Unmarshal(out, &back); err != nil || back.err != nil || back.q != b.q {
			t.Fatalf("BodyQty(%q) written as %s reads back as %d, %v, %v", s, out, int64(back.q), back.err, err)
		}
	})
}
