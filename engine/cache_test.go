package engine

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

// TestEntryCacheMatchesTheDatabase saves, overwrites and compacts the log
// at random and checks after every step that what Entries and Term answer
// (from the cache when it holds the range) is what the database holds.
func TestEntryCacheMatchesTheDatabase(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	e := openMem(t, vfs.NewMem())
	term := uint64(1)
	for step := 0; step < 2000; step++ {
		first, _ := e.FirstIndex()
		last, _ := e.LastIndex()
		switch r := rng.IntN(10); {
		case r < 7: // append, sometimes over a suffix (a new leader's entries)
			lo := last + 1
			applied, _ := e.Applied()
			if from := max(first, applied+1); r == 0 && last >= from {
				lo = from + rng.Uint64N(last-from+1)
				term++
			}
			ents := make([]raft.Entry, 1+rng.IntN(50))
			for i := range ents {
				ents[i] = raft.Entry{Index: lo + uint64(i), Term: term, Data: make([]byte, rng.IntN(40<<10))}
			}
			if err := e.Save(raft.HardState{Term: term}, ents, false); err != nil {
				t.Fatal(err)
			}
		case r < 9 && last > first:
			index := first + rng.Uint64N(last-first)
			if applied, _ := e.Applied(); index > applied {
				b := e.NewApplyBatch()
				if err := b.Commit(index); err != nil {
					t.Fatal(err)
				}
				b.Close()
			}
			if err := e.Compact(index); err != nil {
				t.Fatal(err)
			}
		}
		first, _ = e.FirstIndex()
		last, _ = e.LastIndex()
		if last < first {
			continue
		}
		lo := first + rng.Uint64N(last-first+1)
		hi := lo + 1 + rng.Uint64N(last-lo+1)
		maxSize := rng.Uint64N(4 << 20)
		got, err := e.Entries(lo, hi, maxSize)
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.readEntries(lo, hi, maxSize)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(summary(got), summary(want)) {
			t.Fatalf("step %d: Entries(%d, %d, %d) = %v, the database holds %v", step, lo, hi, maxSize, summary(got), summary(want))
		}
		if term, err := e.Term(lo); err != nil || term != want[0].Term {
			t.Fatalf("step %d: Term(%d) = %d, %v; the database says %d", step, lo, term, err, want[0].Term)
		}
	}
	if e.cache.bytes > entryCacheBytes+(40<<10)+entryOverhead {
		t.Fatalf("the cache holds %d bytes, over its budget", e.cache.bytes)
	}
}

func summary(ents []raft.Entry) []string {
	var s []string
	for _, e := range ents {
		s = append(s, fmt.Sprintf("%d/%d/%d", e.Index, e.Term, len(e.Data)))
	}
	return s
}

// BenchmarkEntryCache saves batches of 16 small entries into the cache and
// compacts it as the driver does (every 10,000 entries, keeping 1,000):
// the cache's own allocations per batch.
func BenchmarkEntryCache(b *testing.B) {
	var c entryCache
	ents := make([]raft.Entry, 16)
	data := make([]byte, 60)
	next := uint64(1)
	b.ReportAllocs()
	for b.Loop() {
		for i := range ents {
			ents[i] = raft.Entry{Index: next, Term: 1, Data: data}
			next++
		}
		c.saved(ents)
		if first := c.ents[0].Index; next-first > 10000 {
			c.compacted(next - 1000)
		}
	}
}
