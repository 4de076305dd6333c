// Package fsm is raftkv's replicated state machine: it encodes the write
// commands that go into the Raft log and applies committed entries to the
// engine. Every node applies the same entries, so every node must end with
// the same bytes.
//
// # Command encoding
//
// A command is one byte of Op, a uvarint argument count, then each argument
// as a uvarint length followed by its bytes (see command.go). Op values are
// part of the log format: they are never renumbered, only appended. SET and
// APPEND take exactly two arguments (key, value), DEL one or more keys.
//
// # Apply
//
// Apply writes a whole run of entries in one engine.ApplyBatch and commits
// it with the index of the last entry, so the data, the key count and the
// applied index move together. Entries at or below the applied index are
// skipped (after a restart the log replays from the last applied index the
// engine kept), and an entry that does not follow the applied index is an
// error: applying past a gap would lose a write. An entry with empty Data
// (a new leader's no-op) only advances the applied index.
//
// A command that cannot be decoded, has an unknown op or the wrong number of
// arguments yields a Result whose Err wraps ErrCorrupt; it changes nothing
// and does not stop the node, since every node reaches the same verdict.
// Only storage failures make Apply return an error.
//
// # Time and expiry
//
// The leader stamps each command with its clock when it proposes it (OpAt,
// Unix milliseconds), and turns relative times to live into absolute ones,
// so the log says when everything happens. Apply's time is the highest
// stamp applied so far (the engine keeps it with the applied index and in
// snapshots): it never goes back, even when a new leader's clock is behind.
// A key is expired once that time is past its expiry, as in Redis (now >
// expiry). A command that meets an expired key deletes it first and then
// sees it as missing, like Redis's lookupKeyWrite; EXPIRE to a time
// already past deletes the key. The leader removes expired keys nobody
// writes with OpDelExpired, which deletes only what is expired when it
// applies, so a key rewritten in the meantime survives.
//
// # Determinism
//
// Apply reads nothing but the entries and the data they touch: no clock, no
// randomness, no map iteration, no node identity. Results and error texts
// depend only on the command and the data. Keys and values are raw bytes
// throughout (zero bytes and newlines included).
package fsm
