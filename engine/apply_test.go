package engine

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// mustGet returns key's value through get (a batch's or an engine's Key).
func mustGet(t *testing.T, get func([]byte) (Record, bool, error), key []byte) ([]byte, bool) {
	t.Helper()
	r, ok, err := get(key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return r.Value, ok
}

func TestApplyBatchSeesOwnWrites(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	b := e.NewApplyBatch()
	defer b.Close()
	if err := b.Set([]byte("x"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, b.Key, []byte("x")); !ok || string(v) != "1" {
		t.Fatalf("batch get = %q, %v, want 1", v, ok)
	}
	// Not committed: the engine does not see it yet.
	if _, ok := mustGet(t, e.Key, []byte("x")); ok {
		t.Fatal("engine sees an uncommitted write")
	}
	if err := b.Delete([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, b.Key, []byte("x")); ok {
		t.Fatal("batch get sees a key it deleted")
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	if applied, _ := e.Applied(); applied != 1 || e.KeyCount() != 0 {
		t.Fatalf("applied, keys = %d, %d, want 1, 0", applied, e.KeyCount())
	}
}

// TestApplyBatchIndexesOnFirstRead checks that a batch of writes alone is
// never indexed, nor by a read of a record waiting in pending, and that
// the first read that needs the batch indexes it with every write so far
// (records, elements, range deletions) in view, and the later ones.
func TestApplyBatchIndexesOnFirstRead(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	b := e.NewApplyBatch()
	defer b.Close()
	putHash(t, b, "h", "f1", "1", "f2", "2")
	putHash(t, b, "gone", "f", "3")
	for _, k := range []string{"a", "b"} {
		if err := b.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete([]byte("gone")); err != nil { // a range deletion of its fields
		t.Fatal(err)
	}
	if b.b.Indexed() {
		t.Fatal("a batch of writes alone is indexed")
	}
	// b's record waits in pending: reading it needs no index.
	if v, ok := mustGet(t, b.Key, []byte("b")); !ok || string(v) != "vb" {
		t.Fatalf("batch get b = %q, %v, want vb", v, ok)
	}
	if b.b.Indexed() {
		t.Fatal("a read of a record waiting in pending indexed the batch")
	}
	if got := elems(t, b.Elems, "h"); got != `"f1"="1" "f2"="2"` {
		t.Fatalf("the batch sees h's fields as %s", got)
	}
	if !b.b.Indexed() {
		t.Fatal("the batch is not indexed after a read of elements")
	}
	if v, ok := mustGet(t, b.Key, []byte("b")); !ok || string(v) != "vb" {
		t.Fatalf("batch get b after the flush = %q, %v, want vb", v, ok)
	}
	if _, ok := mustGet(t, b.Key, []byte("gone")); ok {
		t.Fatal("the batch sees a record it deleted")
	}
	if got := elems(t, b.Elems, "gone"); got != "" {
		t.Fatalf("the batch sees deleted fields of gone: %s", got)
	}
	if err := b.Set([]byte("a"), []byte("again")); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, b.Key, []byte("a")); !ok || string(v) != "again" {
		t.Fatalf("batch get a = %q, %v, want again", v, ok)
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, e.Key, []byte("a")); !ok || string(v) != "again" {
		t.Fatalf("engine get a = %q, %v, want again", v, ok)
	}
	if e.KeyCount() != 3 {
		t.Fatalf("keys = %d, want 3 (h, a, b)", e.KeyCount())
	}
}

func TestApplyBatchKeyCount(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	apply := func(applied uint64, f func(b *ApplyBatch) error) {
		t.Helper()
		b := e.NewApplyBatch()
		defer b.Close()
		if err := f(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(applied); err != nil {
			t.Fatal(err)
		}
	}
	apply(1, func(b *ApplyBatch) error {
		for _, k := range []string{"a", "b", "c", "a"} { // "a" twice: one key
			if err := b.Set([]byte(k), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if e.KeyCount() != 3 {
		t.Fatalf("keys = %d, want 3", e.KeyCount())
	}
	apply(2, func(b *ApplyBatch) error {
		// Overwrite an existing key, delete one twice, delete a missing one,
		// then create and delete a new one within the batch.
		for _, op := range []func() error{
			func() error { return b.Set([]byte("b"), []byte("w")) },
			func() error { return b.Delete([]byte("c")) },
			func() error { return b.Delete([]byte("c")) },
			func() error { return b.Delete([]byte("nope")) },
			func() error { return b.Set([]byte("tmp"), []byte("t")) },
			func() error { return b.Delete([]byte("tmp")) },
		} {
			if err := op(); err != nil {
				return err
			}
		}
		return nil
	})
	if e.KeyCount() != 2 {
		t.Fatalf("keys = %d, want 2", e.KeyCount())
	}
	if got, want := dumpData(t, e), "\"a\"=\"v\"\n\"b\"=\"w\"\n"; got != want {
		t.Fatalf("data = %s, want %s", got, want)
	}
	// A batch closed without Commit leaves no trace, count included.
	b := e.NewApplyBatch()
	if err := b.Set([]byte("z"), []byte("z")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if applied, _ := e.Applied(); applied != 2 || e.KeyCount() != 2 {
		t.Fatalf("after discarded batch applied, keys = %d, %d, want 2, 2", applied, e.KeyCount())
	}
	if _, ok := mustGet(t, e.Key, []byte("z")); ok {
		t.Fatal("a discarded batch's write is visible")
	}
}

func TestApplyBatchMisuse(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	b := e.NewApplyBatch()
	if err := b.Commit(5); err != nil {
		t.Fatal(err)
	}
	if err := b.Set([]byte("k"), nil); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("set after commit: err = %v, want ErrBatchDone", err)
	}
	if err := b.Commit(6); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("second commit: err = %v, want ErrBatchDone", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, _, err := b.Key([]byte("k")); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("get after close: err = %v, want ErrBatchDone", err)
	}
	b = e.NewApplyBatch()
	defer b.Close()
	if err := b.Commit(4); err == nil {
		t.Fatal("commit moving the applied index backwards succeeded")
	}
	if applied, _ := e.Applied(); applied != 5 {
		t.Fatalf("applied = %d, want 5", applied)
	}
}

func TestBinaryKeysAndValues(t *testing.T) {
	fs := vfs.NewMem()
	e := openMem(t, fs)
	kv := [][2][]byte{
		{[]byte(""), []byte("empty key")},
		{[]byte{0}, []byte{0, 0, 0}},
		{[]byte{0, 0}, []byte("two zeros")},
		{[]byte("a\nb"), []byte("line1\nline2\r\n")},
		{[]byte("a\x00b"), []byte{}},
		{[]byte{0xff, 0xfe}, []byte{0xff}},
		// Keys that spell other families' prefixes stay data keys.
		{[]byte("a"), []byte("not the applied index")},
		{[]byte("l\x00\x00\x00\x00\x00\x00\x00\x01"), []byte("not a log entry")},
	}
	b := e.NewApplyBatch()
	for _, p := range kv {
		if err := b.Set(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		for _, p := range kv {
			v, ok := mustGet(t, e.Key, p[0])
			if !ok || !bytes.Equal(v, p[1]) {
				t.Fatalf("get %q = %q, %v, want %q", p[0], v, ok, p[1])
			}
		}
		if _, ok := mustGet(t, e.Key, []byte{0, 0, 0}); ok {
			t.Fatal("get of a key never written succeeded")
		}
		n := 0
		if err := e.Iterate(func(k []byte, r Record) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != len(kv) || e.KeyCount() != uint64(len(kv)) {
			t.Fatalf("iterated %d keys, count %d, want %d", n, e.KeyCount(), len(kv))
		}
		if applied, _ := e.Applied(); applied != 1 {
			t.Fatalf("applied = %d, want 1", applied)
		}
	}
	check()
	closeEngine(t, e)
	e = openMem(t, fs)
	check()
}

func TestIterateStopsOnError(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	b := e.NewApplyBatch()
	for i := 0; i < 5; i++ {
		if err := b.Set([]byte{byte('a' + i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	b.Close()
	stop := errors.New("stop")
	var seen []byte
	err := e.Iterate(func(k []byte, _ Record) error {
		seen = append(seen, k...)
		if len(seen) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || string(seen) != "abc" {
		t.Fatalf("iterate = %v after %q, want stop after abc", err, seen)
	}
}

// TestApplyBatchesSerialise runs batches from several goroutines: each
// waits for the previous one, so the key count stays exact.
func TestApplyBatchesSerialise(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	const workers, perWorker = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				b := e.NewApplyBatch()
				applied, _ := e.Applied()
				err := b.Set([]byte(fmt.Sprintf("w%d-%d", w, i)), []byte("v"))
				if err == nil {
					err = b.Commit(applied + 1)
				}
				if cerr := b.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	applied, _ := e.Applied()
	if e.KeyCount() != workers*perWorker || applied != workers*perWorker {
		t.Fatalf("keys, applied = %d, %d, want %d", e.KeyCount(), applied, workers*perWorker)
	}
}

func TestDigest(t *testing.T) {
	commit := func(e *Engine, applied uint64, kv ...string) {
		t.Helper()
		b := e.NewApplyBatch()
		defer b.Close()
		for i := 0; i < len(kv); i += 2 {
			var err error
			if kv[i+1] == "-" {
				err = b.Delete([]byte(kv[i]))
			} else {
				err = b.Set([]byte(kv[i]), []byte(kv[i+1]))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(applied); err != nil {
			t.Fatal(err)
		}
	}
	digest := func(e *Engine) (uint64, [20]byte) {
		t.Helper()
		applied, d, err := e.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return applied, d
	}
	a, b := openMem(t, vfs.NewMem()), openMem(t, vfs.NewMem())
	if applied, d := digest(a); applied != 0 || d != [20]byte{} {
		t.Fatalf("empty store: applied %d, digest %x; want 0 and zeros", applied, d)
	}
	// The same data reached by different paths digests alike.
	commit(a, 1, "k1", "v1", "k2", "v2")
	commit(b, 1, "k2", "v2", "x", "gone")
	commit(b, 2, "k1", "v1", "x", "-")
	ia, da := digest(a)
	ib, db := digest(b)
	if ia != 1 || ib != 2 || da != db || da == [20]byte{} {
		t.Fatalf("digests (%d, %x) and (%d, %x): want equal, non-zero, at 1 and 2", ia, da, ib, db)
	}
	// Moving bytes between key and value changes it.
	c := openMem(t, vfs.NewMem())
	commit(c, 1, "k1v", "1", "k2", "v2")
	if _, dc := digest(c); dc == da {
		t.Fatal("a different store has the same digest")
	}
}

// TestDeleteAll: FLUSHDB's batch removes every key, later writes in the
// same batch see the empty data set, and the key count follows.
func TestDeleteAll(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	b := e.NewApplyBatch()
	for _, k := range []string{"a", "b", "c"} {
		if err := b.Set([]byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = e.NewApplyBatch()
	b.Set([]byte("d"), []byte("v"))
	if err := b.DeleteAll(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Key([]byte("a")); err != nil || ok {
		t.Fatalf("after DeleteAll the batch still sees a: %v %v", ok, err)
	}
	if _, ok, err := b.Key([]byte("d")); err != nil || ok {
		t.Fatalf("after DeleteAll the batch still sees its own d: %v %v", ok, err)
	}
	b.Set([]byte("e"), []byte("v"))
	b.Set([]byte("a"), []byte("again"))
	// c was committed before the DeleteAll and not looked at since: its
	// SET must count as a new key all the same.
	b.Set([]byte("c"), []byte("again"))
	if err := b.Commit(2); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if n := e.KeyCount(); n != 3 {
		t.Fatalf("key count %d after DeleteAll and three sets, want 3", n)
	}
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": false, "e": true} {
		if _, ok, err := e.Key([]byte(k)); err != nil || ok != want {
			t.Fatalf("Get(%s) = %v, %v; want %v", k, ok, err, want)
		}
	}
}

// TestKeyStates: a write to a key that a batch saw before takes the key's
// state from memory instead of a lookup. That state must be the committed
// one: after a discarded batch, after DeleteAll, after a snapshot replaced
// the data, and for batches of many keys. Memory takes a new copy of a
// state only when a write changes it.
func TestKeyStates(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	fillLog(t, e, 10) // k1..k10, applied 10
	applied := uint64(10)
	apply := func(commit bool, f func(b *ApplyBatch) error) {
		t.Helper()
		b := e.NewApplyBatch()
		defer b.Close()
		if err := f(b); err != nil {
			t.Fatal(err)
		}
		if commit {
			applied++
			if err := b.Commit(applied); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(step string, keys, expires uint64) {
		t.Helper()
		if e.KeyCount() != keys || e.expires.Load() != expires {
			t.Fatalf("%s: keys %d, with an expiry %d; want %d, %d", step, e.KeyCount(), e.expires.Load(), keys, expires)
		}
	}
	x := []byte("x")
	apply(true, func(b *ApplyBatch) error { return b.Put(x, Record{Type: TypeString, Expire: 99, Value: []byte("1")}) })
	check("x set with an expiry", 11, 1)
	apply(false, func(b *ApplyBatch) error { return b.Delete(x) })
	apply(true, func(b *ApplyBatch) error { return b.Set(x, []byte("2")) })
	check("x set again after a discarded delete", 11, 0)
	apply(true, func(b *ApplyBatch) error { return b.DeleteAll() })
	apply(true, func(b *ApplyBatch) error { return b.Set(x, []byte("3")) })
	check("x set after DeleteAll", 1, 0)

	// A snapshot without x replaces the data: x is new again.
	src := openMem(t, vfs.NewMem())
	fillLog(t, src, 30)
	meta, stream := streamSnapshot(t, src)
	if err := e.InstallSnapshot(meta, stream); err != nil {
		t.Fatal(err)
	}
	check("after the install", 30, 0)
	applied = meta.Index
	apply(true, func(b *ApplyBatch) error { return b.Set(x, []byte("4")) })
	check("x set after the install", 31, 0)

	// Many keys in one batch, then all deleted.
	const manyKeys = 5000
	many := func(f func(b *ApplyBatch, k []byte) error) func(b *ApplyBatch) error {
		return func(b *ApplyBatch) error {
			for i := range manyKeys {
				if err := f(b, fmt.Appendf(nil, "m%d", i)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	apply(true, many(func(b *ApplyBatch, k []byte) error { return b.Set(k, k) }))
	check("many keys set", 31+manyKeys, 0)
	apply(true, many(func(b *ApplyBatch, k []byte) error { return b.Delete(k) }))
	check("many keys deleted", 31, 0)
	apply(true, func(b *ApplyBatch) error { return b.Delete(x) })
	check("x deleted", 30, 0)

	// Stats: x, just deleted, is known to be missing; a new key is looked up.
	before := e.Stats()
	apply(true, func(b *ApplyBatch) error { return b.Set(x, []byte("5")) })
	apply(true, func(b *ApplyBatch) error { return b.Set([]byte("fresh"), []byte("1")) })
	check("x and fresh set", 32, 0)
	after := e.Stats()
	if hits, lookups := after.KeyStateHits-before.KeyStateHits, after.KeyStateLookups-before.KeyStateLookups; hits != 1 || lookups != 1 {
		t.Fatalf("key states found in memory %d, looked up %d; want 1, 1", hits, lookups)
	}

	// A write that leaves a key's state as memory holds it writes no new
	// copy of it there; one that changes it does, and the next batch
	// takes the new state, expiry included, from memory.
	stored := func() uint64 {
		var s fastcache.Stats
		e.states.UpdateStats(&s)
		return s.SetCalls
	}
	wantStored := func(step string, from, want uint64) {
		t.Helper()
		if got := stored() - from; got != want {
			t.Fatalf("%s: %d states written to memory, want %d", step, got, want)
		}
	}
	n := stored()
	apply(true, func(b *ApplyBatch) error { return b.Set(x, []byte("6")) })
	wantStored("x set again", n, 0)
	const expire = 1 << 40
	n = stored()
	apply(true, func(b *ApplyBatch) error {
		return b.Put(x, Record{Type: TypeString, Expire: expire, Value: []byte("7")})
	})
	wantStored("x given an expiry", n, 1)
	check("x with an expiry", 32, 1)
	before = e.Stats()
	n = stored()
	apply(true, func(b *ApplyBatch) error { return b.Set(x, []byte("8")) })
	wantStored("x's expiry dropped", n, 1)
	check("x without an expiry", 32, 0)
	if after := e.Stats(); after.KeyStateHits-before.KeyStateHits != 1 || after.KeyStateLookups != before.KeyStateLookups {
		t.Fatalf("x's state not taken from memory")
	}
	// The index entry of the expiry memory gave was the one removed.
	if keys, err := e.Expiring(expire+1, 10); err != nil || len(keys) != 0 {
		t.Fatalf("expiring after x's expiry was dropped: %q, %v", keys, err)
	}
}

// TestKeyStateEncoding: the states kept in memory read back as written.
func TestKeyStateEncoding(t *testing.T) {
	for _, st := range []keyState{
		{},
		{exists: true, typ: TypeString},
		{exists: true, typ: TypeZSet},
		{exists: true, typ: TypeHash, expire: 1},
		{exists: true, typ: TypeString, expire: 1<<62 + 12345},
	} {
		v := encodeKeyState(nil, st)
		if got := decodeKeyState(v); got != st {
			t.Errorf("%+v encoded as %x reads back as %+v", st, v, got)
		}
		if want := 1 + 8*min(st.expire, 1); len(v) != int(want) {
			t.Errorf("%+v encoded in %d bytes, want %d", st, len(v), want)
		}
	}
}

// TestHotRecords checks that Engine.Key, which answers reads of keys it
// looked up before from memory, always returns the committed record: after
// writes, deletes, DeleteAll, a snapshot's install, a commit racing with a
// read, and over a seeded run of random batches compared with pebble.
func TestHotRecords(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	fillLog(t, e, 10) // k1..k10 = v1..v10, applied 10
	applied := uint64(10)
	commit := func(f func(b *ApplyBatch) error) {
		t.Helper()
		b := e.NewApplyBatch()
		defer b.Close()
		if err := f(b); err != nil {
			t.Fatal(err)
		}
		applied++
		if err := b.Commit(applied); err != nil {
			t.Fatal(err)
		}
	}
	// want reads key twice (a lookup that fills, then one from memory)
	// and checks both against the committed record.
	want := func(step, key string, value string, found bool) {
		t.Helper()
		for range 2 {
			r, ok, err := e.Key([]byte(key))
			if err != nil {
				t.Fatal(err)
			}
			if ok != found || (found && string(r.Value) != value) {
				t.Fatalf("%s: %s = %q (found %v), want %q (found %v)", step, key, r.Value, ok, value, found)
			}
		}
	}
	k := []byte("k1")
	want("start", "k1", "v1", true)
	if _, ok := e.hot["k1"]; !ok {
		t.Fatal("a read of a small record did not keep it")
	}
	commit(func(b *ApplyBatch) error { return b.Set(k, []byte("a")) })
	want("set", "k1", "a", true)
	commit(func(b *ApplyBatch) error { return b.Put(k, Record{Type: TypeString, Expire: 5, Value: []byte("b")}) })
	if r, _, _ := e.Key(k); r.Expire != 5 {
		t.Fatalf("expiry %d, want 5", r.Expire)
	}
	commit(func(b *ApplyBatch) error { return b.Delete(k) })
	want("deleted", "k1", "", false)
	commit(func(b *ApplyBatch) error { return b.Set(k, []byte("c")) })
	want("set again", "k1", "c", true)

	// A read made while a batch writing the key is open, and one whose
	// lookup a commit overtakes, keep nothing older than the commit.
	b := e.NewApplyBatch()
	if err := b.Set(k, []byte("d")); err != nil {
		t.Fatal(err)
	}
	want("batch open", "k1", "c", true)
	applied++
	if err := b.Commit(applied); err != nil {
		t.Fatal(err)
	}
	b.Close()
	want("committed after a read", "k1", "d", true)
	e.hotFilling = func() {
		e.hotFilling = nil
		commit(func(b *ApplyBatch) error { return b.Set(k, []byte("e")) })
	}
	e.releaseHot(nil)
	if r, _, _ := e.Key(k); string(r.Value) != "d" {
		t.Fatalf("read overtaken by a commit: %q, want the record it looked up, d", r.Value)
	}
	want("commit overtook a read", "k1", "e", true)
	// A read that met pebble before a change (a commit, a snapshot's
	// install), and fills after the change reached pebble, must not keep
	// the old record: another read may already have met the new one.
	raced := func(step string, before, after string, change func() error) {
		t.Helper()
		e.releaseHot(nil)
		filling, fill := make(chan struct{}), make(chan struct{})
		e.hotFilling = func() { e.hotFilling = nil; close(filling); <-fill }
		early := make(chan Record, 1)
		go func() { r, _, _ := e.Key(k); early <- r }()
		<-filling // the early read met before
		changed, finish := make(chan struct{}), make(chan struct{})
		e.hotChanged = func() { e.hotChanged = nil; close(changed); <-finish }
		changeErr := make(chan error, 1)
		go func() { changeErr <- change() }()
		<-changed
		// A failed check must not leave the change holding the engine.
		var once1, once2 sync.Once
		defer once1.Do(func() { close(fill) })
		defer once2.Do(func() { close(finish) })
		want(step+": change in pebble", "k1", after, true)
		once1.Do(func() { close(fill) })
		if r := <-early; string(r.Value) != before {
			t.Fatalf("%s: early read %q, want %q", step, r.Value, before)
		}
		want(step+": after the early read filled", "k1", after, true)
		once2.Do(func() { close(finish) })
		if err := <-changeErr; err != nil {
			t.Fatal(err)
		}
		want(step+": change done", "k1", after, true)
	}
	raced("commit", "e", "g", func() error {
		b := e.NewApplyBatch()
		defer b.Close()
		if err := b.Set(k, []byte("g")); err != nil {
			return err
		}
		return b.Commit(applied + 1)
	})
	applied++
	src := openMem(t, vfs.NewMem())
	fillLog(t, src, 30)
	meta, stream := streamSnapshot(t, src)
	raced("install", "g", "v1", func() error { return e.InstallSnapshot(meta, stream) })
	applied = meta.Index
	commit(func(b *ApplyBatch) error { return b.Set(k, []byte("e")) })
	// Nor may a read fill while a change is on its way to pebble: it may
	// have met pebble just before the change.
	e.releaseHot(nil)
	e.holdHot()
	want("change under way", "k1", "e", true)
	if _, ok := e.hot["k1"]; ok {
		t.Fatal("a read filled a record while a change was under way")
	}
	e.releaseHot(nil)

	commit(func(b *ApplyBatch) error { return b.DeleteAll() })
	want("after DeleteAll", "k1", "", false)
	want("after DeleteAll", "k2", "", false)
	commit(func(b *ApplyBatch) error { return b.Set(k, []byte("f")) })
	want("set after DeleteAll", "k1", "f", true)

	// A snapshot replaces the data: k1 is v1 again, k2 is back.
	meta, stream = streamSnapshot(t, src)
	if err := e.InstallSnapshot(meta, stream); err != nil {
		t.Fatal(err)
	}
	applied = meta.Index
	want("after the install", "k1", "v1", true)
	want("after the install", "k2", "v2", true)
	commit(func(b *ApplyBatch) error { return b.Set(k, []byte("h")) })
	e.releaseHot(nil)
	e.hotFilling = func() {
		e.hotFilling = nil
		meta, stream := streamSnapshot(t, src)
		if err := e.InstallSnapshot(meta, stream); err != nil {
			t.Fatal(err)
		}
	}
	if r, _, _ := e.Key(k); string(r.Value) != "h" {
		t.Fatalf("read overtaken by an install: %q, want the record it looked up, h", r.Value)
	}
	want("install overtook a read", "k1", "v1", true)

	// Large records are looked up every time.
	big := bytes.Repeat([]byte("z"), hotRecordMax+1)
	commit(func(b *ApplyBatch) error { return b.Set(k, big) })
	want("large value", "k1", string(big), true)
	if _, ok := e.hot["k1"]; ok {
		t.Fatal("a record larger than hotRecordMax was kept")
	}
	long := bytes.Repeat([]byte("l"), hotRecordMax)
	commit(func(b *ApplyBatch) error { return b.Set(long, []byte("1")) })
	want("long key", string(long), "1", true)
	if _, ok := e.hot[string(long)]; ok {
		t.Fatal("a key and value longer than hotRecordMax together were kept")
	}

	// Random batches over a few keys, reads between them.
	rng := rand.New(rand.NewPCG(7, 7))
	keys := []string{"k1", "k2", "k3", "k4", "h"}
	for step := range 2000 {
		commit(func(b *ApplyBatch) error {
			for range 1 + rng.IntN(4) {
				key := []byte(keys[rng.IntN(len(keys))])
				var err error
				switch n := rng.IntN(20); {
				case n == 0:
					err = b.DeleteAll()
				case n < 5:
					err = b.Delete(key)
				case n < 7:
					err = b.Put(key, Record{Type: TypeHash, Value: []byte("hdr")})
				case n < 9:
					err = b.Set(key, bytes.Repeat([]byte("y"), hotRecordMax+rng.IntN(2)))
				default:
					err = b.Put(key, Record{Type: TypeString, Expire: int64(rng.IntN(2)), Value: fmt.Appendf(nil, "%d", step)})
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		for range 3 {
			key := keys[rng.IntN(len(keys))]
			got, ok, err := e.Key([]byte(key))
			if err != nil {
				t.Fatal(err)
			}
			r, found, err := getRecord(e.db, []byte(key))
			if err != nil {
				t.Fatal(err)
			}
			if ok != found || !reflect.DeepEqual(got, r) {
				t.Fatalf("step %d: %s = %+v (found %v), pebble has %+v (found %v)", step, key, got, ok, r, found)
			}
		}
	}
}

// TestApplyBatchWritesEachKeyOnce: a run of writes to one key puts one
// record into the batch, its last, and the key count and the expiry
// index follow every write.
func TestApplyBatchWritesEachKeyOnce(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	b := e.NewApplyBatch()
	defer b.Close()
	for i := range 100 {
		r := Record{Type: TypeString, Value: []byte(fmt.Sprint("v", i))}
		if i%3 == 0 {
			r.Expire = int64(1000 + i)
		}
		if err := b.Put([]byte("k"), r); err != nil {
			t.Fatal(err)
		}
		if err := b.Set([]byte("j"), []byte("w")); err != nil {
			t.Fatal(err)
		}
	}
	// The expiry index is written as it goes: an entry set for k's first
	// expiry, then one deleted and one set for each change after it. The
	// records wait for a read or the commit, and then are two.
	index := uint32(1 + 2*33)
	if n := b.b.Count(); n != index {
		t.Fatalf("the batch holds %d writes before a read or the commit, want %d", n, index)
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	if n := b.b.Count(); n != index+2 {
		t.Fatalf("the batch holds %d writes, want %d", n, index+2)
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	r, ok, err := e.Key([]byte("k"))
	if err != nil || !ok || string(r.Value) != "v99" || r.Expire != 1099 {
		t.Fatalf("k = %q expiring %d, %v, %v; want v99 expiring 1099", r.Value, r.Expire, ok, err)
	}
	if e.KeyCount() != 2 || e.Expires() != 1 {
		t.Fatalf("keys, expiring = %d, %d, want 2, 1", e.KeyCount(), e.Expires())
	}
	if got, err := e.Expiring(2000, 10); err != nil || len(got) != 1 || string(got[0]) != "k" {
		t.Fatalf("expiring = %q, %v, want [k]", got, err)
	}
}

// TestApplyBatchMatchesModel runs seeded random writes, deletes, reads
// (of records, from pending, the committed data or the batch, and of
// elements, which flush), FLUSHDBs, commits and discarded batches over a
// few keys
// against a map, checking every read and, at each commit, every key, the
// key count and the count of keys with an expiry.
func TestApplyBatchMatchesModel(t *testing.T) {
	type rec struct {
		typ    Type
		val    string
		expire int64
	}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		e := openMem(t, vfs.NewMem())
		keys := []string{"a", "b", "c", "d", "e"}
		committed := map[string]rec{}
		overlay := map[string]rec{}
		b := e.NewApplyBatch()
		// A failure must not leave a batch open: closing the engine waits
		// for it.
		defer func() { b.Close() }()
		applied := uint64(0)
		check := func(step int, get func([]byte) (Record, bool, error), want map[string]rec, what string) {
			t.Helper()
			for _, k := range keys {
				r, ok, err := get([]byte(k))
				if err != nil {
					t.Fatalf("seed %d step %d: %s %s: %v", seed, step, what, k, err)
				}
				w, wok := want[k]
				if ok != wok || ok && (r.Type != w.typ || string(r.Value) != w.val || r.Expire != w.expire) {
					t.Fatalf("seed %d step %d: %s %s = %v %s %d (%v), want %v %s %d (%v)",
						seed, step, what, k, r.Type, short(string(r.Value)), r.Expire, ok, w.typ, short(w.val), w.expire, wok)
				}
			}
		}
		for step := range 400 {
			k := keys[rng.IntN(len(keys))]
			switch n := rng.IntN(100); {
			case n < 45:
				w := rec{typ: TypeString, val: fmt.Sprint(step)}
				if rng.IntN(8) == 0 {
					// Too large to wait in pending: written at once.
					w.val = strings.Repeat(w.val+" ", maxPendingRecord/len(w.val))
				}
				if rng.IntN(4) == 0 {
					w.typ = TypeHash
					w.val = ""
				}
				if rng.IntN(3) == 0 {
					w.expire = int64(1 + rng.IntN(3))
				}
				if err := b.Put([]byte(k), Record{Type: w.typ, Value: []byte(w.val), Expire: w.expire}); err != nil {
					t.Fatal(err)
				}
				overlay[k] = w
			case n < 60:
				if err := b.Delete([]byte(k)); err != nil {
					t.Fatal(err)
				}
				delete(overlay, k)
			case n < 64:
				// A read of elements: it flushes the pending records into
				// the batch and indexes it.
				if err := b.Elems(TypeHash, []byte(k), nil, nil, func(_, _ []byte) error { return nil }); err != nil {
					t.Fatal(err)
				}
			case n < 80:
				r, ok, err := b.Key([]byte(k))
				w, wok := overlay[k]
				if err != nil || ok != wok || ok && (r.Type != w.typ || string(r.Value) != w.val || r.Expire != w.expire) {
					t.Fatalf("seed %d step %d: batch %s = %v %s %d (%v, %v), want %v %s %d (%v)",
						seed, step, k, r.Type, short(string(r.Value)), r.Expire, ok, err, w.typ, short(w.val), w.expire, wok)
				}
			case n < 83:
				if err := b.DeleteAll(); err != nil {
					t.Fatal(err)
				}
				clear(overlay)
			case n < 95:
				applied++
				if err := b.Commit(applied); err != nil {
					t.Fatal(err)
				}
				b.Close()
				committed = maps.Clone(overlay)
				check(step, e.Key, committed, "engine")
				expiring := 0
				for _, w := range committed {
					if w.expire != 0 {
						expiring++
					}
				}
				if e.KeyCount() != uint64(len(committed)) || e.Expires() != uint64(expiring) {
					t.Fatalf("seed %d step %d: keys, expiring = %d, %d, want %d, %d",
						seed, step, e.KeyCount(), e.Expires(), len(committed), expiring)
				}
				b = e.NewApplyBatch()
			default:
				b.Close()
				overlay = maps.Clone(committed)
				b = e.NewApplyBatch()
				check(step, b.Key, committed, "after a discarded batch, batch")
			}
		}
	}
}

// short quotes v, cut to its first bytes and its length when long.
func short(v string) string {
	if len(v) <= 20 {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q... (%d bytes)", v[:20], len(v))
}

// TestApplyBatchCountsWithoutIndex: a counter read and written a hundred
// times in one batch, as INCR does, is read from the committed data (or
// the engine's hot records) first and from pending after: the batch is
// never indexed, holds one record at the commit, and the count is right.
func TestApplyBatchCountsWithoutIndex(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	b := e.NewApplyBatch()
	if err := b.Set([]byte("n"), []byte("0")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	b.Close()
	for round, hot := range []bool{false, true} {
		if hot {
			mustGet(t, e.Key, []byte("n")) // a client's read makes it hot
		}
		b := e.NewApplyBatch()
		for range 100 {
			v, ok := mustGet(t, b.Key, []byte("n"))
			if !ok {
				t.Fatal("the counter is missing")
			}
			var n int
			fmt.Sscan(string(v), &n)
			if err := b.Set([]byte("n"), []byte(fmt.Sprint(n+1))); err != nil {
				t.Fatal(err)
			}
		}
		if b.b.Indexed() || b.b.Count() != 0 {
			t.Fatalf("round %d: indexed %v, %d writes in the batch before the commit, want neither", round, b.b.Indexed(), b.b.Count())
		}
		if err := b.Commit(uint64(2 + round)); err != nil {
			t.Fatal(err)
		}
		b.Close()
		want := fmt.Sprint(100 * (round + 1))
		if v, ok := mustGet(t, e.Key, []byte("n")); !ok || string(v) != want {
			t.Fatalf("round %d: n = %q, %v, want %s", round, v, ok, want)
		}
	}
}
