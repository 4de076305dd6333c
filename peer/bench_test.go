package peer

import (
	"testing"

	"github.com/raftkv/raftkv/raft"
)

// BenchmarkToProto measures converting an append of 64 entries to its
// wire form, which the sender does for every message, reusing the structs
// of the batch before as the sender does.
func BenchmarkToProto(b *testing.B) {
	m := raft.Message{Type: raft.MsgApp, To: 2, From: 1, Term: 3, Index: 100, LogTerm: 3, Commit: 99}
	for i := range 64 {
		m.Entries = append(m.Entries, raft.Entry{Term: 3, Index: uint64(101 + i), Data: make([]byte, 32)})
	}
	var w wireBuf
	b.ReportAllocs()
	for b.Loop() {
		if pm := w.message(m); len(pm.Entries) != 64 {
			b.Fatal(len(pm.Entries))
		}
		w.reset()
	}
}
