package raft

import (
	"math/rand/v2"
	"testing"
)

// TestLeaderRestartsAWipedFollower: a follower that acknowledged entries
// and then rejects an append with a log that ends before them lost its
// data; the leader starts it over from the beginning instead of probing
// at its old match index forever.
func TestLeaderRestartsAWipedFollower(t *testing.T) {
	storage := NewMemoryStorage()
	rn, err := NewRawNode(&Config{ID: 1, Peers: []uint64{1, 2, 3}, Storage: storage, Rand: rand.New(rand.NewPCG(3, 4))})
	if err != nil {
		t.Fatal(err)
	}
	drain := func() (msgs []Message) {
		for rn.HasReady() {
			rd := rn.Ready()
			storage.Save(rd.HardState, rd.Entries, rd.MustSync)
			msgs = append(msgs, rd.Messages...)
			rn.Advance(rd)
		}
		return msgs
	}
	rn.Campaign()
	drain()
	term := rn.Status().Term
	rn.Step(Message{Type: MsgVoteResp, From: 2, To: 1, Term: term})
	for range 10 {
		rn.Propose([]byte("x"))
	}
	drain()
	last, _ := storage.LastIndex()
	for _, from := range []uint64{2, 3} {
		rn.Step(Message{Type: MsgAppResp, From: from, To: 1, Term: term, Index: last})
	}
	drain()
	if m := rn.Status().Progress[2].Match; m != last {
		t.Fatalf("follower 2 match %d, want %d", m, last)
	}
	// Node 2 comes back empty and rejects the next append.
	rn.Propose([]byte("y"))
	drain()
	rn.Step(Message{Type: MsgAppResp, From: 2, To: 1, Term: term, Index: last, Reject: true, RejectHint: 0})
	var resent bool
	for _, m := range drain() {
		if m.To == 2 && m.Type == MsgApp && m.Index == 0 && len(m.Entries) > 0 && m.Entries[0].Index == 1 {
			resent = true
		}
	}
	if !resent {
		t.Fatal("the leader did not resend the log from its start to the wiped follower")
	}
	if m := rn.Status().Progress[2].Match; m != 0 {
		t.Fatalf("follower 2 match %d after it lost its log, want 0", m)
	}
}
