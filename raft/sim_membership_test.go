package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// Scenarios for membership changes, one node at a time: a node joins as a
// learner, is promoted once caught up, and nodes (the leader among them)
// are removed, under loss and partitions.

// changeConf proposes cc at the leader until it is committed there.
func (s *sim) changeConf(cc ConfChange, maxTicks int) {
	s.t.Helper()
	for range maxTicks {
		if l := s.leader(); l != None {
			nd := s.nodes[l]
			idx, term, err := nd.rn.ProposeConfChange(cc)
			if err == nil {
				s.process(nd)
				for range 5 * simElection {
					s.tick()
					if s.isCommitted(idx, term) {
						return
					}
				}
				continue
			}
			if !errors.Is(err, ErrConfChangePending) && !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrTransferring) {
				// Already applied by an earlier try whose answer we missed.
				if cs := nd.rn.Status().ConfState; inConf(cs, cc) {
					return
				}
				s.t.Fatalf("propose %v %d: %v", cc.Type, cc.NodeID, err)
			}
		}
		s.tick()
	}
	s.t.Fatalf("%v of node %d not committed within %d ticks:\n%s", cc.Type, cc.NodeID, maxTicks, s.describe())
}

func inConf(cs ConfState, cc ConfChange) bool {
	switch cc.Type {
	case ConfAddLearner:
		return slices.Contains(cs.Learners, cc.NodeID) || slices.Contains(cs.Voters, cc.NodeID)
	case ConfPromote:
		return slices.Contains(cs.Voters, cc.NodeID)
	case ConfRemove:
		return !slices.Contains(cs.Learners, cc.NodeID) && !slices.Contains(cs.Voters, cc.NodeID)
	}
	return false
}

func (s *sim) isCommitted(idx, term uint64) bool {
	return int(idx) <= len(s.committed) && s.committed[idx-1].Term == term
}

// TestMembershipGrowAndShrink grows a 3-node cluster to 5 (learner first,
// then voter) and shrinks it to 3 by removing two of the original nodes,
// the leader included, while proposals go on.
func TestMembershipGrowAndShrink(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 5)
		s.voters0 = []uint64{1, 2, 3}
		s.maxDelay, s.loss = 2, 0.02
		s.startAll()
		// Enough entries that the log is compacted: the new nodes start
		// from a snapshot.
		for i := range 40 {
			s.one(fmt.Sprintf("a%d", i), 3, 30*simElection)
		}
		for _, id := range []uint64{4, 5} {
			s.changeConf(ConfChange{Type: ConfAddLearner, NodeID: id}, 50*simElection)
			s.one(fmt.Sprintf("learn%d", id), 4, 30*simElection)
			s.changeConf(ConfChange{Type: ConfPromote, NodeID: id}, 50*simElection)
		}
		s.one("five", 5, 30*simElection)
		if s.stats.installs == 0 {
			t.Fatal("the new nodes caught up without a snapshot")
		}
		// Remove the leader, then another original node.
		lead := s.leader()
		s.changeConf(ConfChange{Type: ConfRemove, NodeID: lead}, 50*simElection)
		s.ticks(3 * simElection)
		if s.nodes[lead].rn.r.role == Leader {
			t.Fatalf("removed leader %d still leads", lead)
		}
		var other uint64
		for _, id := range []uint64{1, 2, 3} {
			if id != lead {
				other = id
				break
			}
		}
		s.changeConf(ConfChange{Type: ConfRemove, NodeID: other}, 50*simElection)
		// The three remaining voters go on alone, even with the removed
		// nodes gone.
		s.crash(lead)
		s.crash(other)
		s.one("three", 3, 50*simElection)
		l := s.leader()
		if cs := s.nodes[l].rn.Status().ConfState; len(cs.Voters) != 3 || slices.Contains(cs.Voters, lead) || slices.Contains(cs.Voters, other) {
			t.Fatalf("final membership %+v", cs)
		}
	})
}

// TestMembershipOneAtATime: a second change is refused until the first
// commits.
func TestMembershipOneAtATime(t *testing.T) {
	s := newSim(t, 1, 5)
	s.voters0 = []uint64{1, 2, 3}
	s.maxDelay = 1
	s.startAll()
	l := s.waitLeader(30 * simElection)
	s.one("a", 3, 30*simElection)
	rn := s.nodes[l].rn
	if _, _, err := rn.ProposeConfChange(ConfChange{Type: ConfAddLearner, NodeID: 4}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rn.ProposeConfChange(ConfChange{Type: ConfAddLearner, NodeID: 5}); !errors.Is(err, ErrConfChangePending) {
		t.Fatalf("second change: %v, want ErrConfChangePending", err)
	}
	if _, _, err := rn.ProposeConfChange(ConfChange{Type: ConfPromote, NodeID: 2}); err == nil {
		t.Fatal("promoted a voter")
	}
	s.process(s.nodes[l])
	s.ticks(5)
	if _, _, err := rn.ProposeConfChange(ConfChange{Type: ConfAddLearner, NodeID: 5}); err != nil {
		t.Fatalf("change after the first committed: %v", err)
	}
	// A learner counts for nothing: with 4 and 5 learners and two voters
	// gone, nothing commits.
	s.process(s.nodes[l])
	s.ticks(5)
	for _, id := range []uint64{1, 2, 3} {
		if id != l {
			s.isolate(id)
		}
	}
	idx, _, err := rn.Propose([]byte("lonely"))
	if err != nil {
		t.Fatal(err)
	}
	s.process(s.nodes[l])
	s.ticks(5)
	if int(idx) <= len(s.committed) {
		t.Fatal("an entry committed with one voter of three and two learners")
	}
}

// TestMembershipChurn changes membership at random under loss, delay,
// partitions and crashes, with reads; the invariants are checked at every
// tick.
func TestMembershipChurn(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 5)
		s.voters0 = []uint64{1, 2, 3}
		s.loss, s.maxDelay, s.dup = 0.05, 3, 0.02
		s.startAll()
		s.one("start", 2, 50*simElection)
		for i := range 200 {
			switch s.rng.IntN(12) {
			case 0, 1:
				if l := s.leader(); l != None {
					id := s.ids[s.rng.IntN(len(s.ids))]
					cs := s.nodes[l].rn.Status().ConfState
					var cc ConfChange
					switch {
					case slices.Contains(cs.Learners, id):
						cc = ConfChange{Type: ConfPromote, NodeID: id}
					case slices.Contains(cs.Voters, id) && len(cs.Voters) > 3:
						cc = ConfChange{Type: ConfRemove, NodeID: id}
					case !slices.Contains(cs.Voters, id):
						cc = ConfChange{Type: ConfAddLearner, NodeID: id}
					}
					if cc.Type != 0 {
						s.nodes[l].rn.ProposeConfChange(cc)
						s.process(s.nodes[l])
					}
				}
			case 2:
				s.isolate(s.ids[s.rng.IntN(len(s.ids))])
			case 3:
				s.heal()
			case 4:
				id := s.ids[s.rng.IntN(len(s.ids))]
				s.crash(id)
				s.ticks(2)
				s.restart(id)
			case 5:
				// Two sides at random: a leader may keep only learners.
				var a, b []uint64
				for _, id := range s.ids {
					if s.rng.IntN(2) == 0 {
						a = append(a, id)
					} else {
						b = append(b, id)
					}
				}
				s.partition(a, b)
			default:
				s.propose(fmt.Sprintf("c%d", i))
			}
			// Every node that believes it leads is asked a read; process
			// checks each confirmed one against what was committed when
			// it was asked.
			for _, id := range s.ids {
				if nd := s.nodes[id]; nd.rn != nil && nd.rn.r.role == Leader {
					s.readSeq++
					ctx := fmt.Sprintf("r%d", s.readSeq)
					if nd.rn.ReadIndex([]byte(ctx)) == nil {
						nd.reads[ctx] = uint64(len(s.committed))
						s.process(nd)
					}
				}
			}
			s.ticks(1 + s.rng.IntN(3))
		}
		s.heal()
		s.loss, s.dup = 0, 0
		for _, id := range s.ids {
			s.restart(id)
		}
		s.one("end", 3, 100*simElection)
	})
}

// TestLearnerDoesNotConfirmReads: a read is confirmed by a quorum of
// voters. A learner answers the leader's heartbeats too, but its answer
// counts for nothing: a deposed leader cut off with its learner must not
// confirm a read that the voters' new leader has already outdated.
func TestLearnerDoesNotConfirmReads(t *testing.T) {
	s := newSim(t, 1, 4)
	s.voters0 = []uint64{1, 2, 3}
	s.maxDelay = 1
	s.startAll()
	s.one("a", 3, 30*simElection)
	s.changeConf(ConfChange{Type: ConfAddLearner, NodeID: 4}, 50*simElection)
	s.one("b", 4, 30*simElection)
	l := s.leader()
	p := newReadProbe(t, s, l)
	p.read("r1")
	p.answer(4, "r1")
	if p.confirmed("r1") {
		t.Fatal("the leader and a learner confirmed a read in a cluster of three voters")
	}
	// One voter besides the leader is a quorum of three.
	p.answer(others(s.voters0, l)[0], "r1")
	if !p.confirmed("r1") {
		t.Fatalf("a voter's answer did not confirm the read:\n%s", s.describe())
	}
}
