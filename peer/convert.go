package peer

import (
	"fmt"
	"math"

	"github.com/raftkv/raftkv/peer/peerpb"
	"github.com/raftkv/raftkv/raft"
)

func toProto(m raft.Message) *peerpb.Message {
	pm := &peerpb.Message{
		Type:       uint32(m.Type),
		To:         m.To,
		From:       m.From,
		Term:       m.Term,
		LogTerm:    m.LogTerm,
		Index:      m.Index,
		Commit:     m.Commit,
		Reject:     m.Reject,
		RejectHint: m.RejectHint,
		Context:    m.Context,
	}
	if len(m.Entries) > 0 {
		// Two allocations for any number of entries: the pointers, and
		// one block of entries they point into.
		pm.Entries = make([]*peerpb.Entry, len(m.Entries))
		block := make([]peerpb.Entry, len(m.Entries))
		for i, e := range m.Entries {
			pe := &block[i]
			pe.Term, pe.Index, pe.Type, pe.Data = e.Term, e.Index, uint32(e.Type), e.Data
			pm.Entries[i] = pe
		}
	}
	return pm
}

// fromWire converts a message received from a peer. Types that never
// travel on a peer stream (MsgSnap comes through the Snapshot call,
// MsgSnapStatus is local) and numbers that do not fit are refused; the
// Raft core checks the rest.
func fromWire(pm *peerpb.Message) (raft.Message, error) {
	if pm.Type == 0 || pm.Type > uint32(raft.MsgTimeoutNow) {
		return raft.Message{}, fmt.Errorf("message of type %d from %d is not accepted from a peer", pm.Type, pm.From)
	}
	for _, e := range pm.Entries {
		if e.Type > math.MaxUint8 {
			return raft.Message{}, fmt.Errorf("entry %d from %d has type %d", e.Index, pm.From, e.Type)
		}
	}
	return fromProto(pm), nil
}

func fromProto(pm *peerpb.Message) raft.Message {
	m := raft.Message{
		Type:       raft.MessageType(pm.Type),
		To:         pm.To,
		From:       pm.From,
		Term:       pm.Term,
		LogTerm:    pm.LogTerm,
		Index:      pm.Index,
		Commit:     pm.Commit,
		Reject:     pm.Reject,
		RejectHint: pm.RejectHint,
		Context:    pm.Context,
	}
	if len(pm.Entries) > 0 {
		m.Entries = make([]raft.Entry, len(pm.Entries))
		for i, e := range pm.Entries {
			m.Entries[i] = raft.Entry{Term: e.Term, Index: e.Index, Type: raft.EntryType(e.Type), Data: e.Data}
		}
	}
	return m
}

// size estimates a message's encoded size, to bound batches.
func size(m raft.Message) int {
	n := 64 + len(m.Context)
	for _, e := range m.Entries {
		n += 24 + len(e.Data)
	}
	return n
}
