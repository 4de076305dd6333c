package engine

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

// fillLog saves entries 1..n (term = index/10+1) and applies them as SETs
// of k<i> = v<i>.
func fillLog(t testing.TB, e *Engine, n int) {
	t.Helper()
	var ents []raft.Entry
	for i := 1; i <= n; i++ {
		ents = append(ents, raft.Entry{Index: uint64(i), Term: uint64(i/10 + 1), Data: []byte("x")})
	}
	if err := e.Save(raft.HardState{Term: uint64(n/10 + 1), Commit: uint64(n)}, ents, true); err != nil {
		t.Fatal(err)
	}
	b := e.NewApplyBatch()
	for i := 1; i <= n; i++ {
		if err := b.Set(fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(uint64(n)); err != nil {
		t.Fatal(err)
	}
	b.Close()
}

func TestCompact(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	fillLog(t, e, 50)
	if err := e.Compact(60); err == nil {
		t.Fatal("compacted past the last index")
	}
	if err := e.Compact(30); err != nil {
		t.Fatal(err)
	}
	if err := e.Compact(20); err != nil { // below the point: nothing
		t.Fatal(err)
	}
	first, _ := e.FirstIndex()
	last, _ := e.LastIndex()
	snap, _ := e.Snapshot()
	if first != 31 || last != 50 || snap != (raft.SnapshotMeta{Index: 30, Term: 4}) || e.LogLen() != 20 {
		t.Fatalf("after compaction: first %d last %d snap %+v len %d", first, last, snap, e.LogLen())
	}
	if term, err := e.Term(30); err != nil || term != 4 {
		t.Fatalf("Term(30) = %d, %v", term, err)
	}
	if _, err := e.Term(29); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Term(29): %v", err)
	}
	if _, err := e.Entries(30, 40, 1<<20); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Entries(30, 40): %v", err)
	}
	if ents, err := e.Entries(31, 51, 1<<20); err != nil || len(ents) != 20 {
		t.Fatalf("Entries(31, 51): %d, %v", len(ents), err)
	}
	// Compacting everything leaves an empty log that continues after it.
	if err := e.Compact(50); err != nil {
		t.Fatal(err)
	}
	if first, _ := e.FirstIndex(); first != 51 || e.LogLen() != 0 {
		t.Fatalf("compacted to the end: first %d len %d", first, e.LogLen())
	}
	if err := e.Save(raft.HardState{}, []raft.Entry{{Index: 51, Term: 6}}, true); err != nil {
		t.Fatal(err)
	}
	if last, _ := e.LastIndex(); last != 51 {
		t.Fatalf("append after full compaction: last %d", last)
	}
}

func TestCompactSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	e, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	fillLog(t, e, 40)
	if err := e.Compact(40); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e, err = Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	first, _ := e.FirstIndex()
	last, _ := e.LastIndex()
	if term, err := e.Term(40); first != 41 || last != 40 || err != nil || term != 5 {
		t.Fatalf("after reopen: first %d last %d Term(40) %d %v", first, last, term, err)
	}
}

func TestSnapshotStreamAndInstall(t *testing.T) {
	src := openMem(t, vfs.NewMem())
	fillLog(t, src, 1000)
	// Binary keys and empty values travel intact.
	b := src.NewApplyBatch()
	b.Set([]byte("a\x00\r\nb"), nil)
	b.Set([]byte(""), []byte("empty key"))
	if err := b.Commit(1001); err != nil {
		t.Fatal(err)
	}
	b.Close()
	src.Save(raft.HardState{Term: 101, Commit: 1001}, []raft.Entry{{Index: 1001, Term: 101}}, true)

	snap, err := src.OpenSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if snap.Meta() != (raft.SnapshotMeta{Index: 1001, Term: 101}) {
		t.Fatalf("meta %+v", snap.Meta())
	}
	// A write after the view is taken is not in it.
	b = src.NewApplyBatch()
	b.Set([]byte("later"), []byte("x"))
	b.Commit(1002)
	b.Close()

	var stream bytes.Buffer
	if _, err := snap.WriteTo(&stream); err != nil {
		t.Fatal(err)
	}
	dst := openMem(t, vfs.NewMem())
	fillLog(t, dst, 5) // old data to be replaced
	dst.Save(raft.HardState{Term: 7, Vote: 3, Commit: 5}, nil, true)
	if err := dst.InstallSnapshot(snap.Meta(), bytes.NewReader(stream.Bytes())); err != nil {
		t.Fatal(err)
	}
	applied, _ := dst.Applied()
	if applied != 1001 || dst.KeyCount() != 1002 {
		t.Fatalf("applied %d keys %d", applied, dst.KeyCount())
	}
	for k, want := range map[string]string{"k1": "v1", "k1000": "v1000", "a\x00\r\nb": "", "": "empty key"} {
		if r, ok, err := dst.Key([]byte(k)); err != nil || !ok || string(r.Value) != want {
			t.Fatalf("Key(%q) = %q %v %v", k, r.Value, ok, err)
		}
	}
	if _, ok, _ := dst.Key([]byte("later")); ok {
		t.Fatal("a write made after the snapshot was taken is in it")
	}
	first, _ := dst.FirstIndex()
	last, _ := dst.LastIndex()
	hs, _ := dst.InitialState()
	if term, _ := dst.Term(1001); first != 1002 || last != 1001 || term != 101 || hs != (raft.HardState{Term: 7, Vote: 3, Commit: 1001}) {
		t.Fatalf("after install: first %d last %d term %d hs %+v", first, last, term, hs)
	}

	// Corrupt, truncated or mismatched streams change nothing.
	data := stream.Bytes()
	for name, tc := range map[string]struct {
		meta raft.SnapshotMeta
		data []byte
	}{
		"truncated":   {snap.Meta(), data[:len(data)/2]},
		"flipped bit": {snap.Meta(), append(append(append([]byte(nil), data[:100]...), data[100]^1), data[101:]...)},
		"other index": {raft.SnapshotMeta{Index: 5, Term: 1}, data},
		"empty":       {snap.Meta(), nil},
	} {
		d := openMem(t, vfs.NewMem())
		fillLog(t, d, 5)
		err := d.InstallSnapshot(tc.meta, bytes.NewReader(tc.data))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: %v, want ErrCorrupt", name, err)
		}
		if applied, _ := d.Applied(); applied != 5 || d.KeyCount() != 5 {
			t.Fatalf("%s: applied %d keys %d after a refused snapshot", name, applied, d.KeyCount())
		}
	}
}

func TestMembersTravelWithSnapshots(t *testing.T) {
	src := openMem(t, vfs.NewMem())
	fillLog(t, src, 10)
	want := []Member{{ID: 1, PeerAddr: "10.0.0.1:16380", RespAddr: "10.0.0.1:6380"}, {ID: 4, Learner: true, PeerAddr: "p4", RespAddr: "r4"}}
	b := src.NewApplyBatch()
	if err := b.SetMembers(want); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(10); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got, err := src.Members(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Members() = %+v, %v", got, err)
	}
	if err := src.SetClusterID("src-cluster"); err != nil {
		t.Fatal(err)
	}
	meta, buf := streamSnapshot(t, src)
	dst := openMem(t, vfs.NewMem())
	// The cluster ID is the receiver's own: a snapshot does not carry it.
	if err := dst.SetClusterID("dst-cluster"); err != nil {
		t.Fatal(err)
	}
	b = dst.NewApplyBatch()
	b.SetMembers([]Member{{ID: 9, PeerAddr: "x", RespAddr: "y"}})
	b.Commit(1)
	b.Close()
	if err := dst.InstallSnapshot(meta, buf); err != nil {
		t.Fatal(err)
	}
	if got, err := dst.Members(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after install: %+v, %v", got, err)
	}
	if id, err := dst.ClusterID(); err != nil || id != "dst-cluster" {
		t.Fatalf("after install, ClusterID() = %q, %v; want the receiver's own", id, err)
	}
	if cs := ConfState(want); !reflect.DeepEqual(cs, raft.ConfState{Voters: []uint64{1}, Learners: []uint64{4}}) {
		t.Fatalf("ConfState = %+v", cs)
	}
}

// TestInstalledSnapshotSurvivesCrash: once InstallSnapshot returns, a
// crash that keeps only synced data keeps the snapshot, whole.
func TestInstalledSnapshotSurvivesCrash(t *testing.T) {
	src := openMem(t, vfs.NewMem())
	fillLog(t, src, 300)
	meta, buf := streamSnapshot(t, src)
	fs := vfs.NewCrashableMem()
	dst, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	fillLog(t, dst, 20)
	if err := dst.InstallSnapshot(meta, buf); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	dst.Close()
	e, err := Open("db", Options{FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	applied, _ := e.Applied()
	first, _ := e.FirstIndex()
	if applied != 300 || e.KeyCount() != 300 || first != 301 {
		t.Fatalf("after a crash: applied %d keys %d first %d", applied, e.KeyCount(), first)
	}
	if r, ok, _ := e.Key([]byte("k300")); !ok || string(r.Value) != "v300" {
		t.Fatalf("k300 = %q %v", r.Value, ok)
	}
	if ents, _ := fs.List("db/" + stagingDir); len(ents) != 0 {
		t.Fatalf("staging files left: %v", ents)
	}
}

// TestCompactCrash: a crash right after Compact (which does not sync)
// leaves the log either compacted or not, but consistent: bounds, the
// term before the first entry, and the entries after it all agree.
func TestCompactCrash(t *testing.T) {
	for _, pct := range []int{0, 50, 100} {
		fs := vfs.NewCrashableMem()
		e, err := Open("db", Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		fillLog(t, e, 100)
		if err := e.Compact(60); err != nil {
			t.Fatal(err)
		}
		crashed := crash(t, e, fs, pct, int64(pct))
		e, err = Open("db", Options{FS: crashed})
		if err != nil {
			t.Fatalf("%d%% unsynced kept: reopen: %v", pct, err)
		}
		first, _ := e.FirstIndex()
		last, _ := e.LastIndex()
		if first != 1 && first != 61 || last != 100 {
			t.Fatalf("%d%% unsynced kept: log %d..%d", pct, first, last)
		}
		if _, err := e.Term(first - 1); err != nil {
			t.Fatalf("%d%% unsynced kept: Term(%d): %v", pct, first-1, err)
		}
		if ents, err := e.Entries(first, last+1, 1<<30); err != nil || len(ents) != int(last-first+1) {
			t.Fatalf("%d%% unsynced kept: entries %d..%d: %d, %v", pct, first, last, len(ents), err)
		}
		e.Close()
	}
}

// streamSnapshot is a snapshot of e as InstallSnapshot takes it: its
// meta and its stream.
func streamSnapshot(t testing.TB, e *Engine) (raft.SnapshotMeta, *bytes.Buffer) {
	t.Helper()
	snap, err := e.OpenSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var stream bytes.Buffer
	if _, err := snap.WriteTo(&stream); err != nil {
		t.Fatal(err)
	}
	return snap.Meta(), &stream
}
