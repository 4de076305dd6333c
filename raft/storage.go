package raft

import (
	"fmt"
	"sync"
)

// MemoryStorage is a LogStore held in memory, for tests and simulations.
// It is safe for concurrent use.
type MemoryStorage struct {
	mu sync.Mutex
	hs HardState
	// ents[0] is a dummy entry at the compaction point (index 0, term 0 for
	// a log never compacted), so that Term of the entry before the first
	// works.
	ents []Entry
}

var _ LogStore = (*MemoryStorage)(nil)

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{ents: make([]Entry, 1)}
}

// InitialState implements Storage.
func (s *MemoryStorage) InitialState() (HardState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs, nil
}

func (s *MemoryStorage) offset() uint64 { return s.ents[0].Index }

func (s *MemoryStorage) lastIndex() uint64 { return s.offset() + uint64(len(s.ents)) - 1 }

// Entries implements Storage.
func (s *MemoryStorage) Entries(lo, hi, maxSize uint64) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off, last := s.offset(), s.lastIndex()
	switch {
	case lo <= off:
		return nil, ErrCompacted
	case hi > last+1:
		return nil, fmt.Errorf("entries %d..%d (last %d): %w", lo, hi, last, ErrUnavailable)
	case lo > hi:
		return nil, fmt.Errorf("entries %d..%d: inverted range", lo, hi)
	}
	return limitSize(append([]Entry(nil), s.ents[lo-off:hi-off]...), maxSize), nil
}

// Term implements Storage.
func (s *MemoryStorage) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off := s.offset()
	switch {
	case i < off:
		return 0, ErrCompacted
	case i > s.lastIndex():
		return 0, ErrUnavailable
	}
	return s.ents[i-off].Term, nil
}

// LastIndex implements Storage.
func (s *MemoryStorage) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastIndex(), nil
}

// FirstIndex implements Storage.
func (s *MemoryStorage) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset() + 1, nil
}

// Snapshot implements Storage.
func (s *MemoryStorage) Snapshot() (SnapshotMeta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SnapshotMeta{Index: s.ents[0].Index, Term: s.ents[0].Term}, nil
}

// Save implements LogStore. sync is ignored: memory is as durable as it
// gets.
func (s *MemoryStorage) Save(hs HardState, ents []Entry, sync bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !hs.IsEmpty() {
		s.hs = hs
	}
	if len(ents) == 0 {
		return nil
	}
	first, off := ents[0].Index, s.offset()
	if first <= off || first > s.lastIndex()+1 {
		return fmt.Errorf("save entries from %d: log holds %d..%d", first, off+1, s.lastIndex())
	}
	s.ents = append(s.ents[:first-off], ents...)
	return nil
}

// Compact drops the entries up to index, keeping its term.
func (s *MemoryStorage) Compact(index uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	off := s.offset()
	if index <= off {
		return nil
	}
	if index > s.lastIndex() {
		return fmt.Errorf("compact to %d: past the last index %d", index, s.lastIndex())
	}
	s.ents = append([]Entry{{Index: index, Term: s.ents[index-off].Term}}, s.ents[index-off+1:]...)
	return nil
}

// ApplySnapshot empties the log, which continues after meta, and raises
// the commit index to it.
func (s *MemoryStorage) ApplySnapshot(meta SnapshotMeta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ents = []Entry{{Index: meta.Index, Term: meta.Term}}
	s.hs.Commit = max(s.hs.Commit, meta.Index)
}

// limitSize returns the longest prefix of ents whose data fits in maxSize
// bytes, and at least one entry.
func limitSize(ents []Entry, maxSize uint64) []Entry {
	if len(ents) == 0 {
		return ents
	}
	size := uint64(len(ents[0].Data))
	for i := 1; i < len(ents); i++ {
		size += uint64(len(ents[i].Data))
		if size > maxSize {
			return ents[:i]
		}
	}
	return ents
}
