package raft

import (
	"fmt"
	"slices"
	"testing"
)

// Scenarios after the classic Raft lab suite, each run over many seeds in
// the simulation of sim_test.go, with every invariant checked after every
// tick.

func TestInitialElection(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		term := s.nodes[l].rn.r.term
		// With no failures the leader keeps its term.
		s.ticks(20 * simElection)
		if now := s.leader(); now != l || s.nodes[l].rn.r.term != term {
			t.Fatalf("leader changed without failures: %d term %d -> %d term %d", l, term, now, s.nodes[now].rn.r.term)
		}
	})
}

func TestReElection(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.maxDelay = 1
		l1 := s.waitLeader(30 * simElection)
		// The leader is cut off: the others elect a new one.
		s.isolate(l1)
		l2 := s.waitLeader(30 * simElection)
		if l2 == l1 {
			t.Fatalf("isolated leader %d is still the one followed", l1)
		}
		// The old leader rejoins: one leader remains.
		s.connect(l1)
		s.waitLeader(30 * simElection)
		// No quorum: no leader is followed by a majority.
		l3 := s.leader()
		var other uint64
		for _, id := range s.ids {
			if id != l3 {
				other = id
				break
			}
		}
		s.isolate(l3)
		s.isolate(other)
		s.ticks(10 * simElection)
		for _, id := range s.ids {
			if r := s.nodes[id].rn.r; r.role == Leader && r.term > s.nodes[l3].rn.r.term {
				t.Fatalf("node %d became leader of term %d without a quorum", id, r.term)
			}
		}
		// Quorum restored: a leader again.
		s.connect(other)
		s.waitLeader(30 * simElection)
		s.connect(l3)
		s.waitLeader(30 * simElection)
	})
}

func TestManyElections(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 7).startAll()
		s.maxDelay = 1
		s.waitLeader(30 * simElection)
		for range 7 {
			// Cut three random nodes off: four remain, a quorum of seven.
			s.heal()
			perm := s.rng.Perm(7)
			for _, i := range perm[:3] {
				s.isolate(s.ids[i])
			}
			s.waitLeader(40 * simElection)
		}
		s.heal()
		s.waitLeader(40 * simElection)
	})
}

func TestBasicAgree(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 5).startAll()
		s.maxDelay = 1
		s.waitLeader(30 * simElection)
		for i := range 5 {
			data := fmt.Sprintf("cmd%d", i)
			idx, ok := s.propose(data)
			if !ok {
				t.Fatal("no leader to propose to")
			}
			for k := 0; k < 20 && s.appliedBy(data) < 5; k++ {
				s.tick()
			}
			if s.appliedBy(data) != 5 {
				t.Fatalf("%q (index %d) applied by %d of 5 nodes", data, idx, s.appliedBy(data))
			}
		}
	})
}

func TestFailAgree(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		s.one("a", 3, 10*simElection)
		follower := s.ids[0]
		if follower == l {
			follower = s.ids[1]
		}
		s.isolate(follower)
		// The other two agree without it.
		for i := range 5 {
			s.one(fmt.Sprintf("b%d", i), 2, 10*simElection)
		}
		s.connect(follower)
		// It catches up with everything once back.
		s.one("c", 3, 20*simElection)
		for i := range 5 {
			if s.appliedBy(fmt.Sprintf("b%d", i)) != 3 {
				t.Fatalf("rejoined follower %d lacks b%d", follower, i)
			}
		}
	})
}

func TestFailNoAgree(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 5).startAll()
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		s.one("a", 5, 10*simElection)
		// Three of five followers gone: the leader cannot commit.
		cut := 0
		for _, id := range s.ids {
			if id != l && cut < 3 {
				s.isolate(id)
				cut++
			}
		}
		idx, _, err := s.nodes[l].rn.Propose([]byte("lost"))
		if err != nil {
			t.Fatalf("leader refused a proposal: %v", err)
		}
		s.process(s.nodes[l])
		s.ticks(5 * simElection)
		if n := s.appliedBy("lost"); n != 0 {
			t.Fatalf("entry %d applied by %d nodes without a quorum", idx, n)
		}
		s.heal()
		s.one("b", 5, 30*simElection)
	})
}

func TestConcurrentStarts(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		nd := s.nodes[l]
		var idxs []uint64
		for i := range 50 {
			idx, _, err := nd.rn.Propose(fmt.Appendf(nil, "c%d", i))
			if err != nil {
				t.Fatal(err)
			}
			idxs = append(idxs, idx)
		}
		for i := 1; i < len(idxs); i++ {
			if idxs[i] != idxs[i-1]+1 {
				t.Fatalf("proposals got indexes %v", idxs)
			}
		}
		s.process(nd)
		s.ticks(10)
		for i := range 50 {
			if n := s.appliedBy(fmt.Sprintf("c%d", i)); n != 3 {
				t.Fatalf("c%d applied by %d nodes", i, n)
			}
		}
	})
}

func TestRejoin(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.maxDelay = 1
		s.one("101", 3, 10*simElection)
		l1 := s.leader()
		// The leader is cut off and takes proposals it cannot commit.
		s.isolate(l1)
		for _, d := range []string{"102", "103", "104"} {
			if _, _, err := s.nodes[l1].rn.Propose([]byte(d)); err != nil {
				t.Fatal(err)
			}
			s.process(s.nodes[l1])
		}
		s.waitLeader(30 * simElection)
		s.one("103b", 2, 10*simElection)
		l2 := s.leader()
		s.isolate(l2)
		s.connect(l1)
		s.one("104b", 2, 20*simElection)
		s.heal()
		s.one("105", 3, 20*simElection)
		if n := s.appliedBy("102"); n != 0 {
			t.Fatalf("uncommitted entry of a cut-off leader applied by %d nodes", n)
		}
	})
}

// TestBackup has a follower catch up across many conflicting entries of
// other terms; the term hint lets the leader skip a whole term per round
// trip instead of one entry.
func TestBackup(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 5).startAll()
		s.maxDelay = 1
		s.one("start", 5, 10*simElection)
		l1 := s.leader()
		// The leader and one follower are cut off with many uncommitted
		// entries.
		var f1 uint64
		for _, id := range s.ids {
			if id != l1 {
				f1 = id
				break
			}
		}
		var rest []uint64
		for _, id := range s.ids {
			if id != l1 && id != f1 {
				rest = append(rest, id)
			}
		}
		s.partition([]uint64{l1, f1}, rest)
		for i := range 50 {
			if _, _, err := s.nodes[l1].rn.Propose(fmt.Appendf(nil, "lost%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		s.process(s.nodes[l1])
		s.ticks(3)
		// The other three elect a leader and commit many entries.
		s.waitLeader(40 * simElection)
		for i := range 50 {
			if _, ok := s.propose(fmt.Sprintf("kept%d", i)); !ok {
				t.Fatal("no leader in the majority")
			}
		}
		s.ticks(10)
		if n := s.appliedBy("kept49"); n != 3 {
			t.Fatalf("kept49 applied by %d nodes of the majority", n)
		}
		// Everyone back: the two stragglers discard their 50 entries.
		s.stats.rejects = 0
		s.heal()
		s.one("end", 5, 30*simElection)
		for i := range 50 {
			if n := s.appliedBy(fmt.Sprintf("lost%d", i)); n != 0 {
				t.Fatalf("lost%d applied by %d nodes", i, n)
			}
			if n := s.appliedBy(fmt.Sprintf("kept%d", i)); n != 5 {
				t.Fatalf("kept%d applied by %d nodes", i, n)
			}
		}
		// One rejection per straggler per conflicting term, not per entry.
		if s.stats.rejects > 20 {
			t.Fatalf("catching up took %d rejected appends; the term hint should need a handful", s.stats.rejects)
		}
	})
}

func TestPersist(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.maxDelay = 1
		s.one("11", 3, 10*simElection)
		// Every node crashes and restarts.
		for _, id := range s.ids {
			s.crash(id)
		}
		for _, id := range s.ids {
			s.restart(id)
		}
		s.one("12", 3, 20*simElection)
		// The leader crashes and comes back.
		l := s.leader()
		s.crash(l)
		s.one("13", 2, 20*simElection)
		s.restart(l)
		s.one("14", 3, 20*simElection)
		// A follower crashes, misses entries, and comes back.
		l = s.leader()
		f := s.ids[0]
		if f == l {
			f = s.ids[1]
		}
		s.crash(f)
		s.one("15", 2, 20*simElection)
		s.restart(f)
		s.one("16", 3, 20*simElection)
		for _, d := range []string{"11", "12", "13", "14", "15", "16"} {
			if n := s.appliedBy(d); n != 3 {
				t.Fatalf("%q applied by %d nodes after restarts", d, n)
			}
		}
	})
}

// TestFigure8Unreliable crashes leaders and followers at random, partitions
// the network and loses, delays, reorders and duplicates messages, while
// proposals keep coming; then everything heals and must agree.
func TestFigure8Unreliable(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 5).startAll()
		s.loss, s.dup, s.maxDelay = 0.1, 0.05, 3
		s.one("start", 1, 30*simElection)
		for i := range 200 {
			if s.rng.IntN(10) < 8 {
				s.propose(fmt.Sprintf("x%d", i))
			}
			s.ticks(1 + s.rng.IntN(simElection/2))
			if l := s.leader(); l != None && s.rng.IntN(4) == 0 {
				s.crash(l)
			}
			// Keep at least a quorum alive most of the time.
			up := 0
			for _, id := range s.ids {
				if s.alive(id) {
					up++
				}
			}
			if up < 3 {
				s.restart(s.ids[s.rng.IntN(len(s.ids))])
			}
		}
		s.converge()
	})
}

// TestChurn mixes every fault: crashes in the middle of handling a Ready,
// restarts, partitions into random halves, loss, duplication and reorder.
func TestChurn(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 5).startAll()
		s.loss, s.dup, s.maxDelay, s.crashInReady = 0.05, 0.05, 4, 0.005
		for i := range 300 {
			switch s.rng.IntN(10) {
			case 0:
				s.crash(s.ids[s.rng.IntN(len(s.ids))])
			case 1:
				s.restart(s.ids[s.rng.IntN(len(s.ids))])
			case 2:
				perm := s.rng.Perm(len(s.ids))
				var a, b []uint64
				for j, p := range perm {
					if j < 1+s.rng.IntN(len(s.ids)-1) {
						a = append(a, s.ids[p])
					} else {
						b = append(b, s.ids[p])
					}
				}
				s.partition(a, b)
			case 3:
				s.heal()
			default:
				s.propose(fmt.Sprintf("c%d", i))
			}
			s.ticks(1 + s.rng.IntN(3))
		}
		s.converge()
	})
}

// TestReadIndexSafety checks, under faults, that every confirmed read
// index covers everything committed before the read began, and that most
// reads asked of a leader are confirmed.
func TestReadIndexSafety(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.loss, s.maxDelay = 0.05, 2
		asked := 0
		for i := range 300 {
			s.propose(fmt.Sprintf("w%d", i))
			for _, id := range s.ids {
				nd := s.nodes[id]
				if nd.rn == nil {
					continue
				}
				s.readSeq++
				ctx := fmt.Sprintf("r%d", s.readSeq)
				if nd.rn.ReadIndex([]byte(ctx)) == nil {
					nd.reads[ctx] = uint64(len(s.committed))
					asked++
					s.process(nd)
				}
			}
			switch s.rng.IntN(20) {
			case 0:
				if l := s.leader(); l != None {
					s.isolate(l)
				}
			case 1:
				s.heal()
			}
			s.ticks(1)
		}
		s.heal()
		s.ticks(5 * simElection)
		// A read still waiting was dropped by a leader that lost its
		// leadership (and so its pending reads).
		confirmed := asked
		for _, nd := range s.nodes {
			confirmed -= len(nd.reads)
		}
		t.Logf("%d of %d reads confirmed", confirmed, asked)
		if confirmed < asked/5 {
			t.Errorf("only %d of %d reads were confirmed", confirmed, asked)
		}
	})
}

// readProbe drives a leader's reads by hand: from its creation on, the
// sim's messages are captured instead of delivered.
type readProbe struct {
	t    *testing.T
	s    *sim
	nd   *simNode
	term uint64
	sent []Message
}

func newReadProbe(t *testing.T, s *sim, leader uint64) *readProbe {
	p := &readProbe{t: t, s: s, nd: s.nodes[leader], term: s.nodes[leader].rn.r.term}
	s.allow = func(m Message) bool { p.sent = append(p.sent, m); return false }
	return p
}

// read asks a ReadIndex of the leader.
func (p *readProbe) read(ctx string) {
	p.t.Helper()
	if err := p.nd.rn.ReadIndex([]byte(ctx)); err != nil {
		p.t.Fatal(err)
	}
	p.nd.reads[ctx] = uint64(len(p.s.committed))
	p.s.process(p.nd)
}

// answer hands the leader from's answer to a heartbeat of ctx ("" for
// one with no read).
func (p *readProbe) answer(from uint64, ctx string) {
	p.t.Helper()
	if err := p.nd.rn.Step(Message{Type: MsgHeartbeatResp, From: from, To: p.nd.id, Term: p.term, Context: []byte(ctx)}); err != nil {
		p.t.Fatal(err)
	}
	p.s.process(p.nd)
}

// asked returns, sorted, who was sent a heartbeat of ctx since the last
// call, and forgets what was sent.
func (p *readProbe) asked(ctx string) []uint64 {
	var to []uint64
	for _, m := range p.sent {
		if m.Type == MsgHeartbeat && string(m.Context) == ctx {
			to = append(to, m.To)
		}
	}
	slices.Sort(to)
	p.sent = nil
	return to
}

func (p *readProbe) confirmed(ctx string) bool {
	_, waiting := p.nd.reads[ctx]
	return !waiting
}

// others are the voters of ids other than the leader.
func others(ids []uint64, leader uint64) []uint64 {
	var o []uint64
	for _, id := range ids {
		if id != leader {
			o = append(o, id)
		}
	}
	return o
}

// TestReadAsksJustAQuorum: a read's heartbeat goes to just enough voters
// for a quorum, those heard from last, and never to a learner. Should they
// not answer, the next heartbeat asks every follower.
func TestReadAsksJustAQuorum(t *testing.T) {
	s := newSim(t, 1, 6)
	s.voters0 = []uint64{1, 2, 3, 4, 5}
	s.maxDelay = 1
	s.startAll()
	s.one("a", 5, 30*simElection)
	s.changeConf(ConfChange{Type: ConfAddLearner, NodeID: 6}, 50*simElection)
	s.one("b", 6, 30*simElection)
	l := s.leader()
	o := others(s.voters0, l)
	p := newReadProbe(t, s, l)

	// o[0] is heard from last, o[1] just before.
	for i := len(o) - 1; i >= 0; i-- {
		p.answer(o[i], "")
	}
	p.sent = nil
	p.read("r1")
	want := slices.Sorted(slices.Values(o[:2]))
	if got := p.asked("r1"); !slices.Equal(got, want) {
		t.Fatalf("a read asked %v, want the two voters heard from last %v", got, want)
	}
	p.answer(o[0], "r1")
	if p.confirmed("r1") {
		t.Fatal("confirmed by two of five voters")
	}
	p.answer(o[1], "r1")
	if !p.confirmed("r1") {
		t.Fatal("not confirmed by three of five voters")
	}

	// The two asked do not answer: the next heartbeat asks everyone, and
	// two others confirm the read.
	p.read("r2")
	if got := p.asked("r2"); !slices.Equal(got, want) {
		t.Fatalf("a read asked %v, want %v", got, want)
	}
	for p.nd.rn.r.heartbeatElapsed != 0 || len(p.sent) == 0 {
		p.nd.rn.Tick()
		s.process(p.nd)
	}
	if got, all := p.asked("r2"), []uint64{o[0], o[1], o[2], o[3], 6}; !slices.Equal(got, slices.Sorted(slices.Values(all))) {
		t.Fatalf("the heartbeat after an unanswered read asked %v, want every follower %v", got, all)
	}
	p.answer(o[2], "r2")
	p.answer(o[3], "r2")
	if !p.confirmed("r2") {
		t.Fatal("not confirmed by the answers to the heartbeat")
	}
}

// TestLeaderRemovingItselfReadsWithOthers: a leader whose own removal is in
// its log is no longer a voter, so its own answer counts for nothing: a
// read needs, and asks, a quorum of the remaining voters.
func TestLeaderRemovingItselfReadsWithOthers(t *testing.T) {
	s := newSim(t, 1, 3)
	s.maxDelay = 1
	s.startAll()
	s.one("a", 3, 30*simElection)
	l := s.leader()
	o := others(s.ids, l)
	p := newReadProbe(t, s, l)
	if _, _, err := p.nd.rn.ProposeConfChange(ConfChange{Type: ConfRemove, NodeID: l}); err != nil {
		t.Fatal(err)
	}
	s.process(p.nd)
	p.read("r1")
	if got := p.asked("r1"); !slices.Equal(got, o) {
		t.Fatalf("a read asked %v, want both remaining voters %v", got, o)
	}
	p.answer(o[0], "r1")
	if p.confirmed("r1") {
		t.Fatal("confirmed by the leader leaving the cluster and one of the two voters that stay")
	}
	p.answer(o[1], "r1")
	if !p.confirmed("r1") {
		t.Fatal("not confirmed by both voters that stay")
	}
}
