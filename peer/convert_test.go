package peer

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/raftkv/raftkv/peer/peerpb"
	"github.com/raftkv/raftkv/raft"
)

// appendOf is an append of n entries from index first, with data naming
// each entry.
func appendOf(first, n int) raft.Message {
	m := raft.Message{Type: raft.MsgApp, To: 2, From: 1, Term: 3, Index: uint64(first - 1), LogTerm: 3, Commit: 7}
	for i := range n {
		idx := uint64(first + i)
		m.Entries = append(m.Entries, raft.Entry{Term: 3, Index: idx, Data: fmt.Appendf(nil, "entry %d", idx)})
	}
	return m
}

// TestWireBufReuse converts batches with one wireBuf, as the sender does:
// every message of a batch stays what it was converted from while later
// ones are converted (also when the entry block must grow), and a batch
// after reset reuses the structs without keeping what they referred to.
func TestWireBufReuse(t *testing.T) {
	var w wireBuf
	batches := [][]raft.Message{
		{appendOf(1, 3), {Type: raft.MsgHeartbeat, To: 2, From: 1, Term: 3, Commit: 3, Context: []byte("r1")}, appendOf(4, 100)},
		{appendOf(104, 1)},
		{{Type: raft.MsgAppResp, To: 1, From: 2, Term: 3, Index: 104}, appendOf(105, 300), appendOf(405, 2)},
	}
	var first *peerpb.Message
	for b, batch := range batches {
		var got []*peerpb.Message
		for _, m := range batch {
			got = append(got, w.message(m))
		}
		for i, pm := range got {
			if back := fromProto(pm); !reflect.DeepEqual(back, batch[i]) {
				t.Fatalf("batch %d message %d: converted back to\n%+v\nwant\n%+v", b, i, back, batch[i])
			}
		}
		if b == 0 {
			first = got[0]
		} else if got[0] != first {
			t.Fatalf("batch %d: the first message's struct was not reused", b)
		}
		w.reset()
		for i, pm := range got {
			if pm.Context != nil || len(pm.Entries) != 0 {
				t.Fatalf("batch %d message %d: after reset it still refers to %q and %d entries", b, i, pm.Context, len(pm.Entries))
			}
		}
		for i := range w.entries {
			if w.entries[i].Data != nil {
				t.Fatalf("batch %d: entry %d of the block still holds %q after reset", b, i, w.entries[i].Data)
			}
		}
	}
}
