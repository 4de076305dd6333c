package fsm

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{0xab}, 300) // a length that needs two uvarint bytes
	cases := []struct {
		name string
		b    []byte
		want Command
	}{
		{"set", EncodeSet([]byte("k"), []byte("v")), Command{Op: OpSet, Args: [][]byte{[]byte("k"), []byte("v")}}},
		{"set empty", EncodeSet(nil, nil), Command{Op: OpSet, Args: [][]byte{{}, {}}}},
		{"set binary", EncodeSet([]byte("a\x00\nb"), []byte("\r\n\x00")),
			Command{Op: OpSet, Args: [][]byte{[]byte("a\x00\nb"), []byte("\r\n\x00")}}},
		{"set big", EncodeSet(big, big), Command{Op: OpSet, Args: [][]byte{big, big}}},
		{"append", EncodeAppend([]byte("k"), []byte("tail")), Command{Op: OpAppend, Args: [][]byte{[]byte("k"), []byte("tail")}}},
		{"del one", EncodeDel([]byte("a")), Command{Op: OpDel, Args: [][]byte{[]byte("a")}}},
		{"del many", EncodeDel([]byte("a"), []byte{0}, []byte("a")),
			Command{Op: OpDel, Args: [][]byte{[]byte("a"), {0}, []byte("a")}}},
		{"stamped", Stamp(1700000000123, EncodeDel([]byte("a"))),
			Command{Op: OpDel, Args: [][]byte{[]byte("a")}, Now: 1700000000123}},
		{"expire", EncodeExpire([]byte("k"), -1, ExpireGT), Command{Op: OpExpire, Args: [][]byte{[]byte("k"), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {ExpireGT}}}},
		{"set without expiry", EncodeSetIf([]byte("k"), nil, SetNX, 0), Command{Op: OpSetIf, Args: [][]byte{[]byte("k"), {}, {SetNX}}}},
		{"set with expiry", EncodeSetIf([]byte("k"), nil, 0, 258), Command{Op: OpSetIf, Args: [][]byte{[]byte("k"), {}, {0}, {0, 0, 0, 0, 0, 0, 1, 2}}}},
		{"incrby", EncodeIncrBy([]byte("n"), -2), Command{Op: OpIncrBy, Args: [][]byte{[]byte("n"), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}}}},
		// The pipeline's encoders, appending to a buffer, as their Encode twins.
		{"append set", AppendSet([]byte("x"), []byte("k"), []byte("v"))[1:], Command{Op: OpSet, Args: [][]byte{[]byte("k"), []byte("v")}}},
		{"append incrby", AppendIncrBy([]byte("x"), []byte("n"), -2)[1:], Command{Op: OpIncrBy, Args: [][]byte{[]byte("n"), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}}}},
	}
	for _, c := range cases {
		got, err := Decode(c.b)
		if err != nil {
			t.Errorf("%s: decode: %v", c.name, err)
			continue
		}
		if !commandEqual(got, c.want) {
			t.Errorf("%s: decode = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	valid := EncodeSet([]byte("key"), []byte("value"))
	cases := map[string][]byte{
		"nil":                  nil,
		"op only":              {byte(OpSet)},
		"truncated":            valid[:len(valid)-1],
		"trailing byte":        append(append([]byte{}, valid...), 0),
		"count past end":       {byte(OpDel), 5, 1, 'a'},
		"length past end":      {byte(OpSet), 1, 9, 'a'},
		"bad count varint":     {byte(OpSet), 0x80},
		"overflowing varint":   append([]byte{byte(OpSet)}, bytes.Repeat([]byte{0xff}, 11)...),
		"huge arg length":      {byte(OpSet), 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"huge count, no bytes": {byte(OpDel), 0xff, 0xff, 0xff, 0xff, 0x0f},
		"stamp only":           {byte(OpAt), 0, 0, 0, 0, 0, 0, 0, 1},
		"stamp cut short":      {byte(OpAt), 0, 0, 1},
		"stamped twice":        Stamp(5, Stamp(5, valid)),
		"stamped at zero":      Stamp(0, valid),
		"stamped before 1970":  Stamp(-1, valid),
	}
	for name, b := range cases {
		if c, err := Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode = %+v, %v; want ErrCorrupt", name, c, err)
		}
	}
}

func commandEqual(a, b Command) bool {
	if a.Op != b.Op || len(a.Args) != len(b.Args) {
		return false
	}
	for i := range a.Args {
		if !bytes.Equal(a.Args[i], b.Args[i]) {
			return false
		}
	}
	return true
}

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes to a
// command that decodes the same.
func FuzzDecode(f *testing.F) {
	f.Add(EncodeSet([]byte("k"), []byte("v")))
	f.Add(EncodeAppend([]byte("a\x00b"), []byte("\n")))
	f.Add(EncodeDel([]byte("a"), []byte("b"), []byte("a")))
	f.Add([]byte{})
	f.Add([]byte{byte(OpSet), 0x80})
	f.Add([]byte{0xff, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := Decode(encode(c.Op, c.Args...))
		if err != nil || !commandEqual(c, again) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", c, again, err)
		}
	})
}

// FuzzParseInt: Redis accepts exactly the canonical decimal form of an
// int64 (no sign but '-', no leading zeros, no "-0", no spaces), so a
// string parses if and only if formatting the value gives it back.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "01", "+1", " 1", "1 ", "", "-", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551616", "12a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseInt([]byte(s))
		if canonical := strconv.FormatInt(v, 10) == s; ok != canonical {
			t.Fatalf("ParseInt(%q) = %d, %v", s, v, ok)
		}
		if w, err := strconv.ParseInt(s, 10, 64); ok && (err != nil || w != v) {
			t.Fatalf("ParseInt(%q) = %d, strconv says %d, %v", s, v, w, err)
		}
	})
}

// TestResultIsZero: isZero knows every field of Result (a field it missed
// would make results carrying only that field come back empty), and the
// zero Result is handed out without an allocation.
func TestResultIsZero(t *testing.T) {
	if r := (Result{}); !r.isZero() {
		t.Fatal("Result{} is not zero")
	}
	typ := reflect.TypeOf(Result{})
	for i := range typ.NumField() {
		var r Result
		f := reflect.ValueOf(&r).Elem().Field(i)
		switch f.Kind() {
		case reflect.Int64:
			f.SetInt(1)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 0, 0)) // empty but not nil
		case reflect.Interface:
			f.Set(reflect.ValueOf(errors.New("x")))
		default:
			t.Fatalf("field %s of kind %s: teach this test and isZero about it", typ.Field(i).Name, f.Kind())
		}
		if r.isZero() {
			t.Errorf("a Result with only %s set counts as zero", typ.Field(i).Name)
		}
		if got := boxResult(r).(Result); reflect.ValueOf(got).Field(i).IsZero() {
			t.Errorf("boxResult lost %s", typ.Field(i).Name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = boxResult(Result{}) }); n != 0 {
		t.Errorf("boxing the zero Result allocates %v times", n)
	}
}
