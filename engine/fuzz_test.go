package engine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

// fuzzMeta is the snapshot every FuzzInstallSnapshot input claims to be.
var fuzzMeta = raft.SnapshotMeta{Index: 7, Term: 1}

// FuzzInstallSnapshot installs arbitrary bytes as a snapshot stream, as a
// follower does with what a leader sent. A stream refused must change
// nothing; one accepted must make the node's data exactly what the stream
// says, which streaming it again and installing that elsewhere shows.
func FuzzInstallSnapshot(f *testing.F) {
	src, err := Open(testDir, Options{FS: vfs.NewMem()})
	if err != nil {
		f.Fatal(err)
	}
	fillLog(f, src, 7)
	b := src.NewApplyBatch()
	b.Set([]byte("a\x00b"), nil)
	b.Commit(7)
	b.Close()
	_, stream := streamSnapshot(f, src)
	src.Close()
	data := stream.Bytes()
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(data[:len(data)-1])
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, in []byte) {
		e := openMem(t, vfs.NewMem())
		fillLog(t, e, 5)
		applied, before, err := e.Digest()
		if err != nil {
			t.Fatal(err)
		}
		err = e.InstallSnapshot(fuzzMeta, bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("a bad stream failed with %v, not ErrCorrupt", err)
			}
			if a, d, _ := e.Digest(); a != applied || d != before {
				t.Fatalf("a refused stream changed the data: applied %d -> %d", applied, a)
			}
			return
		}
		a, got, err := e.Digest()
		if err != nil || a != fuzzMeta.Index {
			t.Fatalf("after install: applied %d, %v", a, err)
		}
		meta, out := streamSnapshot(t, e)
		other := openMem(t, vfs.NewMem())
		if err := other.InstallSnapshot(meta, out); err != nil {
			t.Fatalf("the installed data does not stream again: %v", err)
		}
		if _, d, _ := other.Digest(); d != got {
			t.Fatal("the installed data streams as different data")
		}
	})
}
