package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Op identifies a command. Values are part of the log format: never
// renumber, only append.
type Op uint8

const (
	OpSet      Op = 1  // SET key value
	OpAppend   Op = 2  // APPEND key value
	OpDel      Op = 3  // DEL key [key ...]
	OpSetIf    Op = 4  // SET key value with NX, XX and/or GET: key value flags
	OpIncrBy   Op = 5  // INCRBY key delta: key, delta as 8 bytes big-endian
	OpGetDel   Op = 6  // GETDEL key
	OpMSet     Op = 7  // MSET key value [key value ...]
	OpMSetNX   Op = 8  // MSETNX key value [key value ...]
	OpSetRange Op = 9  // SETRANGE key offset value: offset as 8 bytes big-endian
	OpRename   Op = 10 // RENAME key newkey
	OpRenameNX Op = 11 // RENAMENX key newkey
	OpFlush    Op = 12 // FLUSHDB (and FLUSHALL): no arguments
	// OpIncrByFloat is INCRBYFLOAT key increment, the increment as the
	// client wrote it.
	OpIncrByFloat Op = 13
	// OpAt is not a command but a stamp before one: 8 bytes big-endian of
	// the leader's clock (Unix milliseconds) when it proposed the command,
	// then the command. Apply reads the time from it, never from a clock.
	OpAt Op = 14
	// OpExpire is EXPIRE and its forms: key, the absolute expiry in Unix
	// milliseconds (8 bytes big-endian), one byte of Expire flags.
	OpExpire Op = 15
	// OpPersist is PERSIST key.
	OpPersist Op = 16
	// OpGetEx is GETEX key with an option: key, the absolute expiry (8
	// bytes big-endian; 0 for PERSIST).
	OpGetEx Op = 17
	// OpDelExpired deletes each key given that has expired by the time it
	// is applied (and no other): the leader's replicated expiry.
	OpDelExpired Op = 18
	// Hashes: see hash.go for their arguments.
	OpHSet         Op = 19
	OpHSetNX       Op = 20
	OpHDel         Op = 21
	OpHIncrBy      Op = 22
	OpHIncrByFloat Op = 23
	// Lists: see list.go for their arguments.
	OpPush  Op = 24
	OpPop   Op = 25
	OpLSet  Op = 26
	OpLRem  Op = 27
	OpLTrim Op = 28
	// Sets: see set.go for their arguments.
	OpSAdd Op = 29
	OpSRem Op = 30
	OpSPop Op = 31
	// Sorted sets: see zset.go for their arguments.
	OpZAdd Op = 32
	OpZRem Op = 33
	OpZPop Op = 34
	// OpMulti is a MULTI ... EXEC transaction: see multi.go.
	OpMulti Op = 35
)

// Flags of OpSetIf, one byte.
const (
	SetNX      byte = 1 << 0 // only if the key does not exist
	SetXX      byte = 1 << 1 // only if the key exists
	SetGet     byte = 1 << 2 // return the old value
	SetKeepTTL byte = 1 << 3 // keep the key's expiry
)

// Flags of OpExpire, one byte: the conditions of EXPIRE's NX, XX, GT, LT.
const (
	ExpireNX byte = 1 << 0 // only if the key has no expiry
	ExpireXX byte = 1 << 1 // only if the key has an expiry
	ExpireGT byte = 1 << 2 // only if later than the current expiry
	ExpireLT byte = 1 << 3 // only if sooner than the current expiry (none counts as infinite)
)

// ErrCorrupt is returned when a command cannot be decoded.
var ErrCorrupt = errors.New("fsm: corrupt command")

// Redis's refusals of a well-formed command, word for word: a Result.Err
// is one of these or wraps ErrCorrupt.
var (
	ErrNotInteger = errors.New("ERR value is not an integer or out of range")
	ErrOverflow   = errors.New("ERR increment or decrement would overflow")
	// ErrNoSuchKey refuses RENAME of a missing key.
	ErrNoSuchKey = errors.New("ERR no such key")
	// ErrTooLong refuses a SETRANGE past MaxString.
	ErrTooLong = errors.New("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	// ErrWrongType refuses a command on a key of another type.
	ErrWrongType = errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")
)

// MaxString is the longest value SETRANGE may make: Redis's default
// proto-max-bulk-len. Apply checks it too, so the outcome does not depend
// on a node's settings.
const MaxString = 512 << 20

// Command is a decoded state machine command.
type Command struct {
	Op   Op
	Args [][]byte
	// Now is the leader's clock when it proposed the command (Unix
	// milliseconds), 0 when the command carries none.
	Now int64
}

// Result is what applying one command returns to its proposer.
type Result struct {
	// Int is APPEND's new length, DEL's count of removed keys, and 1 or 0
	// for whether a conditional SET wrote.
	Int int64
	// Old is the value a SET with GET replaced; Found says whether the key
	// existed.
	Old   []byte
	Found bool
	// Value is INCRBYFLOAT's new value.
	Value []byte
	// Values are the elements LPOP and RPOP removed.
	Values [][]byte
	// Multi holds a transaction's results, one per command; Aborted says
	// a watched key had changed and nothing ran.
	Multi   []Result
	Aborted bool
	// Err is a deterministic error of the command itself (the same on every
	// node), never a storage failure.
	Err error
}

// zeroResult is Result{} boxed once: most entries (a plain SET, a
// leader's no-op) produce it, and Apply hands every result out as an any,
// which would otherwise allocate a copy of the whole struct per entry.
var zeroResult any = Result{}

// boxResult returns r as an any, sharing zeroResult for the zero Result.
func boxResult(r Result) any {
	if r.isZero() {
		return zeroResult
	}
	return r
}

// isZero reports whether r is Result{}. TestResultIsZero fails when a
// field is added to Result and not here.
func (r *Result) isZero() bool {
	return r.Int == 0 && r.Old == nil && !r.Found && r.Value == nil && r.Values == nil &&
		r.Multi == nil && !r.Aborted && r.Err == nil
}

// Encoding: one byte Op, a uvarint argument count, then each argument as a
// uvarint length followed by its bytes.
func encode(op Op, args ...[]byte) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, a := range args {
		n += binary.MaxVarintLen64 + len(a)
	}
	return appendCommand(make([]byte, 0, n), op, args...)
}

// appendCommand appends the encoding of op with args to b.
func appendCommand(b []byte, op Op, args ...[]byte) []byte {
	b = append(b, byte(op))
	b = binary.AppendUvarint(b, uint64(len(args)))
	for _, a := range args {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

// EncodeSet encodes SET key value.
func EncodeSet(key, value []byte) []byte { return encode(OpSet, key, value) }

// AppendSet appends EncodeSet's encoding of SET key value to dst: writes
// encoded one after the other into one buffer need no allocation each.
func AppendSet(dst, key, value []byte) []byte { return appendCommand(dst, OpSet, key, value) }

// AppendAppend appends EncodeAppend's encoding to dst, as AppendSet.
func AppendAppend(dst, key, value []byte) []byte {
	return appendCommand(dst, OpAppend, key, value)
}

// AppendDel appends EncodeDel's encoding to dst, as AppendSet.
func AppendDel(dst []byte, keys ...[]byte) []byte { return appendCommand(dst, OpDel, keys...) }

// AppendIncrBy appends EncodeIncrBy's encoding to dst, as AppendSet.
func AppendIncrBy(dst, key []byte, delta int64) []byte {
	d := int64Bytes(delta)
	return appendCommand(dst, OpIncrBy, key, d[:])
}

// EncodeSetIf encodes SET key value with the flags SetNX, SetXX, SetGet,
// SetKeepTTL, and an absolute expiry in Unix milliseconds (0: none).
func EncodeSetIf(key, value []byte, flags byte, expire int64) []byte {
	if expire == 0 {
		return encode(OpSetIf, key, value, []byte{flags})
	}
	return encode(OpSetIf, key, value, []byte{flags}, int64Arg(expire))
}

// int64Arg is v as a command argument: 8 bytes, big-endian.
func int64Arg(v int64) []byte { a := int64Bytes(v); return a[:] }

// int64Bytes is int64Arg's encoding in an array, for encoders that append
// to a buffer and need no allocation for it.
func int64Bytes(v int64) (a [8]byte) {
	binary.BigEndian.PutUint64(a[:], uint64(v))
	return a
}

// EncodeExpire encodes EXPIRE and its forms: key, the absolute expiry in
// Unix milliseconds, and the flags ExpireNX, ExpireXX, ExpireGT, ExpireLT.
func EncodeExpire(key []byte, at int64, flags byte) []byte {
	return encode(OpExpire, key, int64Arg(at), []byte{flags})
}

// EncodePersist encodes PERSIST key.
func EncodePersist(key []byte) []byte { return encode(OpPersist, key) }

// EncodeGetEx encodes GETEX key with an absolute expiry (Unix
// milliseconds), or 0 for PERSIST.
func EncodeGetEx(key []byte, at int64) []byte { return encode(OpGetEx, key, int64Arg(at)) }

// EncodeDelExpired encodes the deletion of those keys that have expired
// when it is applied.
func EncodeDelExpired(keys ...[]byte) []byte { return encode(OpDelExpired, keys...) }

// Stamp prefixes cmd with the proposing leader's clock, now in Unix
// milliseconds: apply takes the time from there.
func Stamp(now int64, cmd []byte) []byte {
	b := make([]byte, 0, 9+len(cmd))
	b = append(b, byte(OpAt))
	b = binary.BigEndian.AppendUint64(b, uint64(now))
	return append(b, cmd...)
}

// EncodeAppend encodes APPEND key value.
func EncodeAppend(key, value []byte) []byte { return encode(OpAppend, key, value) }

// EncodeIncrBy encodes INCRBY key delta (INCR, DECR and DECRBY too).
func EncodeIncrBy(key []byte, delta int64) []byte {
	return encode(OpIncrBy, key, int64Arg(delta))
}

// EncodeIncrByFloat encodes INCRBYFLOAT key increment.
func EncodeIncrByFloat(key, incr []byte) []byte { return encode(OpIncrByFloat, key, incr) }

// ParseInt parses b as Redis parses a 64-bit integer argument or value
// (string2ll): optional '-', then digits without leading zeros (or a
// lone "0"), no spaces or '+', within int64.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) == 0 || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// EncodeGetDel encodes GETDEL key.
func EncodeGetDel(key []byte) []byte { return encode(OpGetDel, key) }

// EncodeMSet encodes MSET (nx false) or MSETNX of key-value pairs.
func EncodeMSet(pairs [][]byte, nx bool) []byte {
	if nx {
		return encode(OpMSetNX, pairs...)
	}
	return encode(OpMSet, pairs...)
}

// EncodeSetRange encodes SETRANGE key offset value.
func EncodeSetRange(key []byte, offset int64, value []byte) []byte {
	return encode(OpSetRange, key, int64Arg(offset), value)
}

// EncodeRename encodes RENAME (nx false) or RENAMENX key newkey.
func EncodeRename(key, newKey []byte, nx bool) []byte {
	if nx {
		return encode(OpRenameNX, key, newKey)
	}
	return encode(OpRename, key, newKey)
}

// EncodeFlush encodes FLUSHDB.
func EncodeFlush() []byte { return encode(OpFlush) }

// EncodeDel encodes DEL key [key ...].
func EncodeDel(keys ...[]byte) []byte { return encode(OpDel, keys...) }

// Decode decodes a command produced by one of the Encode functions,
// stamped or not. The returned arguments alias b.
func Decode(b []byte) (Command, error) { return decodeInto(b, nil) }

// decodeInto is Decode putting the arguments in args's array when it is
// large enough.
func decodeInto(b []byte, args [][]byte) (Command, error) {
	var now int64
	if len(b) > 0 && Op(b[0]) == OpAt {
		if len(b) < 9 {
			return Command{}, fmt.Errorf("%w: stamp cut short", ErrCorrupt)
		}
		now, b = int64(binary.BigEndian.Uint64(b[1:9])), b[9:]
		if now <= 0 {
			return Command{}, fmt.Errorf("%w: stamped with time %d", ErrCorrupt, now)
		}
		if len(b) > 0 && Op(b[0]) == OpAt {
			return Command{}, fmt.Errorf("%w: stamped twice", ErrCorrupt)
		}
	}
	if len(b) < 2 {
		return Command{}, ErrCorrupt
	}
	c := Command{Op: Op(b[0]), Now: now}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n > uint64(len(b)) {
		return Command{}, ErrCorrupt
	}
	b = b[1+k:]
	if uint64(cap(args)) >= n {
		c.Args = args[:0]
	} else {
		c.Args = make([][]byte, 0, n)
	}
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return Command{}, ErrCorrupt
		}
		c.Args = append(c.Args, b[k:k+int(l)])
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return Command{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	return c, nil
}
