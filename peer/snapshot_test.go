package peer

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"github.com/raftkv/raftkv/raft"
)

type fakeSnap struct {
	meta   raft.SnapshotMeta
	data   []byte
	closed bool
}

func (f *fakeSnap) Meta() raft.SnapshotMeta { return f.meta }
func (f *fakeSnap) ConfState() raft.ConfState {
	return raft.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}
}
func (f *fakeSnap) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(f.data)
	return int64(n), err
}
func (f *fakeSnap) Close() error { f.closed = true; return nil }

func TestSnapshotStream(t *testing.T) {
	addrs := peerAddrs(t, 2)
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+7) // a little over 3 MiB: several chunks
	snap := &fakeSnap{meta: raft.SnapshotMeta{Index: 500, Term: 4}, data: data}
	var in1, in2 inbox
	t1, err := New(Config{ID: 1, ListenAddr: addrs[1], Peers: addrs, Handler: in1.handle, ClusterID: "test",
		OpenSnapshot: func() (Snapshot, error) { return snap, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t1.Start()
	defer t1.Close()
	dir := t.TempDir()
	t2, err := New(Config{ID: 2, ListenAddr: addrs[2], Peers: addrs, Handler: in2.handle, SnapshotDir: dir, ClusterID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t2.Start()
	defer t2.Close()
	// The sender must have connected once before it can stream.
	waitFor(t, 5*time.Second, "a connection", func() bool {
		t1.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: 1, To: 2}})
		return t1.Stats()[2].Connected
	})

	t1.Send([]raft.Message{{Type: raft.MsgSnap, From: 1, To: 2, Term: 6, Index: 300, LogTerm: 3}})
	var got raft.Message
	waitFor(t, 10*time.Second, "the snapshot", func() bool {
		for _, m := range in2.all() {
			if m.Type == raft.MsgSnap {
				got = m
				return true
			}
		}
		return false
	})
	// The follower is told what was sent: the newest snapshot, not the one
	// the core named.
	if got.From != 1 || got.Term != 6 || got.Index != 500 || got.LogTerm != 4 || len(got.ConfState.Voters) != 2 || got.ConfState.Learners[0] != 3 {
		t.Fatalf("received %+v", got)
	}
	body, err := os.ReadFile(string(got.Context))
	if err != nil || !bytes.Equal(body, data) {
		t.Fatalf("snapshot file: %d bytes, %v; want %d bytes", len(body), err, len(data))
	}
	var status raft.Message
	waitFor(t, 5*time.Second, "the status report", func() bool {
		for _, m := range in1.all() {
			if m.Type == raft.MsgSnapStatus {
				status = m
				return true
			}
		}
		return false
	})
	if status.Reject || status.From != 2 || status.To != 1 || status.Index != 500 || !snap.closed {
		t.Fatalf("status %+v, snapshot closed %v", status, snap.closed)
	}
	if err := CleanSnapshotDir(dir, ""); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("%d files left after cleaning", len(ents))
	}

	// To a peer that is gone, the stream fails and the leader hears so.
	t2.Close()
	waitFor(t, 5*time.Second, "a failure report", func() bool {
		t1.Send([]raft.Message{{Type: raft.MsgSnap, From: 1, To: 2, Term: 6}})
		n := 0
		for _, m := range in1.all() {
			if m.Type == raft.MsgSnapStatus && m.Reject {
				n++
			}
		}
		return n > 0
	})
}
