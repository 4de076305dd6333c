package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"

	"github.com/raftkv/raftkv/peer/peerpb"
	"github.com/raftkv/raftkv/raft"
)

const (
	defaultQueueSize = 4096
	// maxBatchBytes and maxBatchMsgs bound one Batch.
	maxBatchBytes = 4 << 20
	maxBatchMsgs  = 4096
	// maxMsgSize bounds one gRPC message either way.
	maxMsgSize = 64 << 20
	// streamWindow and connWindow are gRPC's flow-control windows. Fixed
	// windows turn off gRPC's bandwidth estimation, which answers data
	// with pings: with one small append in flight at a time that meant a
	// ping, its acknowledgement and window updates for nearly every
	// message, each a write on one side and a wake-up on the other. A
	// stream may run a full batch ahead of the receiver.
	streamWindow = maxBatchBytes
	connWindow   = 2 * maxBatchBytes
	minBackoff   = 50 * time.Millisecond
	maxBackoff   = time.Second
)

// Config configures a Transport.
type Config struct {
	// ID is this node's Raft ID; messages addressed to others are dropped.
	ID uint64
	// ListenAddr is the host:port to serve peers on.
	ListenAddr string
	// AdvertiseAddr is the address peers reach this node at, sent with
	// every batch so that a node that does not know this one yet (it is
	// joining and has not learned the membership) can answer. Default:
	// ListenAddr.
	AdvertiseAddr string
	// Peers maps every member's ID to its peer address; this node's own
	// entry, if present, is ignored.
	Peers map[uint64]string
	// Handler receives every message addressed to this node, from gRPC's
	// goroutines. It must not block.
	Handler func(raft.Message)
	// Logger receives connection events. Default: none.
	Logger hclog.Logger
	// QueueSize is the send queue capacity per peer, in messages.
	// Default 4096.
	QueueSize int
	// OpenSnapshot takes the newest state machine snapshot, for MsgSnap.
	OpenSnapshot func() (Snapshot, error)
	// SnapshotDir is where received snapshots are written before they are
	// installed.
	SnapshotDir string
	// ClusterID names the cluster: every stream carries it, and a stream
	// from a node of another cluster is refused before any of its
	// messages is read, so that two clusters wired together by mistake
	// cannot disturb each other. Required.
	ClusterID string
	// TLS, when set, secures peer connections both ways: it must hold this
	// node's certificate, the CA that signs every member's (RootCAs and
	// ClientCAs) and require client certificates. Nil means plaintext.
	TLS *tls.Config
}

// PeerStats describes the link to one peer.
type PeerStats struct {
	Connected bool
	Queued    int
	Sent      uint64
	Dropped   uint64
}

// Transport implements raft.Transport over gRPC.
type Transport struct {
	cfg     Config
	logger  hclog.Logger
	peersMu sync.RWMutex
	peers   map[uint64]*peerLink // guarded by peersMu
	started bool                 // guarded by peersMu

	ln     net.Listener
	srv    *grpc.Server
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  sync.Once
	close  sync.Once

	refusals refusalLog
	snaps    snapshotCounters
}

var _ raft.Transport = (*Transport)(nil)

type peerLink struct {
	id        uint64
	addr      string
	ctx       context.Context // cancelled when the peer is removed or on Close
	cancel    context.CancelFunc
	mu        sync.Mutex
	client    peerpb.RaftClient // set by the sender goroutine; guarded by mu
	snapBusy  atomic.Bool
	q         chan raft.Message
	connected atomic.Bool
	sent      atomic.Uint64
	dropped   atomic.Uint64
}

// New checks cfg and builds a Transport; Start makes it listen and send.
func New(cfg Config) (*Transport, error) {
	switch {
	case cfg.ID == 0:
		return nil, errors.New("peer: ID must be non-zero")
	case cfg.Handler == nil:
		return nil, errors.New("peer: Handler is required")
	case cfg.ListenAddr == "":
		return nil, errors.New("peer: ListenAddr is required")
	case cfg.ClusterID == "":
		return nil, errors.New("peer: ClusterID is required")
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = defaultQueueSize
	}
	if cfg.AdvertiseAddr == "" {
		cfg.AdvertiseAddr = cfg.ListenAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	t := &Transport{cfg: cfg, logger: cfg.Logger, peers: make(map[uint64]*peerLink)}
	for id, addr := range cfg.Peers {
		if id == cfg.ID {
			continue
		}
		if addr == "" {
			return nil, fmt.Errorf("peer: no address for peer %d", id)
		}
		t.peers[id] = &peerLink{id: id, addr: addr}
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for _, p := range t.peers {
		t.initLink(p)
	}
	return t, nil
}

// Start listens on ListenAddr, serves peers and starts one sender per peer.
func (t *Transport) Start() error {
	var err error
	t.start.Do(func() {
		t.ln, err = net.Listen("tcp", t.cfg.ListenAddr)
		if err != nil {
			return
		}
		t.srv = grpc.NewServer(
			grpc.Creds(t.serverCreds()),
			grpc.StreamInterceptor(t.checkCluster),
			grpc.MaxRecvMsgSize(maxMsgSize),
			grpc.InitialWindowSize(streamWindow),
			grpc.InitialConnWindowSize(connWindow),
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		)
		peerpb.RegisterRaftServer(t.srv, &server{t: t})
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if err := t.srv.Serve(t.ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				t.logger.Error("peer server stopped", "error", err)
			}
		}()
		t.peersMu.Lock()
		t.started = true
		for _, p := range t.peers {
			t.wg.Add(1)
			go t.runPeer(p)
		}
		t.peersMu.Unlock()
	})
	return err
}

func (t *Transport) initLink(p *peerLink) {
	p.q = make(chan raft.Message, t.cfg.QueueSize)
	p.ctx, p.cancel = context.WithCancel(t.ctx)
}

// SetPeers changes the set of peers (after a membership change): senders
// start for new peers and stop for removed ones; a peer whose address
// changed is reconnected.
func (t *Transport) SetPeers(peers map[uint64]string) {
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	for id, p := range t.peers {
		if addr, ok := peers[id]; !ok || addr != p.addr {
			p.cancel()
			delete(t.peers, id)
			t.logger.Info("peer removed", "peer", id, "addr", p.addr)
		}
	}
	for id, addr := range peers {
		if id == t.cfg.ID || t.peers[id] != nil || addr == "" {
			continue
		}
		p := &peerLink{id: id, addr: addr}
		t.initLink(p)
		t.peers[id] = p
		t.logger.Info("peer added", "peer", id, "addr", addr)
		if t.started {
			t.wg.Add(1)
			go t.runPeer(p)
		}
	}
}

// learn adds the sender of b, which this node does not know, as a peer
// when b carries a leader's messages: a node that joins knows only the
// members it was configured with, and must answer whichever member leads
// until it learns the membership from the log or a snapshot, when SetPeers
// takes over.
func (t *Transport) learn(b *peerpb.Batch) {
	if b.From == 0 || b.From == t.cfg.ID || b.FromAddr == "" {
		return
	}
	if !slices.ContainsFunc(b.Messages, func(pm *peerpb.Message) bool {
		typ := raft.MessageType(pm.Type)
		return pm.Type == uint32(typ) && (typ == raft.MsgApp || typ == raft.MsgHeartbeat)
	}) {
		return
	}
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	if t.peers[b.From] != nil {
		return
	}
	p := &peerLink{id: b.From, addr: b.FromAddr}
	t.initLink(p)
	t.peers[b.From] = p
	t.logger.Info("peer learned from its messages", "peer", b.From, "addr", b.FromAddr)
	if t.started {
		t.wg.Add(1)
		go t.runPeer(p)
	}
}

// Peers returns the current peers' addresses.
func (t *Transport) Peers() map[uint64]string {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	m := make(map[uint64]string, len(t.peers))
	for id, p := range t.peers {
		m[id] = p.addr
	}
	return m
}

func (t *Transport) peer(id uint64) *peerLink {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	return t.peers[id]
}

// Addr returns the address the transport listens on, once started.
func (t *Transport) Addr() string {
	if t.ln == nil {
		return t.cfg.ListenAddr
	}
	return t.ln.Addr().String()
}

// Send queues msgs for their peers. It never blocks: a message for an
// unknown peer, or one that finds its peer's queue full, is dropped. The
// messages are read later by the sender goroutines; the caller must not
// change them or their entries afterwards.
func (t *Transport) Send(msgs []raft.Message) {
	for _, m := range msgs {
		p := t.peer(m.To)
		if p == nil {
			continue
		}
		if m.Type == raft.MsgSnap {
			t.sendSnapshot(p, m)
			continue
		}
		select {
		case p.q <- m:
		default:
			p.dropped.Add(1)
		}
	}
}

// Close stops the senders and the server and waits for them. It is safe
// to call more than once.
func (t *Transport) Close() error {
	t.close.Do(func() {
		t.cancel()
		if t.srv != nil {
			// Streams from peers last as long as the peers do: do not wait
			// for them to end.
			t.srv.Stop()
		}
		t.wg.Wait()
	})
	return nil
}

// Stats returns per-peer figures.
func (t *Transport) Stats() map[uint64]PeerStats {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	st := make(map[uint64]PeerStats, len(t.peers))
	for id, p := range t.peers {
		st[id] = PeerStats{Connected: p.connected.Load(), Queued: len(p.q), Sent: p.sent.Load(), Dropped: p.dropped.Load()}
	}
	return st
}

// runPeer sends p's queue over one stream, reconnecting with backoff.
func (t *Transport) runPeer(p *peerLink) {
	defer t.wg.Done()
	log := t.logger.With("peer", p.id, "addr", p.addr)
	conn, err := grpc.NewClient(p.addr,
		grpc.WithTransportCredentials(t.clientCreds()),
		grpc.WithStreamInterceptor(t.sendCluster),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxMsgSize)),
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		// gRPC's own reconnect backoff grows to two minutes by default: a
		// peer back from a restart would stay unreachable that long.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: minBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: time.Second,
		}),
	)
	if err != nil {
		log.Error("cannot reach peer: bad address", "error", err)
		<-p.ctx.Done()
		return
	}
	defer conn.Close()
	s := &sender{t: t, p: p, log: log, client: peerpb.NewRaftClient(conn), wait: minBackoff}
	p.setClient(s.client)
	defer s.closeStream()

	batch := &peerpb.Batch{From: t.cfg.ID, FromAddr: t.cfg.AdvertiseAddr}
	var wire wireBuf
	for {
		var broken <-chan struct{}
		if s.stream != nil {
			broken = s.watch.done
		}
		var m raft.Message
		select {
		case <-p.ctx.Done():
			return
		case <-broken:
			// The stream ended while idle (the peer went away, or refused
			// this node): notice now, and reopen before the next message
			// needs it.
			s.fail(s.ended())
			if err := s.open(); err != nil {
				s.fail(err)
			}
			continue
		case m = <-p.q:
		}
		batch.Messages = append(batch.Messages[:0], wire.message(m))
		bytes := size(m)
	drain:
		for len(batch.Messages) < maxBatchMsgs && bytes < maxBatchBytes {
			select {
			case m = <-p.q:
				batch.Messages = append(batch.Messages, wire.message(m))
				bytes += size(m)
			default:
				break drain
			}
		}
		err := s.send(batch)
		clear(batch.Messages)
		wire.reset()
		if err != nil {
			p.dropped.Add(uint64(len(batch.Messages)))
			s.fail(err)
			continue
		}
		p.sent.Add(uint64(len(batch.Messages)))
	}
}

func (p *peerLink) setClient(c peerpb.RaftClient) {
	p.mu.Lock()
	p.client = c
	p.mu.Unlock()
}

func (p *peerLink) raftClient() peerpb.RaftClient {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client
}

// sender is the state of one peer's sender goroutine.
type sender struct {
	t      *Transport
	p      *peerLink
	log    hclog.Logger
	client peerpb.RaftClient
	stream peerpb.Raft_StreamClient
	watch  *streamWatch // the current stream's end
	cancel context.CancelFunc
	wait   time.Duration // the next backoff
	ever   bool          // connected at least once
	lost   bool          // the current loss was logged
}

func (s *sender) open() error {
	ctx, cancel := context.WithCancel(s.p.ctx)
	st, err := s.client.Stream(ctx)
	if err != nil {
		cancel()
		return err
	}
	// The peer answers a stream only when it ends it: refusing this node,
	// going away, or after CloseSend. Waiting for that answer beside the
	// sends notices the end at once, even while there is nothing to send.
	w := &streamWatch{done: make(chan struct{})}
	go func() {
		w.err = st.RecvMsg(new(peerpb.Ack))
		close(w.done)
	}()
	s.stream, s.cancel, s.watch = st, cancel, w
	// A peer that accepts the stream says so with its headers; one that
	// refuses this node ends it without. Until then the link does not
	// count as connected.
	timer := time.AfterFunc(acceptWait, cancel)
	md, err := st.Header()
	timer.Stop()
	if err == nil && len(md.Get(clusterHeader)) == 0 {
		err = s.ended()
	}
	if err != nil {
		s.closeStream()
		return err
	}
	return nil
}

// acceptWait bounds how long a new stream waits for the peer to accept it.
const acceptWait = 5 * time.Second

// streamWatch reports the end of one stream: err is set when done closes.
type streamWatch struct {
	done chan struct{}
	err  error
}

// ended waits for the current stream's end and says why: the peer's
// status if it gave one.
func (s *sender) ended() error {
	<-s.watch.done
	if err := s.watch.err; err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return errors.New("stream ended")
}

func (s *sender) closeStream() {
	if s.cancel != nil {
		s.cancel()
	}
	s.stream, s.cancel = nil, nil
}

// send sends b, on a fresh stream if there is none. A stream that was
// open may have died unnoticed (the peer restarted): b is tried once more
// on a new one before it counts as a failure.
func (s *sender) send(b *peerpb.Batch) error {
	fresh := s.stream == nil
	if fresh {
		if err := s.open(); err != nil {
			return err
		}
	}
	err := s.stream.Send(b)
	if err != nil && !fresh {
		s.closeStream()
		if err = s.open(); err == nil {
			err = s.stream.Send(b)
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) && s.stream != nil {
			err = s.ended()
		}
		return err
	}
	s.wait = minBackoff
	if !s.p.connected.Swap(true) {
		if s.lost && s.ever {
			s.log.Info("peer connection restored")
		} else {
			s.log.Info("peer connected")
		}
		s.ever, s.lost = true, false
	}
	return nil
}

// fail drops the stream and what is queued, logs the loss once, and
// waits before the next attempt.
func (s *sender) fail(err error) {
	s.closeStream()
	if refused(err) {
		// Not a network fault but a configuration one: say so, whether
		// or not the peer was ever reached.
		s.t.refusals.log(s.log, s.p.addr, "the peer refused this node", "error", err)
	}
	if s.p.connected.Swap(false) || !s.lost {
		if s.ever {
			s.log.Warn("peer connection lost", "error", err)
		} else {
			s.log.Debug("peer not reachable yet", "error", err)
		}
		s.lost = true
	}
	// What is queued is stale by the time the peer is back; Raft resends
	// what matters.
	for len(s.p.q) > 0 {
		<-s.p.q
		s.p.dropped.Add(1)
	}
	select {
	case <-s.p.ctx.Done():
	case <-time.After(s.wait):
	}
	s.wait = min(2*s.wait, maxBackoff)
}

// server receives peers' streams.
type server struct {
	peerpb.UnimplementedRaftServer
	t *Transport
}

func (s *server) Stream(stream peerpb.Raft_StreamServer) error {
	known := false // the sender is a peer; a stream has one sender
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&peerpb.Ack{})
		}
		if err != nil {
			return err
		}
		if !known {
			if known = s.t.peer(b.From) != nil; !known {
				s.t.learn(b)
			}
		}
		for _, pm := range b.Messages {
			if pm.To != s.t.cfg.ID {
				s.t.logger.Debug("dropped a message for another node", "to", pm.To, "from", pm.From)
				continue
			}
			m, err := fromWire(pm)
			if err != nil {
				s.t.logger.Warn("refused a malformed message", "from", b.From, "error", err)
				continue
			}
			s.t.cfg.Handler(m)
		}
	}
}
