package engine

import (
	"errors"
	"math"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

func TestOpenOnDisk(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, e, raft.HardState{Term: 1, Vote: 1, Commit: 1}, mkEnts(1, 3, 1), true)
	applyKeys(t, e, 1, "k", 2)

	// A second engine on the same directory is refused: two nodes must not
	// share a log.
	if e2, err := Open(dir, Options{}); err == nil {
		_ = e2.Close()
		t.Fatal("second open of a directory in use succeeded")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	checkLog(t, e, mkEnts(1, 3, 1))
	if applied, _ := e.Applied(); applied != 1 || e.KeyCount() != 2 {
		t.Fatalf("applied, keys = %d, %d, want 1, 2", applied, e.KeyCount())
	}
}

func TestClosedEngine(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	mustSave(t, e, raft.HardState{Term: 1}, mkEnts(1, 2, 1), true)
	closeEngine(t, e)
	closeEngine(t, e) // idempotent

	checks := map[string]error{
		"save":          e.Save(raft.HardState{Term: 2}, mkEnts(3, 3, 2), true),
		"iterate":       e.Iterate(func([]byte, Record) error { return nil }),
		"initial state": func() error { _, err := e.InitialState(); return err }(),
		"term":          func() error { _, err := e.Term(1); return err }(),
		"entries":       func() error { _, err := e.Entries(1, 3, math.MaxUint64); return err }(),
		"get":           func() error { _, _, err := e.Key([]byte("k")); return err }(),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after close: err = %v, want ErrClosed", name, err)
		}
	}
	b := e.NewApplyBatch()
	if err := b.Set([]byte("k"), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("batch set after close: err = %v, want ErrClosed", err)
	}
	if err := b.Commit(1); !errors.Is(err, ErrClosed) {
		t.Errorf("batch commit after close: err = %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("batch close after engine close: %v", err)
	}
}

// TestCloseWaitsForApplyBatch: Close called while a batch is open lets the
// batch finish; its commit is then on disk.
func TestCloseWaitsForApplyBatch(t *testing.T) {
	fs := vfs.NewMem()
	e := openMem(t, fs)
	b := e.NewApplyBatch()
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	if err := b.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	e = openMem(t, fs)
	if v, ok := mustGet(t, e.Key, []byte("k")); !ok || string(v) != "v" {
		t.Fatalf("k = %q, %v after reopen, want v", v, ok)
	}
}
