// Package resp serves the Redis protocol (RESP2) for a raftkv node, on
// top of tidwall/redcon.
//
// A command is looked up in one table (commands.go) that holds its arity,
// flags, key positions and handler; COMMAND answers from the same table.
// Data commands are routed first: a follower answers -MOVED with the key's
// Redis Cluster slot and the leader's address, and with no leader known a
// command waits a bounded time and then gets -CLUSTERDOWN. On the leader a
// write is encoded for the state machine (fsm/) and proposed through Raft;
// the reply is sent only once the entry is committed and applied. A read
// waits for a ReadIndex confirmation (linearizable) and then reads the
// local state machine. All mapping from Go errors to error replies happens
// in call.backendError.
//
// redcon enforces no input limits; limits.go scans each connection's byte
// stream and refuses oversized bulk strings, argument counts and inline
// lines with Redis's protocol errors before redcon buffers them.
package resp
