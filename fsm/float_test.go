package fsm

import (
	"math/big"
	"testing"
)

// TestLongDouble checks parsing and formatting against what Redis on
// x86-64 answers (the compatibility test compares with a live
// redis-server; these cases need no server).
func TestLongDouble(t *testing.T) {
	sum := func(a, b string) string {
		x, _, ok1 := ParseLongDouble([]byte(a))
		y, _, ok2 := ParseLongDouble([]byte(b))
		if !ok1 || !ok2 {
			t.Fatalf("%q or %q not parsed", a, b)
		}
		s, ok := addLongDouble(x, y)
		if !ok {
			return "overflow"
		}
		return FormatLongDouble(s)
	}
	for _, c := range []struct{ a, b, want string }{
		{"0.1", "0.2", "0.3"},        // long double rounding, not float64's 0.30000000000000004
		{"10.5", "0.1", "10.6"},      // Redis's documented example
		{"3", "1e-20", "3"},          // below 17 decimals
		{"-0.0", "0", "0"},           // never "-0"
		{"0x1p-3", "0X10", "16.125"}, // hexadecimal, as strtold reads it
		{"5.", ".5", "5.5"},
		{"0e-2147483647", "0x0p-99", "0"}, // zero written with any exponent is zero
		{"1.18e4932", "1.18e4932", "overflow"},
		{"123456789012345678901234567890", "0", "123456789012345678899921813504"},
	} {
		if got := sum(c.a, c.b); got != c.want {
			t.Errorf("%s + %s = %s, want %s", c.a, c.b, got, c.want)
		}
	}
	for _, s := range []string{"", " 1", "1 ", "1_0", "0b1", "0o7", "0x", "--1", "+-1", "1e", "nan", "NaN", "abc", ".", "-",
		"1e5000", "1e-5000", "1e99999999999", "0x1p99999999999", "1e-2147483647", "0x1p-9999999999"} {
		if _, _, ok := ParseLongDouble([]byte(s)); ok {
			t.Errorf("%q parsed as a float; Redis refuses it", s)
		}
	}
	for _, s := range []string{"inf", "-INF", "+Infinity", "infinity"} {
		if _, inf, ok := ParseLongDouble([]byte(s)); !ok || !inf {
			t.Errorf("%q: inf %v ok %v, want an infinity", s, inf, ok)
		}
	}
	if got := FormatLongDouble(new(big.Float).SetPrec(64).SetInt64(-7)); got != "-7" {
		t.Errorf("format -7 = %q", got)
	}
}

func FuzzParseLongDouble(f *testing.F) {
	for _, s := range []string{"1.5", "0x1p-3", "inf", "1e4932", "-0", "1e-4940"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, inf, ok := ParseLongDouble(b)
		if !ok || inf {
			return
		}
		// What INCRBYFLOAT stores parses back to the same value.
		s := FormatLongDouble(x)
		y, inf2, ok2 := ParseLongDouble([]byte(s))
		if !ok2 || inf2 {
			if x.Sign() != 0 && x.MantExp(nil) < -60 {
				return // a tiny value formats as 0 or as fewer digits: Redis's format keeps 17 decimals
			}
			t.Fatalf("%q formats as %q, which does not parse back", b, s)
		}
		if x.MantExp(nil) > -50 && y.Cmp(x) != 0 {
			d := new(big.Float).Sub(x, y)
			if d.Sign() != 0 && d.MantExp(nil) > -56 {
				t.Fatalf("%q formats as %q, which parses to a different value", b, s)
			}
		}
	})
}
