package peer

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/raftkv/raftkv/raft"
	"github.com/raftkv/raftkv/test/testport"
)

// inbox collects what a transport's handler receives.
type inbox struct {
	mu   sync.Mutex
	msgs []raft.Message
}

func (b *inbox) handle(m raft.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

func (b *inbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func (b *inbox) all() []raft.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]raft.Message(nil), b.msgs...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// peerAddrs gives nodes 1 to n distinct free addresses.
func peerAddrs(t *testing.T, n int) map[uint64]string {
	t.Helper()
	addrs := map[uint64]string{}
	for i, a := range testport.Addrs(t, n) {
		addrs[uint64(i+1)] = a
	}
	return addrs
}

func newTransport(t *testing.T, id uint64, addr string, peers map[uint64]string, in *inbox) *Transport {
	t.Helper()
	tr, err := New(Config{ID: id, ListenAddr: addr, Peers: peers, Handler: in.handle, QueueSize: 256, ClusterID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestRoundTripEveryField(t *testing.T) {
	addrs := peerAddrs(t, 2)
	var in1, in2 inbox
	t1 := newTransport(t, 1, addrs[1], addrs, &in1)
	newTransport(t, 2, addrs[2], addrs, &in2)
	want := []raft.Message{
		{Type: raft.MsgApp, To: 2, From: 1, Term: 7, LogTerm: 6, Index: 41, Commit: 40,
			Entries: []raft.Entry{
				{Term: 7, Index: 42, Type: raft.EntryNormal, Data: []byte("a\x00b\r\n")},
				{Term: 7, Index: 43},
			}},
		{Type: raft.MsgAppResp, To: 2, From: 1, Term: 7, Index: 41, Reject: true, RejectHint: 30, LogTerm: 5},
		{Type: raft.MsgHeartbeat, To: 2, From: 1, Term: 7, Commit: 40, Context: []byte{0, 0, 0, 9}},
		{Type: raft.MsgVote, To: 2, From: 1, Term: 8, Index: 43, LogTerm: 7},
	}
	t1.Send(want)
	waitFor(t, 5*time.Second, "4 messages", func() bool { return in2.count() == 4 })
	got := in2.all()
	// An empty entry's data arrives empty; compare with nil normalised.
	for i := range want {
		for j := range want[i].Entries {
			if len(want[i].Entries[j].Data) == 0 {
				want[i].Entries[j].Data = nil
			}
			if len(got[i].Entries[j].Data) == 0 {
				got[i].Entries[j].Data = nil
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("received\n%+v\nwant\n%+v", got, want)
	}
	if st := t1.Stats()[2]; !st.Connected || st.Sent != 4 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestThreeNodes(t *testing.T) {
	addrs := peerAddrs(t, 3)
	ins := map[uint64]*inbox{1: {}, 2: {}, 3: {}}
	trs := map[uint64]*Transport{}
	for id := range addrs {
		trs[id] = newTransport(t, id, addrs[id], addrs, ins[id])
	}
	for from, tr := range trs {
		for to := range trs {
			if to != from {
				for i := range 100 {
					tr.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: from, To: to, Commit: uint64(i)}})
				}
			}
		}
	}
	for id, in := range ins {
		waitFor(t, 5*time.Second, fmt.Sprintf("node %d's 200 messages", id), func() bool { return in.count() == 200 })
	}
	// One stream per pair keeps each sender's messages in order.
	for id, in := range ins {
		last := map[uint64]int64{}
		for _, m := range in.all() {
			if prev, ok := last[m.From]; ok && int64(m.Commit) != prev+1 {
				t.Fatalf("node %d got %d after %d from %d", id, m.Commit, prev, m.From)
			}
			last[m.From] = int64(m.Commit)
		}
	}
}

func TestReconnect(t *testing.T) {
	addrs := peerAddrs(t, 2)
	var in1, in2 inbox
	t1 := newTransport(t, 1, addrs[1], addrs, &in1)
	hb := []raft.Message{{Type: raft.MsgHeartbeat, From: 1, To: 2}}

	// Node 2 starts late: node 1 reaches it once it is up.
	time.Sleep(100 * time.Millisecond)
	t1.Send(hb)
	t2 := newTransport(t, 2, addrs[2], addrs, &in2)
	waitFor(t, 5*time.Second, "delivery to a late peer", func() bool {
		t1.Send(hb)
		return in2.count() > 0
	})

	// Node 2 restarts on the same address: reached again.
	t2.Close()
	waitFor(t, 5*time.Second, "the loss to be noticed", func() bool {
		t1.Send(hb)
		return !t1.Stats()[2].Connected
	})
	var in2b inbox
	cur := newTransport(t, 2, addrs[2], addrs, &in2b)
	waitFor(t, 5*time.Second, "delivery to a restarted peer", func() bool {
		t1.Send(hb)
		return in2b.count() > 0
	})
	if !t1.Stats()[2].Connected {
		t.Fatal("stats say disconnected after delivery")
	}

	// A peer that restarts while the link is idle gets the very first
	// message sent after it is back: a vote answer must not be lost to a
	// stale stream.
	for range 3 {
		cur.Close()
		var in inbox
		cur = newTransport(t, 2, addrs[2], addrs, &in)
		time.Sleep(1500 * time.Millisecond) // longer than the longest backoff
		t1.Send(hb)
		waitFor(t, 3*time.Second, "the first message after an idle restart", func() bool { return in.count() == 1 })
	}
}

func TestSendNeverBlocks(t *testing.T) {
	// Peer 2 never exists: the queue fills and the excess is dropped.
	addrs := peerAddrs(t, 2)
	var in1 inbox
	t1 := newTransport(t, 1, addrs[1], addrs, &in1)
	start := time.Now()
	msgs := make([]raft.Message, 10000)
	for i := range msgs {
		msgs[i] = raft.Message{Type: raft.MsgHeartbeat, From: 1, To: 2}
	}
	t1.Send(msgs)
	t1.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: 1, To: 99}}) // unknown peer
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Send took %v with an unreachable peer", d)
	}
	// Every message is either still queued or counted as dropped.
	waitFor(t, 5*time.Second, "10000 messages accounted for", func() bool {
		st := t1.Stats()[2]
		return st.Sent == 0 && st.Dropped+uint64(st.Queued) == 10000
	})
	// Close is prompt, and idempotent.
	start = time.Now()
	t1.Close()
	t1.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

func TestWrongDestinationDropped(t *testing.T) {
	addrs := peerAddrs(t, 3)
	self3 := addrs[3]
	delete(addrs, 3) // unknown to node 1
	var in1, in2 inbox
	newTransport(t, 1, addrs[1], addrs, &in1)
	// Node 3 believes node 2 lives at node 1's address.
	t3 := newTransport(t, 3, self3, map[uint64]string{2: addrs[1]}, &in2)
	t3.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: 3, To: 2}})
	waitFor(t, 5*time.Second, "the message to be sent", func() bool { return t3.Stats()[2].Sent == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := in1.count(); n != 0 {
		t.Fatalf("node 1 accepted %d messages addressed to node 2", n)
	}
}

func TestNewValidates(t *testing.T) {
	h := func(raft.Message) {}
	for _, c := range []Config{
		{ListenAddr: "127.0.0.1:0", Handler: h},
		{ID: 1, ListenAddr: "127.0.0.1:0"},
		{ID: 1, Handler: h},
		{ID: 1, ListenAddr: "127.0.0.1:0", Handler: h, Peers: map[uint64]string{2: ""}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

func TestSetPeers(t *testing.T) {
	addrs := peerAddrs(t, 2)
	var in1, in2 inbox
	t1 := newTransport(t, 1, addrs[1], map[uint64]string{1: addrs[1]}, &in1)
	newTransport(t, 2, addrs[2], addrs, &in2)
	hb := []raft.Message{{Type: raft.MsgHeartbeat, From: 1, To: 2}}
	t1.Send(hb)
	if _, ok := t1.Stats()[2]; ok {
		t.Fatal("an unknown peer has stats")
	}
	t1.SetPeers(addrs) // node 2 joins
	waitFor(t, 5*time.Second, "delivery to an added peer", func() bool {
		t1.Send(hb)
		return in2.count() > 0
	})
	t1.SetPeers(map[uint64]string{1: addrs[1]}) // and is removed
	if _, ok := t1.Stats()[2]; ok {
		t.Fatal("a removed peer still has stats")
	}
	// Let what was already on its way arrive, then send more.
	n := in2.count()
	for {
		time.Sleep(200 * time.Millisecond)
		if m := in2.count(); m == n {
			break
		} else {
			n = m
		}
	}
	t1.Send(hb)
	time.Sleep(200 * time.Millisecond)
	if in2.count() != n {
		t.Fatal("a removed peer still receives messages")
	}
}
