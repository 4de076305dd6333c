package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// None is the zero node ID: no leader, no vote.
const None uint64 = 0

// Sentinel errors returned by the core and the driver.
var (
	// ErrNotLeader is returned for a proposal or read made on a node that is
	// not the leader. Nothing was appended, so the caller may retry elsewhere.
	ErrNotLeader = errors.New("raft: not leader")
	// ErrProposalDropped is returned when a proposal was not appended to the
	// log for a reason other than leadership.
	ErrProposalDropped = errors.New("raft: proposal dropped")
	// ErrCompacted is returned by Storage when an index precedes the first
	// index still held.
	ErrCompacted = errors.New("raft: requested index is compacted")
	// ErrUnavailable is returned by Storage when an index is past the last
	// index it holds.
	ErrUnavailable = errors.New("raft: requested entry is unavailable")
	// ErrStopped is returned by the driver once it has been stopped.
	ErrStopped = errors.New("raft: node stopped")
	// ErrTransferring is returned for a proposal made while the leader is
	// handing leadership to another node; retrying shortly reaches the new
	// leader.
	ErrTransferring = errors.New("raft: leadership transfer in progress")
	// ErrLeadershipLost is returned for a read or proposal whose leader lost
	// leadership before it could be confirmed. A proposal's outcome is then
	// unknown: the entry may still commit under the next leader.
	ErrLeadershipLost = errors.New("raft: leadership lost")
	// ErrConfChangePending is returned for a membership change proposed
	// while an earlier one is not yet committed: one change at a time.
	ErrConfChangePending = errors.New("raft: a membership change is already in progress")
)

// EntryType tells how an entry's Data is to be read.
type EntryType uint8

const (
	// EntryNormal carries a state machine command in Data. A leader appends
	// one with empty Data when it takes office, so that it can commit an
	// entry of its own term.
	EntryNormal EntryType = iota
	// EntryConfChange carries an encoded ConfChange in Data. It takes
	// effect on every node as soon as it is appended to its log.
	EntryConfChange
)

// Entry is one slot of the replicated log.
type Entry struct {
	Term  uint64
	Index uint64
	Type  EntryType
	Data  []byte
}

// HardState is what must be persisted (synced) before any message that
// depends on it is sent.
type HardState struct {
	Term   uint64
	Vote   uint64
	Commit uint64
}

// IsEmpty reports whether hs is the zero HardState.
func (hs HardState) IsEmpty() bool { return hs == HardState{} }

// Role is a node's part in the protocol.
type Role uint8

const (
	Follower Role = iota
	Candidate
	Leader
	// PreCandidate asks for pre-votes before it campaigns, without
	// raising its term.
	PreCandidate
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "follower"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	case PreCandidate:
		return "pre-candidate"
	}
	return "unknown"
}

// SoftState is volatile state that the application may want to observe; it
// is never persisted.
type SoftState struct {
	Lead uint64
	Role Role
}

// MessageType identifies a Message.
type MessageType uint8

// Message types. Values are part of the wire format (peer/ carries them as
// numbers): never renumber, only append.
const (
	MsgVote MessageType = iota + 1
	MsgVoteResp
	MsgApp
	MsgAppResp
	MsgHeartbeat
	MsgHeartbeatResp
	MsgPreVote
	MsgPreVoteResp
	MsgTimeoutNow
	MsgSnap
	MsgSnapStatus
)

func (t MessageType) String() string {
	switch t {
	case MsgVote:
		return "MsgVote"
	case MsgVoteResp:
		return "MsgVoteResp"
	case MsgApp:
		return "MsgApp"
	case MsgAppResp:
		return "MsgAppResp"
	case MsgHeartbeat:
		return "MsgHeartbeat"
	case MsgHeartbeatResp:
		return "MsgHeartbeatResp"
	case MsgPreVote:
		return "MsgPreVote"
	case MsgPreVoteResp:
		return "MsgPreVoteResp"
	case MsgTimeoutNow:
		return "MsgTimeoutNow"
	case MsgSnap:
		return "MsgSnap"
	case MsgSnapStatus:
		return "MsgSnapStatus"
	}
	return "MsgUnknown"
}

// ConfChangeType is a kind of membership change.
type ConfChangeType uint8

// Membership changes, one node at a time (Raft thesis 4.1). Values are
// part of the log format.
const (
	// ConfAddLearner adds a node that receives the log but neither votes
	// nor counts towards a quorum, so that it can catch up first.
	ConfAddLearner ConfChangeType = iota + 1
	// ConfPromote makes a learner a voter.
	ConfPromote
	// ConfRemove removes a voter or a learner.
	ConfRemove
)

func (t ConfChangeType) String() string {
	switch t {
	case ConfAddLearner:
		return "add-learner"
	case ConfPromote:
		return "promote"
	case ConfRemove:
		return "remove"
	}
	return "unknown"
}

// ConfChange is one membership change. Context is the application's
// (raftkv puts the node's addresses there).
type ConfChange struct {
	Type    ConfChangeType
	NodeID  uint64
	Context []byte
}

// Marshal encodes cc for an EntryConfChange: type, uvarint node ID, then
// the context to the end.
func (cc ConfChange) Marshal() []byte {
	b := []byte{byte(cc.Type)}
	b = binary.AppendUvarint(b, cc.NodeID)
	return append(b, cc.Context...)
}

// UnmarshalConfChange decodes an EntryConfChange's Data.
func UnmarshalConfChange(b []byte) (ConfChange, error) {
	if len(b) < 2 {
		return ConfChange{}, errors.New("raft: short conf change")
	}
	id, n := binary.Uvarint(b[1:])
	if n <= 0 || id == None {
		return ConfChange{}, errors.New("raft: bad node ID in conf change")
	}
	cc := ConfChange{Type: ConfChangeType(b[0]), NodeID: id, Context: b[1+n:]}
	if cc.Type < ConfAddLearner || cc.Type > ConfRemove {
		return ConfChange{}, fmt.Errorf("raft: unknown conf change type %d", b[0])
	}
	return cc, nil
}

// ConfState is a membership: who votes and who only learns.
type ConfState struct {
	Voters   []uint64
	Learners []uint64
}

// Message is what nodes exchange. Which fields are meaningful depends on
// Type:
//
//   - MsgVote: Index/LogTerm are the candidate's last index and term.
//   - MsgVoteResp: Reject tells whether the vote was refused.
//   - MsgApp: Index/LogTerm identify the entry preceding Entries; Commit is
//     the leader's commit index.
//   - MsgAppResp: on success Index is the last index the follower now holds
//     (persisted before the response is sent); on Reject, Index echoes the
//     rejected MsgApp's Index, RejectHint is the follower's hint for where
//     to retry and LogTerm is the term of the follower's entry at RejectHint
//     (the conflict term/index hint used for fast backup).
//   - MsgHeartbeat: Commit is min(leader commit, follower's match); Context
//     carries a ReadIndex request context when one is being confirmed.
//   - MsgHeartbeatResp: Context echoes the heartbeat's Context.
//   - MsgPreVote: like MsgVote, for the term the sender would campaign in
//     (Term); the sender's own term does not change (Raft thesis 9.6).
//   - MsgPreVoteResp: a granted pre-vote carries the request's Term.
//   - MsgTimeoutNow: the leader asks the recipient to campaign at once
//     (leadership transfer); the vote requests that follow carry
//     Context "transfer" so that voters ignore their leader lease.
//   - MsgSnap: the leader's state machine snapshot at Index (term
//     LogTerm), for a follower whose next entries were compacted. The core
//     only names it; the transport streams the data (taking the newest
//     snapshot, which may be later than the one named) and delivers
//     MsgSnap to the follower with the index and term of what it sent and,
//     in Context, a handle on the received data for Ready.Snapshot.
//   - MsgSnapStatus: stepped into the leader by its own transport when a
//     snapshot stream to From ended: Reject tells it failed; Index is the
//     index of the snapshot sent.
type Message struct {
	Type       MessageType
	To         uint64
	From       uint64
	Term       uint64
	LogTerm    uint64
	Index      uint64
	Entries    []Entry
	Commit     uint64
	Reject     bool
	RejectHint uint64
	Context    []byte
	// ConfState is the membership a snapshot reflects (MsgSnap only).
	ConfState ConfState
}

// ReadState is a confirmed ReadIndex request: once the state machine has
// applied Index, a read issued when the request was made may be served.
type ReadState struct {
	Index      uint64
	RequestCtx []byte
}

// Ready is what the core hands the driver after it has been stepped or
// ticked. The driver must, in this order:
//
//  1. persist HardState (if not empty) and Entries, synced when MustSync;
//  2. send Messages;
//  3. apply CommittedEntries and serve ReadStates;
//  4. call Advance.
type Ready struct {
	// SoftState is nil when it has not changed since the last Ready.
	*SoftState
	// HardState is empty when it has not changed since the last Ready.
	HardState HardState
	// Entries are to be appended to stable storage. An entry whose index is
	// already held replaces it and every entry after it.
	Entries []Entry
	// CommittedEntries are to be applied, in order.
	CommittedEntries []Entry
	// Messages are to be sent after Entries and HardState are persisted.
	// The slice is the core's again after Advance (the messages in it are
	// values: copies may be kept).
	Messages []Message
	// ReadStates are confirmed ReadIndex requests.
	ReadStates []ReadState
	// Snapshot, when set, is a snapshot received from the leader that
	// replaces the state machine and the log; it is installed first.
	Snapshot *ReceivedSnapshot
	// MustSync is true when Entries or the term or vote changed.
	MustSync bool
}

// ReceivedSnapshot is a snapshot to install: its index and term, and the
// transport's handle on its data (MsgSnap's Context).
type ReceivedSnapshot struct {
	Meta      SnapshotMeta
	ConfState ConfState
	Handle    []byte
}

// SnapshotMeta identifies a snapshot: the state machine after applying
// every entry up to Index, whose term is Term. The log is compacted up to
// the latest snapshot: FirstIndex is Index+1 and Term(Index) still works.
type SnapshotMeta struct {
	Index uint64
	Term  uint64
}

// Storage is the core's read access to the persisted log. The driver's
// LogStore implements it (engine/); MemoryStorage implements it for tests.
type Storage interface {
	// InitialState returns the HardState saved last.
	InitialState() (HardState, error)
	// Entries returns entries in [lo, hi), limited to about maxSize bytes
	// but always at least one entry when lo < hi.
	Entries(lo, hi, maxSize uint64) ([]Entry, error)
	// Term returns the term of entry i; i may be FirstIndex()-1.
	Term(i uint64) (uint64, error)
	// LastIndex returns the index of the last entry held.
	LastIndex() (uint64, error)
	// FirstIndex returns the index of the first entry that may be read
	// through Entries. An empty log has FirstIndex 1 and LastIndex 0.
	FirstIndex() (uint64, error)
	// Snapshot returns the point the log was last compacted to (the zero
	// SnapshotMeta if never).
	Snapshot() (SnapshotMeta, error)
}
