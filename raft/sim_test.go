package raft

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The simulation drives RawNodes over a simulated network with simulated
// time. Every choice (delays, loss, which node crashes) comes from one
// seeded source, so a failing seed replays exactly:
//
//	go test ./raft -run TestFigure8Unreliable -seed 1234
var (
	flagSeed  = flag.Uint64("seed", 0, "run the simulation scenarios with this seed only")
	flagSeeds = flag.Int("seeds", 30, "number of seeds per simulation scenario")
)

// forSeeds runs scenario once per seed, naming the seed on failure.
func forSeeds(t *testing.T, scenario func(t *testing.T, seed uint64)) {
	t.Helper()
	seeds := make([]uint64, 0, *flagSeeds)
	if *flagSeed != 0 {
		seeds = append(seeds, *flagSeed)
	} else {
		for i := range *flagSeeds {
			seeds = append(seeds, uint64(i+1))
		}
	}
	// Every scenario runs with the classic protocol, with pre-vote and
	// check-quorum, and with leaders writing their log asynchronously.
	for _, f := range []features{{}, {preVote: true, checkQuorum: true}, {asyncWrites: true}, {preVote: true, checkQuorum: true, asyncWrites: true}} {
		simFeatures = f
		for _, seed := range seeds {
			if !t.Run(fmt.Sprintf("%s/seed=%d", f, seed), func(t *testing.T) { scenario(t, seed) }) {
				t.Fatalf("replay with: go test ./raft -run '%s/%s' -seed %d -v", t.Name(), f, seed)
			}
		}
	}
	simFeatures = features{}
}

// features are the optional protocol and driver features a simulation
// runs with. asyncWrites makes a leader write its entries as the driver
// does with an AsyncLogStore: the Ready is advanced at once, and the write
// is reported durable (StableTo) some time later, unless a crash comes
// first and loses it.
type features struct{ preVote, checkQuorum, asyncWrites bool }

func (f features) String() string {
	name := "classic"
	if f.preVote || f.checkQuorum {
		name = fmt.Sprintf("prevote=%v,checkquorum=%v", f.preVote, f.checkQuorum)
	}
	if f.asyncWrites {
		name += ",async"
	}
	return name
}

// simFeatures is what newSim gives its nodes; forSeeds sets it.
var simFeatures features

// simStorage is a node's disk: a MemoryStorage whose writes, like those
// to one write-ahead log, become durable together at a sync, which covers
// every earlier write. A crash loses everything written since the last
// sync; the node's applied entries (written the same way) go with it.
type simStorage struct {
	*MemoryStorage
	syncedHS   HardState
	syncedEnts []Entry
}

// sync makes every write so far durable (simNode.sync also covers the
// node's applied entries).
func (s *simStorage) sync() {
	s.MemoryStorage.mu.Lock()
	defer s.MemoryStorage.mu.Unlock()
	s.syncedHS, s.syncedEnts = s.hs, slices.Clone(s.ents)
}

func (s *simStorage) crash() {
	s.MemoryStorage.mu.Lock()
	defer s.MemoryStorage.mu.Unlock()
	s.hs, s.ents = s.syncedHS, slices.Clone(s.syncedEnts)
}

type simNode struct {
	id    uint64
	rn    *RawNode // nil while crashed
	store *simStorage
	// applied is the state machine: every applied entry, with its
	// applied index. The first syncedApplied are durable.
	applied       []Entry
	syncedApplied int
	// writing are the async writes not yet reported durable, in order.
	writing []Entry
	// reads maps a ReadIndex context to the highest commit index known
	// anywhere when the read was requested.
	reads map[string]uint64
}

type simMsg struct {
	m  Message
	at int
}

type sim struct {
	t     *testing.T
	rng   *rand.Rand
	ids   []uint64
	nodes map[uint64]*simNode
	now   int
	queue []simMsg

	// Network faults.
	loss     float64 // probability that a message is lost
	dup      float64 // probability that a message is delivered twice
	maxDelay int     // ticks; delays are uniform in [0, maxDelay]
	cut      map[[2]uint64]bool

	// crashInReady is the probability that a node crashes while handling a
	// Ready, before it persists (and so before anything is sent).
	crashInReady float64
	// allow, when set, drops every message it refuses.
	allow func(Message) bool
	// maxMsgSize is the nodes' MaxSizePerMsg.
	maxMsgSize uint64
	features   features

	// What the invariants are checked against.
	leaders   map[uint64]uint64 // term -> the one leader seen in it
	committed []Entry           // committed[i] is the committed entry at index i+1
	readSeq   int
	stats     struct{ rejects, snapshots, installs int }
	// compactAt is how many entries a node's log may hold past its
	// compaction point before it compacts (0: never).
	compactAt int
	// voters0 is the initial membership (nil: every node).
	voters0 []uint64
	// dropSnaps is how many snapshot streams still fail on purpose.
	dropSnaps int
	// holdSyncs keeps async writes from completing on their own.
	holdSyncs bool
	// staged holds the snapshots in flight, by handle.
	staged map[string][]Entry
}

const simElection = 10

func newSim(t *testing.T, seed uint64, n int) *sim {
	s := &sim{
		t:          t,
		rng:        rand.New(rand.NewPCG(seed, 0x5eed)),
		nodes:      make(map[uint64]*simNode),
		cut:        make(map[[2]uint64]bool),
		leaders:    make(map[uint64]uint64),
		maxMsgSize: 256,
		features:   simFeatures,
		compactAt:  30,
		staged:     make(map[string][]Entry),
	}
	for i := 1; i <= n; i++ {
		s.ids = append(s.ids, uint64(i))
	}
	for _, id := range s.ids {
		s.nodes[id] = &simNode{id: id, store: &simStorage{MemoryStorage: NewMemoryStorage()}}
	}
	return s
}

// startAll starts every node; a scenario may fill their disks first.
func (s *sim) startAll() *sim {
	for _, id := range s.ids {
		s.start(s.nodes[id])
	}
	return s
}

func (s *sim) start(nd *simNode) {
	voters := s.voters0
	if voters == nil {
		voters = s.ids
	}
	// The membership as of the applied index, as a state machine keeps it.
	cs := confAt(voters, nd.applied)
	nd.sync() // what is on disk at start, a scenario's setup included, stays

	rn, err := NewRawNode(&Config{
		ID:            nd.id,
		Peers:         cs.Voters,
		Learners:      cs.Learners,
		ElectionTick:  simElection,
		HeartbeatTick: 1,
		Storage:       nd.store,
		Applied:       uint64(len(nd.applied)),
		MaxSizePerMsg: s.maxMsgSize,
		PreVote:       s.features.preVote,
		CheckQuorum:   s.features.checkQuorum,
		Rand:          rand.New(rand.NewPCG(s.rng.Uint64(), nd.id)),
	})
	if err != nil {
		s.t.Fatalf("start node %d: %v", nd.id, err)
	}
	nd.rn = rn
	nd.reads = make(map[string]uint64)
}

func (s *sim) crash(id uint64) {
	nd := s.nodes[id]
	if nd.rn == nil {
		return
	}
	nd.rn = nil
	nd.store.crash()
	nd.applied = nd.applied[:nd.syncedApplied]
	nd.writing = nil
}

// sync makes everything nd wrote durable.
func (nd *simNode) sync() {
	nd.store.sync()
	nd.syncedApplied = len(nd.applied)
}

// maybeSync completes nd's async writes with probability p, as the
// driver's writer does once a sync covers them.
func (s *sim) maybeSync(nd *simNode, p float64) {
	if nd.rn == nil || len(nd.writing) == 0 || s.holdSyncs || s.rng.Float64() >= p {
		return
	}
	nd.sync()
	for _, e := range nd.writing {
		nd.rn.StableTo(e.Index, e.Term)
	}
	nd.writing = nil
	s.process(nd)
}

func (s *sim) restart(id uint64) {
	if nd := s.nodes[id]; nd.rn == nil {
		s.start(nd)
	}
}

func (s *sim) alive(id uint64) bool { return s.nodes[id].rn != nil }

// isolate cuts every link to and from id; connect restores them.
func (s *sim) isolate(id uint64) {
	for _, o := range s.ids {
		if o != id {
			s.cut[[2]uint64{id, o}] = true
			s.cut[[2]uint64{o, id}] = true
		}
	}
}

func (s *sim) connect(id uint64) {
	for _, o := range s.ids {
		delete(s.cut, [2]uint64{id, o})
		delete(s.cut, [2]uint64{o, id})
	}
}

// partition splits the nodes into the given groups: links inside a group
// work, links across groups are cut.
func (s *sim) partition(groups ...[]uint64) {
	group := make(map[uint64]int)
	for g, ids := range groups {
		for _, id := range ids {
			group[id] = g
		}
	}
	clear(s.cut)
	for _, a := range s.ids {
		for _, b := range s.ids {
			if group[a] != group[b] {
				s.cut[[2]uint64{a, b}] = true
			}
		}
	}
}

func (s *sim) heal() { clear(s.cut) }

func (s *sim) enqueue(m Message) {
	if m.Type == MsgSnap {
		s.sendSnapshot(m)
		return
	}
	if s.cut[[2]uint64{m.From, m.To}] || s.rng.Float64() < s.loss || (s.allow != nil && !s.allow(m)) {
		return
	}
	// The receiver must not share the sender's entry slice.
	m.Entries = slices.Clone(m.Entries)
	copies := 1
	if s.rng.Float64() < s.dup {
		copies = 2
	}
	for range copies {
		s.queue = append(s.queue, simMsg{m: m, at: s.now + s.rng.IntN(s.maxDelay+1)})
	}
}

// sendSnapshot plays the transport's part for MsgSnap: it takes the
// leader's current state machine (a prefix of committed entries), and
// either delivers it to the follower and reports success, or loses it and
// reports failure.
func (s *sim) sendSnapshot(m Message) {
	lead := s.nodes[m.From]
	data := slices.Clone(lead.applied)
	if uint64(len(data)) < m.Index {
		s.t.Fatalf("leader %d named snapshot %d but applied only %d", m.From, m.Index, len(data))
	}
	s.stats.snapshots++
	handle := fmt.Sprintf("snap-%d-%d-%d", m.From, m.To, s.stats.snapshots)
	s.staged[handle] = data
	last := data[len(data)-1]
	status := Message{Type: MsgSnapStatus, From: m.To, To: m.From, Term: m.Term, Index: last.Index}
	delay := s.rng.IntN(s.maxDelay + 1)
	if s.cut[[2]uint64{m.From, m.To}] || s.rng.Float64() < s.loss || s.dropSnaps > 0 {
		status.Reject = true
		s.dropSnaps = max(s.dropSnaps-1, 0)
	} else {
		voters := s.voters0
		if voters == nil {
			voters = s.ids
		}
		m.Index, m.LogTerm, m.Context = last.Index, last.Term, []byte(handle)
		m.ConfState = confAt(voters, data)
		s.queue = append(s.queue, simMsg{m: m, at: s.now + delay})
	}
	s.queue = append(s.queue, simMsg{m: status, at: s.now + delay})
}

// tick advances time by one tick: every live node ticks, then every
// message due is delivered in random order until none is left.
func (s *sim) tick() {
	s.now++
	for _, id := range s.ids {
		if nd := s.nodes[id]; nd.rn != nil {
			s.maybeSync(nd, 0.5)
			nd.rn.Tick()
			s.process(nd)
		}
	}
	s.deliver()
}

// deliver delivers every message due, in random order, until none is
// left, then checks the invariants.
func (s *sim) deliver() {
	for range 1000 {
		var due []simMsg
		rest := s.queue[:0]
		for _, qm := range s.queue {
			if qm.at <= s.now {
				due = append(due, qm)
			} else {
				rest = append(rest, qm)
			}
		}
		s.queue = rest
		if len(due) == 0 {
			break
		}
		s.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
		for _, qm := range due {
			nd := s.nodes[qm.m.To]
			local := qm.m.Type == MsgSnapStatus // from the leader's own transport
			if nd.rn == nil || (!local && s.cut[[2]uint64{qm.m.From, qm.m.To}]) {
				continue
			}
			if qm.m.Type == MsgAppResp && qm.m.Reject {
				s.stats.rejects++
			}
			if err := nd.rn.Step(qm.m); err != nil {
				s.t.Fatalf("node %d step %v: %v", nd.id, qm.m.Type, err)
			}
			s.process(nd)
			s.maybeSync(nd, 0.2)
		}
	}
	s.checkInvariants()
}

func (s *sim) ticks(n int) {
	for range n {
		s.tick()
	}
}

// process handles every Ready of nd the way the driver does.
func (s *sim) process(nd *simNode) {
	for nd.rn != nil && nd.rn.HasReady() {
		prevHard := nd.rn.prevHard
		rd := nd.rn.Ready()
		// As the driver does, a leader sends before its own write when no
		// term or vote change is pending; a crash may then come between.
		sendFirst := nd.rn.r.role == Leader && (rd.HardState.IsEmpty() ||
			(rd.HardState.Term == prevHard.Term && rd.HardState.Vote == prevHard.Vote))
		if sendFirst {
			for _, m := range rd.Messages {
				s.enqueue(m)
			}
		}
		if s.crashInReady > 0 && s.rng.Float64() < s.crashInReady {
			s.crash(nd.id)
			return
		}
		if rs := rd.Snapshot; rs != nil {
			data, ok := s.staged[string(rs.Handle)]
			if !ok || uint64(len(data)) != rs.Meta.Index {
				s.t.Fatalf("node %d: snapshot %+v with unknown data %q", nd.id, rs.Meta, rs.Handle)
			}
			for _, e := range data {
				s.checkCommitted(nd.id, e)
			}
			nd.applied = slices.Clone(data)
			nd.store.ApplySnapshot(rs.Meta)
			nd.sync() // an ingested snapshot is durable
			s.stats.installs++
		}
		// As the driver does, a leader that sends first writes its entries
		// asynchronously when the driver's store can.
		async := s.features.asyncWrites && sendFirst && rd.Snapshot == nil && len(rd.Entries) > 0
		if err := nd.store.Save(rd.HardState, rd.Entries, rd.MustSync && !async); err != nil {
			s.t.Fatalf("node %d save: %v", nd.id, err)
		}
		if rd.MustSync && !async {
			nd.sync()
		}
		if async {
			nd.writing = append(nd.writing, rd.Entries[len(rd.Entries)-1])
			rd.Entries = nil
		}
		if !sendFirst {
			for _, m := range rd.Messages {
				s.enqueue(m)
			}
		}
		for _, e := range rd.CommittedEntries {
			if want := uint64(len(nd.applied)) + 1; e.Index != want {
				s.t.Fatalf("node %d applied entry %d, want %d: skipped or applied twice", nd.id, e.Index, want)
			}
			s.checkCommitted(nd.id, e)
			nd.applied = append(nd.applied, e)
		}
		if s.compactAt > 0 {
			// Compact as the driver does: keep a few entries for followers
			// that are only slightly behind.
			first, _ := nd.store.FirstIndex()
			if applied := uint64(len(nd.applied)); applied+1-first > uint64(s.compactAt) {
				if err := nd.store.Compact(applied - 5); err != nil {
					s.t.Fatalf("node %d compact: %v", nd.id, err)
				}
			}
		}
		for _, rs := range rd.ReadStates {
			atRequest, ok := nd.reads[string(rs.RequestCtx)]
			if !ok {
				s.t.Fatalf("node %d: read state for unknown request %q", nd.id, rs.RequestCtx)
			}
			delete(nd.reads, string(rs.RequestCtx))
			if rs.Index < atRequest {
				s.t.Fatalf("node %d: read index %d is below the commit index %d known when the read began: a stale read", nd.id, rs.Index, atRequest)
			}
		}
		nd.rn.Advance(rd)
		s.checkLeader(nd)
	}
}

// checkLeader enforces election safety: at most one leader per term.
func (s *sim) checkLeader(nd *simNode) {
	st := nd.rn.r
	if st.role != Leader {
		return
	}
	if other, ok := s.leaders[st.term]; ok && other != nd.id {
		s.t.Fatalf("two leaders in term %d: %d and %d", st.term, other, nd.id)
	}
	if _, ok := s.leaders[st.term]; !ok {
		s.leaders[st.term] = nd.id
		// Leader completeness: a new leader holds every committed entry.
		// (Compacted entries are in its state machine, checked on apply.)
		for _, e := range s.committed {
			if e.Index+1 < st.log.firstIndex() {
				continue
			}
			if !st.log.matchTerm(e.Index, e.Term) {
				s.t.Fatalf("leader %d of term %d lacks committed entry %d (term %d)", nd.id, st.term, e.Index, e.Term)
			}
		}
	}
}

// checkCommitted records e as committed, or checks it against the entry
// already committed at its index.
func (s *sim) checkCommitted(id uint64, e Entry) {
	i := int(e.Index) - 1
	switch {
	case i < len(s.committed):
		c := s.committed[i]
		if c.Term != e.Term || !bytes.Equal(c.Data, e.Data) {
			s.t.Fatalf("node %d committed entry %d term %d %q; it was committed as term %d %q", id, e.Index, e.Term, e.Data, c.Term, c.Data)
		}
	case i == len(s.committed):
		s.committed = append(s.committed, e)
	default:
		s.t.Fatalf("node %d committed entry %d past the known committed prefix %d", id, e.Index, len(s.committed))
	}
}

// logOf returns a live node's log, persisted and not, from its first
// index (after the compaction point).
func (s *sim) logOf(nd *simNode) []Entry {
	l := nd.rn.r.log
	ents, err := l.slice(l.firstIndex(), l.lastIndex()+1, ^uint64(0))
	if err != nil {
		s.t.Fatalf("node %d log: %v", nd.id, err)
	}
	return ents
}

func (s *sim) checkInvariants() {
	logs := make(map[uint64][]Entry)
	for _, id := range s.ids {
		nd := s.nodes[id]
		// Durability: what a node applied and has not compacted is in its
		// persisted log, as committed, whether or not it is running.
		first, _ := nd.store.FirstIndex()
		if uint64(len(nd.applied)) >= first {
			stored, err := nd.store.Entries(first, uint64(len(nd.applied))+1, ^uint64(0))
			if err != nil {
				s.t.Fatalf("node %d has applied %d entries but its disk lost some: %v", id, len(nd.applied), err)
			}
			for _, e := range stored {
				s.checkCommitted(id, e)
			}
		}
		if nd.rn == nil {
			continue
		}
		logs[id] = s.logOf(nd)
		// The committed membership a node acts on is the one the
		// committed log defines.
		if r := nd.rn.r; int(r.confBaseIndex) <= len(s.committed) {
			voters := s.voters0
			if voters == nil {
				voters = s.ids
			}
			want := confAt(voters, s.committed[:r.confBaseIndex])
			if got := r.confBase.state(); !slices.Equal(got.Voters, want.Voters) || !slices.Equal(got.Learners, want.Learners) {
				s.t.Fatalf("node %d's membership as of %d is %+v, the committed log says %+v", id, r.confBaseIndex, got, want)
			}
		}
		// Every entry up to the node's commit index is the committed one.
		for _, e := range logs[id] {
			if e.Index <= nd.rn.r.log.committed {
				s.checkCommitted(id, e)
			}
		}
	}
	// Log matching: if two logs hold an entry with the same index and term,
	// they are identical up to it (as far as both still hold entries).
	for _, a := range s.ids {
		for _, b := range s.ids {
			la, lb := logs[a], logs[b]
			if a >= b || len(la) == 0 || len(lb) == 0 {
				continue
			}
			lo := max(la[0].Index, lb[0].Index)
			hi := min(la[len(la)-1].Index, lb[len(lb)-1].Index)
			at := func(l []Entry, i uint64) Entry { return l[i-l[0].Index] }
			k := uint64(0)
			for i := hi; i >= lo && i > 0; i-- {
				if at(la, i).Term == at(lb, i).Term {
					k = i
					break
				}
			}
			for i := lo; k > 0 && i <= k; i++ {
				ea, eb := at(la, i), at(lb, i)
				if ea.Term != eb.Term || !bytes.Equal(ea.Data, eb.Data) {
					s.t.Fatalf("log matching broken: nodes %d and %d agree on entry %d (term %d) but differ at %d", a, b, k, at(la, k).Term, i)
				}
			}
		}
	}
}

// leader returns the live leader with the highest term that is linked to
// a quorum, or None.
func (s *sim) leader() uint64 {
	var lead, term uint64
	for _, id := range s.ids {
		linked := 0
		for _, o := range s.ids {
			if o == id || !s.cut[[2]uint64{id, o}] {
				linked++
			}
		}
		if linked < len(s.ids)/2+1 {
			continue
		}
		if nd := s.nodes[id]; nd.rn != nil && nd.rn.r.role == Leader && nd.rn.r.term >= term {
			lead, term = id, nd.rn.r.term
		}
	}
	return lead
}

// waitLeader ticks until a leader exists that a quorum of live, connected
// nodes follows, and returns it.
func (s *sim) waitLeader(maxTicks int) uint64 {
	s.t.Helper()
	for range maxTicks {
		s.tick()
		if l := s.leader(); l != None {
			term := s.nodes[l].rn.r.term
			follow := 0
			for _, id := range s.ids {
				nd := s.nodes[id]
				linked := id == l || (!s.cut[[2]uint64{l, id}] && !s.cut[[2]uint64{id, l}])
				if nd.rn != nil && linked && nd.rn.r.term == term && nd.rn.r.lead == l {
					follow++
				}
			}
			if follow >= len(s.ids)/2+1 {
				return l
			}
		}
	}
	s.t.Fatalf("no leader within %d ticks (now %d):\n%s", maxTicks, s.now, s.describe())
	return None
}

// propose proposes data at the current leader, if any.
func (s *sim) propose(data string) (uint64, bool) {
	l := s.leader()
	if l == None {
		return 0, false
	}
	nd := s.nodes[l]
	idx, _, err := nd.rn.Propose([]byte(data))
	if err != nil {
		return 0, false
	}
	s.process(nd)
	return idx, true
}

// appliedBy counts live nodes that applied an entry with data.
func (s *sim) appliedBy(data string) int {
	n := 0
	for _, id := range s.ids {
		nd := s.nodes[id]
		for _, e := range nd.applied {
			if string(e.Data) == data {
				n++
				break
			}
		}
	}
	return n
}

// one proposes data until it is applied by at least want nodes, as the
// classic lab's one() does: it retries through leader changes.
func (s *sim) one(data string, want int, maxTicks int) {
	s.t.Helper()
	deadline := s.now + maxTicks
	for s.now < deadline {
		if _, ok := s.propose(data); ok {
			for range 3 * simElection {
				s.tick()
				if s.appliedBy(data) >= want {
					return
				}
			}
		} else {
			s.tick()
		}
		if s.appliedBy(data) >= want {
			return
		}
	}
	s.t.Fatalf("%q not applied by %d nodes within %d ticks (by %d)", data, want, maxTicks, s.appliedBy(data))
}

// converge heals everything, restarts crashed nodes and checks that all
// nodes end with the same applied log, which holds every entry committed.
func (s *sim) converge() {
	s.t.Helper()
	s.heal()
	s.loss, s.dup, s.crashInReady = 0, 0, 0
	for _, id := range s.ids {
		s.restart(id)
	}
	s.one("converge", len(s.ids), 50*simElection)
	s.ticks(5 * simElection)
	want := s.nodes[s.ids[0]].applied
	for _, id := range s.ids[1:] {
		got := s.nodes[id].applied
		if len(got) != len(want) {
			s.t.Fatalf("after healing node %d applied %d entries, node %d applied %d", id, len(got), s.ids[0], len(want))
		}
	}
	if len(want) < len(s.committed) {
		s.t.Fatalf("after healing nodes applied %d entries but %d were committed", len(want), len(s.committed))
	}
}

// describe prints every node's state, for failure messages.
func (s *sim) describe() string {
	var b bytes.Buffer
	for _, id := range s.ids {
		nd := s.nodes[id]
		if nd.rn == nil {
			fmt.Fprintf(&b, "  node %d: down, applied %d\n", id, len(nd.applied))
			continue
		}
		r := nd.rn.r
		fmt.Fprintf(&b, "  node %d: %s term %d vote %d lead %d last %d/%d commit %d applied %d elapsed %d/%d\n",
			id, r.role, r.term, r.vote, r.lead, r.log.lastIndex(), r.log.lastTerm(), r.log.committed,
			len(nd.applied), r.electionElapsed, r.randomizedElectionTimeout)
	}
	fmt.Fprintf(&b, "  cut links: %v\n", s.cut)
	return b.String()
}

// confAt replays the membership changes among applied entries over the
// initial voters: the membership a state machine holds at that point.
func confAt(voters []uint64, applied []Entry) ConfState {
	m := newMembership(ConfState{Voters: voters})
	for _, e := range applied {
		if e.Type == EntryConfChange {
			cc, err := UnmarshalConfChange(e.Data)
			if err != nil {
				panic(err)
			}
			m.apply(cc)
		}
	}
	return m.state()
}
