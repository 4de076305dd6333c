package resp

import (
	"math"
	"strings"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
)

// command is one entry of the command table. Arity, flags and key
// positions follow Redis's COMMAND conventions: a positive arity is exact,
// a negative one a minimum, both counting the name; lastKey -1 means the
// last argument.
type command struct {
	name     string
	arity    int
	flags    []string
	firstKey int
	lastKey  int
	step     int
	group    string
	summary  string
	since    string
	// args documents the arguments for COMMAND DOCS (redis-cli's hints).
	args []arg
	run  func(c *call)
	// idx is the command's place in commandNames.
	idx int
}

// arg is one documented argument: its name, its type (key, string,
// integer...), and whether it is optional or may repeat.
type arg struct {
	name     string
	typ      string
	optional bool
	multiple bool
}

// expireArgs documents EXPIRE and its forms, whose time is in unit.
func expireArgs(unit string) []arg {
	return []arg{{name: "key", typ: "key"}, {name: unit, typ: "integer"}, {name: "NX|XX|GT|LT", typ: "oneof", optional: true}}
}

func (cmd *command) arityOK(n int) bool {
	if cmd.arity >= 0 {
		return n == cmd.arity
	}
	return n >= -cmd.arity
}

// commands is the command table, by lower-case name. Filled in init so
// that handlers may refer to it (COMMAND lists it).
var commands map[string]*command

// commandNames are the table's command names, by command.idx.
var commandNames []string

// maxCommandName bounds the names in the command table.
const maxCommandName = 32

// lookupCommand finds the command named name in any case, without
// allocating: nil when there is none.
func lookupCommand(name []byte) *command {
	var buf [maxCommandName]byte
	if len(name) > len(buf) {
		return nil
	}
	lower := buf[:len(name)]
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		lower[i] = ch
	}
	return commands[string(lower)]
}

func init() {
	table := []*command{
		// Strings and keys: replicated through Raft.
		{name: "get", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "1.0.0", summary: "Returns the string value of a key.", run: cmdGet},
		{name: "set", args: []arg{{name: "key", typ: "key"}, {name: "value", typ: "string"}, {name: "NX|XX", typ: "oneof", optional: true}, {name: "GET", typ: "pure-token", optional: true}, {name: "EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL", typ: "oneof", optional: true}}, arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "1.0.0", summary: "Sets the string value of a key.", run: cmdSet},
		{name: "getset", args: []arg{{name: "key", typ: "key"}, {name: "value", typ: "string"}}, arity: 3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "1.0.0", summary: "Returns the previous string value of a key after setting it to a new value.", run: cmdGetSet},
		{name: "setnx", args: []arg{{name: "key", typ: "key"}, {name: "value", typ: "string"}}, arity: 3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "1.0.0", summary: "Set the string value of a key only when the key doesn't exist.", run: cmdSetNX},
		{name: "append", args: []arg{{name: "key", typ: "key"}, {name: "value", typ: "string"}}, arity: 3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "2.0.0", summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.", run: cmdAppend},
		{name: "getdel", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "6.2.0", summary: "Returns the string value of a key after deleting the key.", run: cmdGetDel},
		{name: "strlen", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "2.2.0", summary: "Returns the length of a string value.", run: cmdStrlen},
		{name: "getrange", args: []arg{{name: "key", typ: "key"}, {name: "start", typ: "integer"}, {name: "end", typ: "integer"}}, arity: 4, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "2.4.0", summary: "Returns a substring of the string stored at a key.", run: cmdGetRange},
		{name: "setrange", args: []arg{{name: "key", typ: "key"}, {name: "offset", typ: "integer"}, {name: "value", typ: "string"}}, arity: 4, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "2.2.0", summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", run: cmdSetRange},
		{name: "mget", args: []arg{{name: "key", typ: "key", multiple: true}}, arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, group: "string", since: "1.0.0", summary: "Atomically returns the string values of one or more keys.", run: cmdMGet},
		{name: "mset", args: []arg{{name: "key", typ: "key"}, {name: "value", typ: "string"}}, arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: -1, step: 2, group: "string", since: "1.0.1", summary: "Atomically creates or modifies the string values of one or more keys.", run: cmdMSet},
		{name: "msetnx", args: []arg{{name: "key", typ: "key"}, {name: "value", typ: "string"}}, arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: -1, step: 2, group: "string", since: "1.0.1", summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.", run: cmdMSet},
		{name: "incr", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "1.0.0", summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", run: cmdIncr},
		{name: "decr", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "1.0.0", summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", run: cmdDecr},
		{name: "incrby", args: []arg{{name: "key", typ: "key"}, {name: "increment", typ: "integer"}}, arity: 3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "1.0.0", summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", run: cmdIncrBy},
		{name: "incrbyfloat", args: []arg{{name: "key", typ: "key"}, {name: "increment", typ: "double"}}, arity: 3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "2.6.0", summary: "Increment the float value of a key by the given amount", run: cmdIncrByFloat},
		{name: "decrby", args: []arg{{name: "key", typ: "key"}, {name: "decrement", typ: "integer"}}, arity: 3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "1.0.0", summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", run: cmdDecrBy},
		{name: "setex", args: []arg{{name: "key", typ: "key"}, {name: "seconds", typ: "integer"}, {name: "value", typ: "string"}}, arity: 4, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "2.0.0", summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", run: cmdSetEx},
		{name: "psetex", args: []arg{{name: "key", typ: "key"}, {name: "milliseconds", typ: "integer"}, {name: "value", typ: "string"}}, arity: 4, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "2.6.0", summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", run: cmdSetEx},
		{name: "getex", args: []arg{{name: "key", typ: "key"}, {name: "EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST", typ: "oneof", optional: true}}, arity: -2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", since: "6.2.0", summary: "Returns the string value of a key after setting its expiration time.", run: cmdGetEx},
		// Hashes.
		{name: "hset", args: []arg{{name: "key", typ: "key"}, {name: "field value", typ: "block", multiple: true}}, arity: -4, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Creates or modifies the value of a field in a hash.", run: cmdHSet},
		{name: "hmset", args: []arg{{name: "key", typ: "key"}, {name: "field value", typ: "block", multiple: true}}, arity: -4, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Sets the values of multiple fields.", run: cmdHSet},
		{name: "hsetnx", args: []arg{{name: "key", typ: "key"}, {name: "field", typ: "string"}, {name: "value", typ: "string"}}, arity: 4, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Sets the value of a field in a hash only when the field doesn't exist.", run: cmdHSetNX},
		{name: "hget", args: []arg{{name: "key", typ: "key"}, {name: "field", typ: "string"}}, arity: 3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Returns the value of a field in a hash.", run: cmdHGet},
		{name: "hmget", args: []arg{{name: "key", typ: "key"}, {name: "field", typ: "string", multiple: true}}, arity: -3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Returns the values of all fields in a hash.", run: cmdHMGet},
		{name: "hgetall", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Returns all fields and values in a hash.", run: cmdHGetAll},
		{name: "hkeys", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Returns all fields in a hash.", run: cmdHGetAll},
		{name: "hvals", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Returns all values in a hash.", run: cmdHGetAll},
		{name: "hdel", args: []arg{{name: "key", typ: "key"}, {name: "field", typ: "string", multiple: true}}, arity: -3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", run: cmdHDel},
		{name: "hexists", args: []arg{{name: "key", typ: "key"}, {name: "field", typ: "string"}}, arity: 3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Determines whether a field exists in a hash.", run: cmdHExists},
		{name: "hlen", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Returns the number of fields in a hash.", run: cmdHLen},
		{name: "hstrlen", args: []arg{{name: "key", typ: "key"}, {name: "field", typ: "string"}}, arity: 3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "3.2.0", summary: "Returns the length of the value of a field.", run: cmdHStrlen},
		{name: "hincrby", args: []arg{{name: "key", typ: "key"}, {name: "field", typ: "string"}, {name: "increment", typ: "integer"}}, arity: 4, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.0.0", summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", run: cmdHIncrBy},
		{name: "hincrbyfloat", args: []arg{{name: "key", typ: "key"}, {name: "field", typ: "string"}, {name: "increment", typ: "double"}}, arity: 4, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.6.0", summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", run: cmdHIncrByFloat},
		// Lists.
		{name: "lpush", args: []arg{{name: "key", typ: "key"}, {name: "element", typ: "string", multiple: true}}, arity: -3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist.", run: cmdPush},
		{name: "rpush", args: []arg{{name: "key", typ: "key"}, {name: "element", typ: "string", multiple: true}}, arity: -3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Appends one or more elements to a list. Creates the key if it doesn't exist.", run: cmdPush},
		{name: "lpushx", args: []arg{{name: "key", typ: "key"}, {name: "element", typ: "string", multiple: true}}, arity: -3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "2.2.0", summary: "Prepends one or more elements to a list only when the list exists.", run: cmdPush},
		{name: "rpushx", args: []arg{{name: "key", typ: "key"}, {name: "element", typ: "string", multiple: true}}, arity: -3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "2.2.0", summary: "Appends an element to a list only when the list exists.", run: cmdPush},
		{name: "lpop", args: []arg{{name: "key", typ: "key"}, {name: "count", typ: "integer", optional: true}}, arity: -2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", run: cmdPop},
		{name: "rpop", args: []arg{{name: "key", typ: "key"}, {name: "count", typ: "integer", optional: true}}, arity: -2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", run: cmdPop},
		{name: "llen", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Returns the length of a list.", run: cmdLLen},
		{name: "lindex", args: []arg{{name: "key", typ: "key"}, {name: "index", typ: "integer"}}, arity: 3, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Returns an element from a list by its index.", run: cmdLIndex},
		{name: "lrange", args: []arg{{name: "key", typ: "key"}, {name: "start", typ: "integer"}, {name: "stop", typ: "integer"}}, arity: 4, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Returns a range of elements from a list.", run: cmdLRange},
		{name: "lset", args: []arg{{name: "key", typ: "key"}, {name: "index", typ: "integer"}, {name: "element", typ: "string"}}, arity: 4, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Sets the value of an element in a list by its index.", run: cmdLSet},
		{name: "lrem", args: []arg{{name: "key", typ: "key"}, {name: "count", typ: "integer"}, {name: "element", typ: "string"}}, arity: 4, flags: []string{"write"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Removes elements from a list. Deletes the list if the last element was removed.", run: cmdLRem},
		{name: "ltrim", args: []arg{{name: "key", typ: "key"}, {name: "start", typ: "integer"}, {name: "stop", typ: "integer"}}, arity: 4, flags: []string{"write"}, firstKey: 1, lastKey: 1, step: 1, group: "list", since: "1.0.0", summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", run: cmdLTrim},
		// Sets.
		{name: "sadd", args: []arg{{name: "key", typ: "key"}, {name: "member", typ: "string", multiple: true}}, arity: -3, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "1.0.0", summary: "Adds one or more members to a set. Creates the key if it doesn't exist.", run: cmdSAdd},
		{name: "srem", args: []arg{{name: "key", typ: "key"}, {name: "member", typ: "string", multiple: true}}, arity: -3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "1.0.0", summary: "Removes one or more members from a set. Deletes the set if the last member was removed.", run: cmdSRem},
		{name: "spop", args: []arg{{name: "key", typ: "key"}, {name: "count", typ: "integer", optional: true}}, arity: -2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "1.0.0", summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", run: cmdSPop},
		{name: "scard", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "1.0.0", summary: "Returns the number of members in a set.", run: cmdSCard},
		{name: "sismember", args: []arg{{name: "key", typ: "key"}, {name: "member", typ: "string"}}, arity: 3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "1.0.0", summary: "Determines whether a member belongs to a set.", run: cmdSIsMember},
		{name: "smismember", args: []arg{{name: "key", typ: "key"}, {name: "member", typ: "string", multiple: true}}, arity: -3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "6.2.0", summary: "Determines whether multiple members belong to a set.", run: cmdSIsMember},
		{name: "smembers", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "1.0.0", summary: "Returns all members of a set.", run: cmdSMembers},
		{name: "srandmember", args: []arg{{name: "key", typ: "key"}, {name: "count", typ: "integer", optional: true}}, arity: -2, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "1.0.0", summary: "Get one or multiple random members from a set", run: cmdSRandMember},
		{name: "sinter", args: []arg{{name: "key", typ: "key", multiple: true}}, arity: -2, flags: []string{"readonly"}, firstKey: 1, lastKey: -1, step: 1, group: "set", since: "1.0.0", summary: "Returns the intersect of multiple sets.", run: cmdSetOp},
		{name: "sunion", args: []arg{{name: "key", typ: "key", multiple: true}}, arity: -2, flags: []string{"readonly"}, firstKey: 1, lastKey: -1, step: 1, group: "set", since: "1.0.0", summary: "Returns the union of multiple sets.", run: cmdSetOp},
		{name: "sdiff", args: []arg{{name: "key", typ: "key", multiple: true}}, arity: -2, flags: []string{"readonly"}, firstKey: 1, lastKey: -1, step: 1, group: "set", since: "1.0.0", summary: "Returns the difference of multiple sets.", run: cmdSetOp},
		// Sorted sets.
		{name: "zadd", args: []arg{{name: "key", typ: "key"}, {name: "NX|XX", typ: "oneof", optional: true}, {name: "GT|LT", typ: "oneof", optional: true}, {name: "CH", typ: "pure-token", optional: true}, {name: "INCR", typ: "pure-token", optional: true}, {name: "score member", typ: "block", multiple: true}}, arity: -4, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "1.2.0", summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", run: cmdZAdd},
		{name: "zincrby", args: []arg{{name: "key", typ: "key"}, {name: "increment", typ: "integer"}, {name: "member", typ: "string"}}, arity: 4, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "1.2.0", summary: "Increments the score of a member in a sorted set.", run: cmdZAdd},
		{name: "zrem", args: []arg{{name: "key", typ: "key"}, {name: "member", typ: "string", multiple: true}}, arity: -3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "1.2.0", summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", run: cmdZRem},
		{name: "zpopmin", args: []arg{{name: "key", typ: "key"}, {name: "count", typ: "integer", optional: true}}, arity: -2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "5.0.0", summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", run: cmdZPop},
		{name: "zpopmax", args: []arg{{name: "key", typ: "key"}, {name: "count", typ: "integer", optional: true}}, arity: -2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "5.0.0", summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", run: cmdZPop},
		{name: "zcard", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "1.2.0", summary: "Returns the number of members in a sorted set.", run: cmdZCard},
		{name: "zscore", args: []arg{{name: "key", typ: "key"}, {name: "member", typ: "string"}}, arity: 3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "1.2.0", summary: "Returns the score of a member in a sorted set.", run: cmdZScore},
		{name: "zrank", args: []arg{{name: "key", typ: "key"}, {name: "member", typ: "string"}}, arity: 3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "2.0.0", summary: "Returns the index of a member in a sorted set ordered by ascending scores.", run: cmdZRank},
		{name: "zrevrank", args: []arg{{name: "key", typ: "key"}, {name: "member", typ: "string"}}, arity: 3, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "2.0.0", summary: "Returns the index of a member in a sorted set ordered by descending scores.", run: cmdZRank},
		{name: "zcount", args: []arg{{name: "key", typ: "key"}, {name: "min", typ: "double"}, {name: "max", typ: "double"}}, arity: 4, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "2.0.0", summary: "Returns the count of members in a sorted set that have scores within a range.", run: cmdZCount},
		{name: "zrange", args: []arg{{name: "key", typ: "key"}, {name: "start", typ: "string"}, {name: "stop", typ: "string"}, {name: "BYSCORE|BYLEX", typ: "oneof", optional: true}, {name: "REV", typ: "pure-token", optional: true}, {name: "LIMIT offset count", typ: "block", optional: true}, {name: "WITHSCORES", typ: "pure-token", optional: true}}, arity: -4, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "1.2.0", summary: "Returns members in a sorted set within a range of indexes.", run: cmdZRange},
		{name: "zrangebyscore", args: []arg{{name: "key", typ: "key"}, {name: "min", typ: "double"}, {name: "max", typ: "double"}, {name: "WITHSCORES", typ: "pure-token", optional: true}, {name: "LIMIT offset count", typ: "block", optional: true}}, arity: -4, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "1.0.5", summary: "Returns members in a sorted set within a range of scores.", run: cmdZRange},
		{name: "zrevrange", args: []arg{{name: "key", typ: "key"}, {name: "start", typ: "integer"}, {name: "stop", typ: "integer"}, {name: "WITHSCORES", typ: "pure-token", optional: true}}, arity: -4, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "1.2.0", summary: "Returns members in a sorted set within a range of indexes in reverse order.", run: cmdZRange},
		{name: "zrevrangebyscore", args: []arg{{name: "key", typ: "key"}, {name: "max", typ: "double"}, {name: "min", typ: "double"}, {name: "WITHSCORES", typ: "pure-token", optional: true}, {name: "LIMIT offset count", typ: "block", optional: true}}, arity: -4, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "2.2.0", summary: "Returns members in a sorted set within a range of scores in reverse order.", run: cmdZRange},
		// Expiry.
		{name: "expire", args: expireArgs("seconds"), arity: -3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "1.0.0", summary: "Sets the expiration time of a key in seconds.", run: cmdExpire},
		{name: "pexpire", args: expireArgs("milliseconds"), arity: -3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "2.6.0", summary: "Sets the expiration time of a key in milliseconds.", run: cmdExpire},
		{name: "expireat", args: expireArgs("unix-time-seconds"), arity: -3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "1.2.0", summary: "Sets the expiration time of a key to a Unix timestamp.", run: cmdExpire},
		{name: "pexpireat", args: expireArgs("unix-time-milliseconds"), arity: -3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "2.6.0", summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.", run: cmdExpire},
		{name: "ttl", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "1.0.0", summary: "Returns the expiration time in seconds of a key.", run: cmdTTL},
		{name: "pttl", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "2.6.0", summary: "Returns the expiration time in milliseconds of a key.", run: cmdTTL},
		{name: "expiretime", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "7.0.0", summary: "Returns the expiration time of a key as a Unix timestamp.", run: cmdTTL},
		{name: "pexpiretime", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "7.0.0", summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.", run: cmdTTL},
		{name: "persist", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "2.2.0", summary: "Removes the expiration time of a key.", run: cmdPersist},
		{name: "del", args: []arg{{name: "key", typ: "key", multiple: true}}, arity: -2, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 1, group: "generic", since: "1.0.0", summary: "Deletes one or more keys.", run: cmdDel},
		{name: "unlink", args: []arg{{name: "key", typ: "key", multiple: true}}, arity: -2, flags: []string{"write", "fast"}, firstKey: 1, lastKey: -1, step: 1, group: "generic", since: "4.0.0", summary: "Asynchronously deletes one or more keys.", run: cmdDel},
		{name: "type", args: []arg{{name: "key", typ: "key"}}, arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "generic", since: "1.0.0", summary: "Determines the type of value stored at a key.", run: cmdType},
		{name: "rename", args: []arg{{name: "key", typ: "key"}, {name: "newkey", typ: "key"}}, arity: 3, flags: []string{"write"}, firstKey: 1, lastKey: 2, step: 1, group: "generic", since: "1.0.0", summary: "Renames a key and overwrites the destination.", run: cmdRename},
		{name: "renamenx", args: []arg{{name: "key", typ: "key"}, {name: "newkey", typ: "key"}}, arity: 3, flags: []string{"write", "fast"}, firstKey: 1, lastKey: 2, step: 1, group: "generic", since: "1.0.0", summary: "Renames a key only when the target key name doesn't exist.", run: cmdRename},
		{name: "flushdb", args: []arg{{name: "ASYNC|SYNC", typ: "oneof", optional: true}}, arity: -1, flags: []string{"write"}, group: "server", since: "1.0.0", summary: "Removes all keys from the current database.", run: cmdFlush},
		{name: "flushall", args: []arg{{name: "ASYNC|SYNC", typ: "oneof", optional: true}}, arity: -1, flags: []string{"write"}, group: "server", since: "1.0.0", summary: "Removes all keys from all databases.", run: cmdFlush},
		{name: "dbsize", arity: 1, flags: []string{"readonly", "fast"}, group: "server", since: "1.0.0", summary: "Returns the number of keys in the database.", run: cmdDBSize},
		{name: "exists", args: []arg{{name: "key", typ: "key", multiple: true}}, arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, group: "generic", since: "1.0.0", summary: "Determines whether one or more keys exist.", run: cmdExists},
		// Listing keys and elements.
		{name: "keys", args: []arg{{name: "pattern", typ: "pattern"}}, arity: 2, flags: []string{"readonly"}, group: "generic", since: "1.0.0", summary: "Returns all key names that match a pattern.", run: cmdKeys},
		{name: "scan", args: []arg{{name: "cursor", typ: "integer"}, {name: "pattern", typ: "pattern", optional: true}, {name: "count", typ: "integer", optional: true}, {name: "type", typ: "string", optional: true}}, arity: -2, flags: []string{"readonly"}, group: "generic", since: "2.8.0", summary: "Iterates over the key names in the database.", run: cmdScan},
		{name: "randomkey", arity: 1, flags: []string{"readonly"}, group: "generic", since: "1.0.0", summary: "Returns a random key name from the database.", run: cmdRandomKey},
		{name: "hscan", args: []arg{{name: "key", typ: "key"}, {name: "cursor", typ: "integer"}, {name: "pattern", typ: "pattern", optional: true}, {name: "count", typ: "integer", optional: true}}, arity: -3, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "hash", since: "2.8.0", summary: "Iterates over fields and values of a hash.", run: cmdElemScan},
		{name: "sscan", args: []arg{{name: "key", typ: "key"}, {name: "cursor", typ: "integer"}, {name: "pattern", typ: "pattern", optional: true}, {name: "count", typ: "integer", optional: true}}, arity: -3, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "set", since: "2.8.0", summary: "Iterates over members of a set.", run: cmdElemScan},
		{name: "zscan", args: []arg{{name: "key", typ: "key"}, {name: "cursor", typ: "integer"}, {name: "pattern", typ: "pattern", optional: true}, {name: "count", typ: "integer", optional: true}}, arity: -3, flags: []string{"readonly"}, firstKey: 1, lastKey: 1, step: 1, group: "sorted-set", since: "2.8.0", summary: "Iterates over members and scores of a sorted set.", run: cmdElemScan},
		// Transactions.
		{name: "multi", arity: 1, flags: []string{"fast", "allow_busy"}, group: "transactions", since: "1.2.0", summary: "Starts a transaction.", run: cmdMulti},
		{name: "exec", arity: 1, flags: []string{"slow"}, group: "transactions", since: "1.2.0", summary: "Executes all commands in a transaction.", run: cmdExec},
		{name: "discard", arity: 1, flags: []string{"fast", "allow_busy"}, group: "transactions", since: "2.0.0", summary: "Discards a transaction.", run: cmdDiscard},
		{name: "watch", args: []arg{{name: "key", typ: "key", multiple: true}}, arity: -2, flags: []string{"fast", "allow_busy"}, firstKey: 1, lastKey: -1, step: 1, group: "transactions", since: "2.2.0", summary: "Monitors changes to keys to determine the execution of a transaction.", run: cmdWatch},
		{name: "unwatch", arity: 1, flags: []string{"fast", "allow_busy"}, group: "transactions", since: "2.2.0", summary: "Forgets about watched keys of a transaction.", run: cmdUnwatch},
		// Connection.
		{name: "ping", args: []arg{{name: "message", typ: "string", optional: true}}, arity: -1, flags: []string{"fast", "stale"}, group: "connection", since: "1.0.0", summary: "Returns the server's liveliness response.", run: cmdPing},
		{name: "time", arity: 1, flags: []string{"loading", "stale", "fast"}, group: "server", since: "2.6.0", summary: "Return the current server time", run: cmdTime},
		{name: "echo", args: []arg{{name: "message", typ: "string"}}, arity: 2, flags: []string{"fast", "stale"}, group: "connection", since: "1.0.0", summary: "Returns the given string.", run: cmdEcho},
		{name: "quit", arity: -1, flags: []string{"fast", "stale"}, group: "connection", since: "1.0.0", summary: "Closes the connection.", run: cmdQuit},
		{name: "select", args: []arg{{name: "index", typ: "integer"}}, arity: 2, flags: []string{"fast", "stale"}, group: "connection", since: "1.0.0", summary: "Changes the selected database; raftkv has database 0 only.", run: cmdSelect},
		{name: "auth", args: []arg{{name: "username", typ: "string", optional: true}, {name: "password", typ: "string"}}, arity: -2, flags: []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, group: "connection", since: "1.0.0", summary: "Authenticates the connection.", run: cmdAuth},
		{name: "hello", args: []arg{{name: "protover", typ: "integer", optional: true}}, arity: -1, flags: []string{"fast", "stale", "noauth"}, group: "connection", since: "6.0.0", summary: "Handshakes with the server.", run: cmdHello},
		{name: "client", arity: -2, flags: []string{"stale"}, group: "connection", since: "2.4.0", summary: "A container for client connection commands.", run: cmdClient},
		{name: "readonly", arity: 1, flags: []string{"fast", "stale"}, group: "cluster", since: "3.0.0", summary: "Enables read-only queries for a connection to a replica; raftkv still redirects reads to the leader.", run: func(c *call) { c.ok() }},
		{name: "readwrite", arity: 1, flags: []string{"fast", "stale"}, group: "cluster", since: "3.0.0", summary: "Enables read-write queries for a connection.", run: func(c *call) { c.ok() }},
		// Server and cluster.
		{name: "command", arity: -1, flags: []string{"stale"}, group: "server", since: "2.8.13", summary: "Returns detailed information about all commands.", run: cmdCommand},
		{name: "config", arity: -2, flags: []string{"admin", "stale"}, group: "server", since: "2.0.0", summary: "A container for server configuration commands.", run: cmdConfig},
		{name: "debug", arity: -2, flags: []string{"admin", "stale"}, group: "server", since: "1.0.0", summary: "A container for debugging commands; raftkv has DIGEST, a digest of this node's data.", run: cmdDebug},
		{name: "info", args: []arg{{name: "section", typ: "string", optional: true, multiple: true}}, arity: -1, flags: []string{"stale"}, group: "server", since: "1.0.0", summary: "Returns information and statistics about the server.", run: cmdInfo},
		{name: "raft.info", arity: 1, flags: []string{"admin", "stale"}, group: "raft", since: "0.1.0", summary: "Returns this node's Raft state.", run: cmdRaftInfo},
		{name: "raft.transfer_leader", arity: -1, flags: []string{"admin"}, group: "raft", since: "0.1.0", summary: "Hands leadership to a node, or to the most up-to-date follower.", args: []arg{{name: "id", typ: "integer", optional: true}}, run: cmdRaftTransferLeader},
		{name: "raft.snapshot", arity: 1, flags: []string{"admin"}, group: "raft", since: "0.1.0", summary: "Takes a snapshot now: compacts this node's log up to its applied index.", run: cmdRaftSnapshot},
		{name: "raft.backup", arity: 1, flags: []string{"admin"}, group: "raft", since: "0.1.0", summary: "Returns a snapshot of the data, for raftkv backup: a bulk string holding every write acknowledged before it.", run: cmdRaftBackup},
		{name: "raft.node", arity: -3, flags: []string{"admin"}, group: "raft", since: "0.1.0", summary: "Adds (ADD <id> <peer-addr> <resp-addr>) or removes (REMOVE <id>) a node.", run: cmdRaftNode},
		{name: "cluster", arity: -2, flags: []string{"stale"}, group: "cluster", since: "3.0.0", summary: "A container for Redis Cluster commands.", run: cmdCluster},
	}
	commands = make(map[string]*command, len(table))
	commandNames = make([]string, len(table))
	for i, c := range table {
		if len(c.name) > maxCommandName {
			panic("resp: command name longer than maxCommandName: " + c.name)
		}
		c.idx = i
		commands[c.name] = c
		commandNames[i] = c.name
	}
}

func cmdGet(c *call) {
	if v, found, ok := c.readValue(); ok {
		c.writeBulkOrNull(v, found)
	}
}

// cmdSet serves SET key value [NX | XX] [GET] [EX seconds | PX
// milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds |
// KEEPTTL].
func cmdSet(c *call) {
	if len(c.args) == 3 {
		if _, ok := c.write(c.args[1], fsm.EncodeSet(c.args[1], c.args[2])); ok {
			c.ok()
		}
		return
	}
	o, ok := parseStringOpts(c.args[3:], true)
	if !ok {
		c.syntaxError()
		return
	}
	var expire int64
	if o.expiry != nil {
		if expire, ok = c.expiryArg(o.expiry, o.unit, o.relative); !ok {
			return
		}
	}
	r, ok := c.write(c.args[1], fsm.EncodeSetIf(c.args[1], c.args[2], o.flags, expire))
	switch {
	case !ok:
	case o.flags&fsm.SetGet != 0:
		c.writeOld(r)
	case r.Int == 1:
		c.ok()
	default:
		c.null()
	}
}

// cmdGetSet serves GETSET key value: SET key value GET.
func cmdGetSet(c *call) {
	if r, ok := c.write(c.args[1], fsm.EncodeSetIf(c.args[1], c.args[2], fsm.SetGet, 0)); ok {
		c.writeOld(r)
	}
}

// cmdSetNX serves SETNX key value: 1 if it set the key, 0 if it existed.
func cmdSetNX(c *call) {
	c.writeInt(fsm.EncodeSetIf(c.args[1], c.args[2], fsm.SetNX, 0))
}

// writeOld answers with the value a SET replaced, or nil if none.
func (c *call) writeOld(r fsm.Result) {
	if !r.Found {
		c.null()
		return
	}
	c.conn.WriteBulk(r.Old)
}

func cmdAppend(c *call) {
	c.writeInt(fsm.EncodeAppend(c.args[1], c.args[2]))
}

func cmdGetDel(c *call) {
	if r, ok := c.write(c.args[1], fsm.EncodeGetDel(c.args[1])); ok {
		c.writeOld(r)
	}
}

func cmdStrlen(c *call) {
	if v, _, ok := c.readValue(); ok {
		c.conn.WriteInt(len(v))
	}
}

// readValue reads the string value of the command's key linearizably:
// found says whether the key exists. When ok is false the client has been
// answered (a key of another type gets WRONGTYPE).
func (c *call) readValue() (v []byte, found, ok bool) {
	key := c.args[1]
	if !c.read(key) {
		return nil, false, false
	}
	r, found, ok := c.lookup(key)
	switch {
	case !ok || !found:
		return nil, false, ok
	case r.Type != engine.TypeString:
		c.conn.WriteError(fsm.ErrWrongType.Error())
		return nil, false, false
	}
	return r.Value, true, true
}

// lookup returns key's record from this node's state machine, as missing
// if it has expired at the command's time. Call it after read. When ok is
// false the client has been answered.
func (c *call) lookup(key []byte) (r engine.Record, found, ok bool) {
	var err error
	if c.txr != nil {
		r, found, err = c.txr.Key(key)
	} else {
		r, found, err = c.s.backend.Key(key)
	}
	if err != nil {
		c.backendError(key, err, false)
		return r, false, false
	}
	if found && r.ExpiredAt(c.now()) {
		c.s.backend.Expired(key)
		return engine.Record{}, false, true
	}
	return r, found, true
}

// cmdGetRange serves GETRANGE key start end with Redis's index rules:
// negative indexes count from the end, and are clamped.
func cmdGetRange(c *call) {
	start, ok1 := fsm.ParseInt(c.args[2])
	end, ok2 := fsm.ParseInt(c.args[3])
	if !ok1 || !ok2 {
		c.conn.WriteError(fsm.ErrNotInteger.Error())
		return
	}
	v, _, ok := c.readValue()
	if !ok {
		return
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		c.conn.WriteBulk(nil)
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.conn.WriteBulk(nil)
		return
	}
	c.conn.WriteBulk(v[start : end+1])
}

// cmdSetRange serves SETRANGE key offset value.
func cmdSetRange(c *call) {
	offset, ok := fsm.ParseInt(c.args[2])
	switch {
	case !ok:
		c.conn.WriteError(fsm.ErrNotInteger.Error())
		return
	case offset < 0:
		c.conn.WriteError("ERR offset is out of range")
		return
	case len(c.args[3]) > 0 && offset+int64(len(c.args[3])) > fsm.MaxString:
		c.conn.WriteError(fsm.ErrTooLong.Error())
		return
	}
	c.writeInt(fsm.EncodeSetRange(c.args[1], offset, c.args[3]))
}

// cmdMGet serves MGET: one read confirmation for every key. A key that
// is not a string reads as missing, as in Redis.
func cmdMGet(c *call) {
	if !c.read(c.args[1]) {
		return
	}
	vals := make([][]byte, 0, len(c.args)-1)
	for _, key := range c.args[1:] {
		r, found, ok := c.lookup(key)
		if !ok {
			return
		}
		if !found || r.Type != engine.TypeString {
			r.Value = nil
		} else if r.Value == nil {
			r.Value = []byte{}
		}
		vals = append(vals, r.Value)
	}
	c.conn.WriteArray(len(vals))
	for _, v := range vals {
		if v == nil {
			c.null()
		} else {
			c.conn.WriteBulk(v)
		}
	}
}

// cmdMSet serves MSET and MSETNX as one log entry.
func cmdMSet(c *call) {
	if len(c.args)%2 == 0 {
		c.conn.WriteError(wrongArity(strings.ToLower(string(c.args[0]))))
		return
	}
	nx := strings.EqualFold(string(c.args[0]), "msetnx")
	r, ok := c.write(c.args[1], fsm.EncodeMSet(c.args[1:], nx))
	c.replyNX(r, ok, nx)
}

// replyNX answers a write that has an NX form (MSETNX, RENAMENX): 1 or 0
// for that form, OK for the other; nothing when write already answered.
func (c *call) replyNX(r fsm.Result, ok, nx bool) {
	switch {
	case !ok:
	case nx:
		c.conn.WriteInt64(r.Int)
	default:
		c.ok()
	}
}

func cmdIncr(c *call)   { c.counter("incr") }
func cmdDecr(c *call)   { c.counter("decr") }
func cmdIncrBy(c *call) { c.counter("incrby") }
func cmdDecrBy(c *call) { c.counter("decrby") }

// counter runs INCR, DECR, INCRBY or DECRBY (name).
func (c *call) counter(name string) {
	if delta, refusal := counterDelta(name, c.args); refusal != "" {
		c.conn.WriteError(refusal)
	} else {
		c.writeInt(fsm.EncodeIncrBy(c.args[1], delta))
	}
}

// counterDelta is what INCR, DECR, INCRBY or DECRBY (name), given args
// of the command's arity, adds to its key, or Redis's error for its
// increment.
func counterDelta(name string, args [][]byte) (delta int64, refusal string) {
	switch name {
	case "incr":
		return 1, ""
	case "decr":
		return -1, ""
	}
	n, ok := fsm.ParseInt(args[2])
	switch {
	case !ok:
		return 0, fsm.ErrNotInteger.Error()
	case name == "decrby" && n == math.MinInt64:
		return 0, "ERR decrement would overflow"
	case name == "decrby":
		return -n, ""
	}
	return n, ""
}

func cmdIncrByFloat(c *call) {
	// An infinite increment is refused at apply, after the key's value
	// is checked, as Redis orders its errors.
	if _, _, ok := fsm.ParseLongDouble(c.args[2]); !ok {
		c.conn.WriteError(fsm.ErrNotFloat.Error())
	} else if r, ok := c.write(c.args[1], fsm.EncodeIncrByFloat(c.args[1], c.args[2])); ok {
		c.conn.WriteBulk(r.Value)
	}
}

func cmdDel(c *call) {
	c.writeInt(fsm.EncodeDel(c.args[1:]...))
}

func cmdType(c *call) {
	if !c.read(c.args[1]) {
		return
	}
	switch r, found, ok := c.lookup(c.args[1]); {
	case !ok:
	case found:
		c.conn.WriteString(r.Type.String())
	default:
		c.conn.WriteString("none")
	}
}

// cmdRename serves RENAME and RENAMENX as one log entry.
func cmdRename(c *call) {
	nx := strings.EqualFold(string(c.args[0]), "renamenx")
	r, ok := c.write(c.args[1], fsm.EncodeRename(c.args[1], c.args[2], nx))
	c.replyNX(r, ok, nx)
}

// cmdFlush serves FLUSHDB and FLUSHALL [ASYNC | SYNC]: one log entry
// that removes every key.
func cmdFlush(c *call) {
	if len(c.args) > 2 || (len(c.args) == 2 && !strings.EqualFold(string(c.args[1]), "async") && !strings.EqualFold(string(c.args[1]), "sync")) {
		c.syntaxError()
		return
	}
	if _, ok := c.write(nil, fsm.EncodeFlush()); ok {
		c.ok()
	}
}

// cmdDBSize serves DBSIZE: the key count once every write acknowledged
// before it was sent is applied here.
func cmdDBSize(c *call) {
	if !c.read(nil) {
		return
	}
	if c.txr != nil {
		c.conn.WriteInt64(int64(c.txr.KeyCount()))
		return
	}
	c.conn.WriteInt64(int64(c.s.backend.Status().Keys))
}

func cmdExists(c *call) {
	if !c.read(c.args[1]) {
		return
	}
	var n int64
	for _, key := range c.args[1:] {
		_, found, ok := c.lookup(key)
		if !ok {
			return
		}
		if found {
			n++
		}
	}
	c.conn.WriteInt64(n)
}

// write routes a command on key to the leader, replicates it and returns
// the state machine's result. When it returns false the client has been
// answered already.
func (c *call) write(key, cmd []byte) (fsm.Result, bool) {
	if c.tx != nil {
		return c.txWrite(key, cmd)
	}
	if !c.route(key) {
		return fsm.Result{}, false
	}
	ctx := c.ctx()
	v, err := c.s.backend.Propose(ctx, fsm.Stamp(c.now(), cmd))
	if err != nil {
		c.backendError(key, err, true)
		return fsm.Result{}, false
	}
	r := result(v)
	if r.Err != nil {
		c.conn.WriteError(errorReply(r.Err))
		return r, false
	}
	return r, true
}

// writeInt replicates a write on the command's key and answers its
// integer result.
func (c *call) writeInt(cmd []byte) {
	if r, ok := c.write(c.args[1], cmd); ok {
		c.conn.WriteInt64(r.Int)
	}
}

// read routes a read of key to the leader and waits until it may be
// served linearizably. When it returns false the client has been answered.
func (c *call) read(key []byte) bool {
	if c.txr != nil {
		return true // EXEC's entry is applying: this is its place in the log
	}
	if !c.route(key) {
		return false
	}
	ctx := c.ctx()
	if err := c.s.backend.ReadBarrier(ctx); err != nil {
		c.backendError(key, err, false)
		return false
	}
	return true
}

// errorReply gives a command's own error its Redis form: an upper-case
// code first (ERR unless the message has one).
func errorReply(err error) string {
	msg := err.Error()
	code, _, _ := strings.Cut(msg, " ")
	if code != "" && code == strings.ToUpper(code) && strings.ToLower(code) != code {
		return msg
	}
	return "ERR " + msg
}
