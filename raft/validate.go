package raft

import (
	"errors"
	"fmt"
)

// ErrMalformed reports a message that no correct peer sends: an unknown
// type, entries where none belong, or entries that are not a run of the
// log after (Index, LogTerm). The core refuses such a message whole rather
// than trust any part of it. A well-formed message that breaks Raft's
// rules (a leader rewriting committed entries) is a peer's bug, not bad
// input, and still stops the node.
var ErrMalformed = errors.New("raft: malformed message")

func malformed(m Message, format string, args ...any) error {
	return fmt.Errorf("%w: %v from %d: %s", ErrMalformed, m.Type, m.From, fmt.Sprintf(format, args...))
}

// checkMessage reports whether m is well formed.
func checkMessage(m Message) error {
	if m.Type < MsgVote || m.Type > MsgSnapStatus {
		return malformed(m, "unknown message type %d", uint8(m.Type))
	}
	if len(m.Entries) == 0 {
		return nil
	}
	if m.Type != MsgApp {
		return malformed(m, "carries %d entries", len(m.Entries))
	}
	if m.LogTerm > m.Term {
		return malformed(m, "previous entry's term %d is past the message's term %d", m.LogTerm, m.Term)
	}
	if m.Index+uint64(len(m.Entries)) < m.Index {
		return malformed(m, "entries after index %d overflow", m.Index)
	}
	prevTerm := m.LogTerm
	for i, e := range m.Entries {
		if want := m.Index + 1 + uint64(i); e.Index != want {
			return malformed(m, "entry %d has index %d, want %d", i, e.Index, want)
		}
		if e.Term < prevTerm || e.Term > m.Term {
			return malformed(m, "entry %d has term %d, outside [%d, %d]", e.Index, e.Term, prevTerm, m.Term)
		}
		prevTerm = e.Term
		switch e.Type {
		case EntryNormal:
		case EntryConfChange:
			if _, err := UnmarshalConfChange(e.Data); err != nil {
				return malformed(m, "entry %d: %v", e.Index, err)
			}
		default:
			return malformed(m, "entry %d has unknown type %d", e.Index, uint8(e.Type))
		}
	}
	return nil
}
