package resp

import "testing"

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", false}, {"*", "anything", true}, {"", "", true}, {"", "a", false}, {"a", "", false},
		{"h?llo", "hello", true}, {"h?llo", "hllo", false}, {"h*llo", "hllo", true}, {"h*llo", "heeeello", true},
		{"h[ae]llo", "hallo", true}, {"h[ae]llo", "hillo", false}, {"h[^e]llo", "hallo", true}, {"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true}, {"h[b-a]llo", "hallo", true}, {"h[a-b]llo", "hcllo", false},
		{`h\*llo`, "h*llo", true}, {`h\*llo`, "hello", false}, {`[\]]`, "]", true}, {`[\-]`, "-", true},
		{"user:*:name", "user:42:name", true}, {"user:*:name", "user:42:age", false}, {"**a", "xa", true},
		{"a*", "a", true}, {"a**", "a", true}, {"*a*b", "xaxb", true}, {"*a*b", "xaxc", false},
		{"[abc", "a", true}, {"[abc", "d", false}, {"[", "a", false}, {"x[", "xa", false}, {"[]", "a", false},
		{"\\", "\\", true}, {"a\\", "a\\", true}, {"?", "\x00", true}, {"[\x80-\xff]", "\x90", true}, {"[a-\xff]", "b", false},
	} {
		if got := globMatch([]byte(c.p), []byte(c.s)); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

// FuzzGlobMatch: any pattern against any string answers without a panic
// or a hang.
func FuzzGlobMatch(f *testing.F) {
	f.Add([]byte("*a[b-c]?\\"), []byte("xabc"))
	f.Fuzz(func(t *testing.T, p, s []byte) {
		if len(p) > 64 || len(s) > 256 {
			return
		}
		globMatch(p, s)
	})
}
