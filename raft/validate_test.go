package raft

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestMalformedMessagesAreRefused(t *testing.T) {
	cc := ConfChange{Type: ConfAddLearner, NodeID: 4}.Marshal()
	good := Message{Type: MsgApp, From: 2, To: 1, Term: 3, Index: 0, LogTerm: 0, Commit: 0,
		Entries: []Entry{{Term: 2, Index: 1}, {Term: 3, Index: 2, Type: EntryConfChange, Data: cc}}}
	with := func(f func(m *Message)) Message {
		m := good
		m.Entries = append([]Entry(nil), good.Entries...)
		f(&m)
		return m
	}
	for _, tc := range []struct {
		name string
		m    Message
		ok   bool
	}{
		{"well formed", good, true},
		{"heartbeat", Message{Type: MsgHeartbeat, From: 2, To: 1, Term: 3}, true},
		{"unknown type", Message{Type: MsgSnapStatus + 1, From: 2, To: 1, Term: 3}, false},
		{"type zero", Message{Type: 0, From: 2, To: 1, Term: 3}, false},
		{"entries on a vote", with(func(m *Message) { m.Type = MsgVote }), false},
		{"gap in indexes", with(func(m *Message) { m.Entries[1].Index = 3 }), false},
		{"first index not after Index", with(func(m *Message) { m.Index = 5 }), false},
		{"term past the message's", with(func(m *Message) { m.Entries[1].Term = 4 }), false},
		{"terms going down", with(func(m *Message) { m.Entries[0].Term = 3; m.Entries[1].Term = 2 }), false},
		{"term before the previous entry's", with(func(m *Message) { m.LogTerm = 3; m.Index = 0 }), false},
		{"previous term past the message's", with(func(m *Message) { m.LogTerm = 9 }), false},
		{"unknown entry type", with(func(m *Message) { m.Entries[0].Type = 7 }), false},
		{"undecodable membership change", with(func(m *Message) { m.Entries[1].Data = []byte{0xff} }), false},
		{"index overflow", with(func(m *Message) {
			m.Index = math.MaxUint64 - 1
			m.Entries[0].Index, m.Entries[1].Index = math.MaxUint64, 0
		}), false},
	} {
		storage := NewMemoryStorage()
		rn, err := NewRawNode(&Config{ID: 1, Peers: []uint64{1, 2, 3}, Storage: storage, Rand: rand.New(rand.NewPCG(1, 1))})
		if err != nil {
			t.Fatal(err)
		}
		err = rn.Step(tc.m)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrMalformed)) {
			t.Errorf("%s: Step = %v, want ok %v", tc.name, err, tc.ok)
			continue
		}
		if !tc.ok && rn.HasReady() && len(rn.Ready().Entries) > 0 {
			t.Errorf("%s: a refused message's entries were taken", tc.name)
		}
	}
}
