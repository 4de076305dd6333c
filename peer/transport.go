package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
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
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// Config configures a Transport.
type Config struct {
	// ID is this node's Raft ID; messages addressed to others are dropped.
	ID uint64
	// ListenAddr is the host:port to serve peers on.
	ListenAddr string
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
	cfg    Config
	logger hclog.Logger
	peers  map[uint64]*peerLink

	ln     net.Listener
	srv    *grpc.Server
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  sync.Once
	close  sync.Once
}

var _ raft.Transport = (*Transport)(nil)

type peerLink struct {
	id        uint64
	addr      string
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
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = defaultQueueSize
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
		t.peers[id] = &peerLink{id: id, addr: addr, q: make(chan raft.Message, cfg.QueueSize)}
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
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
			grpc.MaxRecvMsgSize(maxMsgSize),
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
		for _, p := range t.peers {
			t.wg.Add(1)
			go t.runPeer(p)
		}
	})
	return err
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
		p := t.peers[m.To]
		if p == nil {
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
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxMsgSize)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
	)
	if err != nil {
		log.Error("cannot reach peer: bad address", "error", err)
		<-t.ctx.Done()
		return
	}
	defer conn.Close()
	client := peerpb.NewRaftClient(conn)

	var (
		stream  peerpb.Raft_StreamClient
		cancel  context.CancelFunc
		backoff = minBackoff
		ever    bool // connected at least once
		lost    bool // the loss was logged
	)
	defer func() {
		if cancel != nil {
			cancel()
		}
	}()
	fail := func(err error) {
		if cancel != nil {
			cancel()
		}
		stream, cancel = nil, nil
		if p.connected.Swap(false) || !lost {
			if ever {
				log.Warn("peer connection lost", "error", err)
			} else {
				log.Debug("peer not reachable yet", "error", err)
			}
			lost = true
		}
		// What is queued is stale by the time the peer is back; Raft
		// resends what matters.
		for len(p.q) > 0 {
			<-p.q
			p.dropped.Add(1)
		}
		select {
		case <-t.ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}

	open := func() error {
		ctx, c := context.WithCancel(t.ctx)
		s, err := client.Stream(ctx)
		if err != nil {
			c()
			return err
		}
		stream, cancel = s, c
		return nil
	}

	batch := &peerpb.Batch{From: t.cfg.ID}
	for {
		var m raft.Message
		select {
		case <-t.ctx.Done():
			return
		case m = <-p.q:
		}
		batch.Messages = append(batch.Messages[:0], toProto(m))
		bytes := size(m)
	drain:
		for len(batch.Messages) < maxBatchMsgs && bytes < maxBatchBytes {
			select {
			case m = <-p.q:
				batch.Messages = append(batch.Messages, toProto(m))
				bytes += size(m)
			default:
				break drain
			}
		}
		if stream == nil {
			if err := open(); err != nil {
				p.dropped.Add(uint64(len(batch.Messages)))
				fail(err)
				continue
			}
		}
		if err := stream.Send(batch); err != nil {
			if errors.Is(err, io.EOF) {
				_, err = stream.CloseAndRecv()
			}
			p.dropped.Add(uint64(len(batch.Messages)))
			fail(err)
			continue
		}
		p.sent.Add(uint64(len(batch.Messages)))
		backoff = minBackoff
		if !p.connected.Swap(true) {
			if lost && ever {
				log.Info("peer connection restored")
			} else {
				log.Info("peer connected")
			}
			ever, lost = true, false
		}
	}
}

// server receives peers' streams.
type server struct {
	peerpb.UnimplementedRaftServer
	t *Transport
}

func (s *server) Stream(stream peerpb.Raft_StreamServer) error {
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&peerpb.Ack{})
		}
		if err != nil {
			return err
		}
		for _, pm := range b.Messages {
			if pm.To != s.t.cfg.ID {
				s.t.logger.Debug("dropped a message for another node", "to", pm.To, "from", pm.From)
				continue
			}
			s.t.cfg.Handler(fromProto(pm))
		}
	}
}
