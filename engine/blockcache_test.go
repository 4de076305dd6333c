package engine

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestBlockCacheBesideMemtables checks that a small block cache keeps
// blocks once pebble's memtables, which pebble charges to the cache, have
// grown to their full size: a record read twice from a table is found in
// the cache the second time.
func TestBlockCacheBesideMemtables(t *testing.T) {
	e := openWith(t, Options{FS: vfs.NewMem(), CacheSize: 1 << 20})
	// applyKeys's values are past hotRecordMax: reads of them go to
	// pebble. 20 MiB in all: the memtables, which start small and
	// double, reach 4 MiB.
	for i := range 40 {
		applyKeys(t, e, uint64(i+1), fmt.Sprintf("b%d-", i), 256)
	}
	if err := e.db.Flush(); err != nil {
		t.Fatal(err)
	}
	key := []byte("b0-0")
	if _, found, err := e.Key(key); err != nil || !found {
		t.Fatalf("read %s: found %v, %v", key, found, err)
	}
	before := e.db.Metrics().BlockCache
	if _, found, err := e.Key(key); err != nil || !found {
		t.Fatalf("read %s again: found %v, %v", key, found, err)
	}
	after := e.db.Metrics().BlockCache
	if after.Hits <= before.Hits {
		t.Fatalf("second read of %s: block cache hits %d, then %d; misses %d, then %d: the memtables took the cache",
			key, before.Hits, after.Hits, before.Misses, after.Misses)
	}
}
