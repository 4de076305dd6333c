package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkv/raftkv/conf"
	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
	"github.com/raftkv/raftkv/peer"
	"github.com/raftkv/raftkv/raft"
	"github.com/raftkv/raftkv/resp"
)

// runServer runs one node until SIGINT or SIGTERM.
func runServer(args []string) error {
	cfg, err := conf.Parse("raftkv server", args)
	if err != nil {
		return err
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       fmt.Sprintf("node%d", cfg.ID),
		Level:      hclog.LevelFromString(cfg.LogLevel),
		JSONFormat: cfg.LogJSON,
		Output:     os.Stderr,
	})
	n, err := startNode(cfg, logger)
	if err != nil {
		return err
	}

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigc)
	select {
	case sig := <-sigc:
		logger.Info("shutting down", "signal", sig.String())
		n.handOver(cfg, logger)
	case <-n.node.Done():
		logger.Error("raft loop ended", "error", n.node.Err())
	}
	err = n.close()
	logger.Info("node stopped")
	return err
}

// node is one running raftkv server: storage, state machine, Raft, the
// peer transport and the RESP front end.
type node struct {
	eng   *engine.Engine
	sm    *fsm.FSM
	trans *peer.Transport
	node  *raft.Node
	srv   *resp.Server
}

func startNode(cfg *conf.Config, logger hclog.Logger) (_ *node, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	n := &node{}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	dbDir := filepath.Join(cfg.DataDir, "db")
	if n.eng, err = engine.Open(dbDir, engine.Options{Logger: logger.Named("engine")}); err != nil {
		return nil, fmt.Errorf("open %s: %w", dbDir, err)
	}
	if n.sm, err = fsm.New(n.eng, logger.Named("fsm")); err != nil {
		return nil, err
	}

	peerAddrs := make(map[uint64]string, len(cfg.Peers))
	ids := make([]uint64, 0, len(cfg.Peers))
	members := make([]resp.Member, 0, len(cfg.Peers))
	for _, p := range cfg.Peers {
		peerAddrs[p.ID] = p.PeerAddr
		ids = append(ids, p.ID)
		members = append(members, resp.Member{ID: p.ID, RespAddr: p.RespAddr, PeerAddr: p.PeerAddr})
	}
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })

	// The transport hands messages to the Raft node, which exists only
	// once the transport does; nothing is received before Start.
	// Snapshots received from the leader wait here until installed; what
	// is left from an earlier run is of no use.
	snapDir := filepath.Join(cfg.DataDir, "snapshots")
	if err := os.MkdirAll(snapDir, 0o755); err != nil {
		return nil, fmt.Errorf("create snapshot directory: %w", err)
	}
	if err := peer.CleanSnapshotDir(snapDir, ""); err != nil {
		return nil, err
	}
	var rn *raft.Node
	n.trans, err = peer.New(peer.Config{
		ID:           cfg.ID,
		ListenAddr:   cfg.PeerAddr,
		Peers:        peerAddrs,
		Handler:      func(m raft.Message) { rn.Step(m) },
		Logger:       logger.Named("peer"),
		OpenSnapshot: func() (peer.Snapshot, error) { return n.sm.OpenSnapshot() },
		SnapshotDir:  snapDir,
	})
	if err != nil {
		return nil, err
	}
	tick := cfg.HeartbeatInterval
	rn, err = raft.NewNode(raft.NodeConfig{
		Config: raft.Config{
			ID:                cfg.ID,
			Peers:             ids,
			ElectionTick:      int(cfg.ElectionTimeout / tick),
			HeartbeatTick:     1,
			FirstElectionTick: int(cfg.FirstElectionTimeout / tick),
			PreVote:           true,
			CheckQuorum:       true,
			Logger:            logger.Named("raft"),
		},
		LogStore:     n.eng,
		Transport:    n.trans,
		StateMachine: n.sm,
		TickInterval: tick,
		InstallSnapshot: func(rs *raft.ReceivedSnapshot) error {
			path := string(rs.Handle)
			defer peer.CleanSnapshotDir(snapDir, "")
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return n.sm.InstallSnapshot(rs.Meta, f)
		},
		SnapshotEntries:        cfg.SnapshotEntries,
		SnapshotCatchUpEntries: cfg.SnapshotCatchUpEntries,
	})
	if err != nil {
		return nil, err
	}
	if err = n.trans.Start(); err != nil {
		return nil, fmt.Errorf("start peer transport on %s: %w", cfg.PeerAddr, err)
	}
	n.node = rn
	rn.Start()

	n.srv, err = resp.New(resp.Config{
		Addr:            cfg.RespAddr,
		Backend:         &backend{node: rn, sm: n.sm, eng: n.eng, members: members},
		Logger:          logger.Named("resp"),
		MaxBulkLen:      cfg.MaxBulkLen,
		MaxInlineLen:    cfg.MaxInlineLen,
		MaxMultibulkLen: cfg.MaxMultibulkLen,
		RequestTimeout:  cfg.RequestTimeout,
		LeaderWait:      2 * cfg.ElectionTimeout,
		Version:         fullVersion(),
		ConfigFile:      cfg.ConfigFile,
	})
	if err != nil {
		return nil, err
	}
	if err = n.srv.Start(); err != nil {
		return nil, fmt.Errorf("listen for clients on %s: %w", cfg.RespAddr, err)
	}
	st := rn.Status()
	logger.Info("node started", "id", cfg.ID, "resp", n.srv.Addr(), "peer", n.trans.Addr(),
		"data", cfg.DataDir, "nodes", len(ids), "term", st.Term, "applied", st.Applied)
	return n, nil
}

// handOver transfers leadership away before a leader stops, so that a
// rolling restart costs no election timeout.
func (n *node) handOver(cfg *conf.Config, logger hclog.Logger) {
	if st := n.node.Status(); st.Role != raft.Leader || len(cfg.Peers) < 2 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*cfg.ElectionTimeout)
	defer cancel()
	start := time.Now()
	if err := n.node.TransferLeadership(ctx, raft.None); err != nil {
		logger.Warn("could not hand leadership over before stopping", "error", err)
		return
	}
	logger.Info("handed leadership over", "to", n.node.Status().Lead, "took", time.Since(start).Round(time.Millisecond))
}

// close stops the pieces in the reverse order of their start: no new
// commands, then Raft, then the network, then storage.
func (n *node) close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if n.srv != nil {
		keep(n.srv.Close())
	}
	if n.node != nil {
		keep(n.node.Stop())
	}
	if n.trans != nil {
		keep(n.trans.Close())
	}
	if n.eng != nil {
		keep(n.eng.Close())
	}
	return first
}

// backend adapts a node to what the RESP front end needs.
type backend struct {
	node    *raft.Node
	sm      *fsm.FSM
	eng     *engine.Engine
	members []resp.Member
}

func (b *backend) Snapshot(ctx context.Context) (uint64, error) { return b.node.Snapshot(ctx) }

func (b *backend) Propose(ctx context.Context, cmd []byte) (any, error) {
	return b.node.Propose(ctx, cmd)
}

func (b *backend) ReadBarrier(ctx context.Context) error { return b.node.ReadBarrier(ctx) }

func (b *backend) Progress(ctx context.Context) (map[uint64]uint64, error) {
	prs, err := b.node.Progress(ctx)
	if err != nil {
		return nil, err
	}
	if prs == nil {
		return nil, raft.ErrNotLeader
	}
	m := make(map[uint64]uint64, len(prs))
	for id, pr := range prs {
		m[id] = pr.Match
	}
	return m, nil
}

func (b *backend) TransferLeadership(ctx context.Context, to uint64) error {
	return b.node.TransferLeadership(ctx, to)
}

func (b *backend) Get(key []byte) ([]byte, bool, error) { return b.sm.Get(key) }

func (b *backend) Status() resp.Status {
	st := b.node.Status()
	return resp.Status{
		ID:      st.ID,
		Leader:  st.Lead,
		Term:    st.Term,
		Role:    st.Role.String(),
		Commit:  st.Commit,
		Applied: st.Applied,
		Members: b.members,
		Keys:    b.sm.KeyCount(),
	}
}

func (b *backend) SnapshotInfo() resp.SnapshotInfo {
	snap, _ := b.eng.Snapshot()
	return resp.SnapshotInfo{Index: snap.Index, Term: snap.Term, Size: b.eng.DataSize(), LogEntries: b.eng.LogLen()}
}
