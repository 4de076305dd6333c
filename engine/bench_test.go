package engine

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/raftkv/raftkv/raft"
)

// benchmarkSave measures appending entries to the log on disk, synced,
// batch entries per Save: what one group commit costs.
func benchmarkSave(b *testing.B, batch int) {
	e, err := Open(filepath.Join(b.TempDir(), "db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	data := make([]byte, 100)
	ents := make([]raft.Entry, batch)
	var index uint64
	b.ReportAllocs()
	for b.Loop() {
		for i := range ents {
			index++
			ents[i] = raft.Entry{Index: index, Term: 1, Data: data}
		}
		if err := e.Save(raft.HardState{Term: 1, Commit: index}, ents, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkSaveSync1(b *testing.B)  { benchmarkSave(b, 1) }
func BenchmarkSaveSync64(b *testing.B) { benchmarkSave(b, 64) }

// BenchmarkApplyManyKeys measures applying SETs of random keys out of a
// million, 100-byte values, 16 to a batch, into a database already
// holding 300,000 of them: redis-benchmark's -r 1000000 -d 100, where
// most SETs make a new key and each needs an existence check.
func BenchmarkApplyManyKeys(b *testing.B) {
	e, err := Open(filepath.Join(b.TempDir(), "db"), Options{CacheSize: 128 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 100)
	var applied uint64
	apply := func(n int) {
		ab := e.NewApplyBatch()
		defer ab.Close()
		for range n {
			if err := ab.Set(fmt.Appendf(nil, "key:%012d", rng.IntN(1_000_000)), value); err != nil {
				b.Fatal(err)
			}
		}
		applied++
		if err := ab.Commit(applied); err != nil {
			b.Fatal(err)
		}
	}
	for range 300_000 / 1000 {
		apply(1000)
	}
	const batch = 16
	b.ReportAllocs()
	for b.Loop() {
		apply(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/set")
}

// BenchmarkKeyRepeated measures reading one key over and over, as GET of
// a hot key does, in a database where 100,000 SETs of that key went
// before (their versions fill the memtable).
func BenchmarkKeyRepeated(b *testing.B) {
	e, err := Open(filepath.Join(b.TempDir(), "db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	key := []byte("key:__rand_int__")
	for i := range 1000 {
		ab := e.NewApplyBatch()
		for range 100 {
			if err := ab.Set(key, []byte("xxx")); err != nil {
				b.Fatal(err)
			}
		}
		if err := ab.Commit(uint64(i + 1)); err != nil {
			b.Fatal(err)
		}
		ab.Close()
	}
	b.ReportAllocs()
	for b.Loop() {
		if r, ok, err := e.Key(key); err != nil || !ok || len(r.Value) != 3 {
			b.Fatal(r, ok, err)
		}
	}
}

// BenchmarkKeyStates measures looking up the state of a random key among
// a million in the key cache (the default 32 MiB), as the apply of SET
// over -r 1000000 does for a key written before: what the cache costs
// alone, without a node's other work around it.
func BenchmarkKeyStates(b *testing.B) {
	e, err := Open(filepath.Join(b.TempDir(), "db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const keys = 1_000_000
	names := make([][]byte, keys)
	state := encodeKeyState(nil, keyState{exists: true, typ: TypeString})
	for i := range names {
		names[i] = fmt.Appendf(nil, "key:%012d", i)
		e.states.Set(names[i], state)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 0, keyStateLen)
	hits := 0
	for b.Loop() {
		if v, ok := e.states.HasGet(buf[:0], names[rng.IntN(keys)]); ok && decodeKeyState(v).exists {
			hits++
		}
	}
	if hits != b.N {
		b.Fatalf("%d of %d lookups found their key: the cache lost states", hits, b.N)
	}
}
