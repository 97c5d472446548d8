package warehouse

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// QtyScale is how many stored units make one unit of measure: quantities
// are kept as integers in thousandths so that sums are exact (no floats).
const QtyScale = 1000

// MaxQty bounds any quantity and balance: 10^12 units, in thousandths.
const MaxQty Qty = 1_000_000_000_000 * QtyScale

// Qty is a quantity in thousandths of the item's unit of measure. In JSON
// it is a plain number ("12.5"), read exactly from its text, never through
// a float.
type Qty int64

// ParseQty reads a decimal number exactly. It accepts at most three
// decimals (more can never be stored) and |q| <= 10^12.
func ParseQty(s string) (Qty, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("quantity must be a number")
	}
	if q, done, err := hugeExponent(s); done {
		return q, err
	}
	// big.Rat reads decimal and exponent forms exactly, but also fractions
	// and 0x, 0b and 0o prefixes, which are no decimal numbers.
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.ContainsAny(s, "/xXpP_bBoO") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "nan") {
		return 0, errors.New("quantity must be a number")
	}
	r.Mul(r, big.NewRat(QtyScale, 1))
	if !r.IsInt() {
		return 0, errors.New("quantity has more than 3 decimals")
	}
	n := r.Num()
	if !n.IsInt64() || n.Int64() > int64(MaxQty) || n.Int64() < -int64(MaxQty) {
		return 0, errors.New("quantity out of range (at most 10^12)")
	}
	return Qty(n.Int64()), nil
}

// hugeExponent decides a decimal whose exponent is far outside what a Qty
// holds without big.Rat, which would build 10^exp (tens of milliseconds
// for 1e999999: a cheap way to burn CPU with a 10-byte number). done is
// false when s is not such a number; ParseQty then reads it as usual.
func hugeExponent(s string) (q Qty, done bool, err error) {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return 0, false, nil
	}
	mant, exp := s[:i], s[i+1:]
	e, convErr := strconv.Atoi(exp)
	if convErr != nil && !errors.Is(convErr, strconv.ErrRange) {
		return 0, false, nil
	}
	if errors.Is(convErr, strconv.ErrRange) {
		e = 1 << 30
		if strings.HasPrefix(exp, "-") {
			e = -e
		}
	}
	unsigned := strings.TrimLeft(mant, "+-")
	if len(mant)-len(unsigned) > 1 || strings.Count(unsigned, ".") > 1 {
		return 0, false, nil
	}
	digits, zero := 0, true
	for _, c := range unsigned {
		switch {
		case c >= '0' && c <= '9':
			digits++
			zero = zero && c == '0'
		case c == '.':
		default:
			return 0, false, nil
		}
	}
	if digits == 0 {
		return 0, false, nil
	}
	// A non-zero mantissa of n digits lies in [10^-n, 10^n).
	switch {
	case zero && (e > 40 || e < -40):
		return 0, true, nil
	case !zero && e-digits > 12:
		return 0, true, errors.New("quantity out of range (at most 10^12)")
	case !zero && e+digits < -3:
		return 0, true, errors.New("quantity has more than 3 decimals")
	}
	return 0, false, nil
}

// String formats q with as few decimals as it needs: 12, 12.5, 0.125.
func (q Qty) String() string {
	neg := q < 0
	u := uint64(q)
	if neg {
		u = uint64(-q)
	}
	whole, frac := u/QtyScale, u%QtyScale
	s := strconv.FormatUint(whole, 10)
	if frac != 0 {
		f := strconv.FormatUint(frac+QtyScale, 10)[1:] // zero-padded to 3 digits
		s += "." + strings.TrimRight(f, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Decimals is how many decimals q needs (0-3).
func (q Qty) Decimals() int {
	if q < 0 {
		q = -q
	}
	switch {
	case q%1000 == 0:
		return 0
	case q%100 == 0:
		return 1
	case q%10 == 0:
		return 2
	}
	return 3
}

// MarshalJSON writes q as a JSON number.
func (q Qty) MarshalJSON() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalJSON reads a JSON number exactly.
func (q *Qty) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		return errors.New("quantity must be a JSON number, not a string")
	}
	v, err := ParseQty(s)
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// CheckPrecision returns an EINVALID error naming field if q has more
// decimals than precision allows.
func CheckPrecision(field string, q Qty, precision int, sku string) error {
	if q.Decimals() > precision {
		return &Error{Code: EINVALID,
			Message: field + ": " + q.String() + " has more decimals than item " + sku + " allows (qty_precision " + strconv.Itoa(precision) + ")",
			Fields:  []FieldError{{Field: field, Message: "at most " + strconv.Itoa(precision) + " decimals for this item"}}}
	}
	return nil
}
