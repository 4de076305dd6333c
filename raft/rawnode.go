package raft

import "maps"

// RawNode is the deterministic Raft core behind a Ready-style API. It is
// not safe for concurrent use: one goroutine (the driver, or a test) calls
// every method.
type RawNode struct {
	r        *raft
	prevSoft SoftState
	prevHard HardState
}

// NewRawNode builds a core from c, restoring its hard state and log from
// c.Storage.
func NewRawNode(c *Config) (*RawNode, error) {
	r, err := newRaft(c)
	if err != nil {
		return nil, err
	}
	return &RawNode{r: r, prevSoft: r.softState(), prevHard: r.hardState()}, nil
}

// Tick advances logical time by one tick.
func (rn *RawNode) Tick() { rn.r.tick() }

// Campaign makes this node start an election now, without a pre-vote.
func (rn *RawNode) Campaign() { rn.r.campaign(false) }

// TransferLeadership makes the leader hand leadership to the node to: it
// stops taking proposals, brings to up to date and asks it to campaign.
// The transfer is abandoned after an election timeout.
func (rn *RawNode) TransferLeadership(to uint64) error { return rn.r.transferLeadership(to) }

// Step hands the core a message from a peer. Messages addressed elsewhere
// are refused, and malformed ones with ErrMalformed.
func (rn *RawNode) Step(m Message) error {
	if m.To != rn.r.id || m.From == None {
		return ErrProposalDropped
	}
	if err := checkMessage(m); err != nil {
		return err
	}
	rn.r.Step(m)
	return nil
}

// ProposeConfChange appends a membership change to the leader's log. It
// takes effect at once; another may be proposed once it is committed.
func (rn *RawNode) ProposeConfChange(cc ConfChange) (index, term uint64, err error) {
	idx, err := rn.r.proposeConfChange(cc)
	if err != nil {
		return 0, 0, err
	}
	return idx, rn.r.term, nil
}

// Propose appends data to the leader's log. It returns the entry's index
// and term; the entry is committed only if an entry with that index and
// term is later applied.
func (rn *RawNode) Propose(data []byte) (index, term uint64, err error) {
	if rn.r.role != Leader {
		return 0, 0, ErrNotLeader
	}
	if rn.r.leadTransferee != None {
		return 0, 0, ErrTransferring
	}
	idx := rn.r.appendEntries(Entry{Type: EntryNormal, Data: data})
	if len(rn.r.prs) == 1 {
		rn.r.pendingBcast = false
	}
	return idx, rn.r.term, nil
}

// ReadIndex asks the leader to confirm its leadership with a quorum; once
// it has, a ReadState carrying ctx and the commit index at the time of the
// call appears in a Ready.
func (rn *RawNode) ReadIndex(ctx []byte) error { return rn.r.readIndex(ctx) }

// HasReady reports whether Ready would hand out anything.
func (rn *RawNode) HasReady() bool {
	r := rn.r
	if r.pendingBcast || len(r.msgs) > 0 || len(r.log.unpersisted()) > 0 || len(r.readStates) > 0 {
		return true
	}
	if r.log.pending != nil && !r.log.pendingOut {
		return true
	}
	if r.log.hasNextCommitted() || r.softState() != rn.prevSoft {
		return true
	}
	hs := r.hardState()
	return hs != rn.prevHard
}

// Ready returns what the driver must persist, send and apply, in that
// order, before calling Advance with it.
func (rn *RawNode) Ready() Ready {
	r := rn.r
	r.flushAppends()
	rd := Ready{
		Entries:          r.log.unpersisted(),
		CommittedEntries: r.log.nextCommitted(),
		Messages:         r.msgs,
		ReadStates:       r.readStates,
	}
	r.log.persisting()
	r.msgs = nil
	r.readStates = nil
	if r.log.pending != nil && !r.log.pendingOut {
		rd.Snapshot = r.log.pending
		r.log.pendingOut = true
	}
	if ss := r.softState(); ss != rn.prevSoft {
		rd.SoftState = &ss
	}
	if hs := r.hardState(); hs != rn.prevHard {
		rd.HardState = hs
		rd.MustSync = hs.Term != rn.prevHard.Term || hs.Vote != rn.prevHard.Vote
	}
	rd.MustSync = rd.MustSync || len(rd.Entries) > 0 || rd.Snapshot != nil
	return rd
}

// maxReusedMsgs bounds the message slice Advance keeps for the next Ready.
const maxReusedMsgs = 1024

// Advance tells the core that rd has been persisted, sent and applied.
//
// A driver may instead write rd.Entries asynchronously: it calls Advance
// with a copy of rd whose Entries is nil, and StableTo once the write is
// durable. Ready hands every entry out once, so later Readies carry only
// newer entries meanwhile. Writes must reach storage in the order Ready
// handed them out.
func (rn *RawNode) Advance(rd Ready) {
	r := rn.r
	if r.msgs == nil && cap(rd.Messages) <= maxReusedMsgs {
		// The driver is done with the slice: the next Ready's messages go
		// into the same array rather than one regrown per Ready.
		clear(rd.Messages)
		r.msgs = rd.Messages[:0]
	}
	if rd.SoftState != nil {
		rn.prevSoft = *rd.SoftState
	}
	if !rd.HardState.IsEmpty() {
		rn.prevHard = rd.HardState
	}
	if rd.Snapshot != nil {
		r.log.snapshotInstalled(rd.Snapshot)
	}
	if n := len(rd.Entries); n > 0 {
		rn.StableTo(rd.Entries[n-1].Index, rd.Entries[n-1].Term)
	}
	if n := len(rd.CommittedEntries); n > 0 {
		r.log.appliedTo(rd.CommittedEntries[n-1].Index)
	}
	r.foldCommitted()
}

// StableTo tells the core that its log is durable up to the entry (index,
// term). It is a no-op when that entry was replaced meanwhile: the write
// that replaced it reports its own entries.
func (rn *RawNode) StableTo(index, term uint64) {
	r := rn.r
	if !r.log.stableTo(index, term) || r.role != Leader {
		return
	}
	// The leader's own vote for its entries counts once they are durable
	// (Raft thesis section 10.2.1).
	if r.prs[r.id].maybeUpdate(r.log.stableLastIndex()) && r.maybeCommit() {
		r.bcastAppend()
	}
}

// followersCommit reports whether, on a leader, the voters other than
// itself that it replicates to (not probing or sending a snapshot) and
// for which keepsUp is true form a quorum on their own: their copies
// alone then commit its entries, and its own copy is not on the way.
func (rn *RawNode) followersCommit(keepsUp func(id uint64) bool) bool {
	r := rn.r
	if r.role != Leader {
		return false
	}
	n := 0
	for id := range r.conf.voters {
		if pr := r.prs[id]; id != r.id && pr != nil && pr.State == StateReplicate && keepsUp(id) {
			n++
		}
	}
	return n >= r.quorum()
}

// lowestNeeded is, on a leader, the lowest log index that a follower for
// which active is true still needs: the entry after its match, or after
// the snapshot on its way to it. It is 0 on a node that is not leader, or
// when no follower is active.
func (rn *RawNode) lowestNeeded(active func(id uint64) bool) uint64 {
	r := rn.r
	if r.role != Leader {
		return 0
	}
	var low uint64
	for id, pr := range r.prs {
		if id == r.id || !active(id) {
			continue
		}
		need := pr.Match + 1
		if pr.State == StateSnapshot {
			need = max(need, pr.PendingSnapshot+1)
		}
		if low == 0 || need < low {
			low = need
		}
	}
	return low
}

// Status is a snapshot of the core's state.
type Status struct {
	ID      uint64
	Term    uint64
	Vote    uint64
	Commit  uint64
	Applied uint64
	Lead    uint64
	Role    Role
	// LeadTransferee is the node leadership is being handed to, or None.
	LeadTransferee uint64
	// ConfState is the membership acted on (the latest in the log).
	ConfState ConfState
	// Progress is the leader's view of every member (leader only).
	Progress map[uint64]Progress
}

// Status returns the core's current state.
func (rn *RawNode) Status() Status {
	r := rn.r
	st := Status{
		ID: r.id, Term: r.term, Vote: r.vote, Commit: r.log.committed,
		Applied: r.log.applied, Lead: r.lead, Role: r.role, LeadTransferee: r.leadTransferee,
		ConfState: r.conf.state(),
	}
	if r.role == Leader {
		st.Progress = make(map[uint64]Progress, len(r.prs))
		for id, pr := range maps.All(r.prs) {
			p := *pr
			p.inflight = nil
			st.Progress[id] = p
		}
	}
	return st
}
