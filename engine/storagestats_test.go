package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestStorageStats: pebble's figures follow the engine's writes. Writes
// reach the write-ahead log, a flush writes them to level 0, a
// compaction of overlapping tables reads them back and rewrites them
// below, reads of a table count in the block cache, and a closed engine
// reports nothing.
func TestStorageStats(t *testing.T) {
	e := openWith(t, Options{FS: vfs.NewMem(), CacheSize: 1 << 20})
	start := e.StorageStats()
	for i := range 4 {
		applyKeys(t, e, uint64(i+1), fmt.Sprintf("s%d-", i), 256)
	}
	written := e.StorageStats()
	if written.WALBytes <= start.WALBytes || written.MemTableBytes == 0 {
		t.Fatalf("after writes: WAL bytes %d (from %d), memtables %d bytes", written.WALBytes, start.WALBytes, written.MemTableBytes)
	}
	if err := e.db.Flush(); err != nil {
		t.Fatal(err)
	}
	flushed := e.StorageStats()
	// Pebble compacts on its own whenever it chooses: level 0 may be
	// empty already, but only if a compaction took the table.
	if flushed.Flushes <= written.Flushes || flushed.FlushedBytes <= written.FlushedBytes ||
		(flushed.L0Files == 0 && flushed.Compactions == written.Compactions) ||
		flushed.TableBytes == 0 || flushed.ReadAmp == 0 {
		t.Fatalf("after a flush: %+v (before it %+v)", flushed, written)
	}
	// A second table over the same keys: a compaction merges the two (a
	// lone table would be moved down, not rewritten). Pebble may start it
	// itself as soon as the second is flushed, before the one asked for
	// here; either way, the figures move from the first table's.
	applyKeys(t, e, 5, "s0-", 256)
	if err := e.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Compact(context.Background(), []byte{prefixData}, dataUpper, false); err != nil {
		t.Fatal(err)
	}
	compacted := e.StorageStats()
	if compacted.Compactions <= flushed.Compactions || compacted.CompactedBytes <= flushed.CompactedBytes ||
		compacted.CompactionReadBytes <= flushed.CompactionReadBytes || compacted.L0Files != 0 {
		t.Fatalf("after a compaction: %+v (with the first table alone %+v)", compacted, flushed)
	}
	if _, found, err := e.Key([]byte("s0-0")); err != nil || !found {
		t.Fatalf("read s0-0: found %v, %v", found, err)
	}
	read := e.StorageStats()
	if read.BlockCacheHits+read.BlockCacheMisses <= compacted.BlockCacheHits+compacted.BlockCacheMisses {
		t.Fatalf("a read from a table: block cache hits %d, misses %d; before it %d, %d",
			read.BlockCacheHits, read.BlockCacheMisses, compacted.BlockCacheHits, compacted.BlockCacheMisses)
	}
	closeEngine(t, e)
	if s := e.StorageStats(); s != (StorageStats{}) {
		t.Fatalf("closed engine: %+v, want zero", s)
	}
}
