package engine

import (
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
