package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/raftkv/raftkv/peer/peerpb"
	"github.com/raftkv/raftkv/raft"
)

// Snapshot is a state machine snapshot to send: its index and term, and a
// way to stream its data (engine.SnapshotSource is one).
type Snapshot interface {
	Meta() raft.SnapshotMeta
	// ConfState is the membership the snapshot records.
	ConfState() raft.ConfState
	WriteTo(w io.Writer) (int64, error)
	Close() error
}

// chunkSize is the data carried by one SnapshotChunk.
const chunkSize = 1 << 20

// sendSnapshot streams the newest snapshot to m.To in the background, and
// reports the outcome to the local node with MsgSnapStatus. One snapshot
// at a time goes to a peer; a request made while one is on its way fails
// at once.
func (t *Transport) sendSnapshot(p *peerLink, m raft.Message) {
	status := raft.Message{Type: raft.MsgSnapStatus, From: m.To, To: t.cfg.ID, Term: m.Term, Reject: true}
	client := p.raftClient()
	if t.cfg.OpenSnapshot == nil || client == nil || !p.snapBusy.CompareAndSwap(false, true) {
		t.cfg.Handler(status)
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer p.snapBusy.Store(false)
		log := t.logger.With("peer", p.id)
		meta, n, err := t.streamSnapshot(client, m)
		if err != nil {
			t.snaps.sendFailures.Add(1)
			log.Warn("sending snapshot failed", "index", meta.Index, "error", err)
		} else {
			t.snaps.sent.Add(1)
			t.snaps.sentBytes.Add(uint64(n))
			log.Info("snapshot sent", "index", meta.Index, "term", meta.Term, "bytes", n)
			status.Reject = false
		}
		status.Index = meta.Index
		t.cfg.Handler(status)
	}()
}

func (t *Transport) streamSnapshot(client peerpb.RaftClient, m raft.Message) (raft.SnapshotMeta, int64, error) {
	snap, err := t.cfg.OpenSnapshot()
	if err != nil {
		return raft.SnapshotMeta{}, 0, fmt.Errorf("open snapshot: %w", err)
	}
	defer snap.Close()
	meta := snap.Meta()
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	stream, err := client.Snapshot(ctx)
	if err != nil {
		return meta, 0, err
	}
	cs := snap.ConfState()
	if err := stream.Send(&peerpb.SnapshotChunk{From: t.cfg.ID, To: m.To, Term: m.Term, Index: meta.Index, LogTerm: meta.Term,
		Voters: cs.Voters, Learners: cs.Learners}); err != nil {
		return meta, 0, err
	}
	w := bufio.NewWriterSize(chunkWriter{stream}, chunkSize)
	n, err := snap.WriteTo(w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return meta, n, err
	}
	_, err = stream.CloseAndRecv()
	return meta, n, err
}

type chunkWriter struct {
	s interface {
		Send(*peerpb.SnapshotChunk) error
	}
}

func (w chunkWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += chunkSize {
		end := min(off+chunkSize, len(p))
		if err := w.s.Send(&peerpb.SnapshotChunk{Data: p[off:end]}); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// Snapshot receives a snapshot into a file in SnapshotDir, then hands the
// node a MsgSnap whose Context is the file's path.
func (s *server) Snapshot(stream peerpb.Raft_SnapshotServer) error {
	t := s.t
	hdr, err := stream.Recv()
	if err != nil {
		return err
	}
	if hdr.To != t.cfg.ID || t.cfg.SnapshotDir == "" {
		return fmt.Errorf("snapshot for node %d refused by node %d", hdr.To, t.cfg.ID)
	}
	f, err := os.CreateTemp(t.cfg.SnapshotDir, fmt.Sprintf("%s%d-%d-*", snapPrefix, hdr.From, hdr.Index))
	if err != nil {
		return err
	}
	path := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(path)
		t.logger.Warn("receiving snapshot failed", "from", hdr.From, "index", hdr.Index, "error", err)
		return err
	}
	var n int64
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		k, err := f.Write(c.Data)
		n += int64(k)
		if err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	t.snaps.received.Add(1)
	t.snaps.receivedBytes.Add(uint64(n))
	t.logger.Info("snapshot received", "from", hdr.From, "index", hdr.Index, "term", hdr.LogTerm, "bytes", n)
	t.cfg.Handler(raft.Message{Type: raft.MsgSnap, From: hdr.From, To: hdr.To, Term: hdr.Term,
		Index: hdr.Index, LogTerm: hdr.LogTerm, Context: []byte(path),
		ConfState: raft.ConfState{Voters: hdr.Voters, Learners: hdr.Learners}})
	return stream.SendAndClose(&peerpb.Ack{})
}

// snapPrefix starts the name of every received snapshot file.
const snapPrefix = "snap-"

// CleanSnapshotDir removes received snapshot files from dir except keep
// (a path, or "" for none): what was not installed is of no further use.
func CleanSnapshotDir(dir, keep string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), snapPrefix) && p != keep {
			os.Remove(p)
		}
	}
	return nil
}

// snapshotCounters count the snapshots a transport sent and received.
type snapshotCounters struct {
	sent, sentBytes, sendFailures, received, receivedBytes atomic.Uint64
}

// SnapshotStats are the snapshots a transport sent and received since it
// started.
type SnapshotStats struct {
	Sent, SentBytes, SendFailures, Received, ReceivedBytes uint64
}

// SnapshotStats returns the transport's snapshot figures.
func (t *Transport) SnapshotStats() SnapshotStats {
	return SnapshotStats{
		Sent: t.snaps.sent.Load(), SentBytes: t.snaps.sentBytes.Load(), SendFailures: t.snaps.sendFailures.Load(),
		Received: t.snaps.received.Load(), ReceivedBytes: t.snaps.receivedBytes.Load(),
	}
}
