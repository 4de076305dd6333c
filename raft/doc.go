// Package raft implements the Raft consensus protocol for raftkv.
//
// The core (RawNode, with the protocol in raft.go, the log in log.go and
// per-follower replication state in progress.go) is a deterministic state
// machine: it has no goroutines, clocks, network or disk. It changes only
// when it is ticked, stepped with a message, or asked to propose or read,
// and it hands back a Ready: hard state and entries to persist, messages to
// send, committed entries to apply, and confirmed reads. TestCoreIsPure
// keeps it that way, and the seeded simulation in sim_test.go drives it
// through loss, delay, reordering, duplication, partitions and crashes,
// checking the safety invariants after every tick.
//
// The driver (Node, in node.go) runs a RawNode on one goroutine against a
// LogStore, a Transport and a StateMachine, and lets many goroutines
// propose and read through it.
//
// Durability contract: the driver persists a Ready's hard state and
// entries, synced when Ready.MustSync, before it sends the Ready's
// messages; a vote or an append acknowledgement therefore never precedes
// the write it promises. The one exception is a leader's own appends
// (Raft thesis section 10.2.1): it sends them first, writes them without
// waiting for the sync when the LogStore can (AsyncLogStore), and the core
// counts them towards a quorum only once StableTo reports them durable.
// While followers that answer form a quorum without it, a leader whose
// writer is busy may put that sync off (NodeConfig.LeaderSyncDelay):
// their copies commit its entries, and one sync of its own covers many
// writes.
// The state machine may apply with unsynced writes
// as long as it records the applied index atomically with the data: after a
// crash the log still holds every committed entry past the surviving
// applied index, and the node replays from there.
//
// Reads are linearizable through ReadIndex (Raft thesis section 6.4): the
// leader notes its commit index, confirms with a quorum of heartbeat
// acknowledgements that it is still the leader, and serves the read once
// its state machine has applied that index. Reads waiting at the same time
// share one round of heartbeats.
package raft
