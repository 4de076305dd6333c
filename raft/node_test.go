package raft

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memRouter connects in-process Nodes; links can be cut per node.
type memRouter struct {
	mu       sync.Mutex
	nodes    map[uint64]*Node
	isolated map[uint64]bool
	appends  int // MsgApp messages carrying entries, delivered or not
	beats    int // MsgHeartbeat messages, delivered or not
	// drop, when set, loses the messages it returns true for.
	drop func(Message) bool
}

type memTransport struct {
	r    *memRouter
	from uint64
}

func (t *memTransport) Send(msgs []Message) {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	for _, m := range msgs {
		if m.Type == MsgApp && len(m.Entries) > 0 {
			t.r.appends++
		}
		if m.Type == MsgHeartbeat {
			t.r.beats++
		}
		if t.r.isolated[m.From] || t.r.isolated[m.To] || (t.r.drop != nil && t.r.drop(m)) {
			continue
		}
		if n := t.r.nodes[m.To]; n != nil {
			// Entries alias the sender's buffers; a real transport copies.
			m.Entries = append([]Entry(nil), m.Entries...)
			n.Step(m)
		}
	}
}

// counts returns how many appends with entries and heartbeats were sent.
func (r *memRouter) counts() (appends, beats int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.appends, r.beats
}

func (r *memRouter) isolate(id uint64, cut bool) {
	r.mu.Lock()
	r.isolated[id] = cut
	r.mu.Unlock()
}

// counterSM counts applied non-empty entries and returns the running count.
type counterSM struct {
	mu      sync.Mutex
	applied uint64
	count   int
}

func (s *counterSM) Apply(ents []Entry) ([]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, len(ents))
	for i, e := range ents {
		if e.Index <= s.applied {
			continue
		}
		if len(e.Data) > 0 {
			s.count++
		}
		s.applied = e.Index
		out[i] = s.count
	}
	return out, nil
}

func (s *counterSM) Applied() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

func (s *counterSM) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// asyncMemStorage is a MemoryStorage that can write asynchronously, as
// engine/ does: a sync takes up to a millisecond, and covers every write
// before it.
type asyncMemStorage struct {
	*MemoryStorage
	writes, waits atomic.Int64
}

func (s *asyncMemStorage) SaveAsync(hs HardState, ents []Entry) (func() error, error) {
	if err := s.MemoryStorage.Save(hs, ents, true); err != nil {
		return nil, err
	}
	s.writes.Add(1)
	delay := time.Duration(rand.IntN(1000)) * time.Microsecond
	return func() error {
		s.waits.Add(1)
		time.Sleep(delay)
		return nil
	}, nil
}

// startNodes starts n nodes whose leaders write their logs asynchronously.
func startNodes(t testing.TB, n int) (*memRouter, []*Node, []*counterSM) {
	return startNodesWith(t, n, false)
}

func startNodesWith(t testing.TB, n int, syncWrites bool) (*memRouter, []*Node, []*counterSM) {
	return startNodesConf(t, n, func(c *NodeConfig) { c.SyncWrites = syncWrites })
}

// startNodesConf starts n nodes, each with its NodeConfig adjusted by set.
func startNodesConf(t testing.TB, n int, set func(*NodeConfig)) (*memRouter, []*Node, []*counterSM) {
	t.Helper()
	r := &memRouter{nodes: map[uint64]*Node{}, isolated: map[uint64]bool{}}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	var nodes []*Node
	var sms []*counterSM
	for _, id := range ids {
		sm := &counterSM{}
		cfg := NodeConfig{
			Config: Config{
				ID:           id,
				Peers:        ids,
				ElectionTick: 10,
				Rand:         rand.New(rand.NewPCG(id, 1)),
			},
			LogStore:     &asyncMemStorage{MemoryStorage: NewMemoryStorage()},
			Transport:    &memTransport{r: r, from: id},
			StateMachine: sm,
			TickInterval: 2 * time.Millisecond,
		}
		set(&cfg)
		node, err := NewNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r.nodes[id] = node
		nodes = append(nodes, node)
		sms = append(sms, sm)
	}
	for _, node := range nodes {
		node.Start()
	}
	t.Cleanup(func() {
		for _, node := range nodes {
			node.Stop()
		}
	})
	return r, nodes, sms
}

// waitLeader waits until exactly one of the given nodes is leader and the
// others follow it.
func waitLeader(t testing.TB, nodes []*Node) *Node {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var lead *Node
		agree := true
		for _, n := range nodes {
			st := n.Status()
			if st.Role == Leader {
				lead = n
			}
			if st.Lead == None || (lead != nil && st.Lead != lead.id) {
				agree = false
			}
		}
		if lead != nil && agree {
			return lead
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no leader within 5s")
	return nil
}

func TestNodeProposeAndRead(t *testing.T) {
	_, nodes, sms := startNodes(t, 3)
	lead := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	for i := 1; i <= 20; i++ {
		v, err := lead.Propose(ctx, []byte("x"))
		if err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
		if v != i {
			t.Fatalf("propose %d: result %v", i, v)
		}
	}
	for _, n := range nodes {
		if n == lead {
			continue
		}
		if _, err := n.Propose(ctx, []byte("x")); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("propose on follower: %v, want ErrNotLeader", err)
		}
		if err := n.ReadBarrier(ctx); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("read on follower: %v, want ErrNotLeader", err)
		}
	}
	// A read barrier on the leader observes every acknowledged write.
	if err := lead.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		if n == lead && sms[i].Count() != 20 {
			t.Fatalf("leader applied %d writes after the read barrier, want 20", sms[i].Count())
		}
	}
}

// Concurrent proposals and reads from many goroutines all complete, and
// the counts they observe are consistent.
func TestNodeConcurrent(t *testing.T) {
	for _, syncWrites := range []bool{false, true} {
		t.Run(fmt.Sprintf("syncWrites=%v", syncWrites), func(t *testing.T) { testNodeConcurrent(t, syncWrites) })
	}
}

func testNodeConcurrent(t *testing.T, syncWrites bool) {
	_, nodes, _ := startNodesWith(t, 3, syncWrites)
	lead := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	seen := make(chan int, 400)
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				v, err := lead.Propose(ctx, []byte("x"))
				if err != nil {
					t.Errorf("propose: %v", err)
					return
				}
				seen <- v.(int)
				if err := lead.ReadBarrier(ctx); err != nil {
					t.Errorf("read: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(seen)
	got := map[int]bool{}
	for v := range seen {
		if got[v] {
			t.Fatalf("two proposals got count %d", v)
		}
		got[v] = true
	}
	if len(got) != 400 {
		t.Fatalf("%d distinct results, want 400", len(got))
	}
}

// Reads wake the loop only when it has no confirmation round in flight;
// reads that arrive during a round are taken when it ends. With ticks an
// hour apart, a read that the loop failed to take would wait for a tick
// (a round asks one follower, whose answer is the last message the loop
// gets from it): every read here must be served by the reads' own
// wake-ups and the rounds' ends, reads that wait together sharing a round.
func TestNodeReadsNeedNoTick(t *testing.T) {
	r, nodes, _ := startNodesConf(t, 3, func(c *NodeConfig) { c.TickInterval = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nodes[0].call(ctx, func(rn *RawNode) { rn.Campaign() }); err != nil {
		t.Fatal(err)
	}
	lead := waitLeader(t, nodes)
	if _, err := lead.Propose(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Lone reads, each once the loop has nothing else to do.
	for i := range 5 {
		time.Sleep(20 * time.Millisecond)
		if err := lead.ReadBarrier(ctx); err != nil {
			t.Fatalf("lone read %d: %v", i, err)
		}
	}
	_, before := r.counts()
	const callers, each = 50, 20
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := lead.ReadBarrier(ctx); err != nil {
					t.Errorf("read %d of caller %d: %v", i, g, err)
					return
				}
				// Some callers write too, so that rounds overlap appends.
				if g%10 == 0 {
					if _, err := lead.Propose(ctx, []byte("y")); err != nil {
						t.Errorf("propose: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	_, after := r.counts()
	rounds := after - before // a round asks one follower, the quorum's other half
	t.Logf("%d reads, %d confirmation rounds", callers*each, rounds)
	if rounds == 0 || rounds >= callers*each {
		t.Fatalf("%d rounds for %d reads: want at least one, and reads sharing them", rounds, callers*each)
	}
}

// A leader cut off from the majority never confirms a read, and its
// pending proposal does not report success.
func TestNodeIsolatedLeader(t *testing.T) {
	r, nodes, _ := startNodes(t, 3)
	lead := waitLeader(t, nodes)
	ctx := context.Background()
	if _, err := lead.Propose(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	r.isolate(lead.id, true)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := lead.ReadBarrier(short); err == nil {
		t.Fatal("isolated leader confirmed a read")
	}
	if _, err := lead.Propose(short, []byte("x")); err == nil {
		t.Fatal("isolated leader acknowledged a write")
	}
	var others []*Node
	for _, n := range nodes {
		if n != lead {
			others = append(others, n)
		}
	}
	newLead := waitLeader(t, others)
	if _, err := newLead.Propose(ctx, []byte("y")); err != nil {
		t.Fatal(err)
	}
	r.isolate(lead.id, false)
	waitLeader(t, nodes)
}

// TestNodeLoneLeaderAsyncWrites: a single node commits only what its own
// writer reports durable, so every asynchronous write must be reported,
// also those whose sync was covered by a later write's.
func TestNodeLoneLeaderAsyncWrites(t *testing.T) {
	_, nodes, sms := startNodes(t, 1)
	lead := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := lead.Propose(ctx, []byte("x")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := sms[0].Count(); got != 16*50 {
		t.Fatalf("applied %d entries, want %d", got, 16*50)
	}
	store := lead.async.(*asyncMemStorage)
	writes, waits := store.writes.Load(), store.waits.Load()
	if waits == 0 || waits > writes {
		t.Fatalf("%d syncs for %d asynchronous writes", waits, writes)
	}
	t.Logf("%d syncs for %d asynchronous writes", waits, writes)
}

// proposeConcurrently proposes clients*each entries from clients
// goroutines, each waiting for its entry before the next, within limit.
func proposeConcurrently(t *testing.T, lead *Node, clients, each int, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := lead.Propose(ctx, []byte("x")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestNodeLeaderPutsOffSyncWhileFollowersCommit: with LeaderSyncDelay, a
// leader whose followers answer keeps syncing its own log only when its
// writer is idle; the writes made meanwhile wait for a later sync, and
// the followers' copies commit them. With a delay longer than the test,
// the leader syncs a handful of times for hundreds of writes, every node
// applies every entry, and stopping syncs what was left.
func TestNodeLeaderPutsOffSyncWhileFollowersCommit(t *testing.T) {
	_, nodes, sms := startNodesConf(t, 3, func(c *NodeConfig) { c.LeaderSyncDelay = time.Minute })
	lead := waitLeader(t, nodes)
	const clients, each = 16, 50
	proposeConcurrently(t, lead, clients, each, 30*time.Second)
	store := lead.async.(*asyncMemStorage)
	writes, waits := store.writes.Load(), store.waits.Load()
	t.Logf("%d syncs for %d asynchronous writes", waits, writes)
	if writes < 20 || waits*10 > writes {
		t.Fatalf("%d syncs for %d asynchronous writes: the leader did not put its syncs off", waits, writes)
	}
	for i, sm := range sms {
		deadline := time.Now().Add(5 * time.Second)
		for sm.Count() != clients*each && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := sm.Count(); got != clients*each {
			t.Fatalf("node %d applied %d entries, want %d", i+1, got, clients*each)
		}
	}
	if lead.unsynced.Load() == 0 {
		t.Fatal("no write was left for a later sync")
	}
	lead.Stop()
	if n := lead.unsynced.Load(); n != 0 {
		t.Fatalf("%d writes left unsynced after Stop", n)
	}
}

// TestNodeLeaderSyncsAtOnceWithoutFollowerQuorum: when the followers that
// answer do not form a quorum by themselves, each write of the leader's is
// synced at once, as its copy is needed to commit: a follower cut off for
// longer than LeaderSyncDelay delays no commit by it.
func TestNodeLeaderSyncsAtOnceWithoutFollowerQuorum(t *testing.T) {
	const delay = time.Second
	r, nodes, sms := startNodesConf(t, 3, func(c *NodeConfig) { c.LeaderSyncDelay = delay })
	lead := waitLeader(t, nodes)
	var cut uint64
	for _, n := range nodes {
		if n != lead {
			cut = n.id
			break
		}
	}
	keepUp := func() bool {
		var ok bool
		if err := lead.call(context.Background(), func(*RawNode) { ok = lead.followersKeepUp(time.Now()) }); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// The followers' first answers may still be on their way.
	for deadline := time.Now().Add(5 * time.Second); !keepUp(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("two followers that answer the heartbeats do not count as keeping up")
		}
	}
	r.isolate(cut, true)
	time.Sleep(delay + delay/10)
	if keepUp() {
		t.Fatalf("follower %d, silent for longer than the delay, still counts as keeping up", cut)
	}
	// Every commit needs the leader's sync now: one put off would take
	// the whole delay, past this limit.
	proposeConcurrently(t, lead, 8, 20, delay*9/10)
	for i, n := range nodes {
		if n == lead && sms[i].Count() != 8*20 {
			t.Fatalf("the leader applied %d entries, want %d", sms[i].Count(), 8*20)
		}
	}
}

// TestNodeLeaderKeepsLogForLaggingFollower: a leader does not compact away
// the entries a follower it still hears from needs, so that the follower
// catches up from the log (these nodes cannot install snapshots: one sent
// would stop the follower). Beyond ten times SnapshotEntries it compacts
// all the same.
func TestNodeLeaderKeepsLogForLaggingFollower(t *testing.T) {
	const every, keep = 20, 5
	r, nodes, sms := startNodesConf(t, 3, func(c *NodeConfig) {
		c.CheckQuorum = true
		c.SnapshotEntries, c.SnapshotCatchUpEntries = every, keep
	})
	lead := waitLeader(t, nodes)
	var lag *Node
	var lagSM *counterSM
	for i, n := range nodes {
		if n != lead {
			lag, lagSM = n, sms[i]
			break
		}
	}
	// Appends to one follower are lost; heartbeats still reach it, so the
	// leader keeps hearing from it.
	lose := func(on bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.drop = nil
		if on {
			r.drop = func(m Message) bool { return m.To == lag.id && (m.Type == MsgApp || m.Type == MsgSnap) }
		}
	}
	lose(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	propose := func(k int) {
		t.Helper()
		for range k {
			if _, err := lead.Propose(ctx, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := func() uint64 {
		i, err := lead.store.FirstIndex()
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	propose(5 * every)
	if f, behind := first(), lag.Status().Commit; f > behind+1 {
		t.Fatalf("leader compacted its log to %d while a follower it hears from is at %d", f-1, behind)
	}
	lose(false)
	deadline := time.Now().Add(5 * time.Second)
	for lagSM.Count() != 5*every && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := lagSM.Count(); got != 5*every {
		t.Fatalf("the lagging follower applied %d entries, want %d (err %v)", got, 5*every, lag.Err())
	}
	// Caught up, with no more writes: the next ticks compact the log.
	for first() < 4*every && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if f := first(); f < 4*every {
		t.Fatalf("leader's log starts at %d after the follower caught up: not compacted", f)
	}

	// Lagging too far: past ten times SnapshotEntries the log is compacted
	// regardless.
	lose(true)
	behind := lag.Status().Commit
	propose(12 * every)
	if f := first(); f <= behind+1 {
		t.Fatalf("leader's log starts at %d, still holding a follower %d entries behind", f, 12*every)
	}
}

func TestNodeStopFailsWaiters(t *testing.T) {
	_, nodes, _ := startNodes(t, 1)
	lead := waitLeader(t, nodes)
	if _, err := lead.Propose(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	lead.Stop()
	if _, err := lead.Propose(context.Background(), []byte("x")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after stop: %v", err)
	}
	if err := lead.ReadBarrier(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("read after stop: %v", err)
	}
}

func TestNodeTransferLeadership(t *testing.T) {
	_, nodes, _ := startNodes(t, 3)
	lead := waitLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 10 {
		if _, err := lead.Propose(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	prog, err := lead.Progress(ctx)
	if err != nil || len(prog) != 3 {
		t.Fatalf("progress: %v %v", prog, err)
	}
	// To the most up-to-date follower.
	if err := lead.TransferLeadership(ctx, None); err != nil {
		t.Fatal(err)
	}
	next := waitLeader(t, nodes)
	if next == lead {
		t.Fatal("leadership did not move")
	}
	// To a named node, back to the first.
	if err := next.TransferLeadership(ctx, lead.id); err != nil {
		t.Fatal(err)
	}
	if got := waitLeader(t, nodes); got != lead {
		t.Fatalf("leader is %d, want %d", got.id, lead.id)
	}
	if _, err := lead.Propose(ctx, []byte("x")); err != nil {
		t.Fatalf("propose after transfers: %v", err)
	}
	if err := next.TransferLeadership(ctx, lead.id); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer from a follower: %v, want ErrNotLeader", err)
	}
}

// TestNodeAbandonedProposalsNotReused: proposals whose callers stopped
// waiting (an isolated leader cannot commit them) are answered later, when
// that leader steps down; the pooled proposals of callers running then
// must not receive those answers.
func TestNodeAbandonedProposalsNotReused(t *testing.T) {
	r, nodes, _ := startNodes(t, 3)
	lead := waitLeader(t, nodes)
	r.isolate(lead.id, true)
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := lead.Propose(short, []byte("lost")); err == nil {
				t.Error("isolated leader acknowledged a write")
			}
		}()
		go func() {
			defer wg.Done()
			_, errs := lead.ProposeMany(short, [][]byte{[]byte("lost"), []byte("lost")})
			for _, err := range errs {
				if err == nil {
					t.Error("isolated leader acknowledged a write")
				}
			}
		}()
	}
	wg.Wait()
	var others []*Node
	for _, n := range nodes {
		if n != lead {
			others = append(others, n)
		}
	}
	newLead := waitLeader(t, others)
	// Heal while callers propose to the new leader: the old one learns of
	// the new term and answers its abandoned proposals meanwhile.
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := newLead.Propose(ctx, []byte("a")); err != nil {
					t.Errorf("propose: %v", err)
					return
				}
				vals, errs := newLead.ProposeMany(ctx, [][]byte{[]byte("b"), []byte("c"), []byte("d")})
				for i, err := range errs {
					if err != nil {
						t.Errorf("propose many, entry %d: %v", i, err)
						return
					}
					if i > 0 && vals[i].(int) <= vals[i-1].(int) {
						t.Errorf("results out of order: %v", vals)
						return
					}
				}
			}
		}()
	}
	r.isolate(lead.id, false)
	deadline := time.Now().Add(5 * time.Second)
	for lead.Status().Lead != newLead.id && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if got := lead.Status().Lead; got != newLead.id {
		t.Fatalf("old leader follows %d, want %d", got, newLead.id)
	}
}

// TestNodeProposeMany: a batch's results come back per entry, in the
// order given, from callers racing each other; a follower refuses every
// entry, a cancelled context fails every entry, and so does a stopped
// node.
func TestNodeProposeMany(t *testing.T) {
	_, nodes, sms := startNodes(t, 3)
	lead := waitLeader(t, nodes)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")}
			for range 20 {
				vals, errs := lead.ProposeMany(context.Background(), data)
				for i := range data {
					if errs[i] != nil {
						t.Errorf("entry %d: %v", i, errs[i])
						return
					}
					// The counter's running count: one more per entry of
					// the batch, whatever other callers slipped between.
					if i > 0 && vals[i].(int) <= vals[i-1].(int) {
						t.Errorf("results out of order: %v", vals)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	leadIdx := 0
	for i, n := range nodes {
		if n == lead {
			leadIdx = i
		}
	}
	if got := sms[leadIdx].Count(); got != 4*20*5 {
		t.Fatalf("applied %d entries, want %d", got, 4*20*5)
	}

	var follower *Node
	for _, n := range nodes {
		if n != lead {
			follower = n
		}
	}
	_, errs := follower.ProposeMany(context.Background(), [][]byte{[]byte("x"), []byte("y")})
	for i, err := range errs {
		if !errors.Is(err, ErrNotLeader) {
			t.Fatalf("follower, entry %d: %v", i, err)
		}
	}
	// With a cancelled context each entry may or may not be taken (select
	// picks at random among ready cases), but order holds: no entry is
	// left out before one that is proposed, and results come in log order,
	// so the entries answered without error are a prefix of the batch.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	outcomes := map[int]bool{}
	for range 200 {
		_, errs = lead.ProposeMany(ctx, [][]byte{[]byte("x"), []byte("y"), []byte("z")})
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil && ok == i:
				ok++
			case err == nil:
				t.Fatalf("cancelled: entry %d succeeded after a failed one: %v", i, errs)
			case !errors.Is(err, context.Canceled):
				t.Fatalf("cancelled, entry %d: %v", i, err)
			}
		}
		outcomes[ok] = true
	}
	if !outcomes[0] {
		t.Fatalf("a cancelled context never refused the whole batch: %v", outcomes)
	}
	lead.Stop()
	_, errs = lead.ProposeMany(context.Background(), [][]byte{[]byte("x"), []byte("y")})
	for i, err := range errs {
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("stopped, entry %d: %v", i, err)
		}
	}
}

// TestNodeOnRoleChange: each node's hook hears every change of its role,
// as it happens, ending with the role the node reports; a transfer of
// leadership makes the old leader follow and the new one lead.
func TestNodeOnRoleChange(t *testing.T) {
	var mu sync.Mutex
	heard := map[uint64][]Role{}
	_, nodes, _ := startNodesConf(t, 3, func(c *NodeConfig) {
		id := c.ID
		c.OnRoleChange = func(r Role) {
			mu.Lock()
			heard[id] = append(heard[id], r)
			mu.Unlock()
		}
	})
	last := func(n *Node) (Role, int) {
		mu.Lock()
		defer mu.Unlock()
		rs := heard[n.id]
		for i := 1; i < len(rs); i++ {
			if rs[i] == rs[i-1] {
				t.Errorf("node %d heard %v twice in a row: %v", n.id, rs[i], rs)
			}
		}
		if len(rs) == 0 {
			return Follower, 0
		}
		return rs[len(rs)-1], len(rs)
	}
	check := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok := true
			for _, n := range nodes {
				if r, _ := last(n); r != n.Status().Role {
					ok = false
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("hooks heard %v; roles now %v %v %v", heard, nodes[0].Status().Role, nodes[1].Status().Role, nodes[2].Status().Role)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	lead := waitLeader(t, nodes)
	check()
	if r, n := last(lead); r != Leader || n < 2 {
		t.Fatalf("the leader's hook heard %d changes ending with %v, want a campaign then Leader", n, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lead.TransferLeadership(ctx, None); err != nil {
		t.Fatal(err)
	}
	next := waitLeader(t, nodes)
	check()
	if r, _ := last(lead); r != Follower || next == lead {
		t.Fatalf("after the transfer the old leader's hook last heard %v", r)
	}
}
