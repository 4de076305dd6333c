package raft

import (
	"fmt"
	"maps"
	"slices"
)

// membership is the configuration a node acts on: the latest one in its
// log, committed or not (Raft thesis 4.1: a change takes effect on
// append).
type membership struct {
	voters   map[uint64]bool
	learners map[uint64]bool
}

func newMembership(cs ConfState) membership {
	m := membership{voters: map[uint64]bool{}, learners: map[uint64]bool{}}
	for _, v := range cs.Voters {
		m.voters[v] = true
	}
	for _, l := range cs.Learners {
		m.learners[l] = true
	}
	return m
}

func (m membership) clone() membership {
	return membership{voters: maps.Clone(m.voters), learners: maps.Clone(m.learners)}
}

func (m membership) state() ConfState {
	cs := ConfState{Voters: slices.Sorted(maps.Keys(m.voters)), Learners: slices.Sorted(maps.Keys(m.learners))}
	return cs
}

// members returns voters and learners, sorted.
func (m membership) members() []uint64 {
	ids := slices.Collect(maps.Keys(m.voters))
	ids = append(ids, slices.Collect(maps.Keys(m.learners))...)
	slices.Sort(ids)
	return ids
}

func (m membership) apply(cc ConfChange) {
	switch cc.Type {
	case ConfAddLearner:
		if !m.voters[cc.NodeID] {
			m.learners[cc.NodeID] = true
		}
	case ConfPromote:
		if m.learners[cc.NodeID] {
			delete(m.learners, cc.NodeID)
			m.voters[cc.NodeID] = true
		}
	case ConfRemove:
		delete(m.voters, cc.NodeID)
		delete(m.learners, cc.NodeID)
	}
}

// The node keeps the membership as of its commit index (base) and the
// uncommitted membership changes after it, so that it can go back when a
// new leader truncates one of them.

// confEntry is an uncommitted membership change in the log.
type confEntry struct {
	index uint64
	term  uint64
	cc    ConfChange
}

// resetConf recomputes the acting membership from base and the pending
// changes that are still in the log, and adapts the leader's progress.
func (r *raft) resetConf() {
	kept := r.confPending[:0]
	for _, ce := range r.confPending {
		if r.log.matchTerm(ce.index, ce.term) {
			kept = append(kept, ce)
		}
	}
	r.confPending = kept
	m := r.confBase.clone()
	for _, ce := range r.confPending {
		m.apply(ce.cc)
	}
	r.conf = m
	r.syncProgress()
}

// syncProgress gives the leader a Progress for every member and drops
// those of removed nodes.
func (r *raft) syncProgress() {
	if r.role != Leader {
		return
	}
	for _, id := range r.conf.members() {
		if r.prs[id] == nil {
			r.prs[id] = &Progress{Next: r.log.lastIndex() + 1, RecentActive: true}
		}
	}
	for id := range r.prs {
		// A node being removed still gets the log until its removal
		// commits, so that it learns of it (and its server stops).
		if !r.conf.voters[id] && !r.conf.learners[id] && id != r.id && !r.hasPendingRemovalOf(id) && r.removing[id] == 0 {
			delete(r.prs, id)
		}
	}
	if r.prs[r.id] == nil {
		// A leader that removed itself still tracks its own log.
		r.prs[r.id] = &Progress{Match: r.log.stableLastIndex(), Next: r.log.lastIndex() + 1}
	}
}

// noteAppended records membership changes among newly appended entries.
func (r *raft) noteAppended(ents []Entry) {
	changed := false
	for _, e := range ents {
		if e.Type != EntryConfChange || e.Index <= r.confBaseIndex || r.isPendingConf(e) {
			continue
		}
		cc, err := UnmarshalConfChange(e.Data)
		if err != nil {
			panic(fmt.Sprintf("raft: entry %d: %v", e.Index, err))
		}
		r.confPending = append(r.confPending, confEntry{index: e.Index, term: e.Term, cc: cc})
		changed = true
	}
	if changed || len(r.confPending) > 0 {
		r.resetConf()
	}
}

func (r *raft) isPendingConf(e Entry) bool {
	for _, ce := range r.confPending {
		if ce.index == e.Index && ce.term == e.Term {
			return true
		}
	}
	return false
}

// votersExcept returns the voters other than this node, sorted.
func (r *raft) votersExcept() []uint64 {
	ids := make([]uint64, 0, len(r.conf.voters))
	for id := range r.conf.voters {
		if id != r.id {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// replicas returns the nodes the leader replicates to, sorted.
func (r *raft) replicas() []uint64 {
	ids := make([]uint64, 0, len(r.prs))
	for id := range r.prs {
		if id != r.id {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// foldCommittedQuiet folds without logging, when replaying on start.
func (r *raft) foldCommittedQuiet() {
	for len(r.confPending) > 0 && r.confPending[0].index <= r.log.committed {
		r.confBase.apply(r.confPending[0].cc)
		r.confBaseIndex = r.confPending[0].index
		r.confPending = r.confPending[1:]
	}
}

// foldCommitted moves committed changes into the base membership.
func (r *raft) foldCommitted() {
	i := 0
	var told []uint64
	for ; i < len(r.confPending) && r.confPending[i].index <= r.log.committed; i++ {
		r.confBase.apply(r.confPending[i].cc)
		r.confBaseIndex = r.confPending[i].index
		if cc := r.confPending[i].cc; cc.Type == ConfRemove && cc.NodeID != r.id {
			told = append(told, cc.NodeID)
		}
		r.logger.Info("membership change committed", "change", r.confPending[i].cc.Type.String(),
			"node", r.confPending[i].cc.NodeID, "index", r.confPending[i].index)
	}
	if i == 0 {
		return
	}
	r.confPending = append(r.confPending[:0], r.confPending[i:]...)
	// A removed node still gets the log and heartbeats until it holds its
	// removal and was told it committed; then the leader forgets it.
	if r.role == Leader {
		for _, id := range told {
			if r.prs[id] != nil {
				r.removing[id] = r.confBaseIndex
			}
		}
		r.syncProgress()
	}
	// A leader that committed its own removal steps down (thesis 4.2.2).
	if r.role == Leader && !r.conf.voters[r.id] && !r.hasPendingRemovalOf(r.id) {
		r.logger.Info("stepping down: this node was removed from the cluster", "term", r.term)
		r.becomeFollower(r.term, None)
	}
}

func (r *raft) hasPendingRemovalOf(id uint64) bool {
	for _, ce := range r.confPending {
		if ce.cc.NodeID == id {
			return true
		}
	}
	return false
}

// proposeConfChange appends a membership change, one at a time.
func (r *raft) proposeConfChange(cc ConfChange) (uint64, error) {
	if r.role != Leader {
		return 0, ErrNotLeader
	}
	if r.leadTransferee != None {
		return 0, ErrTransferring
	}
	if len(r.confPending) > 0 || !r.committedInTerm() {
		return 0, ErrConfChangePending
	}
	switch cc.Type {
	case ConfAddLearner:
		if r.conf.voters[cc.NodeID] || r.conf.learners[cc.NodeID] {
			return 0, fmt.Errorf("raft: node %d is already a member", cc.NodeID)
		}
	case ConfPromote:
		if !r.conf.learners[cc.NodeID] {
			return 0, fmt.Errorf("raft: node %d is not a learner", cc.NodeID)
		}
	case ConfRemove:
		if !r.conf.voters[cc.NodeID] && !r.conf.learners[cc.NodeID] {
			return 0, fmt.Errorf("raft: node %d is not a member", cc.NodeID)
		}
		if r.conf.voters[cc.NodeID] && len(r.conf.voters) == 1 {
			return 0, fmt.Errorf("raft: cannot remove the last voter %d", cc.NodeID)
		}
	default:
		return 0, fmt.Errorf("raft: unknown conf change type %d", cc.Type)
	}
	data := cc.Marshal()
	idx := r.appendEntries(Entry{Type: EntryConfChange, Data: data})
	r.noteAppended([]Entry{{Index: idx, Term: r.term, Type: EntryConfChange, Data: data}})
	r.logger.Info("membership change proposed", "change", cc.Type.String(), "node", cc.NodeID, "index", idx)
	return idx, nil
}

// maybeForgetRemoved lets go of a removed node once it holds its removal
// entry: the heartbeat sent now tells it the entry committed.
func (r *raft) maybeForgetRemoved(id uint64) {
	idx, ok := r.removing[id]
	pr := r.prs[id]
	if !ok || pr == nil || pr.Match < idx || r.log.committed < idx {
		return
	}
	r.send(Message{Type: MsgHeartbeat, To: id, Commit: min(pr.Match, r.log.committed)})
	delete(r.removing, id)
	r.syncProgress()
}
