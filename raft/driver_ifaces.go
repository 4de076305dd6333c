package raft

// LogStore is the durable side of Storage: the driver saves what a Ready
// hands it. engine/ implements it over pebble.
type LogStore interface {
	Storage
	// Save persists hs (unless empty) and ents in one atomic write, synced
	// when sync is true. ents replace any held entries from ents[0].Index on.
	Save(hs HardState, ents []Entry, sync bool) error
}

// AsyncLogStore is a LogStore that can persist without waiting for the
// sync, so that the driver keeps working while the disk syncs.
type AsyncLogStore interface {
	LogStore
	// SaveAsync writes hs (unless empty) and ents as Save with sync does,
	// after every earlier write, but returns before the write is durable;
	// wait makes it durable, with every write made before it (it may be
	// what starts the sync), so a caller may skip the waits of earlier
	// writes. A write made later is never durable without this one.
	SaveAsync(hs HardState, ents []Entry) (wait func() error, err error)
}

// Transport delivers messages to peers. Send must not block: a message that
// cannot be queued may be dropped, as Raft tolerates loss. It may keep the
// messages (they are values) and their entries, but not the slice msgs,
// which the core reuses.
type Transport interface {
	Send(msgs []Message)
}

// StateMachine applies committed entries. fsm/ implements it.
type StateMachine interface {
	// Apply applies ents in order and records ents[len(ents)-1].Index as the
	// applied index atomically with their effects. It returns one result
	// per entry, handed back to the proposer of that entry.
	Apply(ents []Entry) ([]any, error)
	// Applied returns the index of the last applied entry.
	Applied() uint64
}
