package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// This file is the driver: the one place in raft/ with goroutines, clocks
// and I/O. It owns a RawNode and runs it on a single goroutine, talking to
// storage, the network and the state machine only through LogStore,
// Transport and StateMachine.

// NodeConfig configures a Node.
type NodeConfig struct {
	// Config configures the core. Its Storage and Applied fields are filled
	// from LogStore and StateMachine; its Rand, when nil, is seeded at random.
	Config
	LogStore     LogStore
	Transport    Transport
	StateMachine StateMachine
	// TickInterval is the wall-clock length of one core tick (the heartbeat
	// interval when HeartbeatTick is 1).
	TickInterval time.Duration
	// InstallSnapshot installs a snapshot received from the leader into
	// the state machine and the log store (Ready.Snapshot). Required for a
	// node that may receive one.
	InstallSnapshot func(s *ReceivedSnapshot) error
	// SnapshotEntries is how many applied entries the log may hold before
	// the driver compacts it (0: never). It needs a LogStore with a
	// Compact(index uint64) error method.
	SnapshotEntries uint64
	// SnapshotCatchUpEntries is how many applied entries compaction keeps,
	// so that a follower slightly behind still catches up from the log. A
	// leader also keeps what its live followers need (see maybeCompact).
	SnapshotCatchUpEntries uint64
	// SyncWrites makes a leader wait for each write of its log, even when
	// the LogStore can write asynchronously (AsyncLogStore).
	SyncWrites bool
	// LeaderSyncDelay lets a leader that writes asynchronously put off the
	// sync of its own log by up to this long while followers that answered
	// it within the last LeaderSyncDelay form a quorum by themselves: their
	// copies commit its entries, and one sync of its own then covers many
	// writes. Its copy counts towards a quorum only once synced, as
	// always. A write made while no earlier one awaits its sync, or while
	// they do not form one, is synced at once with everything before it.
	// 0 syncs each write at once.
	LeaderSyncDelay time.Duration
	// OnRoleChange, when set, is called on the Node's loop goroutine each
	// time the node's role changes, with the new role: after a snapshot
	// in the same Ready is installed, before its entries are saved or its
	// messages sent. It must return quickly.
	OnRoleChange func(Role)
}

// Compactor is a LogStore that can drop the log up to an applied index.
type Compactor interface {
	Compact(index uint64) error
}

// NodeStatus is a cheap point-in-time view of a Node.
type NodeStatus struct {
	ID      uint64
	Lead    uint64
	Term    uint64
	Role    Role
	Commit  uint64
	Applied uint64
}

// Node runs the Raft core against real storage, transport and state
// machine, and lets many goroutines propose and read through it.
type Node struct {
	id     uint64
	rn     *RawNode
	store  LogStore
	trans  Transport
	sm     StateMachine
	logger hclog.Logger
	tick   time.Duration
	// electionTick is the core's election timeout in ticks.
	electionTick int

	recvc chan Message
	propc chan *proposal
	// Reads queue in readQueued, outside the loop, and ring readBell
	// (capacity 1) only when the loop said, by setting readIdle, that it
	// will not look at the queue again until rung: it has no confirmation
	// round in flight and took every read queued. While a round is in
	// flight, reads only queue; the loop takes them all when the round
	// ends. A stream of reads thus wakes the loop about once a round
	// instead of once a read.
	readMu     sync.Mutex
	readQueued []*readRequest
	readIdle   bool
	readBell   chan struct{}
	// callc runs functions on the loop goroutine, with the RawNode.
	callc chan func(rn *RawNode)
	stopc chan struct{}
	donec chan struct{}
	stop  sync.Once
	err   error // why the loop ended; set before donec is closed

	status atomic.Pointer[NodeStatus]

	// async is the store's asynchronous side, nil when writes are synced
	// in the loop. Writes waiting for their sync go to writes, in order;
	// the writer reports them durable in stable and signals stablec.
	async      AsyncLogStore
	writes     chan asyncWrite
	stablec    chan struct{}
	stableMu   sync.Mutex
	stable     []asyncWrite
	writerDone chan struct{}

	install      func(s *ReceivedSnapshot) error
	onRoleChange func(Role)
	compactor    Compactor // nil when the LogStore cannot compact
	snapEvery    uint64
	snapKeep     uint64

	// Owned by the run goroutine.
	soft      SoftState
	hard      HardState
	waiters   map[uint64]*proposal // by log index
	reads     map[uint64]*readBatch
	readQueue []*readBatch // confirmed, waiting for apply; ordered by index
	readSeq   uint64
	ticks     uint64
	// heard is when each peer was last heard from.
	heard     map[uint64]time.Time
	syncDelay time.Duration // LeaderSyncDelay
	// unsynced counts the asynchronous writes handed to the writer and
	// not yet synced.
	unsynced atomic.Int64
}

type result struct {
	val  any
	err  error
	slot int // the proposal's place in its ProposeMany batch
}

type proposal struct {
	data  []byte
	conf  *ConfChange // a membership change instead of data
	index uint64
	term  uint64
	done  chan result // buffered: the loop never blocks on a caller
	slot  int         // its place in a ProposeMany batch, which shares done
}

// finish hands the proposal's outcome to its caller.
func (p *proposal) finish(r result) {
	r.slot = p.slot
	p.done <- r
}

// asyncWrite is a leader's log write whose sync is awaited by the writer.
type asyncWrite struct {
	wait        func() error
	index, term uint64 // the last entry written
	err         error  // set by the writer when the sync failed
	// lazy writes were made while the followers formed a quorum without
	// the leader: their sync may wait until syncDelay after at.
	lazy bool
	at   time.Time
}

type readRequest struct {
	done chan error // buffered
}

// Read requests are reused once answered, as proposals are: the loop
// answers each once and keeps no use for it after. One whose caller
// stopped waiting is never put back.
var readPool = sync.Pool{New: func() any { return &readRequest{done: make(chan error, 1)} }}

type readBatch struct {
	reqs  []*readRequest
	index uint64
	tick  uint64 // when it was handed to the core
}

const (
	recvQueue = 4096
	// maxBatch bounds how many queued proposals or messages one loop
	// iteration takes, so ticks are never starved.
	maxBatch = 1024
)

// NewNode builds a Node. It does not start it.
func NewNode(c NodeConfig) (*Node, error) {
	if c.LogStore == nil || c.Transport == nil || c.StateMachine == nil {
		return nil, errors.New("raft: NodeConfig needs LogStore, Transport and StateMachine")
	}
	if c.TickInterval <= 0 {
		return nil, fmt.Errorf("raft: invalid TickInterval %v", c.TickInterval)
	}
	cfg := c.Config
	cfg.Storage = c.LogStore
	cfg.Applied = c.StateMachine.Applied()
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), cfg.ID))
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	rn, err := NewRawNode(&cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		id:           cfg.ID,
		rn:           rn,
		store:        c.LogStore,
		trans:        c.Transport,
		sm:           c.StateMachine,
		logger:       cfg.Logger,
		tick:         c.TickInterval,
		electionTick: max(cfg.ElectionTick, 1),
		recvc:        make(chan Message, recvQueue),
		propc:        make(chan *proposal, maxBatch),
		readBell:     make(chan struct{}, 1),
		readIdle:     true,
		callc:        make(chan func(*RawNode)),
		stopc:        make(chan struct{}),
		donec:        make(chan struct{}),
		waiters:      make(map[uint64]*proposal),
		reads:        make(map[uint64]*readBatch),
		heard:        make(map[uint64]time.Time),
		install:      c.InstallSnapshot,
		onRoleChange: c.OnRoleChange,
		snapEvery:    c.SnapshotEntries,
		snapKeep:     c.SnapshotCatchUpEntries,
		syncDelay:    c.LeaderSyncDelay,
	}
	if cp, ok := c.LogStore.(Compactor); ok {
		n.compactor = cp
	}
	if as, ok := c.LogStore.(AsyncLogStore); ok && !c.SyncWrites {
		n.async = as
		n.writes = make(chan asyncWrite, maxBatch)
		n.stablec = make(chan struct{}, 1)
		n.writerDone = make(chan struct{})
	}
	if n.snapEvery > 0 && n.compactor == nil {
		return nil, errors.New("raft: SnapshotEntries needs a LogStore that can Compact")
	}
	st := rn.Status()
	n.soft = SoftState{Lead: st.Lead, Role: st.Role}
	n.hard = HardState{Term: st.Term, Vote: st.Vote, Commit: st.Commit}
	n.publishStatus()
	return n, nil
}

// Start runs the node's loop in the background.
func (n *Node) Start() {
	if n.async != nil {
		go n.writer()
	}
	go n.run()
}

// writer makes the leader's asynchronous log writes durable, in order,
// and hands them back to the loop. One sync covers every write queued by
// then. It ends when the loop closes writes, after syncing every write
// queued.
func (n *Node) writer() {
	defer close(n.writerDone)
	var batch []asyncWrite
	for w := range n.writes {
		// The loop has just handed this write's appends to the transport.
		// With one processor the sync, a system call that holds it for a
		// fraction of a millisecond, would run before the transport's
		// goroutines if it started now (gRPC's writer yields once before
		// writing a small frame): let them go first, so that the
		// followers' syncs overlap this one. Two yields cover the
		// sender's hand-off to gRPC's writer and the writer's own yield.
		runtime.Gosched()
		runtime.Gosched()
		batch = append(batch[:0], w)
	queued:
		for {
			select {
			case w, ok := <-n.writes:
				if !ok {
					break queued
				}
				batch = append(batch, w)
			default:
				break queued
			}
		}
		n.putOffSync(&batch)
		err := batch[len(batch)-1].wait()
		n.unsynced.Add(-int64(len(batch)))
		n.stableMu.Lock()
		for _, w := range batch {
			w.err = err
			n.stable = append(n.stable, w)
		}
		n.stableMu.Unlock()
		select {
		case n.stablec <- struct{}{}:
		default: // a signal is already pending
		}
	}
}

// putOffSync waits, while every write in batch is lazy, until syncDelay
// after the first, adding the writes queued meanwhile; it returns at once
// when a write that is not lazy arrives or writes is closed, so that the
// sync covers it too.
func (n *Node) putOffSync(batch *[]asyncWrite) {
	for _, w := range *batch {
		if !w.lazy {
			return
		}
	}
	wait := time.Until((*batch)[0].at.Add(n.syncDelay))
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case w, ok := <-n.writes:
			if !ok {
				return
			}
			*batch = append(*batch, w)
			if !w.lazy {
				return
			}
		case <-t.C:
			return
		}
	}
}

// followersKeepUp reports whether followers that answered within the
// last syncDelay form a quorum without the leader, so that the leader's
// write may be synced later (asyncWrite.lazy).
func (n *Node) followersKeepUp(now time.Time) bool {
	return n.rn.followersCommit(func(id uint64) bool {
		at, ok := n.heard[id]
		return ok && now.Sub(at) <= n.syncDelay
	})
}

// stopWriter ends the writer once every queued write is synced, so that
// no sync is pending when the store is closed.
func (n *Node) stopWriter() {
	if n.async != nil {
		close(n.writes)
		<-n.writerDone
	}
}

// takeStable reports the writes the writer found durable to the core.
func (n *Node) takeStable() error {
	n.stableMu.Lock()
	done := n.stable
	n.stable = nil
	n.stableMu.Unlock()
	for _, w := range done {
		if w.err != nil {
			return fmt.Errorf("persist entries up to %d: %w", w.index, w.err)
		}
		n.rn.StableTo(w.index, w.term)
	}
	return nil
}

// Stop ends the loop and fails every waiting call with ErrStopped. It
// returns the error that stopped the loop early, if any.
func (n *Node) Stop() error {
	n.stop.Do(func() { close(n.stopc) })
	<-n.donec
	return n.err
}

// Done is closed when the loop has ended, by Stop or by a fatal storage or
// state machine error (see Err).
func (n *Node) Done() <-chan struct{} { return n.donec }

// Err returns the fatal error that ended the loop, once Done is closed.
func (n *Node) Err() error {
	select {
	case <-n.donec:
		return n.err
	default:
		return nil
	}
}

// Status returns the latest status published by the loop.
func (n *Node) Status() NodeStatus { return *n.status.Load() }

// Step hands a message from a peer to the node. It never blocks: when the
// receive queue is full the message is dropped, which Raft tolerates.
func (n *Node) Step(m Message) {
	select {
	case n.recvc <- m:
	default:
	}
}

// Propose appends data to the log through this node, which must be the
// leader, and waits until the entry is applied here. It returns the state
// machine's result for the entry.
//
// ErrNotLeader and ErrProposalDropped mean the entry was not and will not
// be applied. A context error means the outcome is unknown.
func (n *Node) Propose(ctx context.Context, data []byte) (any, error) {
	p := proposalPool.Get().(*proposal)
	p.data = data
	select {
	case n.propc <- p:
	case <-ctx.Done():
		p.release()
		return nil, ctx.Err()
	case <-n.donec:
		p.release()
		return nil, ErrStopped
	}
	select {
	case r := <-p.done:
		p.release()
		return r.val, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.donec:
		return nil, ErrStopped
	}
}

// ProposeMany proposes several entries in order, as one batch where the
// loop can, and waits for each; results and errors are per entry, with
// Propose's meaning. Entries are appended in the order given.
func (n *Node) ProposeMany(ctx context.Context, data [][]byte) ([]any, []error) {
	vals, errs := make([]any, len(data)), make([]error, len(data))
	// The batch's proposals share one channel, each result naming its
	// slot; both come from a pool, and go back to it once every proposal
	// sent was answered.
	b := getProposalBatch(len(data))
	sent := 0
	for i, d := range data {
		b.ps[i] = proposal{data: d, done: b.done, slot: i}
		select {
		case n.propc <- &b.ps[i]:
			sent++
			continue
		case <-ctx.Done():
			errs[i] = ctx.Err()
		case <-n.donec:
			errs[i] = ErrStopped
		}
		// Not enqueued: neither is anything after it, so that order holds.
		for j := i + 1; j < len(data); j++ {
			errs[j] = errs[i]
		}
		break
	}
	answered := b.answered[:sent]
	clear(answered)
	for got := 0; got < sent; got++ {
		var err error
		select {
		case r := <-b.done:
			vals[r.slot], errs[r.slot] = r.val, r.err
			answered[r.slot] = true
			continue
		case <-ctx.Done():
			err = ctx.Err()
		case <-n.donec:
			err = ErrStopped
		}
		for i := range sent {
			if !answered[i] {
				errs[i] = err
			}
		}
		// Answers may still come: the batch is left to the collector.
		return vals, errs
	}
	b.release(len(data))
	return vals, errs
}

// Proposals are reused once answered. The loop answers a proposal once and
// forgets it as it does, so after its caller has received the answer
// nothing refers to it. One whose caller stopped waiting (a context, a
// stop) is never put back: its answer may still come.
var (
	proposalPool      = sync.Pool{New: func() any { return &proposal{done: make(chan result, 1)} }}
	proposalBatchPool sync.Pool
)

// release puts a single proposal, answered or never enqueued, back in the
// pool.
func (p *proposal) release() {
	*p = proposal{done: p.done}
	proposalPool.Put(p)
}

// proposalBatch is what ProposeMany needs for up to len(ps) entries.
type proposalBatch struct {
	ps       []proposal
	done     chan result // capacity len(ps): the loop never blocks on it
	answered []bool
}

func getProposalBatch(n int) *proposalBatch {
	if b, ok := proposalBatchPool.Get().(*proposalBatch); ok && len(b.ps) >= n {
		return b
	}
	// A pooled batch too small for n is dropped; the new one is kept.
	size := max(n, 64)
	return &proposalBatch{ps: make([]proposal, size), done: make(chan result, size), answered: make([]bool, size)}
}

// release clears the first n proposals, every one of them answered or
// never enqueued, and puts the batch back in the pool.
func (b *proposalBatch) release(n int) {
	clear(b.ps[:n])
	proposalBatchPool.Put(b)
}

// ProposeConfChange proposes a membership change through this node, which
// must be the leader, and waits until it is applied here. A change waits
// for the previous one to commit: ErrConfChangePending otherwise.
func (n *Node) ProposeConfChange(ctx context.Context, cc ConfChange) error {
	p := &proposal{conf: &cc, done: make(chan result, 1)}
	select {
	case n.propc <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
	select {
	case r := <-p.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
}

// ReadBarrier returns once a linearizable read may be served from the
// local state machine: this node was confirmed leader by a quorum after the
// call began, and every entry committed at that time has been applied.
// Reads waiting at the same time share one confirmation round.
func (n *Node) ReadBarrier(ctx context.Context) error {
	r := readPool.Get().(*readRequest)
	n.readMu.Lock()
	n.readQueued = append(n.readQueued, r)
	ring := n.readIdle
	n.readIdle = false
	n.readMu.Unlock()
	if ring {
		select {
		case n.readBell <- struct{}{}:
		default: // already rung
		}
	}
	select {
	case err := <-r.done:
		readPool.Put(r)
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
}

// call runs f on the loop goroutine and waits for it.
func (n *Node) call(ctx context.Context, f func(rn *RawNode)) error {
	done := make(chan struct{})
	select {
	case n.callc <- func(rn *RawNode) { f(rn); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
	select {
	case <-done:
		return nil
	case <-n.donec:
		return ErrStopped
	}
}

// Progress returns the leader's view of every member's log (match index
// by ID); nil when this node is not the leader.
func (n *Node) Progress(ctx context.Context) (map[uint64]Progress, error) {
	var st Status
	if err := n.call(ctx, func(rn *RawNode) { st = rn.Status() }); err != nil {
		return nil, err
	}
	return st.Progress, nil
}

// TransferLeadership hands leadership from this node, which must be the
// leader, to the member to, or to the most up-to-date follower when to is
// None. It returns once another node leads, or with the context's error.
// Proposals made meanwhile fail with ErrTransferring.
func (n *Node) TransferLeadership(ctx context.Context, to uint64) error {
	var err error
	if cerr := n.call(ctx, func(rn *RawNode) {
		st := rn.Status()
		if st.Role != Leader {
			err = ErrNotLeader
			return
		}
		if to == None {
			var best uint64
			for id, pr := range st.Progress {
				if id != st.ID && (to == None || pr.Match > best || pr.Match == best && id < to) {
					to, best = id, pr.Match
				}
			}
			if to == None {
				err = errors.New("raft: no other member to transfer leadership to")
				return
			}
		}
		err = rn.TransferLeadership(to)
	}); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	tick := time.NewTicker(n.tick / 2)
	defer tick.Stop()
	for {
		if st := n.Status(); st.Role != Leader && st.Lead != n.id {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.donec:
			return ErrStopped
		}
	}
}

func (n *Node) run() {
	ticker := time.NewTicker(n.tick)
	defer ticker.Stop()
	defer close(n.donec)
	defer n.stopWriter()
	for {
		select {
		case <-ticker.C:
			n.ticks++
			n.rn.Tick()
			n.expireReads()
			n.startRead()
			// A leader that kept its log for a lagging follower compacts
			// it once the follower has caught up, writes or not.
			if err := n.maybeCompact(false); err != nil {
				n.fail(err)
				return
			}
		case m := <-n.recvc:
			n.step(m)
			n.drain()
		case p := <-n.propc:
			n.propose(p)
			n.drain()
		case <-n.readBell:
			n.drain()
		case <-n.stablec:
			if err := n.takeStable(); err != nil {
				n.fail(err)
				return
			}
			n.drain()
		case f := <-n.callc:
			f(n.rn)
		case <-n.stopc:
			n.failAll(ErrStopped)
			return
		}
		for n.rn.HasReady() {
			if err := n.handleReady(n.rn.Ready()); err != nil {
				n.fail(err)
				return
			}
		}
	}
}

// fail records the fatal error that ends the loop.
func (n *Node) fail(err error) {
	n.err = err
	n.logger.Error("raft node stopped by a fatal error", "error", err)
	n.failAll(ErrStopped)
}

// drain takes whatever else is already queued (messages, proposals,
// reads), up to maxBatch of each, so that one Ready, one append to each
// follower and one fsync cover everything that arrived together. It first
// lets every other goroutine that is ready run: the proposer or stream
// that woke the loop hands it the processor at once (Go runs a goroutine
// readied by a channel send next), so with one processor (--max-procs 1)
// the connections whose commands arrived in the same instant would
// otherwise propose only after the loop had sent a Ready with the first
// command alone (three nodes on two CPUs, SET from 50 clients: about 9
// entries an append with the yield, 1 without).
func (n *Node) drain() {
	runtime.Gosched()
	takeQueued(n.recvc, n.step)
	takeQueued(n.propc, n.propose)
	n.startRead()
}

// takeQueued calls f on up to maxBatch values already queued on c.
func takeQueued[T any](c <-chan T, f func(T)) {
	for range maxBatch {
		select {
		case v := <-c:
			f(v)
		default:
			return
		}
	}
}

func (n *Node) step(m Message) {
	n.heard[m.From] = time.Now()
	if err := n.rn.Step(m); errors.Is(err, ErrMalformed) {
		n.logger.Warn("refused a malformed message", "error", err)
	} else if err != nil {
		n.logger.Debug("dropped message", "type", m.Type, "from", m.From, "error", err)
	}
}

func (n *Node) propose(p *proposal) {
	var (
		index, term uint64
		err         error
	)
	if p.conf != nil {
		index, term, err = n.rn.ProposeConfChange(*p.conf)
	} else {
		index, term, err = n.rn.Propose(p.data)
	}
	if err != nil {
		p.finish(result{err: err})
		return
	}
	p.index, p.term = index, term
	if old, ok := n.waiters[index]; ok {
		// An older proposal at the same index was truncated away before it
		// was applied: it can no longer commit.
		old.finish(result{err: ErrProposalDropped})
	}
	n.waiters[index] = p
}

// startRead starts a confirmation round for the queued reads unless one
// is in flight. At most one round is in flight: reads that arrive
// meanwhile wait and share the next one, which starts after they arrived
// (so each read still sees every write acknowledged before it began).
func (n *Node) startRead() {
	for len(n.reads) == 0 {
		reqs := n.takeQueuedReads()
		if len(reqs) == 0 {
			return
		}
		b := &readBatch{reqs: reqs, tick: n.ticks}
		n.readSeq++
		ctx := binary.BigEndian.AppendUint64(nil, n.readSeq)
		if err := n.rn.ReadIndex(ctx); err != nil {
			// Reads queued meanwhile are taken next, and most likely
			// fail the same way.
			b.finish(err)
			continue
		}
		n.reads[n.readSeq] = b
	}
}

// takeQueuedReads takes every queued read. When there is none, it marks
// the loop idle for reads: the next read rings readBell.
func (n *Node) takeQueuedReads() []*readRequest {
	n.readMu.Lock()
	defer n.readMu.Unlock()
	reqs := n.readQueued
	n.readQueued = nil
	n.readIdle = len(reqs) == 0
	return reqs
}

func (b *readBatch) finish(err error) {
	for _, r := range b.reqs {
		r.done <- err
	}
}

// expireReads fails read batches the core has not confirmed within four
// election timeouts, so that a lost confirmation does not leak waiters.
func (n *Node) expireReads() {
	limit := uint64(4 * n.electionTick)
	for seq, b := range n.reads {
		if n.ticks-b.tick > limit {
			delete(n.reads, seq)
			b.finish(ErrLeadershipLost)
		}
	}
}

func (n *Node) handleReady(rd Ready) error {
	if rd.Snapshot != nil {
		if n.install == nil {
			return fmt.Errorf("received snapshot %d but the node cannot install snapshots", rd.Snapshot.Meta.Index)
		}
		if err := n.install(rd.Snapshot); err != nil {
			return fmt.Errorf("install snapshot %d: %w", rd.Snapshot.Meta.Index, err)
		}
	}
	// A leader sends its appends before its own fsync, in parallel with
	// the followers' (Raft thesis 10.2.1): its entries count towards a
	// quorum only once Advance reports them durable. Anything whose term
	// or vote is not yet on disk waits for the write.
	role := n.soft.Role
	if rd.SoftState != nil {
		role = rd.SoftState.Role
		if role != n.soft.Role && n.onRoleChange != nil {
			n.onRoleChange(role)
		}
	}
	sendFirst := role == Leader && (rd.HardState.IsEmpty() ||
		(rd.HardState.Term == n.hard.Term && rd.HardState.Vote == n.hard.Vote))
	if sendFirst && len(rd.Messages) > 0 {
		n.trans.Send(rd.Messages)
	}
	// Such a leader's entries need not hold up the loop either: they are
	// written now, in order with every other write, and the writer
	// reports them durable (StableTo) once synced. Anything else syncs
	// here, which makes every earlier write durable too.
	if n.async != nil && sendFirst && rd.Snapshot == nil && len(rd.Entries) > 0 {
		wait, err := n.async.SaveAsync(rd.HardState, rd.Entries)
		if err != nil {
			return fmt.Errorf("persist ready: %w", err)
		}
		last := rd.Entries[len(rd.Entries)-1]
		w := asyncWrite{wait: wait, index: last.Index, term: last.Term}
		// A write that finds the writer idle is synced at once: a lone
		// client's commit still waits only for the faster two of the
		// three copies (with three nodes), the leader's among them.
		if n.syncDelay > 0 && n.unsynced.Load() > 0 {
			w.at = time.Now()
			w.lazy = n.followersKeepUp(w.at)
		}
		n.unsynced.Add(1)
		n.writes <- w
		rd.Entries = nil
	} else if !rd.HardState.IsEmpty() || len(rd.Entries) > 0 {
		if err := n.store.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
			return fmt.Errorf("persist ready: %w", err)
		}
	}
	if !rd.HardState.IsEmpty() {
		n.hard = rd.HardState
	}
	if !sendFirst && len(rd.Messages) > 0 {
		n.trans.Send(rd.Messages)
	}
	if rd.SoftState != nil {
		wasLeader := n.soft.Role == Leader
		n.soft = *rd.SoftState
		if wasLeader && n.soft.Role != Leader {
			// The core dropped its pending reads with its leadership.
			for seq, b := range n.reads {
				delete(n.reads, seq)
				b.finish(ErrLeadershipLost)
			}
		}
	}
	if len(rd.CommittedEntries) > 0 {
		if err := n.apply(rd.CommittedEntries); err != nil {
			return err
		}
		if err := n.maybeCompact(false); err != nil {
			return err
		}
	}
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		seq := binary.BigEndian.Uint64(rs.RequestCtx)
		b, ok := n.reads[seq]
		if !ok {
			continue // expired
		}
		delete(n.reads, seq)
		b.index = rs.Index
		n.readQueue = append(n.readQueue, b)
	}
	n.releaseReads()
	n.rn.Advance(rd)
	n.startRead() // the round in flight may have ended
	n.publishStatus()
	return nil
}

func (n *Node) apply(ents []Entry) error {
	results, err := n.sm.Apply(ents)
	if err != nil {
		return fmt.Errorf("apply entries %d..%d: %w", ents[0].Index, ents[len(ents)-1].Index, err)
	}
	for i, e := range ents {
		p, ok := n.waiters[e.Index]
		if !ok {
			continue
		}
		delete(n.waiters, e.Index)
		if p.term != e.Term {
			// Another leader's entry took the slot: ours was never committed.
			p.finish(result{err: ErrProposalDropped})
			continue
		}
		var v any
		if i < len(results) {
			v = results[i]
		}
		p.finish(result{val: v})
	}
	return nil
}

// heldLogFactor bounds the log a leader keeps for its followers (see
// maybeCompact): at most this many times SnapshotEntries applied entries.
const heldLogFactor = 10

// maybeCompact compacts the log once it holds SnapshotEntries applied
// entries (or now, when forced), keeping SnapshotCatchUpEntries of them.
// The state machine on disk is the snapshot, so this is all a snapshot
// takes.
//
// A leader also keeps the entries that a follower it heard from within two
// election timeouts still needs, up to heldLogFactor times SnapshotEntries:
// a follower that lags a little, or has just installed a snapshot, catches
// up from the log. Otherwise, under steady writes, a follower whose
// snapshot of a large data set took longer to send and install than the
// log lasts would need another at once, and another.
func (n *Node) maybeCompact(force bool) error {
	if n.compactor == nil || (n.snapEvery == 0 && !force) {
		return nil
	}
	first, err := n.store.FirstIndex()
	if err != nil {
		return err
	}
	applied := n.sm.Applied()
	if applied < first || (!force && applied+1-first < n.snapEvery) {
		return nil
	}
	to := applied
	if !force {
		to = applied - min(n.snapKeep, applied)
		now, within := time.Now(), 2*time.Duration(n.electionTick)*n.tick
		active := func(id uint64) bool {
			at, ok := n.heard[id]
			return ok && now.Sub(at) <= within
		}
		if need := n.rn.lowestNeeded(active); need > 0 && need <= to {
			limit := n.snapEvery * heldLogFactor
			if limit/heldLogFactor != n.snapEvery {
				limit = math.MaxUint64
			}
			held := max(need-1, applied-min(applied, limit))
			if held < first+n.snapEvery/2 {
				return nil // too little to drop yet
			}
			to = held
		}
	}
	if to < first {
		return nil
	}
	if err := n.compactor.Compact(to); err != nil {
		return fmt.Errorf("compact log to %d: %w", to, err)
	}
	n.logger.Info("snapshot taken: log compacted", "index", to, "entries_dropped", to+1-first)
	return nil
}

// Snapshot takes a snapshot now: the log is compacted up to the applied
// index. It returns that index.
func (n *Node) Snapshot(ctx context.Context) (uint64, error) {
	var (
		index uint64
		err   error
	)
	if cerr := n.call(ctx, func(*RawNode) {
		if n.compactor == nil {
			err = errors.New("raft: the log store cannot compact")
			return
		}
		err = n.maybeCompact(true)
		index = n.sm.Applied()
	}); cerr != nil {
		return 0, cerr
	}
	return index, err
}

// releaseReads completes confirmed reads whose index has been applied.
func (n *Node) releaseReads() {
	applied := n.sm.Applied()
	i := 0
	for ; i < len(n.readQueue) && n.readQueue[i].index <= applied; i++ {
		n.readQueue[i].finish(nil)
		n.readQueue[i] = nil
	}
	n.readQueue = n.readQueue[i:]
}

func (n *Node) failAll(err error) {
	for idx, p := range n.waiters {
		delete(n.waiters, idx)
		p.finish(result{err: err})
	}
	for seq, b := range n.reads {
		delete(n.reads, seq)
		b.finish(err)
	}
	for _, b := range n.readQueue {
		b.finish(err)
	}
	n.readQueue = nil
	for _, r := range n.takeQueuedReads() {
		r.done <- err
	}
}

func (n *Node) publishStatus() {
	n.status.Store(&NodeStatus{
		ID:      n.id,
		Lead:    n.soft.Lead,
		Term:    n.hard.Term,
		Role:    n.soft.Role,
		Commit:  n.hard.Commit,
		Applied: n.sm.Applied(),
	})
}
