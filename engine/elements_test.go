package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

// elems renders key's hash fields as a reader sees them.
func elems(t *testing.T, each func(Type, []byte, []byte, []byte, func(elem, value []byte) error) error, key string) string {
	t.Helper()
	var parts []string
	if err := each(TypeHash, []byte(key), nil, nil, func(f, v []byte) error {
		parts = append(parts, fmt.Sprintf("%q=%q", f, v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(parts, " ")
}

func putHash(t *testing.T, b *ApplyBatch, key string, fields ...string) {
	t.Helper()
	if err := b.Put([]byte(key), Record{Type: TypeHash}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(fields); i += 2 {
		if err := b.PutElem(TypeHash, []byte(key), []byte(fields[i]), []byte(fields[i+1])); err != nil {
			t.Fatal(err)
		}
	}
}

// TestElements: a key's elements are its own (no other key's, even one it
// is a prefix of), go with it when it is deleted or replaced by another
// type (also within one batch), and travel in snapshots.
func TestElements(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	b := e.NewApplyBatch()
	putHash(t, b, "a", "f1", "1", "f2", "2")
	putHash(t, b, "ab", "x", "3")
	putHash(t, b, "\xff\xff", "\xff", "4")
	putHash(t, b, "gone", "f", "5")
	if err := b.Delete([]byte("gone")); err != nil {
		t.Fatal(err)
	}
	putHash(t, b, "gone", "g", "6") // created again in the same batch: only the new field
	putHash(t, b, "str", "f", "7")
	if err := b.Set([]byte("str"), []byte("now a string")); err != nil {
		t.Fatal(err)
	}
	if got := elems(t, b.Elems, "gone"); got != `"g"="6"` {
		t.Fatalf("the batch sees gone's fields as %s", got)
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	b.Close()

	v, err := e.View()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"a":        `"f1"="1" "f2"="2"`,
		"ab":       `"x"="3"`,
		"\xff\xff": `"\xff"="4"`,
		"gone":     `"g"="6"`,
		"str":      ``,
	} {
		if got := elems(t, v.Elems, key); got != want {
			t.Errorf("fields of %q: %s, want %s", key, got, want)
		}
	}
	if val, ok, err := v.Elem(TypeHash, []byte("a"), []byte("f2")); err != nil || !ok || string(val) != "2" {
		t.Errorf("a.f2 = %q %v %v", val, ok, err)
	}
	if _, ok, _ := v.Elem(TypeHash, []byte("a"), []byte("f")); ok {
		t.Error("a.f exists")
	}
	// A view does not see later writes.
	b = e.NewApplyBatch()
	if err := b.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	b.Commit(2)
	b.Close()
	if got := elems(t, v.Elems, "a"); got != `"f1"="1" "f2"="2"` {
		t.Errorf("the view sees a's fields as %s after a later delete", got)
	}
	v.Close()
	if v, _ = e.View(); elems(t, v.Elems, "a") != "" {
		t.Error("a's fields outlive it")
	}
	v.Close()

	// A snapshot carries the fields.
	e.Save(raft.HardState{Term: 1, Commit: 2}, []raft.Entry{{Index: 1, Term: 1}, {Index: 2, Term: 1}}, true)
	meta, stream := streamSnapshot(t, e)
	dst := openMem(t, vfs.NewMem())
	if err := dst.InstallSnapshot(meta, stream); err != nil {
		t.Fatal(err)
	}
	if got := elems(t, func(ty Type, k, from, to []byte, fn func(_, _ []byte) error) error {
		v, err := dst.View()
		if err != nil {
			return err
		}
		defer v.Close()
		return v.Elems(ty, k, from, to, fn)
	}, "\xff\xff"); got != `"\xff"="4"` {
		t.Fatalf("installed fields: %s", got)
	}
	_, d1, _ := e.Digest()
	_, d2, _ := dst.Digest()
	if d1 != d2 || dst.KeyCount() != 4 {
		t.Fatalf("installed: digest equal %v, keys %d", d1 == d2, dst.KeyCount())
	}
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"a": "b", "a\xff": "b", "\xff\xff": "", "ab\x00": "ab\x01"} {
		if got := string(prefixEnd([]byte(in))); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}
