package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

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
	if cfg.MaxProcs > 0 {
		runtime.GOMAXPROCS(cfg.MaxProcs)
		logger.Info("running Go code on at most --max-procs CPUs at once", "max_procs", cfg.MaxProcs, "cpus", runtime.NumCPU())
		if cfg.LeaderMaxProcs > 0 {
			logger.Info("as the leader, on at most --leader-max-procs", "leader_max_procs", cfg.LeaderMaxProcs)
		}
	}
	n, err := startNode(cfg, logger)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		addr, err := serveMetrics(ctx, cfg.MetricsAddr, n.registry(), logger.Named("metrics"))
		if err != nil {
			n.close()
			return fmt.Errorf("listen for metrics on %s: %w", cfg.MetricsAddr, err)
		}
		logger.Info("serving metrics", "addr", "http://"+addr+"/metrics")
	}
	if cfg.PprofAddr != "" {
		// net/http/pprof registers its handlers on the default mux.
		go func() {
			logger.Info("serving profiles", "addr", "http://"+cfg.PprofAddr+"/debug/pprof/")
			if err := http.ListenAndServe(cfg.PprofAddr, nil); err != nil {
				logger.Error("profile server stopped", "error", err)
			}
		}()
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
	case <-n.removed:
	}
	err = n.close()
	logger.Info("node stopped")
	return err
}

// node is one running raftkv server: storage, state machine, Raft, the
// peer transport and the RESP front end.
type node struct {
	eng     *engine.Engine
	sm      *fsm.FSM
	trans   *peer.Transport
	node    *raft.Node
	srv     *resp.Server
	backend *backend
	expirer *expirer
	id      uint64
	// removed is closed when this node is removed from the cluster.
	removed     chan struct{}
	removedOnce sync.Once
	wasMember   bool
}

// membersChanged follows an applied membership change: the transport
// talks to the new members, clients see them, and a node that was removed
// stops.
func (n *node) membersChanged(ms []engine.Member, logger hclog.Logger) {
	// A removed node still needs the leader's last messages to learn that
	// it was removed: drop peers only a while later.
	n.trans.SetPeers(peerAddrs(ms, n.trans.Peers()))
	time.AfterFunc(removedPeerGrace, func() { n.trans.SetPeers(peerAddrs(n.sm.Members(), nil)) })
	n.backend.setMembers(ms)
	member := slices.ContainsFunc(ms, func(m engine.Member) bool { return m.ID == n.id })
	if member {
		n.wasMember = true
	} else if n.wasMember {
		logger.Warn("this node was removed from the cluster; stopping")
		n.removedOnce.Do(func() { close(n.removed) })
	}
}

func configuredPeers(cfg *conf.Config) map[uint64]string {
	m := make(map[uint64]string, len(cfg.Peers))
	for _, p := range cfg.Peers {
		m[p.ID] = p.PeerAddr
	}
	return m
}

// removedPeerGrace is how long the transport keeps talking to a node after
// its removal was applied.
const removedPeerGrace = 10 * time.Second

// openSnapshot is a snapshot for a follower, with the membership it
// records (the configured one if it was never changed).
func (n *node) openSnapshot() (peer.Snapshot, error) {
	s, err := n.sm.OpenSnapshot()
	if err != nil {
		return nil, err
	}
	ms := s.Members()
	if ms == nil {
		ms = n.sm.Members()
	}
	return snapshotWithConf{s, engine.ConfState(ms)}, nil
}

type snapshotWithConf struct {
	*engine.SnapshotSource
	cs raft.ConfState
}

func (s snapshotWithConf) ConfState() raft.ConfState { return s.cs }

// peerAddrs maps member IDs to peer addresses; extra adds configured peers
// not (yet) known as members, which a joining node needs to answer the
// leader before it has applied anything.
func peerAddrs(ms []engine.Member, extra map[uint64]string) map[uint64]string {
	m := make(map[uint64]string, len(ms)+len(extra))
	for id, addr := range extra {
		m[id] = addr
	}
	for _, mb := range ms {
		m[mb.ID] = mb.PeerAddr
	}
	return m
}

func startNode(cfg *conf.Config, logger hclog.Logger) (_ *node, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	n := &node{id: cfg.ID}
	if cfg.UnsafeNoFsync {
		logger.Warn("--unsafe-no-fsync: writes are acknowledged before they are on disk; a power loss can lose them")
	}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	dbDir := filepath.Join(cfg.DataDir, "db")
	// With one processor, the log's syncs keep it (engine.Options).
	held := runtime.GOMAXPROCS(0) == 1
	if n.eng, err = engine.Open(dbDir, engine.Options{Logger: logger.Named("engine"), Verify: cfg.VerifyOnStart, CacheSize: cfg.CacheSize,
		KeyCacheSize: cfg.KeyCacheSize, UnsafeNoSync: cfg.UnsafeNoFsync, HoldProcessorInSync: held}); err != nil {
		return nil, fmt.Errorf("open %s: %w", dbDir, err)
	}
	if n.sm, err = fsm.New(n.eng, logger.Named("fsm")); err != nil {
		return nil, err
	}

	// The configured members hold until the first membership change is
	// applied; after that the state machine's record does. A node that
	// joins is not among the members it is configured with.
	var boot []engine.Member
	for _, p := range cfg.Peers {
		if cfg.Join == "" || p.ID != cfg.ID {
			boot = append(boot, engine.Member{ID: p.ID, PeerAddr: p.PeerAddr, RespAddr: p.RespAddr})
		}
	}
	n.sm.Bootstrap(boot)
	members := n.sm.Members()
	cs := engine.ConfState(members)
	n.backend = &backend{sm: n.sm, eng: n.eng, self: cfg.ID, proposals: newProposalMetrics()}
	n.backend.setMembers(members)

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
	// Files of backups a crash interrupted.
	old, _ := filepath.Glob(filepath.Join(snapDir, backupPrefix+"*"))
	for _, p := range old {
		os.Remove(p)
	}
	n.backend.backupDir = snapDir
	clusterID, err := settleClusterID(cfg, n.eng, logger)
	if err != nil {
		return nil, err
	}
	peerTLS, err := cfg.PeerTLS()
	if err != nil {
		return nil, err
	}
	respTLS, err := cfg.RespTLS()
	if err != nil {
		return nil, err
	}
	var rn *raft.Node
	n.trans, err = peer.New(peer.Config{
		ClusterID:     clusterID,
		TLS:           peerTLS,
		ID:            cfg.ID,
		ListenAddr:    cfg.PeerAddr,
		AdvertiseAddr: advertisedPeerAddr(cfg, members),
		Peers:         peerAddrs(members, configuredPeers(cfg)),
		Handler:       func(m raft.Message) { rn.Step(m) },
		Logger:        logger.Named("peer"),
		OpenSnapshot:  n.openSnapshot,
		SnapshotDir:   snapDir,
	})
	if err != nil {
		return nil, err
	}
	tick := cfg.HeartbeatInterval
	rn, err = raft.NewNode(raft.NodeConfig{
		Config: raft.Config{
			ID:                cfg.ID,
			Peers:             cs.Voters,
			Learners:          cs.Learners,
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
		LeaderSyncDelay:        leaderSyncDelay,
		OnRoleChange:           leaderProcs(cfg, logger),
	})
	if err != nil {
		return nil, err
	}
	if err = n.trans.Start(); err != nil {
		return nil, fmt.Errorf("start peer transport on %s: %w", cfg.PeerAddr, err)
	}
	n.node = rn
	n.backend.node = rn
	n.expirer = newExpirer(rn, n.eng, n.sm, logger.Named("expire"))
	n.backend.expirer = n.expirer
	n.removed = make(chan struct{})
	// A node that starts as a member stops once a change removes it, even
	// if that change is applied in one batch with others (one callback).
	n.wasMember = slices.ContainsFunc(members, func(m engine.Member) bool { return m.ID == cfg.ID })
	n.sm.OnMembersChanged(func(ms []engine.Member) { n.membersChanged(ms, logger) })
	rn.Start()

	n.srv, err = resp.New(resp.Config{
		Addr:            cfg.RespAddr,
		Backend:         n.backend,
		Logger:          logger.Named("resp"),
		MaxBulkLen:      cfg.MaxBulkLen,
		MaxInlineLen:    cfg.MaxInlineLen,
		MaxMultibulkLen: cfg.MaxMultibulkLen,
		MaxQueryBuffer:  cfg.MaxQueryBuffer,
		MaxClients:      cfg.MaxClients,
		RequestTimeout:  cfg.RequestTimeout,
		LeaderWait:      2 * cfg.ElectionTimeout,
		Version:         version,
		Commit:          buildCommit(),
		ClusterID:       clusterID,
		TLS:             respTLS,
		ConfigFile:      cfg.ConfigFile,
		RequirePass:     cfg.RequirePass,
	})
	if err != nil {
		return nil, err
	}
	if err = n.srv.Start(); err != nil {
		return nil, fmt.Errorf("listen for clients on %s: %w", cfg.RespAddr, err)
	}
	if cfg.Join != "" && !slices.ContainsFunc(members, func(m engine.Member) bool { return m.ID == cfg.ID }) {
		go n.join(cfg, logger)
	}
	st := rn.Status()
	logger.Info("node started", "id", cfg.ID, "cluster_id", clusterID, "resp", n.srv.Addr(), "peer", n.trans.Addr(),
		"resp_tls", respTLS != nil, "peer_tls", peerTLS != nil,
		"data", cfg.DataDir, "nodes", len(members), "term", st.Term, "applied", st.Applied)
	return n, nil
}

// configuredAddrs are the addresses others reach this node at as
// configured: its own --peers entry when it has one (it may bind a
// wildcard address), else what it binds.
func configuredAddrs(cfg *conf.Config) (peerAddr, respAddr string) {
	peerAddr, respAddr = cfg.PeerAddr, cfg.RespAddr
	for _, p := range cfg.Peers {
		if p.ID == cfg.ID {
			peerAddr, respAddr = p.PeerAddr, p.RespAddr
		}
	}
	return peerAddr, respAddr
}

// advertisedPeerAddr is the peer address this node tells its peers: its
// address as a member when it is one, else as configured.
func advertisedPeerAddr(cfg *conf.Config, members []engine.Member) string {
	for _, m := range members {
		if m.ID == cfg.ID {
			return m.PeerAddr
		}
	}
	addr, _ := configuredAddrs(cfg)
	return addr
}

// join asks the cluster, through the member at cfg.Join, to add this node
// (RAFT.NODE ADD, following redirects to the leader), retrying until it is
// added or the node stops.
func (n *node) join(cfg *conf.Config, logger hclog.Logger) {
	peerAddr, respAddr := configuredAddrs(cfg)
	logger.Info("asking the cluster to add this node", "via", cfg.Join, "peer_addr", peerAddr, "resp_addr", respAddr)
	addr := cfg.Join
	tlsCfg, err := cfg.ClientTLS()
	if err != nil {
		logger.Error("cannot join", "error", err)
		return
	}
	for attempt := 0; ; attempt++ {
		select {
		case <-n.node.Done():
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cl := redis.NewClient(&redis.Options{Addr: addr, Password: cfg.RequirePass, TLSConfig: tlsCfg, MaxRetries: -1, ReadTimeout: 2 * time.Minute})
		err := cl.Do(ctx, "RAFT.NODE", "ADD", cfg.ID, peerAddr, respAddr).Err()
		cl.Close()
		cancel()
		if err == nil {
			logger.Info("joined the cluster", "id", cfg.ID)
			return
		}
		if moved, ok := strings.CutPrefix(err.Error(), "MOVED "); ok {
			if _, leader, ok := strings.Cut(moved, " "); ok {
				addr = leader
				continue
			}
		}
		if strings.Contains(err.Error(), "already a member") {
			return
		}
		logger.Warn("join failed; retrying", "via", addr, "error", err)
		addr = cfg.Join
		select {
		case <-n.node.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// handOver transfers leadership away before a leader stops, so that a
// rolling restart costs no election timeout.
func (n *node) handOver(cfg *conf.Config, logger hclog.Logger) {
	if st := n.node.Status(); st.Role != raft.Leader || len(cfg.Peers) < 2 {
		return
	}
	// The core gives up on a transfer after one election timeout.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ElectionTimeout+cfg.HeartbeatInterval)
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
	if n.expirer != nil {
		n.expirer.close()
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
	self    uint64
	members atomic.Pointer[[]resp.Member]
	expirer *expirer
	// proposals are the figures of Propose and ProposeMany.
	proposals *proposalMetrics
	// backupDir holds the files RAFT.BACKUP streams while it does.
	backupDir string
}

// backupPrefix names the temporary files of RAFT.BACKUP.
const backupPrefix = "backup-"

// Backup writes a snapshot of the data to a temporary file, removed when
// the returned reader is closed.
func (b *backend) Backup(ctx context.Context) (io.ReadCloser, int64, error) {
	snap, err := b.eng.OpenSnapshot()
	if err != nil {
		return nil, 0, err
	}
	defer snap.Close()
	f, err := os.CreateTemp(b.backupDir, backupPrefix+"*")
	if err != nil {
		return nil, 0, err
	}
	rc := removeOnClose{f}
	n, err := snap.WriteTo(f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		rc.Close()
		return nil, 0, err
	}
	return rc, n, nil
}

// removeOnClose is a temporary file that goes away once read.
type removeOnClose struct{ *os.File }

func (f removeOnClose) Close() error {
	err := f.File.Close()
	os.Remove(f.Name())
	return err
}

func (b *backend) setMembers(ms []engine.Member) {
	rm := make([]resp.Member, 0, len(ms))
	for _, m := range ms {
		rm = append(rm, resp.Member{ID: m.ID, RespAddr: m.RespAddr, PeerAddr: m.PeerAddr, Learner: m.Learner})
	}
	b.members.Store(&rm)
}

// AddNode adds a node as a learner, waits until it has caught up with the
// leader's log, then makes it a voter.
func (b *backend) AddNode(ctx context.Context, id uint64, peerAddr, respAddr string) error {
	err := b.node.ProposeConfChange(ctx, raft.ConfChange{Type: raft.ConfAddLearner, NodeID: id, Context: fsm.EncodeMemberContext(peerAddr, respAddr)})
	if err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		prs, err := b.node.Progress(ctx)
		if err != nil {
			return err
		}
		if prs == nil {
			return raft.ErrNotLeader
		}
		if pr, ok := prs[id]; ok && pr.Match+catchUpSlack >= b.node.Status().Commit {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("node %d joined as a learner but did not catch up: %w", id, ctx.Err())
		}
	}
	return b.node.ProposeConfChange(ctx, raft.ConfChange{Type: raft.ConfPromote, NodeID: id})
}

// catchUpSlack is how far behind the leader's commit index a learner may
// be when it is promoted: it catches up the rest as a voter.
const catchUpSlack = 64

func (b *backend) RemoveNode(ctx context.Context, id uint64) error {
	return b.node.ProposeConfChange(ctx, raft.ConfChange{Type: raft.ConfRemove, NodeID: id})
}

func (b *backend) Snapshot(ctx context.Context) (uint64, error) { return b.node.Snapshot(ctx) }

// leaderSyncDelay is how long a leader under load may put off the sync of
// its own log while followers that answered within it form a quorum (see
// raft.NodeConfig.LeaderSyncDelay). Their syncs then commit its entries,
// and the leader syncs a few hundred times a second instead of once for
// every batch it writes: under SET -c 50 it synced 0.017-0.018 times a SET
// instead of 0.060-0.062 (BENCHMARKS.md). When a follower stops
// answering, the writes already put off wait at most this long; later
// ones are synced at once.
const leaderSyncDelay = 5 * time.Millisecond

func (b *backend) Propose(ctx context.Context, cmd []byte) (any, error) {
	start := time.Now()
	v, err := b.node.Propose(ctx, cmd)
	failed := 0
	if err != nil {
		failed = 1
	}
	b.proposals.observe(1, start, failed)
	return v, err
}

func (b *backend) ReadBarrier(ctx context.Context) error { return b.node.ReadBarrier(ctx) }

func (b *backend) ProposeMany(ctx context.Context, cmds [][]byte) ([]any, []error) {
	start := time.Now()
	vals, errs := b.node.ProposeMany(ctx, cmds)
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	b.proposals.observe(len(cmds), start, failed)
	return vals, errs
}

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

func (b *backend) Key(key []byte) (engine.Record, bool, error) { return b.sm.Key(key) }

func (b *backend) Clock() int64 { return b.sm.Clock() }

func (b *backend) View() (resp.View, error) { return b.eng.View() }

func (b *backend) OnTxReads(nonce uint64, fn fsm.TxReader) func() { return b.sm.OnTxReads(nonce, fn) }

func (b *backend) Expired(key []byte) { b.expirer.expired(key) }

func (b *backend) Digest() ([20]byte, error) {
	_, d, err := b.eng.Digest()
	return d, err
}

func (b *backend) Status() resp.Status {
	st := b.node.Status()
	return resp.Status{
		ID:      st.ID,
		Leader:  st.Lead,
		Term:    st.Term,
		Role:    st.Role.String(),
		Commit:  st.Commit,
		Applied: st.Applied,
		Members: *b.members.Load(),
		Keys:    b.sm.KeyCount(),
		Expires: b.eng.Expires(),
	}
}

func (b *backend) SnapshotInfo() resp.SnapshotInfo {
	snap, _ := b.eng.Snapshot()
	return resp.SnapshotInfo{Index: snap.Index, Term: snap.Term, Size: b.eng.DataSize(), LogEntries: b.eng.LogLen()}
}

// leaderProcs is the node's Raft role hook when --leader-max-procs
// differs from --max-procs: GOMAXPROCS follows the role (see
// conf.LeaderMaxProcs for why). Otherwise nil.
func leaderProcs(cfg *conf.Config, logger hclog.Logger) func(raft.Role) {
	if cfg.MaxProcs == 0 || cfg.LeaderMaxProcs == 0 || cfg.LeaderMaxProcs == cfg.MaxProcs {
		return nil
	}
	return func(r raft.Role) {
		procs := cfg.MaxProcs
		if r == raft.Leader {
			procs = cfg.LeaderMaxProcs
		}
		if runtime.GOMAXPROCS(procs) != procs {
			logger.Info("running Go code on at most this many CPUs at once", "role", r, "procs", procs)
		}
	}
}
