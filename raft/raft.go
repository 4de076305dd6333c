package raft

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/hashicorp/go-hclog"
)

// stepFunc handles a message of the current term in one role.
type stepFunc func(r *raft, m Message)

// raft is the protocol state machine. It has no goroutines, clock, network
// or disk: it changes only through tick, Step and the RawNode calls, and
// leaves what to persist, send and apply in its log and msgs.
type raft struct {
	id   uint64
	term uint64
	vote uint64
	role Role
	lead uint64
	log  *raftLog
	// conf is the membership acted on: confBase (as of the commit index)
	// plus the uncommitted changes in confPending.
	conf     membership
	confBase membership
	// confBaseIndex is the log index confBase reflects: changes at or
	// before it are in confBase.
	confBaseIndex uint64
	confPending   []confEntry
	// removing maps nodes whose removal committed to the index of that
	// removal, while the leader still tells them (leader only).
	removing map[uint64]uint64
	prs      map[uint64]*Progress
	votes    map[uint64]bool

	electionTimeout  int
	heartbeatTimeout int
	// randomizedElectionTimeout is drawn from [electionTimeout,
	// 2*electionTimeout) each time a node becomes follower or candidate.
	randomizedElectionTimeout int
	electionElapsed           int
	heartbeatElapsed          int

	maxMsgSize  uint64
	maxInflight int
	preVote     bool
	checkQuorum bool

	// leadTransferee is the node this leader is handing leadership to, or
	// None. Invariant: None unless role is Leader.
	leadTransferee uint64

	// pendingBcast is set when entries were appended by the leader but not
	// yet sent: proposals made together travel in one message.
	pendingBcast bool
	// readOnly holds ReadIndex requests waiting for a quorum of heartbeat
	// acknowledgements, oldest first.
	readOnly []*readIndexStatus
	// readWaiting holds ReadIndex request contexts that arrived before this
	// leader committed an entry of its own term.
	readWaiting [][]byte
	readStates  []ReadState
	// answers counts the messages this leader took from followers; see
	// Progress.heard.
	answers uint64

	msgs []Message

	step   stepFunc
	tick   func()
	rand   *rand.Rand
	logger hclog.Logger
}

type readIndexStatus struct {
	index uint64
	ctx   []byte
	acks  map[uint64]bool
}

func newRaft(c *Config) (*raft, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	l, err := newLog(c.Storage, c.MaxSizePerMsg)
	if err != nil {
		return nil, err
	}
	hs, err := c.Storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("read hard state: %w", err)
	}
	r := &raft{
		id:               c.ID,
		log:              l,
		confBase:         newMembership(ConfState{Voters: c.Peers, Learners: c.Learners}),
		prs:              make(map[uint64]*Progress, len(c.Peers)),
		electionTimeout:  c.ElectionTick,
		heartbeatTimeout: c.HeartbeatTick,
		maxMsgSize:       c.MaxSizePerMsg,
		maxInflight:      c.MaxInflightMsgs,
		preVote:          c.PreVote,
		checkQuorum:      c.CheckQuorum,
		rand:             c.Rand,
		logger:           c.Logger,
	}
	if hs.Commit > l.lastIndex() {
		return nil, fmt.Errorf("raft: hard state commit %d is past the last log index %d", hs.Commit, l.lastIndex())
	}
	r.term, r.vote = hs.Term, hs.Vote
	l.commitTo(max(hs.Commit, c.Applied))
	if c.Applied > 0 {
		if c.Applied > l.committed {
			return nil, fmt.Errorf("raft: applied index %d is past the commit index %d", c.Applied, l.committed)
		}
		l.applied = c.Applied
	}
	r.conf = r.confBase.clone()
	r.confBaseIndex = l.applied
	// Membership changes after the applied index are in the log: replay
	// them, committed ones into the base.
	if l.lastIndex() > l.applied {
		ents, err := l.slice(l.applied+1, l.lastIndex()+1, ^uint64(0))
		if err != nil {
			return nil, fmt.Errorf("read log after the applied index: %w", err)
		}
		r.noteAppended(ents)
		r.foldCommittedQuiet()
	}
	r.becomeFollower(r.term, None)
	if c.FirstElectionTick > 0 {
		r.randomizedElectionTimeout = c.FirstElectionTick
	}
	return r, nil
}

func (r *raft) quorum() int { return len(r.conf.voters)/2 + 1 }

func (r *raft) hardState() HardState {
	return HardState{Term: r.term, Vote: r.vote, Commit: r.log.committed}
}

func (r *raft) softState() SoftState { return SoftState{Lead: r.lead, Role: r.role} }

func (r *raft) send(m Message) {
	m.From = r.id
	if m.Term == 0 {
		m.Term = r.term
	}
	r.msgs = append(r.msgs, m)
}

func (r *raft) reset(term uint64) {
	if r.term != term {
		r.term = term
		r.vote = None
	}
	r.lead = None
	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	r.randomizedElectionTimeout = r.electionTimeout + r.rand.IntN(r.electionTimeout)
	r.votes = nil
	r.readOnly = nil
	r.readWaiting = nil
	r.pendingBcast = false
	r.leadTransferee = None
	clear(r.prs)
	r.removing = map[uint64]uint64{}
}

func (r *raft) becomeFollower(term, lead uint64) {
	r.reset(term)
	r.role = Follower
	r.step = stepFollower
	r.tick = r.tickElection
	r.setLead(lead)
}

// setLead records the leader of the current term and logs a change.
func (r *raft) setLead(lead uint64) {
	if r.lead == lead {
		return
	}
	r.lead = lead
	if lead != None && lead != r.id {
		r.logger.Info("following leader", "leader", lead, "term", r.term)
	}
}

func (r *raft) becomeCandidate() {
	if r.role == Leader {
		panic("raft: leader cannot become candidate")
	}
	r.reset(r.term + 1)
	r.role = Candidate
	r.step = stepCandidate
	r.tick = r.tickElection
	r.vote = r.id
	r.votes = map[uint64]bool{r.id: true}
}

// becomePreCandidate starts a pre-vote: the node asks whether it could win
// an election in the next term without raising its own term, so that a
// node that cannot win (cut off, or behind) disturbs nobody.
func (r *raft) becomePreCandidate() {
	if r.role == Leader {
		panic("raft: leader cannot become pre-candidate")
	}
	r.role = PreCandidate
	r.step = stepCandidate
	r.tick = r.tickElection
	r.lead = None
	r.votes = map[uint64]bool{r.id: true}
	r.randomizedElectionTimeout = r.electionTimeout + r.rand.IntN(r.electionTimeout)
}

func (r *raft) becomeLeader() {
	if r.role == Follower {
		panic("raft: follower cannot become leader without an election")
	}
	r.reset(r.term)
	r.role = Leader
	r.step = stepLeader
	r.tick = r.tickHeartbeat
	r.lead = r.id
	for _, p := range r.conf.members() {
		r.prs[p] = &Progress{Next: r.log.lastIndex() + 1, RecentActive: true}
	}
	if r.prs[r.id] == nil {
		r.prs[r.id] = &Progress{Next: r.log.lastIndex() + 1}
	}
	// Our own match is what is persisted; Advance raises it as the entries
	// below reach stable storage.
	r.prs[r.id].Match = r.log.stableLastIndex()
	r.logger.Info("became leader", "term", r.term, "last_index", r.log.lastIndex()+1)
	// An empty entry of the new term lets the leader commit, and so learn
	// the commit index of every earlier term (paper section 5.4.2, 8).
	r.appendEntries(Entry{Type: EntryNormal})
}

// transferCtx marks the vote requests of a leadership transfer: voters
// grant them even while they still hear from the old leader.
const transferCtx = "transfer"

// hup starts an election, through a pre-vote when configured.
func (r *raft) hup() {
	if r.role == Leader || !r.conf.voters[r.id] {
		return // learners and removed nodes never stand
	}
	if !r.preVote {
		r.campaign(false)
		return
	}
	r.becomePreCandidate()
	r.logger.Debug("starting pre-vote", "term", r.term+1)
	if len(r.votes) >= r.quorum() {
		r.campaign(false)
		return
	}
	for _, p := range r.votersExcept() {
		r.send(Message{Type: MsgPreVote, To: p, Term: r.term + 1, Index: r.log.lastIndex(), LogTerm: r.log.lastTerm()})
	}
}

// campaign starts an election in the next term.
func (r *raft) campaign(transfer bool) {
	if r.role == Leader || !r.conf.voters[r.id] {
		return
	}
	r.becomeCandidate()
	r.logger.Info("starting election", "term", r.term)
	if len(r.votes) >= r.quorum() {
		r.becomeLeader()
		return
	}
	var ctx []byte
	if transfer {
		ctx = []byte(transferCtx)
	}
	for _, p := range r.votersExcept() {
		r.send(Message{Type: MsgVote, To: p, Index: r.log.lastIndex(), LogTerm: r.log.lastTerm(), Context: ctx})
	}
}

func (r *raft) tickElection() {
	r.electionElapsed++
	if r.electionElapsed >= r.randomizedElectionTimeout {
		r.electionElapsed = 0
		r.hup()
	}
}

func (r *raft) tickHeartbeat() {
	r.heartbeatElapsed++
	r.electionElapsed++
	if r.electionElapsed >= r.electionTimeout {
		r.electionElapsed = 0
		if r.checkQuorum && !r.quorumActive() {
			r.logger.Warn("stepping down: no quorum heard from within an election timeout", "term", r.term)
			r.becomeFollower(r.term, None)
			return
		}
		if r.leadTransferee != None {
			r.logger.Warn("leadership transfer timed out", "to", r.leadTransferee, "term", r.term)
			r.leadTransferee = None
		}
	}
	if r.heartbeatElapsed >= r.heartbeatTimeout {
		r.heartbeatElapsed = 0
		r.bcastHeartbeat()
	}
}

// Step handles a message from a peer.
func (r *raft) Step(m Message) {
	switch {
	case m.Term > r.term:
		if m.Type == MsgVote || m.Type == MsgPreVote {
			// Leader stickiness: a node that heard from its leader within
			// the election timeout ignores candidates, unless the leader
			// itself asked for the election (transfer).
			inLease := r.checkQuorum && r.lead != None && r.electionElapsed < r.electionTimeout
			if inLease && string(m.Context) != transferCtx {
				return
			}
		}
		switch {
		case m.Type == MsgPreVote:
			// A pre-vote never changes the receiver's term.
		case m.Type == MsgPreVoteResp && !m.Reject:
			// A granted pre-vote carries the term we would campaign in.
		case m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap:
			r.becomeFollower(m.Term, m.From)
		case m.Type == MsgVote:
			// Only a granted vote resets the election timer (paper figure
			// 2): a candidate whose log is behind must not keep an
			// up-to-date node from standing by bumping the term.
			elapsed, timeout := r.electionElapsed, r.randomizedElectionTimeout
			wasLeader := r.role == Leader
			r.becomeFollower(m.Term, None)
			if !wasLeader {
				r.electionElapsed, r.randomizedElectionTimeout = elapsed, timeout
			}
		default:
			r.becomeFollower(m.Term, None)
		}
	case m.Term < r.term:
		switch m.Type {
		case MsgApp, MsgHeartbeat, MsgSnap:
			// A deposed leader learns of the newer term from the answer
			// and steps down.
			r.send(Message{Type: MsgAppResp, To: m.From})
		case MsgVote:
			r.send(Message{Type: MsgVoteResp, To: m.From, Reject: true})
		case MsgPreVote:
			r.send(Message{Type: MsgPreVoteResp, To: m.From, Reject: true})
		}
		return
	}
	switch m.Type {
	case MsgVote, MsgPreVote:
		r.handleVote(m)
	default:
		r.step(r, m)
	}
	r.foldCommitted()
}

func (r *raft) handleVote(m Message) {
	resp := MsgVoteResp
	if m.Type == MsgPreVote {
		resp = MsgPreVoteResp
	}
	canVote := r.vote == m.From || (r.vote == None && r.lead == None) ||
		(m.Type == MsgPreVote && m.Term > r.term)
	if !canVote || !r.log.isUpToDate(m.Index, m.LogTerm) {
		r.send(Message{Type: resp, To: m.From, Reject: true})
		return
	}
	if m.Type == MsgPreVote {
		r.send(Message{Type: resp, To: m.From, Term: m.Term})
		return
	}
	r.vote = m.From
	r.electionElapsed = 0
	r.send(Message{Type: resp, To: m.From})
}

func stepFollower(r *raft, m Message) {
	switch m.Type {
	case MsgApp:
		r.electionElapsed = 0
		r.setLead(m.From)
		r.handleAppend(m)
	case MsgHeartbeat:
		r.electionElapsed = 0
		r.setLead(m.From)
		r.handleHeartbeat(m)
	case MsgSnap:
		r.electionElapsed = 0
		r.setLead(m.From)
		r.handleSnapshot(m)
	case MsgTimeoutNow:
		// Our leader hands over: campaign now, skipping the pre-vote.
		r.logger.Info("leader asked us to take over", "from", m.From, "term", r.term)
		r.campaign(true)
	}
}

func stepCandidate(r *raft, m Message) {
	switch m.Type {
	case MsgApp:
		r.becomeFollower(m.Term, m.From)
		r.handleAppend(m)
	case MsgHeartbeat:
		r.becomeFollower(m.Term, m.From)
		r.handleHeartbeat(m)
	case MsgSnap:
		r.becomeFollower(m.Term, m.From)
		r.handleSnapshot(m)
	case MsgVoteResp, MsgPreVoteResp:
		if (m.Type == MsgPreVoteResp) != (r.role == PreCandidate) {
			return // an answer to an earlier round
		}
		if !r.conf.voters[m.From] {
			return
		}
		r.votes[m.From] = !m.Reject
		granted, rejected := 0, 0
		for _, v := range r.votes {
			if v {
				granted++
			} else {
				rejected++
			}
		}
		switch {
		case granted >= r.quorum() && r.role == PreCandidate:
			r.campaign(false)
		case granted >= r.quorum():
			r.becomeLeader()
		case rejected >= r.quorum():
			r.becomeFollower(r.term, None)
		}
	}
}

func stepLeader(r *raft, m Message) {
	pr := r.prs[m.From]
	if pr == nil {
		return
	}
	if m.Type != MsgSnapStatus {
		pr.RecentActive = true
		r.answers++
		pr.heard = r.answers
	}
	switch m.Type {
	case MsgAppResp:
		r.handleAppendResp(m, pr)
		r.maybeForgetRemoved(m.From)
	case MsgSnapStatus:
		if pr.State != StateSnapshot {
			return
		}
		if m.Reject {
			r.logger.Warn("snapshot to follower failed", "to", m.From)
			pr.PendingSnapshot = 0
		} else {
			pr.PendingSnapshot = max(pr.PendingSnapshot, m.Index)
		}
		pr.becomeProbe()
		// Wait for the follower's answer (or the next heartbeat) before
		// sending more.
		pr.ProbeSent = true
	case MsgHeartbeatResp:
		if pr.State == StateReplicate && pr.isPaused(r.maxInflight) && len(pr.inflight) > 0 {
			// The window is full and the follower is alive: let one more
			// append go, which reveals a lost message by its rejection.
			pr.inflight = pr.inflight[1:]
		}
		pr.ProbeSent = false
		if pr.Match < r.log.lastIndex() {
			r.sendAppend(m.From, true)
		}
		if len(m.Context) > 0 {
			r.handleReadAck(m)
		}
		r.maybeForgetRemoved(m.From)
	}
}

func (r *raft) handleAppend(m Message) {
	if m.Index < r.log.committed {
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
		return
	}
	if last, ok := r.log.maybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries); ok {
		r.noteAppended(m.Entries)
		r.send(Message{Type: MsgAppResp, To: m.From, Index: last})
		return
	}
	// Point the leader at the last index that may match: no further than
	// our log, and skipping entries of terms above the leader's.
	hint, hintTerm := r.log.findConflictByTerm(min(m.Index, r.log.lastIndex()), m.LogTerm)
	r.send(Message{Type: MsgAppResp, To: m.From, Index: m.Index, Reject: true, RejectHint: hint, LogTerm: hintTerm})
}

func (r *raft) handleHeartbeat(m Message) {
	r.log.commitTo(min(m.Commit, r.log.lastIndex()))
	r.send(Message{Type: MsgHeartbeatResp, To: m.From, Context: m.Context})
}

func (r *raft) handleAppendResp(m Message, pr *Progress) {
	if m.Reject && m.RejectHint < pr.Match && m.Index >= pr.Match && pr.State != StateSnapshot {
		// A follower that holds every entry it acknowledged never hints
		// below them. This one's log ends before Match: it lost its data (a
		// wiped disk) and came back with the same ID. Start over from what
		// it holds, by snapshot if those entries are compacted. Lowering
		// Match only makes the leader's commit more conservative.
		r.logger.Warn("follower lost entries it had acknowledged", "follower", m.From, "acknowledged", pr.Match, "holds", m.RejectHint)
		pr.Match = m.RejectHint
		pr.becomeProbe()
		r.sendAppend(m.From, false)
		return
	}
	if m.Reject {
		next := m.RejectHint
		if m.LogTerm > 0 {
			// Skip every entry of ours in terms the follower lacks.
			next, _ = r.log.findConflictByTerm(m.RejectHint, m.LogTerm)
		}
		if pr.maybeDecrTo(m.Index, next) {
			r.sendAppend(m.From, false)
		}
		return
	}
	if !pr.maybeUpdate(m.Index) {
		return
	}
	switch {
	case pr.State == StateProbe:
		pr.becomeReplicate()
	case pr.State == StateSnapshot && pr.Match >= pr.PendingSnapshot:
		pr.becomeProbe()
		pr.becomeReplicate()
	}
	if r.maybeCommit() {
		r.bcastAppend()
	} else {
		for r.sendAppend(m.From, false) {
		}
	}
	if m.From == r.leadTransferee && pr.Match == r.log.lastIndex() {
		r.sendTimeoutNow(m.From)
	}
}

// quorumActive reports whether a quorum (this leader included) was heard
// from since the last check, and starts a new period.
func (r *raft) quorumActive() bool {
	active := 0
	for id, pr := range r.prs {
		if r.conf.voters[id] && (id == r.id || pr.RecentActive) {
			active++
		}
		pr.RecentActive = id == r.id
	}
	return active >= r.quorum()
}

// transferLeadership starts handing leadership to to: the leader stops
// taking proposals, brings to's log up to date, then tells it to campaign.
func (r *raft) transferLeadership(to uint64) error {
	if r.role != Leader {
		return ErrNotLeader
	}
	if to == r.id {
		return nil
	}
	pr := r.prs[to]
	if pr == nil || !r.conf.voters[to] {
		return fmt.Errorf("raft: cannot transfer leadership to %d: not a voter", to)
	}
	if r.leadTransferee == to {
		return nil
	}
	r.logger.Info("transferring leadership", "to", to, "term", r.term, "match", pr.Match, "last_index", r.log.lastIndex())
	r.leadTransferee = to
	r.electionElapsed = 0 // the transfer must finish within an election timeout
	if pr.Match == r.log.lastIndex() {
		r.sendTimeoutNow(to)
	} else {
		r.sendAppend(to, true)
	}
	return nil
}

func (r *raft) sendTimeoutNow(to uint64) {
	r.send(Message{Type: MsgTimeoutNow, To: to})
}

// sendAppend sends entries from pr.Next to follower to. With sendIfEmpty it
// sends even when there are no entries, which checks the follower's log at
// pr.Next-1. A follower that needs compacted entries gets a snapshot. It
// reports whether a message was sent.
func (r *raft) sendAppend(to uint64, sendIfEmpty bool) bool {
	pr := r.prs[to]
	if pr.isPaused(r.maxInflight) {
		return false
	}
	prevIndex := pr.Next - 1
	prevTerm, err := r.log.term(prevIndex)
	var ents []Entry
	if err == nil {
		ents, err = r.log.slice(pr.Next, r.log.lastIndex()+1, r.maxMsgSize)
	}
	if errors.Is(err, ErrCompacted) {
		r.sendSnapshot(to, pr)
		return true
	}
	if err != nil {
		panic(fmt.Sprintf("raft: entries from %d for follower %d: %v", pr.Next, to, err))
	}
	if len(ents) == 0 && !sendIfEmpty {
		return false
	}
	r.send(Message{Type: MsgApp, To: to, Index: prevIndex, LogTerm: prevTerm, Entries: ents, Commit: r.log.committed})
	pr.sent(prevIndex+uint64(len(ents)), len(ents))
	return true
}

// sendSnapshot names the latest snapshot to a follower that needs
// compacted entries; the transport streams the data.
func (r *raft) sendSnapshot(to uint64, pr *Progress) {
	snap, err := r.log.storage.Snapshot()
	if err != nil {
		panic(fmt.Sprintf("raft: snapshot for follower %d: %v", to, err))
	}
	r.logger.Info("sending a snapshot", "to", to, "index", snap.Index, "follower_match", pr.Match)
	r.send(Message{Type: MsgSnap, To: to, Index: snap.Index, LogTerm: snap.Term})
	pr.becomeSnapshot(snap.Index)
}

// handleSnapshot handles a leader's snapshot received by a follower.
func (r *raft) handleSnapshot(m Message) {
	meta := SnapshotMeta{Index: m.Index, Term: m.LogTerm}
	switch {
	case meta.Index <= r.log.committed:
		// Nothing new: say how far we are.
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
	case r.log.matchTerm(meta.Index, meta.Term):
		// We hold the snapshot's last entry, and so every entry before
		// it (log matching): commit them rather than discard the log.
		r.log.commitTo(meta.Index)
		r.send(Message{Type: MsgAppResp, To: m.From, Index: meta.Index})
	default:
		r.logger.Info("restoring from a snapshot", "index", meta.Index, "term", meta.Term, "from", m.From)
		r.log.restore(&ReceivedSnapshot{Meta: meta, ConfState: m.ConfState, Handle: m.Context})
		r.confBase = newMembership(m.ConfState)
		r.confBaseIndex = meta.Index
		r.confPending = nil
		r.resetConf()
		// Sent after the Ready that installs the snapshot is persisted.
		r.send(Message{Type: MsgAppResp, To: m.From, Index: meta.Index})
	}
}

func (r *raft) bcastAppend() {
	for _, p := range r.replicas() {
		r.sendAppend(p, false)
	}
}

func (r *raft) bcastHeartbeat() {
	var ctx []byte
	if n := len(r.readOnly); n > 0 {
		ctx = r.readOnly[n-1].ctx
	}
	for _, p := range r.replicas() {
		r.sendHeartbeat(p, ctx)
	}
}

func (r *raft) sendHeartbeat(to uint64, ctx []byte) {
	commit := min(r.prs[to].Match, r.log.committed)
	r.send(Message{Type: MsgHeartbeat, To: to, Commit: commit, Context: ctx})
}

// maybeCommit advances the commit index to the highest index a quorum
// holds, if that entry is of the current term (paper section 5.4.2).
func (r *raft) maybeCommit() bool {
	matches := make([]uint64, 0, len(r.conf.voters))
	for id := range r.conf.voters {
		if pr := r.prs[id]; pr != nil {
			matches = append(matches, pr.Match)
		} else {
			matches = append(matches, 0)
		}
	}
	slices.Sort(matches)
	idx := matches[len(matches)-r.quorum()]
	if idx <= r.log.committed || r.log.zeroTermOnErr(idx) != r.term {
		return false
	}
	r.log.commitTo(idx)
	r.releaseWaitingReads()
	return true
}

// appendEntries appends entries of the current term at the end of the
// leader's log; they are sent with the next Ready.
func (r *raft) appendEntries(ents ...Entry) uint64 {
	last := r.log.lastIndex()
	for i := range ents {
		ents[i].Term = r.term
		ents[i].Index = last + 1 + uint64(i)
	}
	r.log.append(ents...)
	r.pendingBcast = true
	return last + uint64(len(ents))
}

// flushAppends sends the entries appended since the last Ready.
func (r *raft) flushAppends() {
	if r.pendingBcast {
		r.pendingBcast = false
		if r.role == Leader {
			r.bcastAppend()
		}
	}
}

// committedInTerm reports whether the leader has committed an entry of
// its own term, without which it does not know the commit index.
func (r *raft) committedInTerm() bool {
	return r.log.zeroTermOnErr(r.log.committed) == r.term
}

// readIndex starts a ReadIndex request (Raft thesis section 6.4).
func (r *raft) readIndex(ctx []byte) error {
	if r.role != Leader {
		return ErrNotLeader
	}
	if len(r.conf.voters) == 1 && r.conf.voters[r.id] {
		r.readStates = append(r.readStates, ReadState{Index: r.log.committed, RequestCtx: ctx})
		return nil
	}
	if !r.committedInTerm() {
		r.readWaiting = append(r.readWaiting, ctx)
		return nil
	}
	r.addReadIndex(ctx)
	return nil
}

func (r *raft) addReadIndex(ctx []byte) {
	r.readOnly = append(r.readOnly, &readIndexStatus{
		index: r.log.committed,
		ctx:   ctx,
		acks:  map[uint64]bool{r.id: true},
	})
	// Only a quorum's answers are needed: ask just enough voters, those
	// heard from last, so that the others need not wake up for every
	// read. Should one of them not answer, the next heartbeat, which goes
	// to every follower with the newest request's context, confirms it.
	ask := slices.DeleteFunc(r.replicas(), func(id uint64) bool { return !r.conf.voters[id] })
	slices.SortStableFunc(ask, func(a, b uint64) int { return cmp.Compare(r.prs[b].heard, r.prs[a].heard) })
	need := r.quorum()
	if r.conf.voters[r.id] {
		need-- // this leader's own answer
	}
	for _, id := range ask[:min(len(ask), need)] {
		r.sendHeartbeat(id, ctx)
	}
}

func (r *raft) releaseWaitingReads() {
	if len(r.readWaiting) == 0 || !r.committedInTerm() {
		return
	}
	for _, ctx := range r.readWaiting {
		r.addReadIndex(ctx)
	}
	r.readWaiting = nil
}

// handleReadAck counts a heartbeat acknowledgement. A quorum that
// acknowledged a request's heartbeat also confirms every earlier request.
// Only voters count: a learner may still follow a deposed leader.
func (r *raft) handleReadAck(m Message) {
	if !r.conf.voters[m.From] {
		return
	}
	at := -1
	for i, rs := range r.readOnly {
		if string(rs.ctx) == string(m.Context) {
			at = i
			break
		}
	}
	if at < 0 {
		return
	}
	rs := r.readOnly[at]
	rs.acks[m.From] = true
	votes := 0
	for id := range rs.acks {
		// The leader's own answer counts only while it is a voter: one
		// that is removing itself needs a quorum of the others.
		if r.conf.voters[id] {
			votes++
		}
	}
	if votes < r.quorum() {
		return
	}
	for _, done := range r.readOnly[:at+1] {
		r.readStates = append(r.readStates, ReadState{Index: done.index, RequestCtx: done.ctx})
	}
	r.readOnly = r.readOnly[at+1:]
}
