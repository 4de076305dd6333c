package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/raftkv/raftkv/raft"
)

// readSnapshotMeta reads the index and term a snapshot stream (a backup
// file) was taken at, from its header, without consuming it.
func readSnapshotMeta(r *bufio.Reader) (raft.SnapshotMeta, error) {
	hdr, err := r.Peek(len(snapMagic) + 2*binary.MaxVarintLen64)
	if err != nil && err != io.EOF {
		return raft.SnapshotMeta{}, err
	}
	if !bytes.HasPrefix(hdr, []byte(snapMagic)) {
		return raft.SnapshotMeta{}, fmt.Errorf("%w: not a raftkv snapshot (bad magic)", ErrCorrupt)
	}
	br := bytes.NewReader(hdr[len(snapMagic):])
	index, err1 := binary.ReadUvarint(br)
	term, err2 := binary.ReadUvarint(br)
	if err1 != nil || err2 != nil {
		return raft.SnapshotMeta{}, fmt.Errorf("%w: bad snapshot header", ErrCorrupt)
	}
	return raft.SnapshotMeta{Index: index, Term: term}, nil
}

// Restore fills an empty engine from a snapshot stream (a backup file):
// the data, and a log compacted up to the snapshot's index, with the
// membership replaced by members and a hard state at the snapshot's term,
// so that a node started on it continues from there.
func (e *Engine) Restore(r io.Reader, members []Member) (raft.SnapshotMeta, error) {
	if last, err := e.LastIndex(); err != nil || last != 0 || e.applied.Load() != 0 {
		return raft.SnapshotMeta{}, fmt.Errorf("restore: the engine is not empty (last index %d, applied %d)", last, e.applied.Load())
	}
	br := bufio.NewReaderSize(r, 256<<10)
	meta, err := readSnapshotMeta(br)
	if err != nil {
		return meta, fmt.Errorf("restore: %w", err)
	}
	if err := e.InstallSnapshot(meta, br); err != nil {
		return meta, fmt.Errorf("restore: %w", err)
	}
	b := e.NewApplyBatch()
	defer b.Close()
	if err := b.SetMembers(members); err != nil {
		return meta, err
	}
	if err := b.Commit(meta.Index); err != nil {
		return meta, fmt.Errorf("restore: record the members: %w", err)
	}
	// The term must not be below the last log term: the next election
	// starts above it.
	if err := e.Save(raft.HardState{Term: meta.Term, Commit: meta.Index}, nil, true); err != nil {
		return meta, fmt.Errorf("restore: save the hard state: %w", err)
	}
	return meta, nil
}

// Checkpoint writes a consistent copy of the whole database to dir, which
// must not exist: a copy to work on without touching this one.
func (e *Engine) Checkpoint(dir string) error {
	if err := e.rlock(); err != nil {
		return err
	}
	defer e.closeMu.RUnlock()
	return e.db.Checkpoint(dir)
}
