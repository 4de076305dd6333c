package raft

import (
	"errors"
	"fmt"
	"testing"
)

// Scenarios for pre-vote, check-quorum and leadership transfer.

func withFeatures(t *testing.T, seed uint64, n int, f features) *sim {
	s := newSim(t, seed, n)
	s.features = f
	return s.startAll()
}

// TestPreVoteNoTermInflation: a node cut off for a long time keeps asking
// for pre-votes but never raises its term, so when it comes back the
// leader stays in office.
func TestPreVoteNoTermInflation(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := withFeatures(t, seed, 3, features{preVote: true, checkQuorum: true})
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		term := s.nodes[l].rn.r.term
		var f uint64
		for _, id := range s.ids {
			if id != l {
				f = id
				break
			}
		}
		s.isolate(f)
		s.ticks(50 * simElection)
		if got := s.nodes[f].rn.r.term; got > term {
			t.Fatalf("isolated node raised its term from %d to %d", term, got)
		}
		s.connect(f)
		s.ticks(5 * simElection)
		if now := s.leader(); now != l || s.nodes[l].rn.r.term != term {
			t.Fatalf("rejoining node disrupted the leader: %d term %d -> %d term %d", l, term, now, s.nodes[now].rn.r.term)
		}
		s.one("after", 3, 10*simElection)
	})
}

// TestFlappingNodeWithoutPreVote shows what pre-vote prevents: without it
// the same isolation inflates the term and deposes the leader on return.
func TestFlappingNodeWithoutPreVote(t *testing.T) {
	s := withFeatures(t, 1, 3, features{})
	s.maxDelay = 1
	l := s.waitLeader(30 * simElection)
	term := s.nodes[l].rn.r.term
	f := s.ids[0]
	if f == l {
		f = s.ids[1]
	}
	s.isolate(f)
	s.ticks(50 * simElection)
	if s.nodes[f].rn.r.term <= term+1 {
		t.Fatalf("without pre-vote the isolated node's term stayed at %d", s.nodes[f].rn.r.term)
	}
}

// TestCheckQuorumLeaderStepsDown: a leader cut off from the majority steps
// down within two election timeouts instead of believing it leads.
func TestCheckQuorumLeaderStepsDown(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := withFeatures(t, seed, 5, features{preVote: true, checkQuorum: true})
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		s.isolate(l)
		s.ticks(2*simElection + 1)
		if r := s.nodes[l].rn.r; r.role == Leader {
			t.Fatalf("isolated leader %d still leads term %d after two election timeouts", l, r.term)
		}
		// The majority elects another and goes on.
		s.one("majority", 4, 30*simElection)
		s.connect(l)
		s.one("all", 5, 30*simElection)
	})
}

// TestLeaderStickiness: with check-quorum, followers that hear from their
// leader ignore a candidate's vote requests.
func TestLeaderStickiness(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := withFeatures(t, seed, 3, features{checkQuorum: true})
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		s.ticks(3) // every follower has heard from the leader
		term := s.nodes[l].rn.r.term
		f := s.ids[0]
		if f == l {
			f = s.ids[1]
		}
		// f campaigns on its own while the leader is healthy; the others
		// ignore it and keep their term.
		s.nodes[f].rn.Campaign()
		s.process(s.nodes[f])
		s.deliver()
		for _, id := range s.ids {
			if id != f && s.nodes[id].rn.r.term != term {
				t.Fatalf("node %d moved to term %d on a disruptive candidate", id, s.nodes[id].rn.r.term)
			}
		}
		if s.nodes[l].rn.r.role != Leader {
			t.Fatal("the healthy leader was deposed")
		}
	})
}

// TestTransferLeadership hands leadership to a lagging follower: the
// leader brings it up to date first, refuses proposals meanwhile, and the
// target wins without an election timeout.
func TestTransferLeadership(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := withFeatures(t, seed, 3, features{preVote: true, checkQuorum: true})
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		target := s.ids[0]
		if target == l {
			target = s.ids[1]
		}
		// The target lags: it misses 20 entries.
		s.isolate(target)
		for i := range 20 {
			s.one(fmt.Sprintf("e%d", i), 2, 10*simElection)
		}
		s.connect(target)
		lr := s.nodes[l].rn
		if err := lr.TransferLeadership(target); err != nil {
			t.Fatal(err)
		}
		if _, _, err := lr.Propose([]byte("during")); !errors.Is(err, ErrTransferring) {
			t.Fatalf("proposal during transfer: %v, want ErrTransferring", err)
		}
		s.process(s.nodes[l])
		for range simElection {
			s.tick()
			if s.leader() == target {
				break
			}
		}
		if s.leader() != target {
			t.Fatalf("leadership did not move to %d within an election timeout:\n%s", target, s.describe())
		}
		s.one("after", 3, 20*simElection)
		for i := range 20 {
			if n := s.appliedBy(fmt.Sprintf("e%d", i)); n != 3 {
				t.Fatalf("e%d applied by %d nodes after the transfer", i, n)
			}
		}

		// A transfer to a node that cannot answer is abandoned after an
		// election timeout, and the leader takes proposals again.
		l = s.leader()
		dead := s.ids[0]
		if dead == l {
			dead = s.ids[1]
		}
		s.crash(dead)
		if err := s.nodes[l].rn.TransferLeadership(dead); err != nil {
			t.Fatal(err)
		}
		s.ticks(simElection + 1)
		if s.leader() != l {
			t.Fatalf("leader changed after a transfer to a dead node")
		}
		if _, _, err := s.nodes[l].rn.Propose([]byte("resumed")); err != nil {
			t.Fatalf("proposal after an abandoned transfer: %v", err)
		}
	})
}

// TestAsyncWritesLeaderCountsOnlyDurable: a leader writing asynchronously
// counts its own entries towards a quorum only once they are durable. With
// one follower cut off and the leader's sync held back, an entry the other
// follower acknowledged stays uncommitted; a crash then loses the leader's
// copy and nothing that was committed. Once syncs go through, the entry
// commits.
func TestAsyncWritesLeaderCountsOnlyDurable(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := withFeatures(t, seed, 3, features{asyncWrites: true})
			s.maxDelay = 1
			s.one("a", 3, 10*simElection)
			l := s.leader()
			var cut uint64
			for _, id := range s.ids {
				if id != l {
					cut = id
				}
			}
			s.partition([]uint64{l, 6 - l - cut}, []uint64{cut})
			s.holdSyncs = true
			idx, ok := s.propose("x")
			if !ok {
				t.Fatalf("leader %d refused a proposal", l)
			}
			s.ticks(3)
			if c := s.nodes[l].rn.r.log.committed; c >= idx {
				t.Fatalf("entry %d committed (commit %d) on one follower's acknowledgement and the leader's unsynced write", idx, c)
			}
			if n := s.appliedBy("x"); n != 0 {
				t.Fatalf("x applied by %d nodes before it could commit", n)
			}

			// Syncs go through: the leader's vote completes the quorum.
			s.holdSyncs = false
			for range 20 {
				s.tick()
			}
			if c := s.nodes[l].rn.r.log.committed; c < idx {
				t.Fatalf("entry %d not committed (commit %d) after the leader's write was synced", idx, c)
			}

			// Held again: a crash loses the leader's unsynced entries, and
			// the entries that did commit survive it.
			s.holdSyncs = true
			idx, _ = s.propose("y")
			s.ticks(3)
			if c := s.nodes[l].rn.r.log.committed; c >= idx {
				t.Fatalf("entry %d committed (commit %d) before the leader's write was synced", idx, c)
			}
			s.crash(l)
			if last, _ := s.nodes[l].store.LastIndex(); last >= idx {
				t.Fatalf("the crashed leader's disk holds entry %d it never synced (last %d)", idx, last)
			}
			s.holdSyncs = false
			s.converge()
			if n := s.appliedBy("x"); n != 3 {
				t.Fatalf("x applied by %d nodes after the crash", n)
			}
		})
	}
}
