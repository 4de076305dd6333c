package resp

import (
	"context"
	"io"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
)

// Member is one node of the cluster as clients see it.
type Member struct {
	ID       uint64
	RespAddr string // host:port clients are redirected to
	PeerAddr string // host:port of the Raft transport
	Learner  bool   // receives the log but does not vote
}

// Status is a point-in-time view of the node, for INFO, CLUSTER and
// redirects.
type Status struct {
	ID      uint64
	Leader  uint64 // 0 when no leader is known
	Term    uint64
	Role    string // "leader", "follower" or "candidate"
	Commit  uint64
	Applied uint64
	Members []Member // ordered by ID
	Keys    uint64   // number of keys in the data set
	Expires uint64   // number of those with an expiry
}

// SnapshotInfo describes the latest snapshot. The data set on disk is the
// snapshot: the log was compacted up to Index (of term Term), Size is the
// data's estimated size on disk, and LogEntries the entries the log holds
// after it.
type SnapshotInfo struct {
	Index      uint64
	Term       uint64
	Size       uint64
	LogEntries uint64
}

// Backend is what the RESP front end needs from a node.
//
// Errors: raft.ErrNotLeader (redirect, or CLUSTERDOWN when no leader is
// known), raft.ErrLeadershipLost (outcome unknown), raft.ErrStopped, and
// context errors when ctx ends first. resp maps them to replies in one
// place.
type Backend interface {
	// Propose replicates an encoded fsm command and returns its fsm.Result
	// once the entry is committed and applied on this node.
	Propose(ctx context.Context, cmd []byte) (any, error)
	// ProposeMany replicates several commands, appended in order, and
	// returns each one's result or error as Propose would.
	ProposeMany(ctx context.Context, cmds [][]byte) ([]any, []error)
	// ReadBarrier returns once this node may serve a linearizable read:
	// leadership confirmed by a quorum after the call began, and every
	// entry committed before it applied.
	ReadBarrier(ctx context.Context) error
	// Key reads a key's record from the local state machine, expired or
	// not: the caller judges expiry against its Clock-based time.
	Key(key []byte) (r engine.Record, ok bool, err error)
	// View opens a consistent view of the local state machine, for reads
	// of a key's record with its elements. The caller closes it.
	View() (View, error)
	// OnTxReads registers the reads of the transaction nonce, to run when
	// its entry applies on this node (fsm.FSM.OnTxReads).
	OnTxReads(nonce uint64, fn fsm.TxReader) (cancel func())
	// Clock is the state machine's time as of the applied index (Unix
	// milliseconds): the time of the latest applied proposal. The time a
	// node reads and proposes at is never behind it.
	Clock() int64
	// Expired tells the node that a read found key expired. On the
	// leader, it is deleted by a replicated command in the background
	// (the sweep of the expiry index would also find it); elsewhere, and
	// when the node is busy, the hint is dropped. It must not block.
	Expired(key []byte)
	// Digest returns a digest of the local state machine's data (zeros
	// when empty): nodes that applied the same entries agree.
	Digest() ([20]byte, error)
	// Status returns the node's current view of the cluster. It is called
	// for every command and must be cheap.
	Status() Status
	// Progress returns, on the leader, the highest log index known to be
	// replicated on each member (raft.ErrNotLeader elsewhere).
	Progress(ctx context.Context) (map[uint64]uint64, error)
	// TransferLeadership hands leadership from this node (the leader) to
	// member to, or to the most up-to-date follower when to is 0, and
	// returns once another node leads.
	TransferLeadership(ctx context.Context, to uint64) error
	// SnapshotInfo describes the latest snapshot.
	SnapshotInfo() SnapshotInfo
	// Snapshot takes a snapshot now and returns its index.
	Snapshot(ctx context.Context) (uint64, error)
	// Backup writes a snapshot of the data as it is now to a temporary
	// file and returns it open, with its size; closing it removes it.
	Backup(ctx context.Context) (io.ReadCloser, int64, error)
	// AddNode adds a node (a learner first, a voter once caught up);
	// RemoveNode removes one. Leader only.
	AddNode(ctx context.Context, id uint64, peerAddr, respAddr string) error
	RemoveNode(ctx context.Context, id uint64) error
}
