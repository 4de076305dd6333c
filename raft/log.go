package raft

import (
	"errors"
	"fmt"
)

// raftLog is the core's view of the log: entries already persisted in
// Storage, followed by entries not yet persisted (unstable).
//
// Invariant: offset is the index of unstable[0]; when unstable is empty,
// offset-1 is the last index held by storage. An unstable entry replaces
// any persisted entry with the same or a higher index.
type raftLog struct {
	storage  Storage
	unstable []Entry
	offset   uint64
	// inProgress is the last index handed to the driver to persist (in a
	// Ready) but possibly not yet durable; unstable entries past it have
	// not been handed out. Invariant: offset-1 <= inProgress <= lastIndex.
	inProgress uint64

	// committed is the highest index known to be committed.
	committed uint64
	// applied is the highest index handed to the application to apply.
	// Invariant: applied <= committed.
	applied uint64
	// maxApplyBytes bounds one batch of committed entries.
	maxApplyBytes uint64
	// pending is a received snapshot that replaced the log but that the
	// driver has not installed yet; storage still holds the old log.
	// Invariant: when set, offset == pending.Meta.Index+1.
	pending *ReceivedSnapshot
	// pendingOut is set once pending was handed out in a Ready.
	pendingOut bool
}

func newLog(s Storage, maxApplyBytes uint64) (*raftLog, error) {
	first, err := s.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("read first index: %w", err)
	}
	last, err := s.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("read last index: %w", err)
	}
	return &raftLog{
		storage:       s,
		offset:        last + 1,
		inProgress:    last,
		committed:     first - 1,
		applied:       first - 1,
		maxApplyBytes: maxApplyBytes,
	}, nil
}

func (l *raftLog) lastIndex() uint64 { return l.offset + uint64(len(l.unstable)) - 1 }

func (l *raftLog) lastTerm() uint64 {
	t, err := l.term(l.lastIndex())
	if err != nil {
		panic(fmt.Sprintf("raft: term of the last entry %d: %v", l.lastIndex(), err))
	}
	return t
}

// unpersisted returns the unstable entries not yet handed out to persist.
// Its capacity ends with them: an append by the caller cannot reach the
// array entries are appended to.
func (l *raftLog) unpersisted() []Entry {
	return l.unstable[l.inProgress+1-l.offset : len(l.unstable) : len(l.unstable)]
}

// persisting records that every unstable entry was handed out to persist.
func (l *raftLog) persisting() { l.inProgress = l.lastIndex() }

// stableLastIndex is the last index known to be persisted and not about
// to be replaced.
func (l *raftLog) stableLastIndex() uint64 { return l.offset - 1 }

// term returns the term of entry i.
func (l *raftLog) term(i uint64) (uint64, error) {
	if i >= l.offset {
		if i-l.offset < uint64(len(l.unstable)) {
			return l.unstable[i-l.offset].Term, nil
		}
		return 0, ErrUnavailable
	}
	if p := l.pending; p != nil {
		if i == p.Meta.Index {
			return p.Meta.Term, nil
		}
		return 0, ErrCompacted
	}
	return l.storage.Term(i)
}

// firstIndex is the first index whose entry may be read.
func (l *raftLog) firstIndex() uint64 {
	if l.pending != nil {
		return l.pending.Meta.Index + 1
	}
	first, err := l.storage.FirstIndex()
	if err != nil {
		panic(fmt.Sprintf("raft: first index: %v", err))
	}
	return first
}

// restore replaces the log with a received snapshot.
func (l *raftLog) restore(s *ReceivedSnapshot) {
	l.unstable = nil
	l.offset = s.Meta.Index + 1
	l.inProgress = s.Meta.Index
	l.pending, l.pendingOut = s, false
	l.committed = s.Meta.Index
	l.applied = s.Meta.Index
}

// snapshotInstalled records that the driver installed s: storage now
// holds it.
func (l *raftLog) snapshotInstalled(s *ReceivedSnapshot) {
	if l.pending == s {
		l.pending, l.pendingOut = nil, false
	}
}

// zeroTermOnErr returns the term of entry i, or 0 when it is not held.
func (l *raftLog) zeroTermOnErr(i uint64) uint64 {
	t, err := l.term(i)
	if err != nil {
		if errors.Is(err, ErrCompacted) || errors.Is(err, ErrUnavailable) {
			return 0
		}
		panic(fmt.Sprintf("raft: term of entry %d: %v", i, err))
	}
	return t
}

func (l *raftLog) matchTerm(i, term uint64) bool {
	t, err := l.term(i)
	return err == nil && t == term
}

// isUpToDate reports whether a log ending at (lastIndex, lastTerm) is at
// least as up to date as ours (Raft paper section 5.4.1).
func (l *raftLog) isUpToDate(lastIndex, lastTerm uint64) bool {
	ours := l.lastTerm()
	return lastTerm > ours || (lastTerm == ours && lastIndex >= l.lastIndex())
}

// slice returns entries in [lo, hi), limited to about maxSize bytes but at
// least one when lo < hi.
func (l *raftLog) slice(lo, hi, maxSize uint64) ([]Entry, error) {
	if lo >= hi {
		return nil, nil
	}
	if hi > l.lastIndex()+1 {
		return nil, fmt.Errorf("entries %d..%d past last index %d: %w", lo, hi, l.lastIndex(), ErrUnavailable)
	}
	var ents []Entry
	if lo < l.offset && l.pending != nil {
		return nil, ErrCompacted
	}
	if lo < l.offset {
		stored, err := l.storage.Entries(lo, min(hi, l.offset), maxSize)
		if err != nil {
			return nil, err
		}
		if uint64(len(stored)) < min(hi, l.offset)-lo {
			return stored, nil // the size limit cut it short
		}
		ents = stored
	}
	if hi > l.offset {
		from := max(lo, l.offset)
		// Capped where it ends, as unpersisted is: entries handed out are
		// never overwritten (see stableTo), so they need no copy.
		u := l.unstable[from-l.offset : hi-l.offset : hi-l.offset]
		if len(ents) > 0 {
			ents = append(append([]Entry(nil), ents...), u...)
		} else {
			ents = u
		}
	}
	return limitSize(ents, maxSize), nil
}

// findConflict returns the index of the first of ents that is not in the
// log (a different term or past the end), or 0 when all are.
func (l *raftLog) findConflict(ents []Entry) uint64 {
	for _, e := range ents {
		if !l.matchTerm(e.Index, e.Term) {
			return e.Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index <= index whose term is <=
// term, with that term. It lets a leader skip a whole term of conflicting
// entries in one round trip.
func (l *raftLog) findConflictByTerm(index, term uint64) (uint64, uint64) {
	for ; index > 0; index-- {
		t, err := l.term(index)
		if err != nil {
			return index, 0
		}
		if t <= term {
			return index, t
		}
	}
	return 0, 0
}

// maybeAppend appends ents after the entry (index, logTerm) if the log
// holds that entry, truncating any conflicting suffix, and advances the
// commit index to min(committed, last new index). It returns the last
// index of the appended run.
func (l *raftLog) maybeAppend(index, logTerm, committed uint64, ents []Entry) (uint64, bool) {
	if !l.matchTerm(index, logTerm) {
		return 0, false
	}
	lastNew := index + uint64(len(ents))
	if ci := l.findConflict(ents); ci != 0 {
		if ci <= l.committed {
			panic(fmt.Sprintf("raft: entry %d conflicts with committed entry (committed %d)", ci, l.committed))
		}
		l.append(ents[ci-index-1:]...)
	}
	l.commitTo(min(committed, lastNew))
	return lastNew, true
}

// append adds ents, which replace every held entry from ents[0].Index on.
func (l *raftLog) append(ents ...Entry) {
	if len(ents) == 0 {
		return
	}
	after := ents[0].Index
	if after <= l.committed {
		panic(fmt.Sprintf("raft: append at %d would overwrite committed entries (committed %d)", after, l.committed))
	}
	// Entries from after on are new, even where a write of the ones they
	// replace is still in progress: that write lands first (the driver
	// keeps writes in order) and its completion no longer matches.
	l.inProgress = min(l.inProgress, after-1)
	switch {
	case after == l.offset+uint64(len(l.unstable)):
		l.unstable = append(l.unstable, ents...)
	case after <= l.offset:
		// Replaces persisted entries too; storage truncates on save.
		l.offset = after
		l.unstable = append([]Entry(nil), ents...)
	default:
		kept := l.unstable[:after-l.offset]
		l.unstable = append(append(make([]Entry, 0, len(kept)+len(ents)), kept...), ents...)
	}
}

func (l *raftLog) commitTo(c uint64) {
	if c <= l.committed {
		return
	}
	if c > l.lastIndex() {
		panic(fmt.Sprintf("raft: commit %d is past the last index %d", c, l.lastIndex()))
	}
	l.committed = c
}

// stableTo records that entries up to (i, t) were persisted. A write of
// entries that were replaced meanwhile (the term at i differs, or i is past
// the end) tells nothing: the newer entries are still unstable. A match
// means entries up to i are those written: a leader of term t wrote them
// all (the log matching property).
func (l *raftLog) stableTo(i, t uint64) bool {
	if i < l.offset || i > l.inProgress || !l.matchTerm(i, t) {
		return false
	}
	// The array's spare capacity stays for the next appends, which land
	// after every entry handed out so far: none of those is overwritten
	// (replacing entries always takes a new array, see append).
	l.unstable = l.unstable[i+1-l.offset:]
	l.offset = i + 1
	return true
}

func (l *raftLog) appliedTo(i uint64) {
	if i > l.committed || i < l.applied {
		panic(fmt.Sprintf("raft: applied %d out of range [%d, %d]", i, l.applied, l.committed))
	}
	l.applied = i
}

func (l *raftLog) hasNextCommitted() bool { return l.committed > l.applied }

func (l *raftLog) nextCommitted() []Entry {
	if !l.hasNextCommitted() {
		return nil
	}
	ents, err := l.slice(l.applied+1, l.committed+1, l.maxApplyBytes)
	if err != nil {
		panic(fmt.Sprintf("raft: committed entries %d..%d: %v", l.applied+1, l.committed, err))
	}
	return ents
}
