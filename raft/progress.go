package raft

import "fmt"

// ProgressState is how a leader replicates to one follower.
type ProgressState uint8

const (
	// StateProbe: the leader does not know where the follower's log
	// matches its own; it sends one append at a time and waits for the
	// answer (or the next heartbeat) before sending another.
	StateProbe ProgressState = iota
	// StateReplicate: the follower's log matches up to Match; the leader
	// streams appends optimistically, up to MaxInflightMsgs in flight.
	StateReplicate
	// StateSnapshot: the follower needs entries that were compacted; a
	// snapshot is on its way and nothing else is sent until it lands.
	StateSnapshot
)

func (s ProgressState) String() string {
	switch s {
	case StateReplicate:
		return "replicate"
	case StateSnapshot:
		return "snapshot"
	}
	return "probe"
}

// Progress is a leader's view of one follower's log.
type Progress struct {
	// Match is the highest index known to be replicated on the follower.
	Match uint64
	// Next is the index of the next entry to send.
	// Invariant: Next > Match.
	Next  uint64
	State ProgressState
	// RecentActive is set when the follower was heard from since the
	// last quorum check (CheckQuorum).
	RecentActive bool
	// heard orders followers by when they were last heard from: the
	// leader's count of answers at the latest one from this follower.
	heard uint64
	// ProbeSent is set in StateProbe once an append was sent; no other is
	// sent until an answer or a heartbeat response clears it.
	ProbeSent bool
	// PendingSnapshot is the index of the snapshot being sent
	// (StateSnapshot only).
	PendingSnapshot uint64
	// inflight holds the last index of each append in flight, in order
	// (StateReplicate only).
	inflight []uint64
}

func (pr *Progress) String() string {
	return fmt.Sprintf("%s match=%d next=%d inflight=%d", pr.State, pr.Match, pr.Next, len(pr.inflight))
}

func (pr *Progress) becomeProbe() {
	if pr.State == StateSnapshot {
		// Resume after the snapshot if it was installed, else from Match.
		pr.Next = max(pr.Match, pr.PendingSnapshot) + 1
		pr.PendingSnapshot = 0
	} else {
		pr.Next = pr.Match + 1
	}
	pr.State = StateProbe
	pr.ProbeSent = false
	pr.inflight = pr.inflight[:0]
}

func (pr *Progress) becomeSnapshot(index uint64) {
	pr.State = StateSnapshot
	pr.ProbeSent = false
	pr.inflight = pr.inflight[:0]
	pr.PendingSnapshot = index
}

func (pr *Progress) becomeReplicate() {
	pr.State = StateReplicate
	pr.ProbeSent = false
	pr.inflight = pr.inflight[:0]
	pr.Next = pr.Match + 1
}

// maybeUpdate records that the follower holds entries up to n. It reports
// whether Match advanced.
func (pr *Progress) maybeUpdate(n uint64) bool {
	updated := false
	if pr.Match < n {
		pr.Match = n
		pr.ProbeSent = false
		updated = true
	}
	pr.Next = max(pr.Next, n+1)
	pr.freeTo(n)
	return updated
}

// maybeDecrTo handles a rejected append at index rejected, with the
// follower's hint that its log may match at hint. It reports whether Next
// moved back (false for a stale rejection).
func (pr *Progress) maybeDecrTo(rejected, hint uint64) bool {
	if pr.State == StateSnapshot {
		return false // the snapshot decides where the follower resumes
	}
	if pr.State == StateReplicate {
		if rejected <= pr.Match {
			return false // stale: the follower already accepted later entries
		}
		pr.becomeProbe()
		pr.Next = max(min(rejected, hint+1), pr.Match+1)
		return true
	}
	if pr.Next-1 != rejected {
		return false // an answer to an earlier probe
	}
	pr.Next = max(min(rejected, hint+1), pr.Match+1)
	pr.ProbeSent = false
	return true
}

// sent records an append carrying entries up to last.
func (pr *Progress) sent(last uint64, n int) {
	switch pr.State {
	case StateReplicate:
		if n > 0 {
			pr.Next = last + 1
			pr.inflight = append(pr.inflight, last)
		}
	case StateProbe:
		pr.ProbeSent = true
	}
}

func (pr *Progress) freeTo(n uint64) {
	i := 0
	for i < len(pr.inflight) && pr.inflight[i] <= n {
		i++
	}
	pr.inflight = append(pr.inflight[:0], pr.inflight[i:]...)
}

// isPaused reports whether the leader must wait before sending another
// append to this follower.
func (pr *Progress) isPaused(maxInflight int) bool {
	switch pr.State {
	case StateProbe:
		return pr.ProbeSent
	case StateSnapshot:
		return true
	}
	return len(pr.inflight) >= maxInflight
}
