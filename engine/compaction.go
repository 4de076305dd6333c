package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftkv/raftkv/raft"
)

// Snapshot implements raft.Storage: the point the log was last compacted
// to, the zero SnapshotMeta if never.
func (e *Engine) Snapshot() (raft.SnapshotMeta, error) {
	if err := e.rlock(); err != nil {
		return raft.SnapshotMeta{}, err
	}
	defer e.closeMu.RUnlock()
	e.logMu.RLock()
	defer e.logMu.RUnlock()
	return e.snap, nil
}

// LogLen returns the number of entries the log holds.
func (e *Engine) LogLen() uint64 {
	e.logMu.RLock()
	defer e.logMu.RUnlock()
	return e.last + 1 - e.first
}

// Compact drops the log entries up to index, which the state machine must
// have applied: the data set already holds their effects, and a follower
// that needs them gets a snapshot of the data instead. It records index
// and its term as the compaction point. Compacting to or below the current
// point does nothing.
//
// The write is not synced: if a crash loses it, the entries are simply
// still there.
func (e *Engine) Compact(index uint64) error {
	if err := e.rlock(); err != nil {
		return err
	}
	defer e.closeMu.RUnlock()
	e.logMu.Lock()
	defer e.logMu.Unlock()
	if index < e.first {
		return nil
	}
	if index > e.last {
		return fmt.Errorf("compact to %d: past the last index %d", index, e.last)
	}
	if applied := e.applied.Load(); index > applied {
		return fmt.Errorf("compact to %d: past the applied index %d", index, applied)
	}
	term := e.lastTerm
	if index != e.last {
		v, closer, err := e.db.Get(logKey(index))
		if err != nil {
			return fmt.Errorf("compact to %d: read its term: %w", index, err)
		}
		term, _, err = decodeEntryHeader(index, v)
		closer.Close()
		if err != nil {
			return err
		}
	}
	meta := raft.SnapshotMeta{Index: index, Term: term}
	b := e.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(logKey(e.first), logKey(index+1), nil); err != nil {
		return err
	}
	if err := b.Set(keySnapshot, encodeSnapshotMeta(meta), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("compact to %d: %w", index, err)
	}
	e.first, e.snap = index+1, meta
	e.cache.compacted(index)
	e.compactions.Add(1)
	return nil
}

func (e *Engine) loadSnapshot() (raft.SnapshotMeta, error) {
	v, closer, err := e.db.Get(keySnapshot)
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.SnapshotMeta{}, nil
	}
	if err != nil {
		return raft.SnapshotMeta{}, fmt.Errorf("read compaction point: %w", err)
	}
	defer closer.Close()
	return decodeSnapshotMeta(v)
}

func encodeSnapshotMeta(m raft.SnapshotMeta) []byte {
	b := binary.BigEndian.AppendUint64(nil, m.Index)
	return binary.BigEndian.AppendUint64(b, m.Term)
}

func decodeSnapshotMeta(v []byte) (raft.SnapshotMeta, error) {
	if len(v) != 16 {
		return raft.SnapshotMeta{}, fmt.Errorf("%w: compaction point of %d bytes", ErrCorrupt, len(v))
	}
	return raft.SnapshotMeta{Index: binary.BigEndian.Uint64(v), Term: binary.BigEndian.Uint64(v[8:])}, nil
}

// DataSize estimates the bytes the data set takes on disk.
func (e *Engine) DataSize() uint64 {
	if err := e.rlock(); err != nil {
		return 0
	}
	defer e.closeMu.RUnlock()
	n, err := e.db.EstimateDiskUsage([]byte{prefixData}, dataUpper)
	if err != nil {
		return 0
	}
	return n
}

// Stats are the engine's running figures.
type Stats struct {
	// Compactions counts log compactions (snapshots taken), Installs the
	// snapshots received from a leader and installed.
	Compactions, Installs uint64
	// KeyStateHits counts the states of keys (whether each exists, its
	// type, its expiry) that apply batches found in memory, KeyStateLookups
	// those they looked up in the data instead.
	KeyStateHits, KeyStateLookups uint64
}

// Stats returns the engine's figures since it opened.
func (e *Engine) Stats() Stats {
	return Stats{Compactions: e.compactions.Load(), Installs: e.installs.Load(),
		KeyStateHits: e.keyStateHits.Load(), KeyStateLookups: e.keyStateLookups.Load()}
}

// StorageStats are pebble's own figures: the work of its flushes and
// compactions, the shape of its levels and its block cache. All it wrote
// (the write-ahead log, and sstables by flushes and compactions) against
// what it took in (the write-ahead log) is its write amplification, which
// grows with the number of keys written over (BENCHMARKS.md, many keys).
type StorageStats struct {
	// Flushes and Compactions count the memtables written to sstables and
	// pebble's compactions (moves of whole files included), since open.
	Flushes, Compactions int64
	// FlushedBytes and CompactedBytes are the sstable bytes those wrote,
	// CompactionReadBytes the bytes compactions read, WALBytes the bytes
	// written to the write-ahead log, all since open.
	FlushedBytes, CompactedBytes, CompactionReadBytes, WALBytes uint64
	// TableBytes is the size of the live sstables, MemTableBytes that of
	// the memtables (pebble's write buffers) held.
	TableBytes, MemTableBytes uint64
	// L0Files counts the sstables in level 0, which every read checks;
	// ReadAmp is the number of sublevels of L0 and non-empty levels below,
	// the most places a point read may look.
	L0Files int64
	ReadAmp int
	// CompactionDebt estimates the bytes compactions must still rewrite to
	// bring the levels back into shape.
	CompactionDebt uint64
	// BlockCacheHits and BlockCacheMisses count reads of sstable blocks
	// found in and missing from the block cache (--cache-size).
	BlockCacheHits, BlockCacheMisses int64
}

// StorageStats returns pebble's figures; zero once the engine is closed.
func (e *Engine) StorageStats() StorageStats {
	if err := e.rlock(); err != nil {
		return StorageStats{}
	}
	defer e.closeMu.RUnlock()
	m := e.db.Metrics()
	s := StorageStats{
		Flushes:          m.Flush.Count,
		Compactions:      m.Compact.Count,
		WALBytes:         m.WAL.BytesWritten,
		MemTableBytes:    m.MemTable.Size,
		L0Files:          m.Levels[0].TablesCount,
		ReadAmp:          m.ReadAmp(),
		CompactionDebt:   m.Compact.EstimatedDebt,
		BlockCacheHits:   m.BlockCache.Hits,
		BlockCacheMisses: m.BlockCache.Misses,
	}
	for _, l := range m.Levels {
		s.FlushedBytes += l.TableBytesFlushed
		s.CompactedBytes += l.TableBytesCompacted
		s.CompactionReadBytes += l.TableBytesRead
		s.TableBytes += uint64(l.TablesSize)
	}
	return s
}

// FsyncLatency is the histogram of the write-ahead log's fsyncs, in
// nanoseconds, as pebble records it.
func (e *Engine) FsyncLatency() prometheus.Histogram { return e.fsyncLatency }
