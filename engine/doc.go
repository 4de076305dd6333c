// Package engine keeps everything a raftkv node persists in one pebble
// database: the Raft log, the hard state, the applied index, the key count
// and the data set itself. Keeping them in one store is what lets the state
// machine write its effects and its applied index in a single atomic batch.
//
// # Key layout
//
// Every key family starts with a one-byte prefix, so each family is a
// contiguous, bounded key range:
//
//	'a'                 applied index: 8-byte big-endian uint64
//	'd' + user key      data: the value, raw bytes. The user key is binary
//	                    safe (zero bytes, newlines): nothing is escaped,
//	                    the prefix alone separates it from other families.
//	'h'                 hard state: term, vote, commit as three 8-byte
//	                    big-endian uint64s (24 bytes)
//	'k'                 number of data keys: 8-byte big-endian uint64
//	'l' + index         log entry; the index is 8-byte big-endian so that
//	                    key order is log order
//	'm' + id            member: 8-byte big-endian ID key; value: one byte
//	                    (1 learner, 0 voter), uvarint length of the peer
//	                    address, the peer address, the RESP address
//	's'                 compaction point: index and term (8-byte big-endian
//	                    each) of the last entry dropped from the log
//
// A log entry's value is uvarint(term), one byte of raft.EntryType, then
// the entry's data to the end of the value. The index is not repeated: it
// is in the key.
//
// # Durability
//
// Save writes the hard state and the entries in one batch, synced when the
// caller asks (Raft needs them on disk before it sends the messages that
// depend on them). An ApplyBatch commits the state machine's writes together
// with the applied index and the key count, without a sync: if a crash loses
// it, the applied index is lost with the data and the committed log entries
// are applied again from there. Either way data, applied index and key count
// always agree.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Log methods are serialised among
// themselves; at most one ApplyBatch is open at a time (NewApplyBatch waits
// until the previous one is closed), which keeps the key count's
// read-modify-write correct. Get reads committed data only. Close waits for
// an open ApplyBatch and for reads in progress; every later call returns
// ErrClosed rather than touching a closed database.
//
// # Compaction and snapshots
//
// The data set on disk is the state machine's snapshot: it always agrees
// with the applied index. Compact drops the log up to an applied index and
// records that point. OpenSnapshot takes a consistent pebble view of the
// data for a follower that is too far behind, and streams it in a
// self-checking format without holding it in memory. InstallSnapshot
// writes the received stream into sstables in a staging folder (bounded
// memory, whatever the size) and ingests them with an excise of the whole
// span from 'a' to 's': applied index, data, hard state, key count, log,
// members and compaction point are replaced in one atomic step, so a crash
// leaves either the old state or the new one.
package engine
