package raft

import (
	"fmt"
	"testing"
)

// Scenarios for log compaction and snapshots. Every simulated node
// compacts its log once it holds 30 entries past its compaction point.

// TestSnapshotToLaggingFollower: a follower cut off while the others
// commit and compact catches up through a snapshot, then through the log.
func TestSnapshotToLaggingFollower(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		f := s.ids[0]
		if f == l {
			f = s.ids[1]
		}
		s.isolate(f)
		for i := range 100 {
			s.one(fmt.Sprintf("e%d", i), 2, 10*simElection)
		}
		if first, _ := s.nodes[s.leader()].store.FirstIndex(); first < 50 {
			t.Fatalf("the leader did not compact: first index %d", first)
		}
		s.connect(f)
		s.one("after", 3, 30*simElection)
		s.ticks(5)
		if s.stats.installs == 0 {
			t.Fatal("the lagging follower caught up without a snapshot")
		}
		if got, want := len(s.nodes[f].applied), len(s.nodes[s.leader()].applied); got != want {
			t.Fatalf("follower applied %d entries, leader %d", got, want)
		}
	})
}

// TestSnapshotFailureRetried: snapshot streams that fail are retried
// after the next heartbeat until one lands.
func TestSnapshotFailureRetried(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 3).startAll()
		s.maxDelay = 1
		l := s.waitLeader(30 * simElection)
		f := s.ids[0]
		if f == l {
			f = s.ids[1]
		}
		s.isolate(f)
		for i := range 60 {
			s.one(fmt.Sprintf("e%d", i), 2, 10*simElection)
		}
		s.dropSnaps = 3
		s.connect(f)
		s.one("after", 3, 40*simElection)
		if s.stats.snapshots < 4 || s.stats.installs == 0 {
			t.Fatalf("%d snapshots sent, %d installed; want 3 failures then an install", s.stats.snapshots, s.stats.installs)
		}
	})
}

// TestSnapshotCrashes crashes nodes while they hand out Readies that
// install snapshots, among other faults, and checks that everything
// converges with every committed entry applied exactly once.
func TestSnapshotCrashes(t *testing.T) {
	sent, installed := 0, 0
	forSeeds(t, func(t *testing.T, seed uint64) {
		s := newSim(t, seed, 5).startAll()
		s.compactAt = 10
		s.loss, s.maxDelay, s.crashInReady = 0.05, 2, 0.02
		var victim uint64
		for i := range 400 {
			switch i % 40 {
			case 0:
				// A follower falls behind by more than a compaction.
				for victim = s.ids[s.rng.IntN(len(s.ids))]; victim == s.leader(); {
					victim = s.ids[s.rng.IntN(len(s.ids))]
				}
				s.isolate(victim)
			case 30:
				s.connect(victim)
			case 35:
				for _, id := range s.ids {
					s.restart(id)
				}
			}
			s.propose(fmt.Sprintf("c%d", i))
			s.ticks(1)
		}
		s.converge()
		sent += s.stats.snapshots
		installed += s.stats.installs
	})
	// Some seeds lose their quorum to crashes for long stretches; across
	// the seeds, snapshots must have been sent and installed.
	t.Logf("%d snapshots sent, %d installed", sent, installed)
	if installed == 0 {
		t.Fatal("no snapshot was installed in any seed")
	}
}
