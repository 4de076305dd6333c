package engine

import (
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	dto "github.com/prometheus/client_model/go"

	"github.com/raftkv/raftkv/raft"
)

func fsyncs(t *testing.T, e *Engine) uint64 {
	t.Helper()
	var m dto.Metric
	if err := e.FsyncLatency().Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.Histogram.GetSampleCount()
}

// TestSyncPolicy: saves are fsynced (and the fsync histogram counts
// them) unless UnsafeNoSync, which still stores everything.
func TestSyncPolicy(t *testing.T) {
	for _, unsafe := range []bool{false, true} {
		e, err := Open(filepath.Join(t.TempDir(), "db"), Options{UnsafeNoSync: unsafe})
		if err != nil {
			t.Fatal(err)
		}
		before := fsyncs(t, e)
		for i := uint64(1); i <= 20; i++ {
			ents := []raft.Entry{{Index: i, Term: 1, Data: []byte("x")}}
			if i%2 == 0 {
				if err := e.Save(raft.HardState{Term: 1, Commit: i}, ents, true); err != nil {
					t.Fatal(err)
				}
				continue
			}
			wait, err := e.SaveAsync(raft.HardState{Term: 1, Commit: i}, ents)
			if err != nil {
				t.Fatal(err)
			}
			if err := wait(); err != nil {
				t.Fatal(err)
			}
		}
		if last, err := e.LastIndex(); err != nil || last != 20 {
			t.Fatalf("unsafe=%v: last index %d, %v", unsafe, last, err)
		}
		synced := fsyncs(t, e) - before
		if unsafe && synced != 0 {
			t.Errorf("UnsafeNoSync: %d fsyncs for 20 saves", synced)
		}
		if !unsafe && synced == 0 {
			t.Errorf("no fsync recorded for 20 synced saves")
		}
		e.Close()
	}
}

// walSyncFS counts the syncs of write-ahead log files as they are made.
// Pebble records a sync in its latency histogram (Engine.FsyncLatency)
// only after it has woken the writers the sync covered, so a writer back
// from its wait may read the histogram before the sync is in it.
type walSyncFS struct {
	vfs.FS
	syncs *atomic.Int64
}

func (fs walSyncFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(f, err, category)
}

func (fs walSyncFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(f, err, category)
}

func (fs walSyncFS) wrap(f vfs.File, err error, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err != nil || category != walCategory {
		return f, err
	}
	return walSyncFile{f, fs.syncs}, nil
}

type walSyncFile struct {
	vfs.File
	syncs *atomic.Int64
}

func (f walSyncFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

func (f walSyncFile) SyncData() error {
	f.syncs.Add(1)
	return f.File.SyncData()
}

// TestSaveAsyncSyncsOnWait: SaveAsync leaves the sync to wait, so that the
// caller decides what runs first; one wait syncs every write before it.
func TestSaveAsyncSyncsOnWait(t *testing.T) {
	var syncs atomic.Int64
	e, err := Open(filepath.Join(t.TempDir(), "db"), Options{FS: walSyncFS{vfs.Default, &syncs}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Save(raft.HardState{Term: 1}, nil, true); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == 0 {
		t.Fatal("a synced save made no sync of the write-ahead log")
	}
	before := syncs.Load()
	var waits []func() error
	for i := uint64(1); i <= 3; i++ {
		wait, err := e.SaveAsync(raft.HardState{}, []raft.Entry{{Index: i, Term: 1, Data: []byte("x")}})
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, wait)
	}
	if n := syncs.Load() - before; n != 0 {
		t.Fatalf("%d fsyncs before any wait", n)
	}
	if err := waits[2](); err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load() - before; n != 1 {
		t.Fatalf("%d fsyncs for one wait covering three writes, want 1", n)
	}
}
