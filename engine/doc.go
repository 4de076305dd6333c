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
//	'C'                 cluster ID, as given at the node's first start; outside
//	                    the range a received snapshot replaces
//	'a'                 applied index: 8-byte big-endian uint64
//	'd' ...             the data set, below
//	'e'                 number of keys with an expiry: 8-byte big-endian
//	'h'                 hard state: term, vote, commit as three 8-byte
//	                    big-endian uint64s (24 bytes)
//	'k'                 number of keys: 8-byte big-endian uint64
//	'l' + index         log entry; the index is 8-byte big-endian so that
//	                    key order is log order
//	'm' + id            member: 8-byte big-endian ID key; value: one byte
//	                    (1 learner, 0 voter), uvarint length of the peer
//	                    address, the peer address, the RESP address
//	's'                 compaction point: index and term (8-byte big-endian
//	                    each) of the last entry dropped from the log
//
// # The data set
//
// Everything the state machine holds lives under 'd', so that one range
// is the snapshot, the digest and FLUSHDB:
//
//	'd' 'c'             the state machine's clock: the latest proposal time
//	                    applied, Unix ms, 8-byte big-endian
//	'd' 'k' + user key  the key's record: one byte of Type, with 0x80 set
//	                    when an 8-byte big-endian expiry (Unix ms) follows,
//	                    then the value. A string's value is its bytes, so
//	                    GET is one point read. User keys are binary safe
//	                    (zero bytes, newlines): nothing is escaped, the
//	                    prefix alone separates them from other families.
//	'd' 'x' + expiry + user key
//	                    expiry index, empty value: the expiry as 8 bytes
//	                    big-endian with the sign bit flipped, so that key
//	                    order is time order and the leader's sweep reads
//	                    the soonest first
//
// Hashes, lists, sets and sorted sets keep a record too (type, expiry, and
// a header such as the element count in the value) and each element under
// its own key, prefixed by the user key's length so that one key's
// elements are one contiguous range:
//
//	'd' 'h' + len32 + key + field            hash field -> value
//	'd' 's' + len32 + key + member           set member
//	'd' 'z' + len32 + key + member           sorted set member -> score
//	'd' 'Z' + len32 + key + score + member   sorted set by score -> score
//	'd' 'l' + len32 + key + seq              list element; head and tail
//	                                         sequence numbers in the record
//
// (len32 is the key's length as 4 bytes big-endian; scores are float64
// bits mapped to sort in numeric order.) Deleting such a key deletes its
// record and its element range with one range tombstone: O(1) at write
// time, reclaimed by compaction, and never seen by a later reader, a
// snapshot or the digest. That is what a per-key version number buys
// stores without range deletion; pebble has it. A hash's or a set's record
// value is its element count (uvarint); a sorted set's is its count and,
// once members were popped, two marks in its score index that scans start
// from, past the pops' tombstones (fsm.ZSetMeta); a list's is the
// sequence number of its first element (varint) and its length (uvarint),
// its elements sitting at consecutive sequence numbers (8 bytes big-endian,
// sign bit flipped), so LINDEX is a point read and LRANGE a bounded scan. RENAME of a hash
// rewrites its fields under the new name (O(fields), as in other stores
// that key elements by the user key).
//
// Whether a key has expired is for the reader to judge: the engine reads
// no clock. The state machine judges at the time its entries carry; the
// front end at the leader's clock, never behind the state machine's.
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
// with the applied index, the key counts and the clock, without a sync: if a crash loses
// it, the applied index is lost with the data and the committed log entries
// are applied again from there. Either way data, applied index and key count
// always agree. A key written several times in one ApplyBatch reaches
// pebble once, with its last record, unless a read in the batch came
// between (it sees every write before it) or the record is over 16 KiB.
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
// span from 'a' to 's': applied index, data (clock and expiry index
// included), counts, hard state, log, members and compaction point are
// replaced in one atomic step, so a crash
// leaves either the old state or the new one.
package engine
