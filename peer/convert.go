package peer

import (
	"fmt"
	"math"

	"github.com/raftkv/raftkv/peer/peerpb"
	"github.com/raftkv/raftkv/raft"
)

// wireBuf converts the messages of one batch for a sender goroutine, and
// reuses the protobuf structs of the batch before: Send marshals a batch
// before it returns (the transport sets no stats handler that could keep
// it), so once Send is back they are free again.
type wireBuf struct {
	msgs    []*peerpb.Message
	used    int            // msgs handed out in this batch
	entries []peerpb.Entry // one block the batch's entries point into
	nents   int            // entries handed out in this batch
}

// message converts m into the next free struct.
func (w *wireBuf) message(m raft.Message) *peerpb.Message {
	if w.used == len(w.msgs) {
		w.msgs = append(w.msgs, &peerpb.Message{})
	}
	pm := w.msgs[w.used]
	w.used++
	pm.Type, pm.To, pm.From, pm.Term = uint32(m.Type), m.To, m.From, m.Term
	pm.LogTerm, pm.Index, pm.Commit = m.LogTerm, m.Index, m.Commit
	pm.Reject, pm.RejectHint, pm.Context = m.Reject, m.RejectHint, m.Context
	pm.Entries = pm.Entries[:0]
	if len(m.Entries) == 0 {
		return pm
	}
	if w.nents+len(m.Entries) > len(w.entries) {
		// The entries already handed out keep the old block alive until
		// the batch is sent; the next batches use the new one.
		w.entries = make([]peerpb.Entry, max(2*len(w.entries), len(m.Entries), 64))
		w.nents = 0
	}
	for i, e := range m.Entries {
		pe := &w.entries[w.nents+i]
		pe.Term, pe.Index, pe.Type, pe.Data = e.Term, e.Index, uint32(e.Type), e.Data
		pm.Entries = append(pm.Entries, pe)
	}
	w.nents += len(m.Entries)
	return pm
}

// reset makes every struct free for the next batch, and drops what they
// referred to (entry data, contexts).
func (w *wireBuf) reset() {
	for _, pm := range w.msgs[:w.used] {
		pm.Context = nil
		clear(pm.Entries)
		pm.Entries = pm.Entries[:0]
	}
	for i := range w.entries[:w.nents] {
		w.entries[i].Data = nil
	}
	w.used, w.nents = 0, 0
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
