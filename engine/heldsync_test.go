package engine

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"

	"github.com/raftkv/raftkv/raft"
)

// TestHeldSyncFS: only write-ahead log files get the held sync, whether
// created or recycled, and its errors reach the caller.
func TestHeldSyncFS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	dir := t.TempDir()
	fs := heldSyncFS{vfs.Default}
	path := func(name string) string { return filepath.Join(dir, name) }
	for _, c := range []struct {
		name     string
		category vfs.DiskWriteCategory
		held     bool
	}{{"000001.log", walCategory, true}, {"000002.sst", "pebble-compaction", false}, {"MANIFEST", vfs.WriteCategoryUnspecified, false}} {
		f, err := fs.Create(path(c.name), c.category)
		if err != nil {
			t.Fatal(err)
		}
		if _, held := f.(heldSyncFile); held != c.held {
			t.Errorf("Create %s (%s): held sync %v, want %v", c.name, c.category, held, c.held)
		}
		if _, err := f.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		before := heldSyncs.Load()
		if err := f.SyncData(); err != nil {
			t.Fatalf("SyncData %s: %v", c.name, err)
		}
		if n := heldSyncs.Load() - before; (n == 1) != c.held {
			t.Errorf("SyncData %s: %d held syncs", c.name, n)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := fs.ReuseForWrite(path("000001.log"), path("000003.log"), walCategory)
	if err != nil {
		t.Fatal(err)
	}
	if _, held := f.(heldSyncFile); !held {
		t.Errorf("ReuseForWrite of a log: %T, want the held sync", f)
	}
	// With a second processor (a leader's, conf.LeaderMaxProcs), a log's
	// sync is an ordinary system call, which still syncs and fails alike.
	runtime.GOMAXPROCS(2)
	before := heldSyncs.Load()
	if _, err := f.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncData(); err != nil {
		t.Fatalf("SyncData with two processors: %v", err)
	}
	if n := heldSyncs.Load() - before; n != 0 {
		t.Errorf("SyncData with two processors: %d held syncs, want none", n)
	}
	runtime.GOMAXPROCS(1)
	// The descriptor is closed: fdatasync fails, and so must SyncData.
	f.Close()
	if err := f.SyncData(); !errors.Is(err, unix.EBADF) {
		t.Errorf("SyncData after Close: %v, want EBADF", err)
	}
	runtime.GOMAXPROCS(2)
	if err := f.SyncData(); !errors.Is(err, unix.EBADF) && !errors.Is(err, os.ErrClosed) {
		t.Errorf("SyncData after Close, two processors: %v, want EBADF or ErrClosed", err)
	}
	runtime.GOMAXPROCS(1)
	if _, err := fs.Create(path("missing/000004.log"), walCategory); err == nil {
		t.Error("Create in a missing folder: no error")
	}
}

// TestEngineHeldSync: with HoldProcessorInSync, the engine's log syncs go
// through the held sync (pebble creates its log with the category the
// wrapper looks for), and what was saved is there after a reopen.
func TestEngineHeldSync(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	dir := filepath.Join(t.TempDir(), "db")
	e, err := Open(dir, Options{HoldProcessorInSync: true})
	if err != nil {
		t.Fatal(err)
	}
	before := heldSyncs.Load()
	for i := uint64(1); i <= 10; i++ {
		wait, err := e.SaveAsync(raft.HardState{Term: 1, Commit: i}, []raft.Entry{{Index: i, Term: 1, Data: []byte("x")}})
		if err != nil {
			t.Fatal(err)
		}
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	}
	if heldSyncs.Load() == before {
		t.Fatal("10 synced saves, no held sync")
	}
	e.Close()
	if e, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if last, err := e.LastIndex(); err != nil || last != 10 {
		t.Fatalf("after reopen: last index %d, %v", last, err)
	}
}
