package fsm

import (
	"errors"
	"math/big"
	"strings"
)

// INCRBYFLOAT computes as Redis does on x86-64, in C's long double: an
// 80-bit float with a 64-bit significand and exponents up to 2^16383. A
// big.Float with 64 bits of precision, rounding to nearest even, gives the
// same sums (short of the subnormal range, below 2^-16382); it is exact
// and the same on every node, whatever its hardware.

// Redis's refusals of INCRBYFLOAT, word for word.
var (
	ErrNotFloat = errors.New("ERR value is not a valid float")
	ErrNaNOrInf = errors.New("ERR increment would produce NaN or Infinity")
)

const (
	longDoublePrec = 64
	// maxLongDoubleExp bounds MantExp's exponent of a finite long double
	// (LDBL_MAX is just under 2^16384); minLongDoubleExp is that of its
	// smallest subnormal, 2^-16445.
	maxLongDoubleExp = 16384
	minLongDoubleExp = -16444
	// maxFloatChars is Redis's MAX_LONG_DOUBLE_CHARS: longer input is not
	// a float.
	maxFloatChars = 5 * 1024
)

// ParseLongDouble parses b as Redis's string2ld does (C's strtold, with
// no leading space and nothing after the number): decimal or hexadecimal
// ("0x1p-3") notation, an optional sign, and infinity spelled "inf" or
// "infinity" in any case; NaN, out-of-range values and empty input are not
// floats. inf reports an infinite value (f is then nil).
func ParseLongDouble(b []byte) (f *big.Float, inf, ok bool) {
	if len(b) == 0 || len(b) >= maxFloatChars {
		return nil, false, false
	}
	s := string(b)
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return nil, false, false
	}
	if strings.EqualFold(body, "inf") || strings.EqualFold(body, "infinity") {
		return nil, true, true
	}
	// big.Float's base-0 syntax is wider than strtold's: it takes digit
	// separators and binary and octal prefixes.
	lower := strings.ToLower(body)
	if body == "" || strings.ContainsRune(body, '_') || strings.HasPrefix(lower, "0b") || strings.HasPrefix(lower, "0o") ||
		!(body[0] >= '0' && body[0] <= '9' || body[0] == '.') {
		return nil, false, false
	}
	if strings.HasPrefix(lower, "0x") && !strings.ContainsAny(lower[2:], "0123456789abcdef") {
		return nil, false, false // "0x" alone: strtold reads the 0 and stops
	}
	f, _, err := big.ParseFloat(s, 0, longDoublePrec, big.ToNearestEven)
	if err != nil || f.IsInf() {
		return nil, false, false // an exponent past big.Float's range
	}
	// strtold reports ERANGE for overflow (HUGE_VAL) and for underflow to
	// zero, which string2ld refuses.
	if f.Sign() == 0 {
		if mantissaNonZero(lower) {
			return nil, false, false // underflowed even big.Float's range
		}
	} else if exp := f.MantExp(nil); exp > maxLongDoubleExp || exp < minLongDoubleExp {
		return nil, false, false
	}
	return f, false, true
}

// mantissaNonZero reports whether the digits before the exponent of a
// number (lower case, sign removed) include a non-zero one.
func mantissaNonZero(s string) bool {
	digits, exp := "123456789", "e"
	if rest, ok := strings.CutPrefix(s, "0x"); ok {
		s, digits, exp = rest, "123456789abcdef", "p"
	}
	if i := strings.Index(s, exp); i >= 0 {
		s = s[:i]
	}
	return strings.ContainsAny(s, digits)
}

// FormatLongDouble formats f as Redis's ld2string in LD_STR_HUMAN mode:
// printf's "%.17Lf" with the trailing zeros (and a trailing point)
// removed, and "-0" written "0".
func FormatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// addLongDouble returns a+b rounded to a long double, or ok false when the
// sum is not finite.
func addLongDouble(a, b *big.Float) (sum *big.Float, ok bool) {
	sum = new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven).Add(a, b)
	if sum.Sign() != 0 && sum.MantExp(nil) > maxLongDoubleExp {
		return nil, false
	}
	return sum, true
}
