package fsm

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/raft"
)

// ErrGap is returned by Apply when an entry does not follow the applied
// index: applying it would skip the entries in between.
var ErrGap = errors.New("fsm: entry does not follow the applied index")

// FSM applies committed entries to an engine. Apply is called from one
// goroutine (the Raft driver's); Applied, Get and KeyCount may be called
// from any goroutine.
type FSM struct {
	e      *engine.Engine
	logger hclog.Logger
	// applied mirrors the engine's applied index after each Apply.
	applied atomic.Uint64
	// members is the membership as of applied: the recorded one, or the
	// configured one until the first change.
	members atomic.Pointer[[]engine.Member]
	// onMembers is called after a membership change is applied.
	onMembers func([]engine.Member)
	// tx holds the readers of transactions proposed here.
	tx txReaders
}

var _ raft.StateMachine = (*FSM)(nil)

// New returns an FSM over e, resuming from the applied index e holds.
func New(e *engine.Engine, logger hclog.Logger) (*FSM, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	applied, err := e.Applied()
	if err != nil {
		return nil, fmt.Errorf("read applied index: %w", err)
	}
	f := &FSM{e: e, logger: logger}
	f.applied.Store(applied)
	ms, err := e.Members()
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	if ms != nil {
		f.members.Store(&ms)
	}
	logger.Info("state machine ready", "applied", applied, "keys", e.KeyCount())
	return f, nil
}

// Bootstrap sets the membership the cluster was configured with, which
// holds until the first membership change is applied. It has no effect
// once one was.
func (f *FSM) Bootstrap(ms []engine.Member) {
	if f.members.Load() == nil {
		f.members.Store(&ms)
	}
}

// OnMembersChanged registers fn to be called, on the applying goroutine,
// after each applied membership change.
func (f *FSM) OnMembersChanged(fn func([]engine.Member)) { f.onMembers = fn }

// Members returns the membership as of the applied index.
func (f *FSM) Members() []engine.Member {
	if p := f.members.Load(); p != nil {
		return *p
	}
	return nil
}

// Applied returns the index of the last applied entry.
func (f *FSM) Applied() uint64 { return f.applied.Load() }

// Key returns key's applied record, expired or not: whether it has
// expired is for the reader to judge against its own time.
func (f *FSM) Key(key []byte) (engine.Record, bool, error) { return f.e.Key(key) }

// Clock is the state machine's time as of the applied index: the latest
// proposal time (Unix milliseconds) applied. A leader's time for reads and
// new proposals is never behind it.
func (f *FSM) Clock() int64 { return f.e.Clock() }

// KeyCount returns the number of keys in the applied data set.
func (f *FSM) KeyCount() uint64 { return f.e.KeyCount() }

// Apply applies ents in order in one batch and records the last index as
// applied. It returns one result per entry: a Result for every entry it
// applied (Result{} for a no-op), nil for an entry skipped because it was
// already applied. An error means nothing was applied.
func (f *FSM) Apply(ents []raft.Entry) ([]any, error) {
	results := make([]any, len(ents))
	applied := f.applied.Load()
	start := 0
	for start < len(ents) && ents[start].Index <= applied {
		start++
	}
	if start == len(ents) {
		return results, nil
	}
	// Check the whole run before writing anything.
	for i, ent := range ents[start:] {
		if want := applied + 1 + uint64(i); ent.Index != want {
			return nil, fmt.Errorf("apply entry %d, expected %d (applied %d): %w", ent.Index, want, applied, ErrGap)
		}
	}
	last := ents[len(ents)-1].Index

	b := f.e.NewApplyBatch()
	defer b.Close()
	var newMembers *[]engine.Member
	// The entries' arguments, decoded one entry after the other into the
	// same array: no result refers to them.
	var args [][]byte
	for i := start; i < len(ents); i++ {
		if ents[i].Type == raft.EntryConfChange {
			ms, res, err := f.applyConfChange(b, ents[i], newMembers)
			if err != nil {
				return nil, fmt.Errorf("apply entry %d: %w", ents[i].Index, err)
			}
			if ms != nil {
				newMembers = &ms
			}
			results[i] = boxResult(res)
			continue
		}
		res, err := f.applyEntry(b, ents[i], &args)
		if err != nil {
			return nil, fmt.Errorf("apply entry %d: %w", ents[i].Index, err)
		}
		if res.Err != nil {
			// Every node reaches the same verdict and goes on; the entry was
			// written by a faulty proposer, which is worth one line.
			f.logger.Warn("rejected command in log", "index", ents[i].Index, "error", res.Err)
		}
		results[i] = boxResult(res)
	}
	if err := b.Commit(last); err != nil {
		return nil, fmt.Errorf("apply entries %d..%d: %w", ents[start].Index, last, err)
	}
	f.applied.Store(last)
	if newMembers != nil {
		f.members.Store(newMembers)
		if f.onMembers != nil {
			f.onMembers(*newMembers)
		}
	}
	return results, nil
}

// applyConfChange records a membership change; cur is the membership set
// earlier in the same batch, if any.
func (f *FSM) applyConfChange(b *engine.ApplyBatch, ent raft.Entry, cur *[]engine.Member) ([]engine.Member, Result, error) {
	cc, err := raft.UnmarshalConfChange(ent.Data)
	if err != nil {
		return nil, Result{Err: err}, nil
	}
	var ms []engine.Member
	if cur != nil {
		ms = slices.Clone(*cur)
	} else {
		ms = slices.Clone(f.Members())
	}
	i := slices.IndexFunc(ms, func(m engine.Member) bool { return m.ID == cc.NodeID })
	switch cc.Type {
	case raft.ConfAddLearner:
		if i >= 0 {
			return nil, Result{}, nil
		}
		peer, resp, err := DecodeMemberContext(cc.Context)
		if err != nil {
			return nil, Result{Err: err}, nil
		}
		ms = append(ms, engine.Member{ID: cc.NodeID, Learner: true, PeerAddr: peer, RespAddr: resp})
		slices.SortFunc(ms, func(a, b engine.Member) int { return cmp.Compare(a.ID, b.ID) })
	case raft.ConfPromote:
		if i < 0 {
			return nil, Result{}, nil
		}
		ms[i].Learner = false
	case raft.ConfRemove:
		if i < 0 {
			return nil, Result{}, nil
		}
		ms = slices.Delete(ms, i, i+1)
	}
	if err := b.SetMembers(ms); err != nil {
		return nil, Result{}, err
	}
	f.logger.Info("membership changed", "change", cc.Type.String(), "node", cc.NodeID, "index", ent.Index, "members", len(ms))
	return ms, Result{}, nil
}

// EncodeMemberContext is a ConfChange's Context for raftkv: the node's
// peer and RESP addresses.
func EncodeMemberContext(peerAddr, respAddr string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(peerAddr)))
	b = append(b, peerAddr...)
	return append(b, respAddr...)
}

// DecodeMemberContext is the inverse of EncodeMemberContext.
func DecodeMemberContext(b []byte) (peerAddr, respAddr string, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", "", fmt.Errorf("%w: member addresses", ErrCorrupt)
	}
	return string(b[k : k+int(n)]), string(b[k+int(n):]), nil
}

// applyEntry applies one entry to b, decoding its arguments into *args's
// array when it is large enough (and leaving there the one it used). The
// error is a storage failure; a bad command is reported in the Result.
func (f *FSM) applyEntry(b *engine.ApplyBatch, ent raft.Entry, args *[][]byte) (Result, error) {
	if ent.Type != raft.EntryNormal {
		return Result{Err: fmt.Errorf("%w: entry type %d", ErrCorrupt, ent.Type)}, nil
	}
	if len(ent.Data) == 0 {
		return Result{}, nil // a new leader's no-op
	}
	cmd, err := decodeInto(ent.Data, *args)
	if err != nil {
		return Result{Err: err}, nil
	}
	*args = cmd.Args
	// The state machine's time only moves forward: a leader whose clock is
	// behind its predecessor's cannot bring an expired key back.
	b.SetClock(cmd.Now)
	// Random draws (SPOP) are seeded with the entry's place in the log, so
	// that every replica draws alike.
	a := applier{b: b, now: b.Clock(), seed: [2]uint64{ent.Index, ent.Term}}
	if cmd.Op == OpMulti {
		return f.applyMulti(a, cmd)
	}
	return a.apply(cmd)
}

// apply applies one command.
func (a applier) apply(cmd Command) (Result, error) {
	args := cmd.Args
	switch cmd.Op {
	case OpSet:
		if len(args) != 2 {
			return badArity(cmd), nil
		}
		return Result{}, a.b.Set(args[0], args[1])
	case OpSetIf:
		if (len(args) != 3 && len(args) != 4) || len(args[2]) != 1 || (len(args) == 4 && len(args[3]) != 8) {
			return badArity(cmd), nil
		}
		var expire int64
		if len(args) == 4 {
			expire = int64(binary.BigEndian.Uint64(args[3]))
		}
		return a.setIf(args[0], args[1], args[2][0], expire)
	case OpAppend:
		if len(args) != 2 {
			return badArity(cmd), nil
		}
		return a.append(args[0], args[1])
	case OpDel:
		if len(args) == 0 {
			return badArity(cmd), nil
		}
		return a.del(args)
	case OpGetDel:
		if len(args) != 1 {
			return badArity(cmd), nil
		}
		return a.getDel(args[0])
	case OpMSet, OpMSetNX:
		if len(args) == 0 || len(args)%2 != 0 {
			return badArity(cmd), nil
		}
		return a.mset(args, cmd.Op == OpMSetNX)
	case OpSetRange:
		if len(args) != 3 || len(args[1]) != 8 {
			return badArity(cmd), nil
		}
		offset := binary.BigEndian.Uint64(args[1])
		if offset > MaxString || uint64(len(args[2])) > MaxString-offset {
			return Result{Err: ErrTooLong}, nil
		}
		return a.setRange(args[0], int(offset), args[2])
	case OpRename, OpRenameNX:
		if len(args) != 2 {
			return badArity(cmd), nil
		}
		return a.rename(args[0], args[1], cmd.Op == OpRenameNX)
	case OpFlush:
		if len(args) != 0 {
			return badArity(cmd), nil
		}
		return Result{}, a.b.DeleteAll()
	case OpIncrBy:
		if len(args) != 2 || len(args[1]) != 8 {
			return badArity(cmd), nil
		}
		return a.incrBy(args[0], int64(binary.BigEndian.Uint64(args[1])))
	case OpIncrByFloat:
		if len(args) != 2 {
			return badArity(cmd), nil
		}
		return a.incrByFloat(args[0], args[1])
	case OpExpire:
		if len(args) != 3 || len(args[1]) != 8 || len(args[2]) != 1 {
			return badArity(cmd), nil
		}
		return a.expire(args[0], int64(binary.BigEndian.Uint64(args[1])), args[2][0])
	case OpPersist:
		if len(args) != 1 {
			return badArity(cmd), nil
		}
		return a.persist(args[0])
	case OpGetEx:
		if len(args) != 2 || len(args[1]) != 8 {
			return badArity(cmd), nil
		}
		return a.getEx(args[0], int64(binary.BigEndian.Uint64(args[1])))
	case OpDelExpired:
		if len(args) == 0 {
			return badArity(cmd), nil
		}
		return a.delExpired(args)
	case OpHSet:
		if len(args) < 3 || len(args)%2 != 1 {
			return badArity(cmd), nil
		}
		return a.hset(args[0], args[1:], false)
	case OpHSetNX:
		if len(args) != 3 {
			return badArity(cmd), nil
		}
		return a.hset(args[0], args[1:], true)
	case OpHDel:
		if len(args) < 2 {
			return badArity(cmd), nil
		}
		return a.hdel(args[0], args[1:])
	case OpHIncrBy:
		if len(args) != 3 || len(args[2]) != 8 {
			return badArity(cmd), nil
		}
		return a.hincrBy(args[0], args[1], int64(binary.BigEndian.Uint64(args[2])))
	case OpHIncrByFloat:
		if len(args) != 3 {
			return badArity(cmd), nil
		}
		return a.hincrByFloat(args[0], args[1], args[2])
	case OpPush:
		if len(args) < 3 || len(args[1]) != 1 {
			return badArity(cmd), nil
		}
		return a.push(args[0], args[1][0], args[2:])
	case OpPop:
		if len(args) != 3 || len(args[1]) != 1 || len(args[2]) != 8 {
			return badArity(cmd), nil
		}
		return a.pop(args[0], args[1][0]&PushLeft != 0, int64(binary.BigEndian.Uint64(args[2])))
	case OpLSet:
		if len(args) != 3 || len(args[1]) != 8 {
			return badArity(cmd), nil
		}
		return a.lset(args[0], int64(binary.BigEndian.Uint64(args[1])), args[2])
	case OpLRem:
		if len(args) != 3 || len(args[1]) != 8 {
			return badArity(cmd), nil
		}
		return a.lrem(args[0], int64(binary.BigEndian.Uint64(args[1])), args[2])
	case OpLTrim:
		if len(args) != 3 || len(args[1]) != 8 || len(args[2]) != 8 {
			return badArity(cmd), nil
		}
		return a.ltrim(args[0], int64(binary.BigEndian.Uint64(args[1])), int64(binary.BigEndian.Uint64(args[2])))
	case OpSAdd, OpSRem:
		if len(args) < 2 {
			return badArity(cmd), nil
		}
		if cmd.Op == OpSAdd {
			return a.sadd(args[0], args[1:])
		}
		return a.srem(args[0], args[1:])
	case OpSPop:
		if len(args) != 2 || len(args[1]) != 8 {
			return badArity(cmd), nil
		}
		return a.spop(args[0], int64(binary.BigEndian.Uint64(args[1])), rand.New(rand.NewPCG(a.seed[0], a.seed[1])))
	case OpZAdd:
		if len(args) < 4 || len(args)%2 != 0 || len(args[1]) != 1 {
			return badArity(cmd), nil
		}
		for i := 2; i < len(args); i += 2 {
			if len(args[i]) != 8 || math.IsNaN(math.Float64frombits(binary.BigEndian.Uint64(args[i]))) {
				return badArity(cmd), nil
			}
		}
		if args[1][0]&ZAddIncr != 0 && len(args) != 4 {
			return badArity(cmd), nil
		}
		return a.zadd(args[0], args[1][0], args[2:])
	case OpZRem:
		if len(args) < 2 {
			return badArity(cmd), nil
		}
		return a.zrem(args[0], args[1:])
	case OpZPop:
		if len(args) != 3 || len(args[1]) != 1 || len(args[2]) != 8 {
			return badArity(cmd), nil
		}
		return a.zpop(args[0], args[1][0] == 1, int64(binary.BigEndian.Uint64(args[2])))
	}
	return Result{Err: fmt.Errorf("%w: unknown op %d", ErrCorrupt, cmd.Op)}, nil
}

func badArity(cmd Command) Result {
	return Result{Err: fmt.Errorf("%w: op %d with %d arguments", ErrCorrupt, cmd.Op, len(cmd.Args))}
}

// applier applies one command at the state machine time now.
type applier struct {
	b   *engine.ApplyBatch
	now int64
	// seed seeds the command's random draws: the same on every replica.
	seed [2]uint64
}

// key returns key's record unless it is missing or has expired by now; an
// expired key is deleted first, as Redis deletes one a write meets.
func (a applier) key(key []byte) (engine.Record, bool, error) {
	r, found, err := a.b.Key(key)
	if err != nil || !found {
		return engine.Record{}, false, err
	}
	if r.ExpiredAt(a.now) {
		return engine.Record{}, false, a.b.Delete(key)
	}
	return r, true, nil
}

// str is key for a command on strings: a key of another type is refused
// with WRONGTYPE (in the Result).
func (a applier) str(key []byte) (engine.Record, bool, Result, error) {
	r, found, err := a.key(key)
	if err == nil && found && r.Type != engine.TypeString {
		return r, found, Result{Err: ErrWrongType}, nil
	}
	return r, found, Result{}, err
}

// setIf sets key to value unless NX finds it or XX misses it; Int says
// whether it wrote, and with GET, Old and Found give the value before. The
// key then expires at expire (0: never), or keeps its expiry with
// SetKeepTTL.
func (a applier) setIf(key, value []byte, flags byte, expire int64) (Result, error) {
	var old engine.Record
	var found bool
	var err error
	if flags&SetGet != 0 {
		var refused Result
		if old, found, refused, err = a.str(key); err != nil || refused.Err != nil {
			return refused, err
		}
	} else if old, found, err = a.key(key); err != nil {
		return Result{}, err
	}
	r := Result{Found: found}
	if flags&SetGet != 0 {
		r.Old = old.Value
	}
	if (flags&SetNX != 0 && found) || (flags&SetXX != 0 && !found) {
		return r, nil
	}
	if flags&SetKeepTTL != 0 && found {
		expire = old.Expire
	}
	r.Int = 1
	return r, a.b.Put(key, engine.Record{Type: engine.TypeString, Expire: expire, Value: value})
}

// keepTTL writes a new string value for key, keeping the expiry of old (the
// key's record before, if found).
func (a applier) keepTTL(key []byte, old engine.Record, value []byte) error {
	return a.b.Put(key, engine.Record{Type: engine.TypeString, Expire: old.Expire, Value: value})
}

// append appends value to key's value (creating it) and returns the new
// length.
func (a applier) append(key, value []byte) (Result, error) {
	old, _, refused, err := a.str(key)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	// old.Value is a copy that the batch does not keep: appending to it is
	// safe.
	nv := append(old.Value, value...)
	return Result{Int: int64(len(nv))}, a.keepTTL(key, old, nv)
}

// incrBy adds delta to key's integer value (0 when missing) and returns
// the sum; a value that is not an integer, or a sum past int64, changes
// nothing and gets Redis's error.
func (a applier) incrBy(key []byte, delta int64) (Result, error) {
	old, found, refused, err := a.str(key)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	var v int64
	if found {
		var ok bool
		if v, ok = ParseInt(old.Value); !ok {
			return Result{Err: ErrNotInteger}, nil
		}
	}
	if (delta > 0 && v > math.MaxInt64-delta) || (delta < 0 && v < math.MinInt64-delta) {
		return Result{Err: ErrOverflow}, nil
	}
	v += delta
	return Result{Int: v}, a.keepTTL(key, old, strconv.AppendInt(nil, v, 10))
}

// incrByFloat adds incr to key's value (0 when missing) in long double
// arithmetic, as Redis does, and stores the sum in Redis's human format;
// Value is that text.
func (a applier) incrByFloat(key, incr []byte) (Result, error) {
	old, found, refused, err := a.str(key)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	text, refusal := addFloatText(old.Value, found, incr, ErrNotFloat)
	if refusal != nil {
		return Result{Err: refusal}, nil
	}
	return Result{Value: text}, a.keepTTL(key, old, text)
}

// addFloatText adds incr to old (0 when not found) in long double
// arithmetic and returns the sum in Redis's format, or Redis's refusal in
// its order: a stored value that is not a number (notFloat), an increment
// that is not one, then an infinite operand or sum.
func addFloatText(old []byte, found bool, incr []byte, notFloat error) ([]byte, error) {
	v, vInf := new(big.Float).SetPrec(longDoublePrec), false
	if found {
		var ok bool
		if v, vInf, ok = ParseLongDouble(old); !ok {
			return nil, notFloat
		}
	}
	d, dInf, ok := ParseLongDouble(incr)
	if !ok {
		return nil, ErrNotFloat
	}
	if vInf || dInf {
		return nil, ErrNaNOrInf
	}
	sum, ok := addLongDouble(v, d)
	if !ok {
		return nil, ErrNaNOrInf
	}
	return []byte(FormatLongDouble(sum)), nil
}

// getDel deletes a string key and returns its value.
func (a applier) getDel(key []byte) (Result, error) {
	old, found, refused, err := a.str(key)
	if err != nil || refused.Err != nil || !found {
		return refused, err
	}
	return Result{Old: old.Value, Found: true}, a.b.Delete(key)
}

// mset sets every pair (without expiry); with nx, none unless no key
// exists, and Int says which.
func (a applier) mset(pairs [][]byte, nx bool) (Result, error) {
	if nx {
		for i := 0; i < len(pairs); i += 2 {
			if _, found, err := a.key(pairs[i]); err != nil || found {
				return Result{}, err
			}
		}
	}
	for i := 0; i < len(pairs); i += 2 {
		if err := a.b.Set(pairs[i], pairs[i+1]); err != nil {
			return Result{}, err
		}
	}
	return Result{Int: 1}, nil
}

// setRange overwrites key's value from offset with value, padding with
// zero bytes, and returns the new length. An empty value changes nothing
// (and creates no key).
func (a applier) setRange(key []byte, offset int, value []byte) (Result, error) {
	old, _, refused, err := a.str(key)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	if len(value) == 0 {
		return Result{Int: int64(len(old.Value))}, nil
	}
	nv := old.Value
	if need := offset + len(value); need > len(nv) {
		nv = append(nv, make([]byte, need-len(nv))...)
	}
	copy(nv[offset:], value)
	return Result{Int: int64(len(nv))}, a.keepTTL(key, old, nv)
}

// rename moves key, its expiry and its elements, to newKey, replacing
// whatever newKey held (or, with nx, only if newKey does not exist; Int
// says whether it moved). Moving a hash rewrites its fields.
func (a applier) rename(key, newKey []byte, nx bool) (Result, error) {
	r, found, err := a.key(key)
	if err != nil {
		return Result{}, err
	}
	if !found {
		return Result{Err: ErrNoSuchKey}, nil
	}
	if bytes.Equal(key, newKey) {
		return Result{}, nil
	}
	if _, exists, err := a.key(newKey); err != nil || (nx && exists) {
		return Result{}, err
	}
	type elem struct {
		t    engine.Type
		e, v []byte
	}
	var elems []elem
	for _, t := range engine.ElemTypes(r.Type) {
		err := a.b.Elems(t, key, nil, nil, func(e, v []byte) error {
			elems = append(elems, elem{t, bytes.Clone(e), bytes.Clone(v)})
			return nil
		})
		if err != nil {
			return Result{}, err
		}
	}
	for _, k := range [][]byte{key, newKey} {
		if err := a.b.Delete(k); err != nil {
			return Result{}, err
		}
	}
	if err := a.b.Put(newKey, r); err != nil {
		return Result{}, err
	}
	for _, e := range elems {
		if err := a.b.PutElem(e.t, newKey, e.e, e.v); err != nil {
			return Result{}, err
		}
	}
	return Result{Int: 1}, nil
}

// del deletes keys and returns how many existed. A key named twice is
// found only the first time, so it counts once; an expired key is
// deleted but not counted.
func (a applier) del(keys [][]byte) (Result, error) {
	var n int64
	for _, k := range keys {
		_, found, err := a.key(k)
		if err != nil {
			return Result{}, err
		}
		if !found {
			continue
		}
		if err := a.b.Delete(k); err != nil {
			return Result{}, err
		}
		n++
	}
	return Result{Int: n}, nil
}

// expire sets key to expire at (Unix milliseconds) if flags allow it, and
// deletes it at once if that time has come; Int says whether it did
// either.
func (a applier) expire(key []byte, at int64, flags byte) (Result, error) {
	r, found, err := a.key(key)
	if err != nil || !found {
		return Result{}, err
	}
	cur := r.Expire // 0: none, which GT and LT take as infinite
	switch {
	case flags&ExpireNX != 0 && cur != 0,
		flags&ExpireXX != 0 && cur == 0,
		flags&ExpireGT != 0 && (cur == 0 || at <= cur),
		flags&ExpireLT != 0 && cur != 0 && at >= cur:
		return Result{}, nil
	}
	if at <= a.now {
		return Result{Int: 1}, a.b.Delete(key)
	}
	r.Expire = at
	return Result{Int: 1}, a.b.Put(key, r)
}

// persist removes key's expiry; Int says whether it had one.
func (a applier) persist(key []byte) (Result, error) {
	r, found, err := a.key(key)
	if err != nil || !found || r.Expire == 0 {
		return Result{}, err
	}
	r.Expire = 0
	return Result{Int: 1}, a.b.Put(key, r)
}

// getEx returns a string key's value and sets it to expire at (0: never),
// deleting it if that time has come.
func (a applier) getEx(key []byte, at int64) (Result, error) {
	r, found, refused, err := a.str(key)
	if err != nil || refused.Err != nil || !found {
		return refused, err
	}
	res := Result{Old: r.Value, Found: true}
	if at != 0 && at <= a.now {
		return res, a.b.Delete(key)
	}
	r.Expire = at
	return res, a.b.Put(key, r)
}

// delExpired deletes those of keys that have expired by now; Int counts
// them.
func (a applier) delExpired(keys [][]byte) (Result, error) {
	var n int64
	for _, k := range keys {
		r, found, err := a.b.Key(k)
		if err != nil {
			return Result{}, err
		}
		if found && r.ExpiredAt(a.now) {
			if err := a.b.Delete(k); err != nil {
				return Result{}, err
			}
			n++
		}
	}
	return Result{Int: n}, nil
}

// OpenSnapshot takes a consistent view of the data set for a follower
// that needs a snapshot.
func (f *FSM) OpenSnapshot() (*engine.SnapshotSource, error) { return f.e.OpenSnapshot() }

// InstallSnapshot replaces the state with the snapshot read from r, which
// reflects meta; Apply continues with entry meta.Index+1.
func (f *FSM) InstallSnapshot(meta raft.SnapshotMeta, r io.Reader) error {
	if err := f.e.InstallSnapshot(meta, r); err != nil {
		return err
	}
	f.applied.Store(meta.Index)
	if ms, err := f.e.Members(); err == nil && ms != nil {
		f.members.Store(&ms)
		if f.onMembers != nil {
			f.onMembers(ms)
		}
	}
	f.logger.Info("snapshot installed", "index", meta.Index, "term", meta.Term, "keys", f.e.KeyCount())
	return nil
}
