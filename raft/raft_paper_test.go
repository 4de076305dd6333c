package raft

import (
	"testing"
)

// Tests named after the Raft paper (Ongaro and Ousterhout, "In Search of an
// Understandable Consensus Algorithm", extended version) and the section
// whose rule they check. They script message delivery by hand.

// fill writes terms[i] as the term of entry i+1 on nd's disk, and hard
// state term.
func fill(nd *simNode, term uint64, terms ...uint64) {
	var ents []Entry
	for i, t := range terms {
		ents = append(ents, Entry{Index: uint64(i + 1), Term: t, Data: []byte("old")})
	}
	if err := nd.store.Save(HardState{Term: term}, ents, true); err != nil {
		panic(err)
	}
}

// TestLeaderOnlyCommitsCurrentTermEntries5_4_2 plays the paper's figure 8:
// a leader that has replicated an entry of an earlier term on a majority
// must not count it as committed, because a node holding a later term's
// entry at the same index can still be elected and overwrite it.
func TestLeaderOnlyCommitsCurrentTermEntries5_4_2(t *testing.T) {
	s := newSim(t, 1, 5)
	s.maxMsgSize = 1          // one entry per append, so index 2 travels alone
	fill(s.nodes[1], 3, 1, 2) // S1 holds 2@2
	fill(s.nodes[2], 3, 1)
	fill(s.nodes[3], 3, 1)
	fill(s.nodes[4], 3, 1)
	fill(s.nodes[5], 3, 1, 3) // S5 was leader of term 3 and holds 2@3
	s.startAll()

	// (c) S1 is elected in term 4 by S2, S3 and S4, and replicates 2@2 to
	// S2 and S3 but nothing of term 4.
	s.partition([]uint64{1, 2, 3, 4}, []uint64{5})
	s.allow = func(m Message) bool {
		if m.Type == MsgApp {
			// The first probe (rejected: S2 and S3 lack index 2) and
			// then index 2 alone; never index 3.
			lacks2 := s.nodes[m.To].rn.r.log.lastIndex() < 2
			return m.Index < 2 && m.Entries[len(m.Entries)-1].Index == 2 || m.Index == 2 && lacks2
		}
		return m.From != 4 && m.To != 4 || m.Type == MsgVote || m.Type == MsgVoteResp
	}
	s.nodes[1].rn.Campaign()
	s.process(s.nodes[1])
	s.deliver()
	if r := s.nodes[1].rn.r; r.role != Leader || r.term != 4 {
		t.Fatalf("S1 is %s of term %d, want leader of term 4", r.role, r.term)
	}
	for _, id := range []uint64{2, 3} {
		if !s.nodes[id].rn.r.log.matchTerm(2, 2) {
			t.Fatalf("S%d did not receive 2@2:\n%s", id, s.describe())
		}
	}
	if c := s.nodes[1].rn.r.log.committed; c >= 2 {
		t.Fatalf("S1 committed index %d, whose entry 2 is of term 2, on the strength of replicas alone", c)
	}

	// (d) S1 crashes; S5 is elected with S2, S3 and S4 and overwrites
	// index 2 with its own 2@3, which then commits.
	s.crash(1)
	s.allow = nil
	s.heal()
	s.isolate(1)
	s.nodes[5].rn.Campaign()
	s.process(s.nodes[5])
	s.deliver()
	if s.nodes[5].rn.r.role != Leader {
		s.nodes[5].rn.Campaign() // the first try was at a term already voted in
		s.process(s.nodes[5])
		s.deliver()
	}
	if r := s.nodes[5].rn.r; r.role != Leader {
		t.Fatalf("S5 is %s of term %d, want leader:\n%s", r.role, r.term, s.describe())
	}
	s.ticks(3)
	for _, id := range []uint64{2, 3, 4, 5} {
		if !s.nodes[id].rn.r.log.matchTerm(2, 3) || s.nodes[id].rn.r.log.committed < 3 {
			t.Fatalf("S%d did not commit S5's log:\n%s", id, s.describe())
		}
	}
}

// TestVoteOncePerTerm5_2: a node grants at most one vote per term, even
// after a restart, because the vote is persisted before the answer is sent.
func TestVoteOncePerTerm5_2(t *testing.T) {
	s := newSim(t, 1, 3).startAll()
	s.allow = func(m Message) bool { return m.Type == MsgVote || m.Type == MsgVoteResp }
	s.partition([]uint64{1, 3}, []uint64{2})
	s.nodes[1].rn.Campaign()
	s.process(s.nodes[1])
	s.deliver()
	if s.nodes[3].rn.r.vote != 1 {
		t.Fatalf("S3 voted for %d, want 1", s.nodes[3].rn.r.vote)
	}
	// S3 restarts from its disk and is asked by S2 in the same term.
	s.crash(3)
	s.restart(3)
	s.partition([]uint64{2, 3}, []uint64{1})
	r2 := s.nodes[2].rn.r
	s.nodes[2].rn.Campaign() // S2, at term 0, campaigns in S1's term 1
	s.process(s.nodes[2])
	s.deliver()
	if r2.term != 1 {
		t.Fatalf("S2 campaigned in term %d, want 1", r2.term)
	}
	if r2.role == Leader {
		t.Fatal("S3 voted twice in term 1: S1 and S2 both won it")
	}
	if r3 := s.nodes[3].rn.r; r3.term != 1 || r3.vote != 1 {
		t.Fatalf("S3 is at term %d with vote %d after restart, want term 1 vote 1\n%s", r3.term, r3.vote, s.describe())
	}
}

// TestElectionRestriction5_4_1: a node refuses its vote to a candidate
// whose log is less up to date than its own.
func TestElectionRestriction5_4_1(t *testing.T) {
	s := newSim(t, 1, 3)
	fill(s.nodes[1], 2, 1)
	fill(s.nodes[2], 2, 1, 2)
	fill(s.nodes[3], 2, 1, 2)
	s.startAll()
	s.nodes[1].rn.Campaign()
	s.process(s.nodes[1])
	s.deliver()
	if r := s.nodes[1].rn.r; r.role == Leader {
		t.Fatal("S1, missing entry 2@2, was elected")
	}
	for _, id := range []uint64{2, 3} {
		if v := s.nodes[id].rn.r.vote; v == 1 {
			t.Fatalf("S%d voted for a candidate with a shorter log", id)
		}
	}
}
