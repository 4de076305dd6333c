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
	// ents[0] is a dummy entry at index 0, term 0, so that Term(0) is 0.
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

// Entries implements Storage.
func (s *MemoryStorage) Entries(lo, hi, maxSize uint64) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := uint64(len(s.ents) - 1)
	switch {
	case lo < 1:
		return nil, ErrCompacted
	case hi > last+1:
		return nil, fmt.Errorf("entries %d..%d (last %d): %w", lo, hi, last, ErrUnavailable)
	case lo > hi:
		return nil, fmt.Errorf("entries %d..%d: inverted range", lo, hi)
	}
	return limitSize(append([]Entry(nil), s.ents[lo:hi]...), maxSize), nil
}

// Term implements Storage.
func (s *MemoryStorage) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= uint64(len(s.ents)) {
		return 0, ErrUnavailable
	}
	return s.ents[i].Term, nil
}

// LastIndex implements Storage.
func (s *MemoryStorage) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.ents) - 1), nil
}

// FirstIndex implements Storage.
func (s *MemoryStorage) FirstIndex() (uint64, error) { return 1, nil }

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
	first := ents[0].Index
	if first < 1 || first > uint64(len(s.ents)) {
		return fmt.Errorf("save entries from %d: log ends at %d", first, len(s.ents)-1)
	}
	s.ents = append(s.ents[:first], ents...)
	return nil
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

// Snapshot implements Storage: MemoryStorage never compacts.
func (s *MemoryStorage) Snapshot() (SnapshotMeta, error) { return SnapshotMeta{}, nil }
