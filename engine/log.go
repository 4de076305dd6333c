package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/raftkv/raftkv/raft"
)

// entryOverhead is what Entries counts for an entry on top of its Data
// towards maxSize: roughly the term, index and type it carries.
const entryOverhead = 16

// InitialState returns the hard state saved last (empty when none was).
func (e *Engine) InitialState() (raft.HardState, error) {
	if err := e.rlock(); err != nil {
		return raft.HardState{}, err
	}
	defer e.closeMu.RUnlock()
	return e.readHardState()
}

// readHardState is InitialState for callers that hold closeMu.
func (e *Engine) readHardState() (raft.HardState, error) {
	v, closer, err := e.db.Get(keyHard)
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.HardState{}, nil
	}
	if err != nil {
		return raft.HardState{}, fmt.Errorf("read hard state: %w", err)
	}
	defer closer.Close()
	hs, err := decodeHardState(v)
	if err != nil {
		return raft.HardState{}, fmt.Errorf("read hard state: %w", err)
	}
	return hs, nil
}

// FirstIndex returns the index of the first entry held; 1 for a log that
// never held entries.
func (e *Engine) FirstIndex() (uint64, error) {
	e.logMu.RLock()
	defer e.logMu.RUnlock()
	return e.first, nil
}

// LastIndex returns the index of the last entry held; FirstIndex()-1 when
// the log is empty.
func (e *Engine) LastIndex() (uint64, error) {
	e.logMu.RLock()
	defer e.logMu.RUnlock()
	return e.last, nil
}

// Term returns the term of entry i. Term(0) is 0; Term(FirstIndex()-1) of
// a log starting at 1 is 0 as well. Earlier indexes give raft.ErrCompacted,
// later ones raft.ErrUnavailable.
func (e *Engine) Term(i uint64) (uint64, error) {
	if err := e.rlock(); err != nil {
		return 0, err
	}
	defer e.closeMu.RUnlock()
	e.logMu.RLock()
	defer e.logMu.RUnlock()
	switch {
	case i == e.last:
		return e.lastTerm, nil
	case i == e.snap.Index && i > 0:
		return e.snap.Term, nil
	case i == 0 && e.first == 1:
		// The empty prefix before entry 1 has term 0.
		return 0, nil
	case i < e.first:
		return 0, fmt.Errorf("term of %d (first index %d): %w", i, e.first, raft.ErrCompacted)
	case i > e.last:
		return 0, fmt.Errorf("term of %d (last index %d): %w", i, e.last, raft.ErrUnavailable)
	}
	if term, ok := e.cache.term(i); ok {
		return term, nil
	}
	v, closer, err := e.db.Get(logKey(i))
	if err != nil {
		// Bounds say it is there: a miss means the store is damaged.
		return 0, fmt.Errorf("term of %d: %w", i, err)
	}
	defer closer.Close()
	term, _, err := decodeEntryHeader(i, v)
	if err != nil {
		return 0, err
	}
	return term, nil
}

// Entries returns the entries in [lo, hi). It stops once the entries
// returned reach maxSize bytes (Data plus a small per-entry overhead), but
// always returns at least one entry when lo < hi. lo before FirstIndex
// gives raft.ErrCompacted; hi past LastIndex()+1 gives raft.ErrUnavailable.
func (e *Engine) Entries(lo, hi, maxSize uint64) ([]raft.Entry, error) {
	if err := e.rlock(); err != nil {
		return nil, err
	}
	defer e.closeMu.RUnlock()
	e.logMu.RLock()
	defer e.logMu.RUnlock()
	switch {
	case lo > hi:
		return nil, fmt.Errorf("entries %d..%d: inverted range", lo, hi)
	case lo < e.first:
		return nil, fmt.Errorf("entries %d..%d (first index %d): %w", lo, hi, e.first, raft.ErrCompacted)
	case hi > e.last+1:
		return nil, fmt.Errorf("entries %d..%d (last index %d): %w", lo, hi, e.last, raft.ErrUnavailable)
	case lo == hi:
		return nil, nil
	}
	if ents, ok := e.cache.get(lo, hi, maxSize); ok {
		return ents, nil
	}
	return e.readEntries(lo, hi, maxSize)
}

// readEntries is Entries from the database, for callers holding logMu
// (read) and closeMu, with the range checked.
func (e *Engine) readEntries(lo, hi, maxSize uint64) ([]raft.Entry, error) {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: logKey(lo), UpperBound: logKey(hi)})
	if err != nil {
		return nil, fmt.Errorf("entries %d..%d: %w", lo, hi, err)
	}
	var (
		ents    []raft.Entry
		size    uint64
		want    = lo
		limited bool // the scan stopped at maxSize, not at hi
	)
	for ok := it.First(); ok; ok = it.Next() {
		idx, err := parseLogKey(it.Key())
		if err == nil && idx != want {
			err = fmt.Errorf("%w: found entry %d where %d was expected", ErrCorrupt, idx, want)
		}
		var v []byte
		if err == nil {
			v, err = it.ValueAndErr()
		}
		var ent raft.Entry
		if err == nil {
			ent, err = decodeEntry(idx, v)
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("entries %d..%d: %w", lo, hi, err), it.Close())
		}
		size += uint64(len(ent.Data)) + entryOverhead
		if len(ents) > 0 && size > maxSize {
			limited = true
			break
		}
		ents = append(ents, ent)
		want++
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("entries %d..%d: %w", lo, hi, err)
	}
	if len(ents) == 0 || (want < hi && !limited) {
		// Bounds said the entries were held but the scan ended early.
		return nil, fmt.Errorf("%w: entries %d..%d: scan stopped at %d", ErrCorrupt, lo, hi, want)
	}
	return ents, nil
}

// Save persists hs (unless empty) and ents in one atomic batch, synced
// when sync is true. ents must be contiguous and start no later than
// LastIndex()+1; they replace every held entry from ents[0].Index on.
func (e *Engine) Save(hs raft.HardState, ents []raft.Entry, sync bool) error {
	opts := pebble.NoSync
	if sync && !e.noSync {
		opts = pebble.Sync
	}
	b, err := e.save(hs, ents, func(b *pebble.Batch) error { return b.Commit(opts) })
	if b != nil {
		b.Close()
	}
	return err
}

// SaveAsync is Save with sync, except that it returns once the batch is in
// the write-ahead log (after every earlier write, and visible to reads),
// before it is synced; wait syncs the log up to it, and so every write
// before it too. The sync starts only then, so that the caller decides
// what runs before it. A write committed later, an apply batch say, can
// never be durable without this one: the log is replayed in order.
func (e *Engine) SaveAsync(hs raft.HardState, ents []raft.Entry) (wait func() error, err error) {
	if e.noSync {
		return func() error { return nil }, e.Save(hs, ents, false)
	}
	b, err := e.save(hs, ents, func(b *pebble.Batch) error { return b.Commit(pebble.NoSync) })
	if b != nil {
		b.Close()
	}
	if err != nil || b == nil {
		return func() error { return nil }, err
	}
	return e.syncLog, nil
}

// syncLog makes every write committed so far durable: an empty record
// appended with sync syncs the log up to and including it, and the log
// holds the writes in commit order.
func (e *Engine) syncLog() error {
	if err := e.rlock(); err != nil {
		return err
	}
	defer e.closeMu.RUnlock()
	if err := e.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("sync entries: %w", err)
	}
	return nil
}

// save builds the batch for hs and ents and commits it with commit. The
// caller closes the batch it returns (nil when there was nothing to save);
// a batch whose commit failed is left to the collector, as pebble may
// still hold it.
func (e *Engine) save(hs raft.HardState, ents []raft.Entry, commit func(*pebble.Batch) error) (*pebble.Batch, error) {
	if hs.IsEmpty() && len(ents) == 0 {
		return nil, nil
	}
	if err := e.rlock(); err != nil {
		return nil, err
	}
	defer e.closeMu.RUnlock()
	e.logMu.Lock()
	defer e.logMu.Unlock()

	var lo, hi uint64 // the entries' index range, inclusive
	if len(ents) > 0 {
		lo, hi = ents[0].Index, ents[len(ents)-1].Index
		if err := e.checkAppend(ents); err != nil {
			return nil, fmt.Errorf("save entries %d..%d: %w", lo, hi, err)
		}
	}

	b := e.db.NewBatch()
	fail := func(err error) (*pebble.Batch, error) {
		if len(ents) == 0 {
			return nil, fmt.Errorf("save hard state: %w", err)
		}
		return nil, fmt.Errorf("save entries %d..%d: %w", lo, hi, err)
	}
	if err := e.fillSave(b, hs, ents); err != nil {
		b.Close()
		return fail(err)
	}
	if err := commit(b); err != nil {
		return fail(err)
	}
	if len(ents) > 0 {
		if e.last < e.first {
			// The log was empty: it now starts at ents[0].
			e.first = lo
		}
		e.last, e.lastTerm = hi, ents[len(ents)-1].Term
		e.cache.saved(ents)
	}
	return b, nil
}

// fillSave adds hs (unless empty) and ents to b, with the deletion of any
// held entries past ents.
func (e *Engine) fillSave(b *pebble.Batch, hs raft.HardState, ents []raft.Entry) error {
	if !hs.IsEmpty() {
		if err := b.Set(keyHard, encodeHardState(hs), nil); err != nil {
			return err
		}
	}
	var buf []byte
	for i := range ents {
		buf = encodeEntry(buf[:0], ents[i])
		// Set copies key and value into the batch, so buf can be reused.
		if err := b.Set(logKey(ents[i].Index), buf, nil); err != nil {
			return err
		}
	}
	if hi := len(ents); hi > 0 && ents[hi-1].Index < e.last {
		// A conflicting suffix longer than ents: drop what lies past it.
		last := ents[hi-1].Index
		if err := b.DeleteRange(logKey(last+1), logKey(e.last+1), nil); err != nil {
			return fmt.Errorf("truncate %d..%d: %w", last+1, e.last, err)
		}
	}
	return nil
}

// checkAppend verifies that ents are contiguous and can follow the held log.
func (e *Engine) checkAppend(ents []raft.Entry) error {
	lo := ents[0].Index
	for i := range ents {
		if ents[i].Index != lo+uint64(i) {
			return fmt.Errorf("entry %d at position %d: entries are not contiguous", ents[i].Index, i)
		}
	}
	if lo == 0 {
		return errors.New("index 0 is not a log index")
	}
	if lo > e.last+1 {
		return fmt.Errorf("gap after last index %d", e.last)
	}
	if lo < e.first {
		return fmt.Errorf("first index %d: %w", e.first, raft.ErrCompacted)
	}
	return nil
}

// encodeEntry appends ent's stored form (uvarint term, type, data) to b.
func encodeEntry(b []byte, ent raft.Entry) []byte {
	b = binary.AppendUvarint(b, ent.Term)
	b = append(b, byte(ent.Type))
	return append(b, ent.Data...)
}

// decodeEntryHeader returns the term of a stored entry and where its data
// starts.
func decodeEntryHeader(index uint64, v []byte) (term uint64, dataAt int, err error) {
	term, n := binary.Uvarint(v)
	if n <= 0 || n >= len(v) {
		return 0, 0, fmt.Errorf("%w: entry %d header", ErrCorrupt, index)
	}
	return term, n + 1, nil
}

// decodeEntry decodes a stored entry into one that owns its Data.
func decodeEntry(index uint64, v []byte) (raft.Entry, error) {
	term, at, err := decodeEntryHeader(index, v)
	if err != nil {
		return raft.Entry{}, err
	}
	ent := raft.Entry{Term: term, Index: index, Type: raft.EntryType(v[at-1])}
	if at < len(v) {
		// The value is pebble's until the iterator moves: copy it.
		ent.Data = append(make([]byte, 0, len(v)-at), v[at:]...)
	}
	return ent, nil
}

func encodeHardState(hs raft.HardState) []byte {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint64(b, hs.Term)
	b = binary.BigEndian.AppendUint64(b, hs.Vote)
	return binary.BigEndian.AppendUint64(b, hs.Commit)
}

func decodeHardState(v []byte) (raft.HardState, error) {
	if len(v) != 24 {
		return raft.HardState{}, fmt.Errorf("%w: hard state of %d bytes, want 24", ErrCorrupt, len(v))
	}
	return raft.HardState{
		Term:   binary.BigEndian.Uint64(v[0:]),
		Vote:   binary.BigEndian.Uint64(v[8:]),
		Commit: binary.BigEndian.Uint64(v[16:]),
	}, nil
}
