package peer

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/raftkv/raftkv/peer/peerpb"
	"github.com/raftkv/raftkv/raft"
)

// FuzzStreamBatch decodes arbitrary bytes as a peer stream's batch, as the
// Stream call does, and hands every message it accepts to a fresh Raft
// follower, which must refuse or handle it without failing.
func FuzzStreamBatch(f *testing.F) {
	cc := raft.ConfChange{Type: raft.ConfAddLearner, NodeID: 4}.Marshal()
	for _, b := range []*peerpb.Batch{
		{From: 2, FromAddr: "127.0.0.1:16381", Messages: []*peerpb.Message{
			toProto(raft.Message{Type: raft.MsgApp, From: 2, To: 1, Term: 2, Commit: 1, Entries: []raft.Entry{
				{Term: 1, Index: 1, Data: []byte("x")}, {Term: 2, Index: 2, Type: raft.EntryConfChange, Data: cc}}}),
			toProto(raft.Message{Type: raft.MsgHeartbeat, From: 2, To: 1, Term: 2, Commit: 2, Context: []byte("r")}),
		}},
		{From: 3, Messages: []*peerpb.Message{
			toProto(raft.Message{Type: raft.MsgVote, From: 3, To: 1, Term: 5, Index: 9, LogTerm: 4}),
			toProto(raft.Message{Type: raft.MsgPreVote, From: 3, To: 1, Term: 6}),
			toProto(raft.Message{Type: raft.MsgTimeoutNow, From: 3, To: 1, Term: 1}),
			toProto(raft.Message{Type: raft.MsgAppResp, From: 3, To: 1, Term: 1, Index: 4, Reject: true, RejectHint: 2}),
		}},
	} {
		data, err := proto.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b peerpb.Batch
		if proto.Unmarshal(data, &b) != nil {
			return
		}
		for _, pm := range b.Messages {
			m, err := fromWire(pm)
			if err != nil {
				continue
			}
			if again := fromProto(toProto(m)); !reflect.DeepEqual(again, m) {
				t.Fatalf("%+v converts back as %+v", m, again)
			}
			storage := raft.NewMemoryStorage()
			rn, err := raft.NewRawNode(&raft.Config{ID: 1, Peers: []uint64{1, 2, 3}, Storage: storage, Rand: rand.New(rand.NewPCG(1, 2))})
			if err != nil {
				t.Fatal(err)
			}
			if err := rn.Step(m); err != nil && !errors.Is(err, raft.ErrMalformed) && !errors.Is(err, raft.ErrProposalDropped) {
				t.Fatalf("Step(%+v): %v", m, err)
			}
			for i := 0; i < 3 && rn.HasReady(); i++ {
				rd := rn.Ready()
				if err := storage.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
					t.Fatal(err)
				}
				if rd.Snapshot != nil {
					storage.ApplySnapshot(rd.Snapshot.Meta)
				}
				rn.Advance(rd)
			}
		}
	})
}

func TestFromWireRefusesWhatPeersNeverSend(t *testing.T) {
	for _, pm := range []*peerpb.Message{
		{Type: 0, From: 2, To: 1},
		{Type: uint32(raft.MsgSnap), From: 2, To: 1, Context: []byte("/etc/passwd")},
		{Type: uint32(raft.MsgSnapStatus), From: 2, To: 1},
		{Type: 256 + uint32(raft.MsgApp), From: 2, To: 1},
		{Type: uint32(raft.MsgApp), From: 2, To: 1, Entries: []*peerpb.Entry{{Index: 1, Term: 1, Type: 256}}},
	} {
		if _, err := fromWire(pm); err == nil {
			t.Errorf("fromWire accepted %v", pm)
		}
	}
	if _, err := fromWire(&peerpb.Message{Type: uint32(raft.MsgHeartbeat), From: 2, To: 1, Term: 1}); err != nil {
		t.Errorf("fromWire refused a heartbeat: %v", err)
	}
}

// toProto converts one message with a wireBuf of its own.
func toProto(m raft.Message) *peerpb.Message {
	var w wireBuf
	return w.message(m)
}
