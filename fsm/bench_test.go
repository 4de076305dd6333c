package fsm

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/conf"
	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/raft"
)

// BenchmarkEncodeSet measures encoding one SET proposal.
func BenchmarkEncodeSet(b *testing.B) {
	key, value := []byte("key:000000001"), []byte("value-of-100-bytes-"+string(make([]byte, 81)))
	b.ReportAllocs()
	for b.Loop() {
		EncodeSet(key, value)
	}
}

// BenchmarkApplyBatch measures applying a batch of 64 SETs, as the driver
// hands committed entries to the state machine: 64 entries of one SET
// each, and 4 of 16 SETs packed together (EncodeWrites), as the front end
// proposes a connection's pipeline of 16; each SET of a new key, or all
// of one key (as redis-benchmark's SET rows without -r), whose writes in
// a batch reach the memtable once. The engine has the server's default
// block cache (48 MiB): the lookups of new keys read the last level's
// bloom filters, which pebble's default cache (8 MiB, all of it charged
// to the memtables) would not keep.
func BenchmarkApplyBatch(b *testing.B) {
	for _, keys := range []string{"new", "one"} {
		for _, per := range []int{1, 16} {
			b.Run(fmt.Sprintf("keys=%s/writes-per-entry=%d", keys, per), func(b *testing.B) {
				benchmarkApplyBatch(b, keys == "one", per)
			})
		}
	}
}

func benchmarkApplyBatch(b *testing.B, oneKey bool, per int) {
	n := openNodeWith(b, engine.Options{FS: vfs.NewMem(), CacheSize: conf.Default().CacheSize})
	const batch = 64
	ents := make([]raft.Entry, batch/per)
	cmds := make([][]byte, per)
	var index, key uint64
	b.ReportAllocs()
	for b.Loop() {
		for i := range ents {
			for j := range cmds {
				if !oneKey {
					key++
				}
				cmds[j] = EncodeSet(fmt.Appendf(nil, "k%d", key), []byte("v"))
			}
			index++
			ents[i] = raft.Entry{Index: index, Term: 1, Data: cmds[0]}
			if per > 1 {
				ents[i].Data = EncodeWrites(1, cmds)
			}
		}
		if _, err := n.fsm.Apply(ents); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkZPopMin measures popping the lowest member of a sorted set of
// 100,000, one pop per entry, as a queue ordered by score does. Without
// the sorted set's low mark the cost per pop would grow with the pops
// before it (their tombstones; see BENCHMARKS.md): run it with growing
// -benchtime Nx to see that it does not.
func BenchmarkZPopMin(b *testing.B) {
	n := openNode(b, vfs.NewMem())
	var index uint64
	const members = 100_000
	for lo := 0; lo < members; lo += 1000 {
		scores := make([]float64, 0, 1000)
		ms := make([][]byte, 0, 1000)
		for i := lo; i < lo+1000; i++ {
			scores, ms = append(scores, float64(i)), append(ms, fmt.Appendf(nil, "m%d", i))
		}
		index++
		if _, err := n.fsm.Apply([]raft.Entry{{Index: index, Term: 1, Data: EncodeZAdd([]byte("z"), 0, scores, ms)}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	pops := 0
	for b.Loop() {
		if pops == members {
			b.Fatal("the set is empty: lower -benchtime")
		}
		index++
		if _, err := n.fsm.Apply([]raft.Entry{{Index: index, Term: 1, Data: EncodeZPop([]byte("z"), false, -1)}}); err != nil {
			b.Fatal(err)
		}
		pops++
	}
}
