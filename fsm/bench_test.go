package fsm

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

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

// BenchmarkApplyBatch measures applying a batch of 64 SETs of new keys,
// as the driver hands committed entries to the state machine.
func BenchmarkApplyBatch(b *testing.B) {
	n := openNode(b, vfs.NewMem())
	const batch = 64
	ents := make([]raft.Entry, batch)
	var index uint64
	b.ReportAllocs()
	for b.Loop() {
		for i := range ents {
			index++
			ents[i] = raft.Entry{Index: index, Term: 1, Data: EncodeSet(fmt.Appendf(nil, "k%d", index), []byte("v"))}
		}
		if _, err := n.fsm.Apply(ents); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}
